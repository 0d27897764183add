//! Shared helpers of poolside's cross-crate integration tests, which run against the
//! real PostgreSQL, Redis and PgBouncer that `cargo xtask services up` starts.
//!
//! A test that needs a server never passes by skipping it: when the server's URL is not
//! in the environment, it fails and says how to provide it.

use poolside_config::{ConfigLoader, EnvSnapshot, LoadedConfig};

/// The value of `name` (a server URL), or a failure that says how to set it.
///
/// # Panics
///
/// When `name` is not set: the test needs the real server and must not pass without it.
pub fn required_env(name: &str) -> String {
    match std::env::var(name) {
        Ok(value) if !value.trim().is_empty() => value,
        _ => panic!(
            "{name} is not set: this test needs the real server. Run `cargo xtask test`, \
             or `cargo xtask services up && eval \"$(cargo xtask services env)\"` before `cargo test`."
        ),
    }
}

/// Loads a poolside configuration from exactly these variables (not the process's).
///
/// # Panics
///
/// When the configuration is invalid, with every problem found.
pub fn load_config(vars: &[(&str, &str)]) -> LoadedConfig {
    let env: EnvSnapshot = vars.iter().copied().collect();
    ConfigLoader::from_env(env)
        .load()
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Statements whose text contains `marker` still active on the services' PostgreSQL,
/// counted over a connection of its own: to check that cancelled work stopped there.
pub async fn statements_running(marker: &str) -> i64 {
    let url = required_env("DATABASE_URL");
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .expect("connects to DATABASE_URL");
    tokio::spawn(connection);
    client
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE $1 AND pid <> pg_backend_pid()",
            &[&format!("%{marker}%")],
        )
        .await
        .expect("pg_stat_activity")
        .get(0)
}
