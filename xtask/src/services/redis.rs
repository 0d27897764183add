//! Redis 7 on 127.0.0.1, no persistence: a cache for tests, with a password
//! (`requirepass`) and an ACL user limited to `acl:*` keys; plain on one port, TLS
//! (the test CA's server certificate, as PostgreSQL's) on another, which checks a
//! client certificate when one is given (`tls-auth-clients optional`).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result};

use super::install::{self, Requirement};
use super::layout::Layout;
use super::tls;
use super::{REDIS_ACL_PASSWORD, REDIS_ACL_USER, REDIS_PASSWORD, Service};

/// The TCP port.
pub(crate) const PORT: u16 = 16379;
/// The TLS port (`rediss://`).
pub(crate) const TLS_PORT: u16 = 16389;

/// The Redis server.
#[derive(Debug)]
pub(crate) struct Redis;

impl Redis {
    fn config_file(layout: &Layout) -> PathBuf {
        layout.dir("redis").join("redis.conf")
    }
}

impl Service for Redis {
    fn name(&self) -> &'static str {
        "Redis"
    }

    fn key(&self) -> &'static str {
        "redis"
    }

    fn port(&self) -> u16 {
        PORT
    }

    fn missing(&self) -> Option<Requirement> {
        install::find_program("redis-server")
            .is_none()
            .then_some(Requirement {
                program: "redis-server",
                package: "redis-server",
            })
    }

    fn refuses_root(&self) -> bool {
        false
    }

    fn prepare(&self, layout: &Layout) -> Result<()> {
        if install::find_program(tls::OPENSSL.program).is_none() {
            install::install(&[tls::OPENSSL])?;
        }
        let tls = tls::ensure(layout)?;
        let dir = layout.service_dir(self.key(), false)?;
        // Redis rewrites its process title; the template keeps the config path in it so
        // that `down` can tell this server from any other.
        let config = format!(
            "bind 127.0.0.1\nport {PORT}\ndir {}\nsave \"\"\nappendonly no\ndaemonize no\n\
             protected-mode yes\nproc-title-template \"{{title}} {{listen-addr}} {{config-file}}\"\n\
             requirepass {REDIS_PASSWORD}\n\
             user {REDIS_ACL_USER} on >{REDIS_ACL_PASSWORD} ~acl:* &* +@all -@dangerous\n\
             tls-port {TLS_PORT}\ntls-cert-file {}\ntls-key-file {}\ntls-ca-cert-file {}\n\
             tls-auth-clients optional\n",
            dir.display(),
            tls.server_cert.display(),
            tls.server_key.display(),
            tls.ca.display(),
        );
        std::fs::write(Self::config_file(layout), config).context("writing redis.conf")
    }

    fn command(&self, layout: &Layout) -> Result<Command> {
        let program =
            install::find_program("redis-server").context("redis-server is not installed")?;
        let mut command = Command::new(program);
        command.arg(Self::config_file(layout));
        Ok(command)
    }

    fn marker(&self, layout: &Layout) -> String {
        Self::config_file(layout).display().to_string()
    }

    fn is_ready(&self, _layout: &Layout) -> bool {
        ping().is_ok_and(|reply| reply.starts_with("+PONG"))
    }

    fn stop_signal(&self) -> &'static str {
        "TERM"
    }
}

/// Authenticates, sends `PING` and returns the reply line.
fn ping() -> Result<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", PORT))?;
    stream.set_read_timeout(Some(Duration::from_secs(1)))?;
    stream.write_all(format!("AUTH {REDIS_PASSWORD}\r\nPING\r\n").as_bytes())?;
    let mut replies = String::new();
    let mut reply = [0u8; 64];
    // `+OK` for AUTH, then the PING's reply; they may come in one read or two.
    while replies.lines().count() < 2 {
        let n = stream.read(&mut reply)?;
        anyhow::ensure!(n > 0, "Redis closed the connection: {replies:?}");
        replies.push_str(&String::from_utf8_lossy(&reply[..n]));
    }
    Ok(replies.lines().nth(1).unwrap_or_default().to_owned())
}
