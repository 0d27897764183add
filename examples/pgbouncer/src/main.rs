//! The point-of-sale service behind PgBouncer in transaction mode, as seed operators
//! run it: `DATABASE_URL` names PgBouncer with `pgbouncer=true` (statements go
//! unnamed, no statement cache, no session state), and `DATABASE_URL_DIRECT` names
//! PostgreSQL itself for the migration (DDL and advisory locks need a real session).

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let config = match poolside::config::Config::load() {
        Ok(loaded) => loaded.config,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    if !config.postgres.pgbouncer {
        eprintln!(
            "error: DATABASE_URL must name PgBouncer with ?pgbouncer=true \
             (or set POOLSIDE_POSTGRES__PGBOUNCER=true)"
        );
        return ExitCode::from(2);
    }
    if config.postgres.direct_url.is_none() {
        eprintln!(
            "error: DATABASE_URL_DIRECT is not set: the migration needs PostgreSQL itself, \
             not PgBouncer's transaction mode"
        );
        return ExitCode::from(2);
    }
    match poolside_example_pos_service::run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
