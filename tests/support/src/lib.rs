//! Shared helpers of poolside's cross-crate integration tests, which run against the
//! real PostgreSQL, Redis and PgBouncer that `cargo xtask services up` starts.
//!
//! A test that needs a server never passes by skipping it: when the server's URL is not
//! in the environment, it fails and says how to provide it.

pub mod cluster_keys;
pub mod fault_proxy;
pub mod http;
pub mod mounted_file;
pub mod no_database;
pub mod pg_table;
pub mod pgbouncer;
pub mod polling;
pub mod private_redis;
pub mod redis_pubsub;
pub mod renewed_client_cert;
pub mod round_trips;
pub mod tcp_sockets;
pub mod tools;

use std::sync::Arc;

use parking_lot::Mutex;
use poolside_config::{Config, ConfigLoader, EnvSnapshot, LoadedConfig};
use poolside_core::PgPool;

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

/// The configuration the tests run on: the services' database (`DATABASE_URL`) in the
/// test profile, then `overrides` (`POOLSIDE_*` variables, or `DATABASE_URL` again to
/// point elsewhere: a variable given again replaces the first).
///
/// # Panics
///
/// When `DATABASE_URL` is not set, or the configuration is invalid.
pub fn services_config(overrides: &[(&str, &str)]) -> Config {
    let url = required_env("DATABASE_URL");
    let mut vars = vec![("DATABASE_URL", url.as_str()), ("POOLSIDE_PROFILE", "test")];
    vars.extend_from_slice(overrides);
    load_config(&vars).config
}

/// [`services_config`] with the services' standby (`DATABASE_STANDBY_URL`) as a read
/// replica, sampled every 200 ms.
pub fn replica_config(overrides: &[(&str, &str)]) -> Config {
    let standby = required_env("DATABASE_STANDBY_URL");
    let mut vars = vec![
        ("POOLSIDE_POSTGRES__REPLICAS", standby.as_str()),
        ("POOLSIDE_POSTGRES__REPLICA_CHECK_INTERVAL", "200ms"),
    ];
    vars.extend_from_slice(overrides);
    services_config(&vars)
}

/// The `[redis]` section for Redis at `url` (with the services' `DATABASE_URL`, which
/// every configuration needs), then `extra` variables; the default profile's values.
///
/// # Panics
///
/// When `DATABASE_URL` is not set, or the configuration is invalid.
pub fn redis_config(url: &str, extra: &[(&str, &str)]) -> poolside_config::RedisConfig {
    let pg = required_env("DATABASE_URL");
    let mut vars = vec![("DATABASE_URL", pg.as_str()), ("REDIS_URL", url)];
    vars.extend_from_slice(extra);
    load_config(&vars)
        .config
        .redis
        .expect("REDIS_URL configures redis")
}

/// The `[redis]` section for the Sentinel group `cargo xtask services up
/// redis-sentinel` starts (`REDIS_SENTINELS`, `REDIS_MASTER_NAME`), then `extra`
/// variables.
///
/// # Panics
///
/// When a variable is not set, or the configuration is invalid.
pub fn redis_sentinel_config(extra: &[(&str, &str)]) -> poolside_config::RedisConfig {
    sentinel_section(
        &required_env("REDIS_SENTINELS"),
        &required_env("REDIS_MASTER_NAME"),
        extra,
    )
}

/// The `[redis]` section for the cluster `cargo xtask services up redis-cluster`
/// starts, every node named (`REDIS_CLUSTER_NODES`: a new connection needs one of them
/// up), then `extra` variables.
///
/// # Panics
///
/// When a variable is not set, or the configuration is invalid.
pub fn redis_cluster_config(extra: &[(&str, &str)]) -> poolside_config::RedisConfig {
    cluster_section(&required_env("REDIS_CLUSTER_NODES"), extra)
}

/// The `[redis]` section for the same cluster over TLS (`REDIS_CLUSTER_TLS_NODES`),
/// with [`tls_params`]`(ca, client)` in each URL, then `extra` variables.
///
/// # Panics
///
/// When a variable is not set, or the configuration is invalid.
pub fn redis_cluster_tls_config(
    ca: &str,
    client: Option<&str>,
    extra: &[(&str, &str)],
) -> poolside_config::RedisConfig {
    redis_cluster_tls_config_with(&tls_params(ca, client), extra)
}

/// [`redis_cluster_tls_config`] with `params` (`sslrootcert=...&sslcert=...`) as each
/// URL's query: for files of a test's own.
///
/// # Panics
///
/// When a variable is not set, or the configuration is invalid.
pub fn redis_cluster_tls_config_with(
    params: &str,
    extra: &[(&str, &str)],
) -> poolside_config::RedisConfig {
    let nodes = with_query(&required_env("REDIS_CLUSTER_TLS_NODES"), params);
    cluster_section(&nodes, extra)
}

/// The `[redis]` section for the Sentinel group over TLS that `cargo xtask services
/// up redis-sentinel` starts (`REDIS_SENTINELS_TLS`, `REDIS_MASTER_NAME_TLS`), with
/// [`tls_params`]`(ca, client)` in each URL, then `extra` variables.
///
/// # Panics
///
/// When a variable is not set, or the configuration is invalid.
pub fn redis_sentinel_tls_config(
    ca: &str,
    client: Option<&str>,
    extra: &[(&str, &str)],
) -> poolside_config::RedisConfig {
    let sentinels = with_query(
        &required_env("REDIS_SENTINELS_TLS"),
        &tls_params(ca, client),
    );
    sentinel_section(&sentinels, &required_env("REDIS_MASTER_NAME_TLS"), extra)
}

/// `sentinel` mode with `sentinels` (comma-separated URLs) and `master`, then `extra`.
fn sentinel_section(
    sentinels: &str,
    master: &str,
    extra: &[(&str, &str)],
) -> poolside_config::RedisConfig {
    let mut vars = vec![
        ("POOLSIDE_REDIS__MODE", "sentinel"),
        ("POOLSIDE_REDIS__SENTINELS", sentinels),
        ("POOLSIDE_REDIS__MASTER_NAME", master),
    ];
    vars.extend_from_slice(extra);
    redis_section(&vars)
}

/// `cluster` mode with `nodes` (comma-separated URLs), then `extra`.
fn cluster_section(nodes: &str, extra: &[(&str, &str)]) -> poolside_config::RedisConfig {
    let mut vars = vec![
        ("POOLSIDE_REDIS__MODE", "cluster"),
        ("POOLSIDE_REDIS__CLUSTER_NODES", nodes),
    ];
    vars.extend_from_slice(extra);
    redis_section(&vars)
}

/// The query of a `rediss://` URL that trusts the CA file in variable `ca`
/// (`DATABASE_TLS_CA`, which signed the services' certificate, or
/// `DATABASE_TLS_OTHER_CA`, which did not) and presents the client certificate of
/// `client` (`TLS_CLIENT` or `TLS_OTHER_CLIENT`: the files in its `_CERT` and `_KEY`
/// variables) if any.
///
/// # Panics
///
/// When a variable is not set.
#[must_use]
pub fn tls_params(ca: &str, client: Option<&str>) -> String {
    let mut params = format!("sslrootcert={}", required_env(ca));
    if let Some(client) = client {
        let cert = required_env(&format!("{client}_CERT"));
        let key = required_env(&format!("{client}_KEY"));
        params.push_str(&format!("&sslcert={cert}&sslkey={key}"));
    }
    params
}

/// Comma-separated `urls`, each with the query `params`.
fn with_query(urls: &str, params: &str) -> String {
    urls.split(',')
        .map(|url| format!("{url}?{params}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// The `[redis]` section of `vars` with the services' `DATABASE_URL`.
fn redis_section(vars: &[(&str, &str)]) -> poolside_config::RedisConfig {
    let pg = required_env("DATABASE_URL");
    let mut all = vec![("DATABASE_URL", pg.as_str())];
    all.extend_from_slice(vars);
    load_config(&all).config.redis.expect("a redis section")
}

/// A checkout timeout of 10 s, as an override: for tests that load the shared 2-core
/// machine, where the test profile's 3 s is too tight to tell a slow checkout from a
/// lost one.
pub const PATIENT_CHECKOUT: (&str, &str) = ("POOLSIDE_POSTGRES__CONNECTION_TIMEOUT", "10s");

/// A PostgreSQL pool on [`services_config`]`(overrides)`, connected (its `min_idle`
/// warmed).
///
/// # Panics
///
/// When the configuration is invalid or the pool cannot connect.
pub async fn pg_pool(overrides: &[(&str, &str)]) -> PgPool {
    let config = services_config(overrides).postgres;
    PgPool::connect(&config)
        .await
        .unwrap_or_else(|e| panic!("the pool connects to {}: {e}", config.url))
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

/// How many named prepared statements the session behind `client` holds, read with
/// the simple protocol (which prepares nothing itself): to see a statement cache from
/// the server's side.
pub async fn named_statements(client: &tokio_postgres::Client) -> i64 {
    let rows = client
        .simple_query("SELECT count(*) FROM pg_prepared_statements")
        .await
        .expect("pg_prepared_statements");
    rows.iter()
        .find_map(|message| match message {
            tokio_postgres::SimpleQueryMessage::Row(row) => row.get(0)?.parse().ok(),
            _ => None,
        })
        .expect("one count")
}

/// Collects what a tracing subscriber writes, at every level.
#[derive(Debug, Clone, Default)]
pub struct LogCapture(Arc<Mutex<Vec<u8>>>);

impl LogCapture {
    /// A capture installed as this thread's default subscriber (TRACE and up), until
    /// the guard drops. Tasks of a current-thread runtime log into it; so run such a
    /// test on the default `#[tokio::test]` runtime.
    pub fn install() -> (Self, tracing::subscriber::DefaultGuard) {
        let capture = Self::default();
        let guard = tracing::subscriber::set_default(
            tracing_subscriber::fmt()
                .with_writer(capture.clone())
                .with_ansi(false)
                .with_max_level(tracing::Level::TRACE)
                .finish(),
        );
        (capture, guard)
    }

    /// Everything written so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock()).into_owned()
    }
}

impl std::io::Write for LogCapture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogCapture {
    type Writer = LogCapture;

    fn make_writer(&'a self) -> LogCapture {
        self.clone()
    }
}

/// Runs `cargo xtask services <args>` (a restart, a failover) through the xtask binary
/// that `cargo xtask test` names in `POOLSIDE_XTASK`, and returns what it printed.
/// Blocks: call it from `spawn_blocking` in async tests.
///
/// # Panics
///
/// When `POOLSIDE_XTASK` is not set, or the command fails.
pub fn xtask_services(args: &[&str]) -> String {
    try_xtask_services(args).unwrap_or_else(|e| panic!("{e}"))
}

/// [`xtask_services`], with failure as an error (for destructors, which must not
/// panic while a test unwinds).
///
/// # Errors
///
/// When `POOLSIDE_XTASK` is not set, or the command fails, saying why.
pub fn try_xtask_services(args: &[&str]) -> Result<String, String> {
    let xtask = std::env::var("POOLSIDE_XTASK").map_err(|_| {
        "POOLSIDE_XTASK is not set: this test stops and starts the services. Run it with \
         `cargo xtask test`, or `POOLSIDE_XTASK=$PWD/target/debug/xtask cargo test -p \
         poolside-test-suite --test <its file> -- --ignored --test-threads=1` after \
         `cargo xtask services up`."
            .to_owned()
    })?;
    let output = std::process::Command::new(&xtask)
        .arg("services")
        .args(args)
        .output()
        .map_err(|e| format!("running {xtask} (POOLSIDE_XTASK must be an absolute path): {e}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if output.status.success() {
        Ok(stdout)
    } else {
        Err(format!(
            "xtask services {} failed ({}): {stdout}{}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

/// `url` with its password taken out, and the password: for a test that gives the
/// password another way (`postgres.password_file`).
///
/// ```
/// let (url, password) = poolside_tests::split_password("postgres://app:s3cret@db:5432/app");
/// assert_eq!((url.as_str(), password.as_str()), ("postgres://app@db:5432/app", "s3cret"));
/// ```
///
/// # Panics
///
/// When `url` holds no `user:password@`.
pub fn split_password(url: &str) -> (String, String) {
    let password = url
        .split_once("://")
        .and_then(|(_, rest)| rest.split_once('@'))
        .and_then(|(userinfo, _)| userinfo.split_once(':'))
        .map(|(_, password)| password.to_owned())
        .unwrap_or_else(|| panic!("{url} holds no password"));
    let without = url.replacen(&format!(":{password}@"), "@", 1);
    (without, password)
}

/// A libpq-style multi-host URL over the hosts of `primary` and `standby` (URLs that
/// differ only in host and port), preferring whichever takes writes.
///
/// # Panics
///
/// When either URL has no `user@host:port/` part.
pub fn multi_host_url(primary: &str, standby: &str) -> String {
    fn host_port(url: &str) -> (usize, usize) {
        let at = url.rfind('@').expect("the URL names a user") + 1;
        let slash = url[at..].find('/').expect("the URL names a database") + at;
        (at, slash)
    }
    let (at, slash) = host_port(primary);
    let (standby_at, standby_slash) = host_port(standby);
    let separator = if primary[slash..].contains('?') {
        '&'
    } else {
        '?'
    };
    format!(
        "{}{},{}{}{separator}target_session_attrs=read-write",
        &primary[..at],
        &primary[at..slash],
        &standby[standby_at..standby_slash],
        &primary[slash..]
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn multi_host_url_joins_the_hosts() {
        assert_eq!(
            super::multi_host_url("postgres://u:p@h1:1/db", "postgres://u:p@h2:2/db"),
            "postgres://u:p@h1:1,h2:2/db?target_session_attrs=read-write"
        );
        assert_eq!(
            super::multi_host_url("postgres://u:p@h1:1/db?x=1", "postgres://u:p@h2:2/db"),
            "postgres://u:p@h1:1,h2:2/db?x=1&target_session_attrs=read-write"
        );
    }
}
