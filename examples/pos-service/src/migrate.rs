//! The schema, created on start by the service's own migration (idempotent, and
//! serialized between instances by an advisory lock), on `DATABASE_URL_DIRECT` when
//! set: PgBouncer's transaction mode is no place for DDL. With
//! `postgres.connect_lazy` it is retried in the background until it is applied.

use std::path::{Path, PathBuf};
use std::time::Duration;

use poolside::config::password_file::read_password_file;
use poolside::config::{PostgresConfig, SecretUrl};
use poolside::core::tokio_postgres::error::SqlState;
use poolside::core::tokio_postgres::{self, NoTls};
use poolside::health::Component;
use poolside::resilience::{Backoff, Jitter};
use poolside::{Health, StartupTask};

/// Every statement of the schema, in order.
const SCHEMA: &str = "
CREATE SCHEMA IF NOT EXISTS pos;
CREATE TABLE IF NOT EXISTS pos.products (
    id bigserial PRIMARY KEY,
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    price_cents bigint NOT NULL CHECK (price_cents >= 0),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS pos.inventory (
    product_id bigint PRIMARY KEY REFERENCES pos.products (id),
    quantity bigint NOT NULL CHECK (quantity >= 0)
);
CREATE TABLE IF NOT EXISTS pos.sales (
    id bigserial PRIMARY KEY,
    total_cents bigint NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS pos.sale_items (
    sale_id bigint NOT NULL REFERENCES pos.sales (id),
    product_id bigint NOT NULL REFERENCES pos.products (id),
    quantity bigint NOT NULL CHECK (quantity > 0),
    price_cents bigint NOT NULL,
    PRIMARY KEY (sale_id, product_id)
);
CREATE INDEX IF NOT EXISTS sales_created_at ON pos.sales (created_at);
";

/// A key for `pg_advisory_xact_lock`, so that instances starting together migrate
/// one after the other.
const LOCK_KEY: i64 = 0x0070_6f73_5f6d_6967; // "pos_mig" in ASCII

/// The waits between failed attempts in the background: up to 1 s, doubling to up to
/// 16 s, each drawn from the upper half (instances started together do not retry in
/// step), and cut short when the health monitor sees PostgreSQL come back.
const RETRY: Backoff = Backoff::new(
    Duration::from_secs(1),
    Duration::from_secs(16),
    Jitter::Equal,
);

/// Where the migration runs: `postgres.direct_url` when set, else `postgres.url`.
#[derive(Debug)]
pub(crate) struct Target {
    url: SecretUrl,
    password_file: Option<PathBuf>,
    /// `postgres.connect_timeout` (else `postgres.connection_timeout`).
    connect_timeout: Duration,
}

impl Target {
    /// The target of the service's configuration.
    pub(crate) fn of(config: &PostgresConfig) -> Self {
        Self {
            url: config.direct_url.as_ref().unwrap_or(&config.url).clone(),
            password_file: config.password_file.clone(),
            connect_timeout: config.effective_connect_timeout(),
        }
    }

    /// Applies the schema once; the error names the (masked) URL.
    pub(crate) async fn run(&self) -> Result<(), String> {
        run(
            self.url.expose(),
            self.password_file.as_deref(),
            self.connect_timeout,
        )
        .await
        .map_err(|reason| format!("migration on {} failed: {reason}", self.url))
    }

    /// Applies the schema, trying again after each failure (the server down, the
    /// password not rotated yet) until it is applied, then completes `task`. Each
    /// failure is the task's report, so `/health/ready` says why the service is not
    /// ready; a new reason is logged as a warning. The next attempt comes at the
    /// backoff's delay, or as soon as `health`'s PostgreSQL check passes after
    /// failing (the database back), whichever is first.
    pub(crate) async fn run_until_applied(self, task: StartupTask, health: Health) {
        let mut last = String::new();
        for failures in 1_u32.. {
            // Before the attempt: a recovery while it fails counts.
            let recovered = health.recovered(Component::Postgres);
            match self.run().await {
                Ok(()) => break,
                Err(reason) => {
                    if reason != last {
                        tracing::warn!(%reason, "the migration failed: trying again");
                    }
                    task.report(&reason);
                    last = reason;
                    tokio::select! {
                        () = tokio::time::sleep(RETRY.delay(failures)) => {}
                        () = recovered => {
                            tracing::info!("PostgreSQL answers the health check again: migrating");
                        }
                    }
                }
            }
        }
        task.complete();
    }
}

/// Applies the schema over its own connection to `url` (within `connect_timeout` to
/// connect when the URL sets none), with the password in `password_file`
/// (`postgres.password_file`) when the URL names none.
///
/// # Errors
///
/// When the password file cannot be read, the server cannot be reached, or it refuses
/// a statement: the reason, with no password in it.
pub async fn run(
    url: &str,
    password_file: Option<&Path>,
    connect_timeout: Duration,
) -> Result<(), String> {
    let mut config: tokio_postgres::Config = url.parse().map_err(|e| reason(&e))?;
    if config.get_connect_timeout().is_none() {
        // A server that does not answer (down behind a load balancer, frozen) would
        // hold the start, or the retries, for good.
        config.connect_timeout(connect_timeout);
    }
    let password_file = password_file.filter(|_| config.get_password().is_none());
    if let Some(file) = password_file {
        let password = read_password_file(file)
            .map_err(|e| format!("postgres.password_file {}: {e}", file.display()))?;
        config.password(password);
    }
    apply(&config).await.map_err(|e| match password_file {
        Some(file) if e.code() == Some(&SqlState::INVALID_PASSWORD) => format!(
            "{}: the password was read from postgres.password_file {}",
            reason(&e),
            file.display()
        ),
        _ => reason(&e),
    })
}

/// The driver's own text is only "db error": the server's reason is its source.
fn reason(error: &tokio_postgres::Error) -> String {
    let reason =
        std::error::Error::source(error).map_or_else(|| error.to_string(), |s| s.to_string());
    poolside::config::redact_text(&reason)
}

async fn apply(config: &tokio_postgres::Config) -> Result<(), tokio_postgres::Error> {
    let (mut client, connection) = config.connect(NoTls).await?;
    let driver = tokio::spawn(connection);
    let transaction = client.transaction().await?;
    transaction
        .execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_KEY])
        .await?;
    transaction.batch_execute(SCHEMA).await?;
    transaction.commit().await?;
    drop(client);
    let _ = driver.await;
    Ok(())
}
