//! Connections over time while a run goes on: PgBouncer's `SHOW POOLS` for one
//! database (clients active and waiting, server connections active and idle) and the
//! server's client connections in `pg_stat_activity`, sampled on connections of
//! their own.

use std::str::FromStr;
use std::sync::Arc;

use parking_lot::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::Serialize;
use tokio_postgres::{Client, SimpleQueryMessage};

/// One reading.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub(crate) struct ConnectionSample {
    /// Seconds since sampling began.
    pub(crate) at_s: f64,
    /// `SHOW POOLS` of the database: clients linked to a server connection.
    pub(crate) cl_active: u32,
    /// Clients waiting for a server connection.
    pub(crate) cl_waiting: u32,
    /// Server connections linked to a client.
    pub(crate) sv_active: u32,
    /// Server connections idle (and used, tested or logging in).
    pub(crate) sv_idle: u32,
    /// Client connections on the server (`pg_stat_activity`, every application).
    pub(crate) server_connections: u32,
}

/// Samples until dropped.
#[derive(Debug)]
pub(crate) struct ConnectionSampler {
    samples: Arc<Mutex<Vec<ConnectionSample>>>,
    task: tokio::task::JoinHandle<()>,
}

impl ConnectionSampler {
    /// Connects to PgBouncer's admin console (at `pgbouncer_url`, database
    /// `pgbouncer`) and to the server (`direct_url`), then samples database
    /// `database`'s pools and the server's connections every `every`.
    pub(crate) async fn start(
        pgbouncer_url: &str,
        direct_url: &str,
        database: &str,
        every: Duration,
    ) -> Result<Self> {
        let mut admin =
            tokio_postgres::Config::from_str(pgbouncer_url).context("PgBouncer's URL")?;
        admin.dbname("pgbouncer");
        let admin = connect(&admin).await.context("PgBouncer's admin console")?;
        let server =
            connect(&tokio_postgres::Config::from_str(direct_url).context("the server's URL")?)
                .await
                .context("the server")?;
        let samples = Arc::new(Mutex::new(Vec::new()));
        let kept = Arc::clone(&samples);
        let database = database.to_owned();
        let task = tokio::spawn(async move {
            let began = Instant::now();
            let mut ticks = tokio::time::interval(every);
            loop {
                ticks.tick().await;
                if let Ok(mut sample) = read(&admin, &server, &database).await {
                    sample.at_s = began.elapsed().as_secs_f64();
                    kept.lock().push(sample);
                }
            }
        });
        Ok(Self { samples, task })
    }

    /// Stops sampling and returns the samples.
    pub(crate) fn finish(self) -> Vec<ConnectionSample> {
        self.task.abort();
        std::mem::take(&mut *self.samples.lock())
    }
}

async fn connect(config: &tokio_postgres::Config) -> Result<Client> {
    let (client, connection) = config
        .connect(tokio_postgres::NoTls)
        .await
        .map_err(|e| anyhow::anyhow!("{}", poolside_config::redact_text(&e.to_string())))?;
    tokio::spawn(connection);
    Ok(client)
}

async fn read(admin: &Client, server: &Client, database: &str) -> Result<ConnectionSample> {
    let mut sample = ConnectionSample::default();
    for message in admin.simple_query("SHOW POOLS").await? {
        let SimpleQueryMessage::Row(row) = message else {
            continue;
        };
        if row.try_get("database")? != Some(database) {
            continue;
        }
        let number = |column: &str| -> u32 {
            row.try_get(column)
                .ok()
                .flatten()
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        sample.cl_active += number("cl_active");
        sample.cl_waiting += number("cl_waiting");
        sample.sv_active += number("sv_active");
        sample.sv_idle +=
            number("sv_idle") + number("sv_used") + number("sv_tested") + number("sv_login");
    }
    let count: i64 = server
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'",
            &[],
        )
        .await?
        .get(0);
    sample.server_connections = u32::try_from(count).unwrap_or(u32::MAX);
    Ok(sample)
}
