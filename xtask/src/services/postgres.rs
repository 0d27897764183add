//! PostgreSQL 15, the primary: password (SCRAM) authentication on 127.0.0.1, with TLS
//! for clients that ask (the test CA's certificate, see `tls.rs`), trust on its Unix
//! socket (replication included, for the standby), a `poolside` role and database for
//! tests, and a role let in by client certificate only (`CERT_USER`).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};

use super::install::{self, Requirement};
use super::layout::Layout;
use super::process::run;
use super::tls::{self, TlsFiles};
use super::{CERT_USER, DB_NAME, DB_PASSWORD, DB_USER, SECRET_PASSWORD, SECRET_USER, Service};

/// The TCP port.
pub(crate) const PORT: u16 = 15432;
/// The bootstrap superuser (trusted on the Unix socket only).
pub(super) const SUPERUSER: &str = "postgres";

/// The PostgreSQL server.
#[derive(Debug)]
pub(crate) struct Postgres;

impl Postgres {
    /// The path of a PostgreSQL program, such as `pg_ctl`.
    pub(super) fn bin(program: &str) -> Result<PathBuf> {
        install::postgres_bin_dir()
            .map(|dir| dir.join(program))
            .context("no PostgreSQL server under /usr/lib/postgresql/*/bin")
    }

    /// The primary's data directory.
    pub(super) fn data_dir(layout: &Layout) -> PathBuf {
        layout.dir("postgres").join("data")
    }

    /// `postgres` in the foreground on `data`, listening on 127.0.0.1:`port` and on a
    /// socket in the run directory.
    pub(super) fn server_command(layout: &Layout, data: &Path, port: u16) -> Result<Command> {
        let mut command = Command::new(Self::bin("postgres")?);
        command
            .arg("-D")
            .arg(data)
            .args(["-c", "listen_addresses=127.0.0.1"])
            .args(["-c", &format!("port={port}")])
            .arg("-c")
            .arg(format!(
                "unix_socket_directories={}",
                layout.run_dir().display()
            ))
            // Room for the load test's 1000 tasks on a few pools, and pgbench -C (a
            // standby needs at least its primary's).
            .args(["-c", "max_connections=300"])
            // WAL kept for a standby that falls behind during a burst of writes (the
            // overload test) rather than recycled under it.
            .args(["-c", "wal_keep_size=512MB"])
            .args(["-c", "logging_collector=off"]);
        // TLS for the clients that ask (sslmode=prefer, require, verify-ca,
        // verify-full), with the test CA's certificate; a client certificate is asked
        // for, and must be the CA's when one is given (CERT_USER needs one).
        let tls = TlsFiles::of(layout);
        command
            .args(["-c", "ssl=on"])
            .arg("-c")
            .arg(format!("ssl_cert_file={}", tls.server_cert.display()))
            .arg("-c")
            .arg(format!("ssl_key_file={}", tls.server_key.display()))
            .arg("-c")
            .arg(format!("ssl_ca_file={}", tls.ca.display()));
        Ok(command)
    }

    /// The `pg_hba.conf` line that lets `CERT_USER` in over TLS by client certificate
    /// only (its CN must be the role's name), before initdb's password lines.
    fn cert_hba_line() -> String {
        format!("hostssl all {CERT_USER} 127.0.0.1/32 cert\n")
    }

    /// Puts [`Self::cert_hba_line`] first in `data`'s `pg_hba.conf` unless it is there
    /// (a data directory made before it keeps its other lines).
    fn allow_cert_user(data: &Path) -> Result<()> {
        let hba = data.join("pg_hba.conf");
        let lines = std::fs::read_to_string(&hba).context("reading pg_hba.conf")?;
        let line = Self::cert_hba_line();
        if !lines.contains(line.trim_end()) {
            std::fs::write(&hba, format!("{line}{lines}")).context("writing pg_hba.conf")?;
        }
        Ok(())
    }

    /// Turns every new transaction on the primary read-only (as a demoted primary
    /// would be), or back to read-write.
    pub(super) fn set_read_only(layout: &Layout, read_only: bool) -> Result<()> {
        let set = if read_only {
            "ALTER SYSTEM SET default_transaction_read_only = on"
        } else {
            "ALTER SYSTEM RESET default_transaction_read_only"
        };
        // ALTER SYSTEM refuses to run in the transaction block of a multi-statement -c.
        Self::psql(layout, set)?;
        Self::psql(layout, "SELECT pg_reload_conf()").map(drop)
    }

    /// `psql` as the superuser over the Unix socket, running `sql` on the primary.
    pub(super) fn psql(layout: &Layout, sql: &str) -> Result<String> {
        Self::psql_on(layout, PORT, sql)
    }

    /// `psql` as the superuser over the Unix socket, running `sql` on the server at
    /// `port` (the primary or the standby).
    pub(super) fn psql_on(layout: &Layout, port: u16, sql: &str) -> Result<String> {
        Self::psql_in(layout, port, "postgres", sql)
    }

    /// `psql` as the superuser over the Unix socket, running `sql` in `database` of the
    /// server at `port`.
    fn psql_in(layout: &Layout, port: u16, database: &str, sql: &str) -> Result<String> {
        run(Command::new(Self::bin("psql")?)
            .arg("--no-psqlrc")
            .args(["-v", "ON_ERROR_STOP=1", "-Atq"])
            .arg("-h")
            .arg(layout.run_dir())
            .args([
                "-p",
                &port.to_string(),
                "-U",
                SUPERUSER,
                "-d",
                database,
                "-c",
                sql,
            ]))
    }
}

impl Service for Postgres {
    fn name(&self) -> &'static str {
        "PostgreSQL"
    }

    fn key(&self) -> &'static str {
        "postgres"
    }

    fn port(&self) -> u16 {
        PORT
    }

    fn missing(&self) -> Option<Requirement> {
        install::postgres_bin_dir()
            .is_none()
            .then_some(Requirement {
                program: "postgres",
                package: "postgresql-15",
            })
    }

    fn refuses_root(&self) -> bool {
        true
    }

    fn prepare(&self, layout: &Layout) -> Result<()> {
        if install::find_program(tls::OPENSSL.program).is_none() {
            install::install(&[tls::OPENSSL])?;
        }
        tls::ensure(layout)?;
        let dir = layout.service_dir(self.key(), true)?;
        let data = Self::data_dir(layout);
        if data.join("PG_VERSION").is_file() {
            return Self::allow_cert_user(&data);
        }
        let _ = std::fs::remove_dir_all(&data);
        let pwfile = dir.join("superuser-password");
        std::fs::write(&pwfile, format!("{SUPERUSER}\n"))?;
        if let Some(user) = &layout.user {
            user.own(&pwfile)?;
        }
        let mut initdb = Command::new(Self::bin("initdb")?);
        initdb
            .arg("-D")
            .arg(&data)
            .args([
                "-U",
                SUPERUSER,
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
            ])
            .arg(format!("--pwfile={}", pwfile.display()))
            .args(["-E", "UTF8", "--locale=C", "--no-sync"]);
        if let Some(user) = &layout.user {
            user.apply(&mut initdb);
        }
        run(&mut initdb).context("initdb failed")?;
        std::fs::remove_file(&pwfile)?;
        Self::allow_cert_user(&data)
    }

    fn command(&self, layout: &Layout) -> Result<Command> {
        Self::server_command(layout, &Self::data_dir(layout), PORT)
    }

    fn marker(&self, layout: &Layout) -> String {
        Self::data_dir(layout).display().to_string()
    }

    fn is_ready(&self, layout: &Layout) -> bool {
        Self::psql(layout, "SELECT 1").is_ok_and(|out| out.trim() == "1")
    }

    fn after_start(&self, layout: &Layout) -> Result<()> {
        // A failover test may have left the primary read-only (`services failover
        // --read-only`); roles and databases below need it writable.
        Self::set_read_only(layout, false)?;
        Self::psql(
            layout,
            &format!(
                "DO $$ BEGIN
                   IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{DB_USER}') THEN
                     CREATE ROLE {DB_USER} LOGIN CREATEDB PASSWORD '{DB_PASSWORD}';
                   END IF;
                   IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{SECRET_USER}') THEN
                     CREATE ROLE {SECRET_USER} LOGIN PASSWORD '{SECRET_PASSWORD}';
                   END IF;
                   IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{CERT_USER}') THEN
                     CREATE ROLE {CERT_USER} LOGIN;
                   END IF;
                 END $$;
                 GRANT pg_read_all_stats, pg_signal_backend TO {DB_USER};
                 GRANT {DB_USER} TO {SECRET_USER};"
            ),
        )?;
        let exists = Self::psql(
            layout,
            &format!("SELECT 1 FROM pg_database WHERE datname = '{DB_NAME}'"),
        )?;
        if exists.trim() != "1" {
            Self::psql(
                layout,
                &format!("CREATE DATABASE {DB_NAME} OWNER {DB_USER}"),
            )?;
        }
        // Function privileges belong to a database: the replica tests pause and resume
        // the standby's replay from the test database (the grant replicates to it).
        Self::psql_in(
            layout,
            PORT,
            DB_NAME,
            &format!(
                "GRANT EXECUTE ON FUNCTION pg_wal_replay_pause(), pg_wal_replay_resume() TO {DB_USER}"
            ),
        )?;
        Ok(())
    }

    fn stop_signal(&self) -> &'static str {
        // PostgreSQL's fast shutdown: roll back open transactions, then stop.
        "INT"
    }
}
