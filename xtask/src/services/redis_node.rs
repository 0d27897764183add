//! [`RedisNode`]: one Redis process of the Sentinel group or the cluster, on
//! 127.0.0.1, with the same password as the single Redis (`requirepass`, and
//! `masterauth` so that a node can follow a primary), and [`cli`] to ask any of them
//! something through `redis-cli`.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result, bail};

use super::install::{self, Requirement};
use super::layout::Layout;
use super::redis_sentinel::SentinelGroup;
use super::tls::{self, TlsFiles};
use super::{REDIS_PASSWORD, Service};

/// What a node is.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Role {
    /// A data node of a Sentinel group, replicating from the primary the sentinels
    /// name when they run, else from the node on port `follows` (`None`: the first
    /// primary).
    Data {
        group: &'static SentinelGroup,
        follows: Option<u16>,
    },
    /// A sentinel watching a group's primary (its first data node at the start).
    Sentinel { group: &'static SentinelGroup },
    /// A node of the cluster, with its cluster bus on `bus_port` (over TLS) and a
    /// TLS port beside its plain one, [`TLS_PORT_OFFSET`] above it, which checks a
    /// client certificate when one is given.
    Cluster { bus_port: u16 },
}

/// How far above a cluster node's plain port its TLS port is. The cluster's bus
/// speaks TLS (`tls-cluster`), so a node tells each client the ports of its own kind:
/// plain ones over a plain connection, TLS ones over TLS (in `CLUSTER SLOTS`, MOVED
/// and ASK).
pub(crate) const TLS_PORT_OFFSET: u16 = 10;

/// One Redis process.
#[derive(Debug)]
pub(crate) struct RedisNode {
    pub(crate) name: &'static str,
    pub(crate) key: &'static str,
    pub(crate) port: u16,
    pub(crate) role: Role,
}

impl RedisNode {
    fn config_file(&self, layout: &Layout) -> PathBuf {
        layout.dir(self.key).join("redis.conf")
    }

    /// The configuration file's text; `tls`, the certificates of a node that speaks
    /// TLS (a cluster's, or a TLS Sentinel group's).
    fn config(&self, dir: &std::path::Path, tls: Option<&TlsFiles>) -> String {
        let port = self.port;
        // The process title keeps the config path, so that `down` can tell this node
        // from any other Redis.
        let mut config = format!(
            "bind 127.0.0.1\nport {port}\ndir {}\ndaemonize no\nprotected-mode yes\n\
             proc-title-template \"{{title}} {{listen-addr}} {{config-file}}\"\n\
             requirepass {REDIS_PASSWORD}\n",
            dir.display()
        );
        match self.role {
            Role::Data { group, follows } => {
                config.push_str(&format!(
                    "save \"\"\nappendonly no\nmasterauth {REDIS_PASSWORD}\n\
                     replica-announce-ip 127.0.0.1\n"
                ));
                // Started again after a failover, it follows the primary the
                // sentinels name now, never coming back as a second, empty primary.
                let now = group.primary_port().ok().filter(|&primary| primary != port);
                if let Some(primary) = now.or(follows) {
                    config.push_str(&format!(
                        "replicaof 127.0.0.1 {}\n",
                        group.client_port(primary)
                    ));
                }
            }
            Role::Sentinel { group } => {
                // A sentinel rewrites this file as it learns the group; it is written
                // anew at each start, so each start begins from the same primary.
                let master = group.master;
                config.push_str(&format!(
                    "sentinel resolve-hostnames no\nsentinel announce-ip 127.0.0.1\n\
                     sentinel monitor {master} 127.0.0.1 {} {}\n\
                     sentinel auth-pass {master} {REDIS_PASSWORD}\n\
                     sentinel down-after-milliseconds {master} 3000\n\
                     sentinel failover-timeout {master} 10000\n\
                     sentinel parallel-syncs {master} 1\n",
                    group.client_port(group.data_ports[0]),
                    group.sentinel_ports.len().min(2),
                ));
            }
            Role::Cluster { bus_port } => {
                // Keys are a cache here: no persistence. The node's view of the
                // cluster (nodes.conf) is kept, so a node killed and started again
                // rejoins as what it was.
                config.push_str(&format!(
                    "save \"\"\nappendonly no\nmasterauth {REDIS_PASSWORD}\n\
                     cluster-enabled yes\ncluster-config-file nodes.conf\n\
                     cluster-port {bus_port}\ncluster-node-timeout 2000\n\
                     cluster-announce-ip 127.0.0.1\n"
                ));
                if tls.is_some() {
                    config.push_str("tls-cluster yes\n");
                }
            }
        }
        if let Some(tls) = tls {
            config.push_str(&tls_config(port, tls));
        }
        config
    }
}

/// Removes `path`, when it is there.
fn remove_stale(path: &std::path::Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("removing the stale {}", path.display()))
        }
        _ => Ok(()),
    }
}

/// The TLS settings of a node on plain port `port` with the certificates `tls`: a
/// TLS port [`TLS_PORT_OFFSET`] above it, which checks a client certificate when one
/// is given, and TLS to the other nodes.
fn tls_config(port: u16, tls: &TlsFiles) -> String {
    format!(
        "tls-port {}\ntls-cert-file {}\ntls-key-file {}\ntls-ca-cert-file {}\n\
         tls-auth-clients optional\ntls-replication yes\n",
        port + TLS_PORT_OFFSET,
        tls.server_cert.display(),
        tls.server_key.display(),
        tls.ca.display(),
    )
}

impl Service for RedisNode {
    fn name(&self) -> &'static str {
        self.name
    }

    fn key(&self) -> &'static str {
        self.key
    }

    fn port(&self) -> u16 {
        self.port
    }

    fn missing(&self) -> Option<Requirement> {
        if install::find_program("redis-server").is_none() {
            return Some(Requirement {
                program: "redis-server",
                package: "redis-server",
            });
        }
        install::find_program("redis-cli")
            .is_none()
            .then_some(Requirement {
                program: "redis-cli",
                package: "redis-tools",
            })
    }

    fn refuses_root(&self) -> bool {
        false
    }

    fn prepare(&self, layout: &Layout) -> Result<()> {
        let dir = layout.service_dir(self.key, false)?;
        let speaks_tls = match self.role {
            Role::Cluster { .. } => true,
            Role::Data { group, .. } | Role::Sentinel { group } => group.tls,
        };
        let tls = if speaks_tls {
            if install::find_program(tls::OPENSSL.program).is_none() {
                install::install(&[tls::OPENSSL])?;
            }
            Some(tls::ensure(layout)?)
        } else {
            None
        };
        // A node keeps no data of its own (`save ""`): it starts empty and takes its
        // data from the primary it follows. The RDB a replica kept of an older sync
        // would be stale; a cluster node that loaded one would hold keys of slots
        // another node serves now, and mark those slots importing, which the cluster
        // never settles from.
        if matches!(self.role, Role::Data { .. } | Role::Cluster { .. }) {
            remove_stale(&dir.join("dump.rdb"))?;
        }
        // A cluster node's view kept from other ports (a tree whose services ran
        // before the ports moved) names peers that are gone: it starts afresh and
        // empty, as `--cluster create` wants it.
        if let Role::Cluster { bus_port } = self.role {
            let view = dir.join("nodes.conf");
            // The cluster's bus speaks TLS, so the view names the TLS port.
            let myself = format!("127.0.0.1:{}@{bus_port}", self.port + TLS_PORT_OFFSET);
            if std::fs::read_to_string(&view).is_ok_and(|text| !text.contains(&myself)) {
                remove_stale(&view)?;
            }
        }
        std::fs::write(self.config_file(layout), self.config(&dir, tls.as_ref()))
            .with_context(|| format!("writing {}'s redis.conf", self.name))
    }

    fn command(&self, layout: &Layout) -> Result<Command> {
        let program =
            install::find_program("redis-server").context("redis-server is not installed")?;
        let mut command = Command::new(program);
        command.arg(self.config_file(layout));
        if matches!(self.role, Role::Sentinel { .. }) {
            command.arg("--sentinel");
        }
        Ok(command)
    }

    fn marker(&self, layout: &Layout) -> String {
        self.config_file(layout).display().to_string()
    }

    fn is_ready(&self, _layout: &Layout) -> bool {
        cli(self.port, &["PING"]).is_ok_and(|reply| reply == "PONG")
    }

    fn stop_signal(&self) -> &'static str {
        "TERM"
    }
}

/// `redis-cli` against the node on `port`, authenticated; its output, trimmed.
pub(crate) fn cli(port: u16, args: &[&str]) -> Result<String> {
    run_cli(port, None, args)
}

/// [`cli`] against the cluster node on `port`, over its TLS port, trusting the test
/// CA: what a node does on another's behalf then goes over TLS too (`MIGRATE`, when
/// `--cluster reshard` moves keys; a node of a TLS bus migrates only over TLS, to the
/// TLS port it is given).
pub(crate) fn cli_over_tls(port: u16, args: &[&str]) -> Result<String> {
    let ca = TlsFiles::of(&Layout::existing()).ca;
    run_cli(port + TLS_PORT_OFFSET, Some(&ca), args)
}

fn run_cli(port: u16, ca: Option<&std::path::Path>, args: &[&str]) -> Result<String> {
    let program = install::find_program("redis-cli").context("redis-cli is not installed")?;
    let mut command = Command::new(program);
    command.args([
        "-h",
        "127.0.0.1",
        "-p",
        &port.to_string(),
        "--no-auth-warning",
    ]);
    if let Some(ca) = ca {
        command.arg("--tls").arg("--cacert").arg(ca);
    }
    let output = command
        .args(["-a", REDIS_PASSWORD])
        .args(args)
        .output()
        .context("running redis-cli")?;
    let text = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    if !output.status.success() || text.starts_with("ERR") || text.starts_with("Could not") {
        bail!(
            "redis-cli -p {port} {}: {text}{}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(text)
}

/// The value of `field` in an `INFO`-style reply (`field:value` lines).
pub(crate) fn info_field<'a>(info: &'a str, field: &str) -> Option<&'a str> {
    info.lines().find_map(|line| {
        line.trim()
            .strip_prefix(field)
            .and_then(|rest| rest.strip_prefix(':'))
    })
}
