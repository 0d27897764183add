//! PgBouncer in transaction mode in front of the PostgreSQL service, the way services
//! that run many instances put it in front of their database.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result};

use super::install::{self, Requirement};
use super::layout::Layout;
use super::process::run;
use super::{DB_NAME, DB_PASSWORD, DB_USER, Service, postgres};

/// The TCP port.
pub(crate) const PORT: u16 = 16432;

/// The PgBouncer server.
#[derive(Debug)]
pub(crate) struct PgBouncer;

impl PgBouncer {
    fn ini(layout: &Layout) -> PathBuf {
        layout.dir("pgbouncer").join("pgbouncer.ini")
    }
}

impl Service for PgBouncer {
    fn name(&self) -> &'static str {
        "PgBouncer"
    }

    fn key(&self) -> &'static str {
        "pgbouncer"
    }

    fn port(&self) -> u16 {
        PORT
    }

    fn missing(&self) -> Option<Requirement> {
        install::find_program("pgbouncer")
            .is_none()
            .then_some(Requirement {
                program: "pgbouncer",
                package: "pgbouncer",
            })
    }

    fn refuses_root(&self) -> bool {
        true
    }

    fn prepare(&self, layout: &Layout) -> Result<()> {
        let dir = layout.dir(self.key());
        std::fs::create_dir_all(&dir)?;
        let userlist = dir.join("userlist.txt");
        std::fs::write(&userlist, format!("\"{DB_USER}\" \"{DB_PASSWORD}\"\n"))?;
        // `server_login_retry = 1`: after PostgreSQL restarts, PgBouncer tries it
        // again within a second; its default, 15 s, keeps clients refused and queued
        // that long (the fault tests behind PgBouncer measure this).
        let ini = format!(
            "[databases]\n\
             {DB_NAME} = host=127.0.0.1 port={pg} dbname={DB_NAME}\n\
             * = host=127.0.0.1 port={pg}\n\
             \n\
             [pgbouncer]\n\
             listen_addr = 127.0.0.1\n\
             listen_port = {PORT}\n\
             unix_socket_dir = {run}\n\
             auth_type = scram-sha-256\n\
             auth_file = {userlist}\n\
             admin_users = {DB_USER}\n\
             pool_mode = transaction\n\
             default_pool_size = 20\n\
             max_client_conn = 2000\n\
             ignore_startup_parameters = extra_float_digits,options\n\
             server_login_retry = 1\n",
            pg = postgres::PORT,
            run = layout.run_dir().display(),
            userlist = userlist.display(),
        );
        std::fs::write(Self::ini(layout), ini).context("writing pgbouncer.ini")?;
        layout.service_dir(self.key(), true).map(drop)
    }

    fn command(&self, layout: &Layout) -> Result<Command> {
        let program = install::find_program("pgbouncer").context("pgbouncer is not installed")?;
        let mut command = Command::new(program);
        command.arg(Self::ini(layout));
        Ok(command)
    }

    fn marker(&self, layout: &Layout) -> String {
        Self::ini(layout).display().to_string()
    }

    fn is_ready(&self, _layout: &Layout) -> bool {
        // A query through PgBouncer to PostgreSQL: the whole chain answers.
        let Some(psql) = install::postgres_bin_dir().map(|dir| dir.join("psql")) else {
            return false;
        };
        run(Command::new(psql)
            .args([
                "--no-psqlrc",
                "-Atq",
                "-h",
                "127.0.0.1",
                "-p",
                &PORT.to_string(),
            ])
            .args(["-U", DB_USER, "-d", DB_NAME, "-c", "SELECT 1"])
            .env("PGPASSWORD", DB_PASSWORD)
            .env("PGCONNECT_TIMEOUT", "2"))
        .is_ok_and(|out| out.trim() == "1")
    }

    fn stop_signal(&self) -> &'static str {
        // PgBouncer's immediate shutdown; SIGINT would wait for clients to leave.
        "TERM"
    }
}
