//! A streaming standby of the PostgreSQL primary on its own port, for host failover
//! tests: copied with `pg_basebackup -R` (which writes `standby.signal` and the
//! primary's address), read-only until `services failover` promotes it.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result};

use super::Service;
use super::install::Requirement;
use super::layout::Layout;
use super::postgres::{self, Postgres};
use super::process::run;

/// The TCP port.
pub(crate) const PORT: u16 = 15433;

/// The standby server.
#[derive(Debug)]
pub(crate) struct Standby;

impl Standby {
    /// Its data directory.
    pub(super) fn data_dir(layout: &Layout) -> PathBuf {
        layout.dir("postgres-standby").join("data")
    }
}

impl Service for Standby {
    fn name(&self) -> &'static str {
        "PostgreSQL standby"
    }

    fn key(&self) -> &'static str {
        "postgres-standby"
    }

    fn port(&self) -> u16 {
        PORT
    }

    fn missing(&self) -> Option<Requirement> {
        Postgres.missing()
    }

    fn refuses_root(&self) -> bool {
        true
    }

    /// Copies the running primary afresh. A copy left from an earlier start may have
    /// fallen behind further than the WAL the primary kept (a load test runs without
    /// the standby), and a promoted one has left the primary's timeline: either would
    /// never catch up.
    fn prepare(&self, layout: &Layout) -> Result<()> {
        layout.service_dir(self.key(), true)?;
        let data = Self::data_dir(layout);
        if data.exists() {
            std::fs::remove_dir_all(&data)
                .with_context(|| format!("removing the old standby at {}", data.display()))?;
        }
        let mut basebackup = Command::new(Postgres::bin("pg_basebackup")?);
        basebackup
            .arg("-D")
            .arg(&data)
            .args(["-R", "-X", "stream", "-c", "fast", "--no-sync"])
            .arg("-h")
            .arg(layout.run_dir())
            .args(["-p", &postgres::PORT.to_string(), "-U", postgres::SUPERUSER]);
        if let Some(user) = &layout.user {
            user.apply(&mut basebackup);
        }
        run(&mut basebackup).context("pg_basebackup from the primary failed")?;
        Ok(())
    }

    fn command(&self, layout: &Layout) -> Result<Command> {
        Postgres::server_command(layout, &Self::data_dir(layout), PORT)
    }

    fn marker(&self, layout: &Layout) -> String {
        Self::data_dir(layout).display().to_string()
    }

    fn is_ready(&self, layout: &Layout) -> bool {
        Postgres::psql_on(layout, PORT, "SELECT 1").is_ok_and(|out| out.trim() == "1")
    }

    fn stop_signal(&self) -> &'static str {
        "INT"
    }
}
