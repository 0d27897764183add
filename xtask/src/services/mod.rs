//! `cargo xtask services up|down|status|env`: throwaway PostgreSQL 15 with a
//! streaming standby, Redis 7 and PgBouncer (transaction mode, in front of
//! PostgreSQL) on loopback, with data, logs, sockets and pid files under
//! `target/poolside-services/`; on demand (`up redis-sentinel`, `up redis-cluster`)
//! a Redis Sentinel group and a Redis Cluster.
//!
//! `up` is idempotent, waits until each server answers, and installs missing Debian
//! packages when run as root. `down` stops exactly the processes `up` started: by the
//! pid it recorded, and only while that pid's command line still names this tree.
//! `restart`, `failover` and `failback` (in `faults.rs`) are the faults tests inject.

mod faults;
pub(crate) mod install;
mod layout;
mod pgbouncer;
mod postgres;
pub(crate) mod process;
mod redis;
mod redis_cluster;
mod redis_node;
mod redis_sentinel;
mod standby;
mod tls;

use std::net::TcpListener;
use std::process::{Child, Command, ExitCode};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
pub(crate) use faults::{
    RestartMode, failback, failover, failover_redis, kill_pgbouncer, kill_redis,
    kill_redis_cluster_node, kill_redis_primary, reshard_redis, restart_postgres,
};

use install::Requirement;
use layout::Layout;
use process::ServerUser;

/// The role, password and database the services create for tests. They guard only a
/// throwaway server bound to loopback.
pub(crate) const DB_USER: &str = "poolside";
pub(crate) const DB_PASSWORD: &str = "poolside";
pub(crate) const DB_NAME: &str = "poolside";
/// A second role with a distinctive password, for the tests that search every log
/// line, response and error for a password (`DATABASE_SECRET_URL`).
pub(crate) const SECRET_USER: &str = "poolside_secret";
pub(crate) const SECRET_PASSWORD: &str = "Pw-7Hq2xZ-never-print-me";
/// A role with no password, that PostgreSQL lets in over TLS with a client
/// certificate for it only (`cert` authentication; `DATABASE_CERT_URL`).
pub(crate) const CERT_USER: &str = "poolside_cert";
/// Redis's `requirepass` (the default user's password), and a second, ACL user that may
/// touch only `acl:*` keys and no dangerous command (`REDIS_ACL_URL`).
pub(crate) const REDIS_PASSWORD: &str = "poolside";
pub(crate) const REDIS_ACL_USER: &str = "poolside_acl";
pub(crate) const REDIS_ACL_PASSWORD: &str = "Acl-3vR8-cache-only";

/// How long a server may take to answer after it starts.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a server may take to stop before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// One server xtask runs.
pub(crate) trait Service {
    /// Its name for people, such as `PostgreSQL`.
    fn name(&self) -> &'static str;
    /// Its directory under the services directory, such as `postgres`.
    fn key(&self) -> &'static str;
    /// Its TCP port on 127.0.0.1.
    fn port(&self) -> u16;
    /// What must be installed for it, when it is missing.
    fn missing(&self) -> Option<Requirement>;
    /// Whether it refuses root and so runs as the unprivileged server user.
    fn refuses_root(&self) -> bool;
    /// Writes its data and configuration, once.
    fn prepare(&self, layout: &Layout) -> Result<()>;
    /// The command that runs it in the foreground.
    fn command(&self, layout: &Layout) -> Result<Command>;
    /// Text in the command line of every process this tree started for it.
    fn marker(&self, layout: &Layout) -> String;
    /// Whether it answers.
    fn is_ready(&self, layout: &Layout) -> bool;
    /// Work once it answers (roles, databases).
    fn after_start(&self, _layout: &Layout) -> Result<()> {
        Ok(())
    }
    /// The signal that shuts it down cleanly.
    fn stop_signal(&self) -> &'static str;
}

/// Every service, in start order (the standby and PgBouncer need PostgreSQL; in the
/// Sentinel group the data nodes come before the sentinels).
fn all() -> Vec<&'static dyn Service> {
    let default: [&'static dyn Service; 4] = [
        &postgres::Postgres,
        &standby::Standby,
        &redis::Redis,
        &pgbouncer::PgBouncer,
    ];
    default
        .into_iter()
        .chain(redis_sentinel::NODES.iter().map(|n| n as &dyn Service))
        .chain(redis_cluster::NODES.iter().map(|n| n as &dyn Service))
        .collect()
}

/// The group an on-demand service belongs to, if it is one.
fn group(service: &dyn Service) -> Option<Set> {
    let key = service.key();
    if key.starts_with("redis-sentinel") {
        Some(Set::RedisSentinel)
    } else if key.starts_with("redis-cluster") {
        Some(Set::RedisCluster)
    } else {
        None
    }
}

/// Which services `up` starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Set {
    /// PostgreSQL, its standby, Redis and PgBouncer: what `services up` starts.
    All,
    /// All but the standby, whose WAL replay would take CPU from a measurement.
    WithoutStandby,
    /// The Redis Sentinel group alone (`services up redis-sentinel`).
    RedisSentinel,
    /// The Redis Cluster alone (`services up redis-cluster`).
    RedisCluster,
    /// `All` and both Redis groups: what `cargo xtask test` starts.
    Everything,
}

impl Set {
    /// From the word after `services up` (none: `All`).
    pub(crate) fn parse(args: &[&str]) -> Result<Self> {
        match args {
            [] => Ok(Self::All),
            ["redis-sentinel"] => Ok(Self::RedisSentinel),
            ["redis-cluster"] => Ok(Self::RedisCluster),
            ["everything"] => Ok(Self::Everything),
            _ => bail!(
                "unknown service set {:?}: use redis-sentinel, redis-cluster or everything \
                 (nothing: PostgreSQL, its standby, Redis and PgBouncer)",
                args.join(" ")
            ),
        }
    }

    fn includes(self, service: &dyn Service) -> bool {
        match group(service) {
            Some(group) => self.has_group(group),
            None => match self {
                Self::All | Self::Everything => true,
                Self::WithoutStandby => service.key() != standby::Standby.key(),
                Self::RedisSentinel | Self::RedisCluster => false,
            },
        }
    }

    /// Whether it takes in the Redis group `group` (`RedisSentinel`, `RedisCluster`).
    fn has_group(self, group: Set) -> bool {
        self == Self::Everything || self == group
    }
}

/// The variables tests read, with the URL of each service.
pub(crate) fn env_vars() -> Vec<(&'static str, String)> {
    let tls_files = tls::TlsFiles::of(&layout::Layout::existing());
    vec![
        (
            "DATABASE_URL",
            format!(
                "postgres://{DB_USER}:{DB_PASSWORD}@127.0.0.1:{}/{DB_NAME}",
                postgres::PORT
            ),
        ),
        (
            "DATABASE_SECRET_URL",
            format!(
                "postgres://{SECRET_USER}:{SECRET_PASSWORD}@127.0.0.1:{}/{DB_NAME}",
                postgres::PORT
            ),
        ),
        (
            "DATABASE_STANDBY_URL",
            format!(
                "postgres://{DB_USER}:{DB_PASSWORD}@127.0.0.1:{}/{DB_NAME}",
                standby::PORT
            ),
        ),
        (
            "DATABASE_CERT_URL",
            format!(
                "postgres://{CERT_USER}@127.0.0.1:{}/{DB_NAME}?sslmode=verify-full&sslrootcert={}",
                postgres::PORT,
                tls_files.ca.display()
            ),
        ),
        ("DATABASE_TLS_CA", tls_files.ca.display().to_string()),
        (
            "DATABASE_TLS_OTHER_CA",
            tls_files.other_ca.display().to_string(),
        ),
        // Client certificates, for PostgreSQL's and Redis's TLS alike: one the CA
        // signs, for CERT_USER, and one the unrelated CA signs, which they refuse.
        (
            "TLS_CLIENT_CERT",
            tls_files.client_cert.display().to_string(),
        ),
        ("TLS_CLIENT_KEY", tls_files.client_key.display().to_string()),
        (
            "TLS_OTHER_CLIENT_CERT",
            tls_files.other_client_cert.display().to_string(),
        ),
        (
            "TLS_OTHER_CLIENT_KEY",
            tls_files.other_client_key.display().to_string(),
        ),
        (
            "REDIS_URL",
            format!(
                "redis://default:{REDIS_PASSWORD}@127.0.0.1:{}/0",
                redis::PORT
            ),
        ),
        (
            "REDIS_TLS_URL",
            format!(
                "rediss://default:{REDIS_PASSWORD}@127.0.0.1:{}/0",
                redis::TLS_PORT
            ),
        ),
        (
            "REDIS_ACL_URL",
            format!(
                "redis://{REDIS_ACL_USER}:{REDIS_ACL_PASSWORD}@127.0.0.1:{}/0",
                redis::PORT
            ),
        ),
        ("REDIS_SENTINELS", redis_sentinel::GROUP.sentinel_urls()),
        ("REDIS_MASTER_NAME", redis_sentinel::GROUP.master.to_owned()),
        (
            "REDIS_SENTINELS_TLS",
            redis_sentinel::TLS_GROUP.sentinel_urls(),
        ),
        (
            "REDIS_MASTER_NAME_TLS",
            redis_sentinel::TLS_GROUP.master.to_owned(),
        ),
        ("REDIS_CLUSTER_NODES", redis_cluster::node_urls()),
        ("REDIS_CLUSTER_TLS_NODES", redis_cluster::tls_node_urls()),
        (
            "PGBOUNCER_URL",
            format!(
                "postgres://{DB_USER}:{DB_PASSWORD}@127.0.0.1:{}/{DB_NAME}?pgbouncer=true",
                pgbouncer::PORT
            ),
        ),
    ]
}

/// `services env`: `export` lines for a shell to `eval`.
pub(crate) fn print_env() -> Result<()> {
    for (name, value) in env_vars() {
        println!("export {name}='{value}'");
    }
    Ok(())
}

/// The pid of the running process this tree started for `service`, if any.
fn running_pid(service: &dyn Service, layout: &Layout) -> Option<u32> {
    let pid: u32 = std::fs::read_to_string(layout.pid_file(service.key()))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let ours = process::command_line(pid).is_some_and(|cmd| cmd.contains(&service.marker(layout)));
    (process::is_alive(pid) && ours).then_some(pid)
}

/// `services up`: starts every service of `set` not already running, and returns the
/// keys of those it started. On failure, stops what this call started.
pub(crate) fn up(set: Set) -> Result<Vec<&'static str>> {
    let layout = Layout::create()?;
    let missing: Vec<Requirement> = all()
        .into_iter()
        .filter(|s| set.includes(*s))
        .filter(|s| running_pid(*s, &layout).is_none())
        .filter_map(|s| s.missing())
        .collect();
    install::install(&missing)?;
    let layout = layout.with_user(ServerUser::for_current_process()?)?;

    let mut started = Vec::new();
    for service in all().into_iter().filter(|s| set.includes(*s)) {
        match start(service, &layout) {
            Ok(true) => started.push(service.key()),
            Ok(false) => {}
            Err(e) => {
                stop_keys(&started);
                return Err(e.context(format!(
                    "{} did not start; its log: {}",
                    service.name(),
                    layout.log(service.key()).display()
                )));
            }
        }
    }
    let settled = settle_groups(set);
    if let Err(e) = settled {
        stop_keys(&started);
        return Err(e);
    }
    println!("services: up. For a shell: eval \"$(cargo xtask services env)\"");
    Ok(started)
}

/// Waits until the Redis groups of `set` serve: the Sentinel group settled, the
/// cluster formed.
fn settle_groups(set: Set) -> Result<()> {
    if set.has_group(Set::RedisSentinel) {
        redis_sentinel::settle()?;
    }
    if set.has_group(Set::RedisCluster) {
        redis_cluster::form()?;
    }
    Ok(())
}

/// Starts `service` unless it runs already; true when this call started it.
fn start(service: &dyn Service, layout: &Layout) -> Result<bool> {
    if let Some(pid) = running_pid(service, layout) {
        wait_until_ready(service, layout, None)?;
        println!("services: {} already running (pid {pid})", service.name());
        return Ok(false);
    }
    if TcpListener::bind(("127.0.0.1", service.port())).is_err() {
        bail!(
            "port {} on 127.0.0.1 is in use by a process this tree did not start: stop it, then run again",
            service.port()
        );
    }
    service.prepare(layout)?;
    let user = layout.user.as_ref().filter(|_| service.refuses_root());
    let log = layout.log(service.key());
    let mut child = process::spawn_detached(&mut service.command(layout)?, &log, user)?;
    std::fs::write(layout.pid_file(service.key()), child.id().to_string())
        .context("writing the pid file")?;
    if let Err(e) = wait_until_ready(service, layout, Some(&mut child)) {
        let _ = process::signal(child.id(), "KILL");
        let _ = child.wait();
        let _ = std::fs::remove_file(layout.pid_file(service.key()));
        return Err(e);
    }
    service.after_start(layout)?;
    println!(
        "services: {} started (pid {}, 127.0.0.1:{}, log {})",
        service.name(),
        child.id(),
        service.port(),
        log.display()
    );
    Ok(true)
}

/// Waits until `service` answers; fails early when `child` (if given) exits.
fn wait_until_ready(
    service: &dyn Service,
    layout: &Layout,
    mut child: Option<&mut Child>,
) -> Result<()> {
    let start = Instant::now();
    loop {
        if let Some(child) = child.as_deref_mut()
            && let Some(status) = child.try_wait()?
        {
            bail!(
                "{} exited at start ({status}); last lines of its log:\n{}",
                service.name(),
                process::log_tail(&layout.log(service.key()), 20)
            );
        }
        if service.is_ready(layout) {
            return Ok(());
        }
        if start.elapsed() > READY_TIMEOUT {
            bail!(
                "{} did not answer on 127.0.0.1:{} within {}s; last lines of its log:\n{}",
                service.name(),
                service.port(),
                READY_TIMEOUT.as_secs(),
                process::log_tail(&layout.log(service.key()), 20)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The services one command started; stopped when dropped (also on failure or panic),
/// leaving alone any that ran before.
#[derive(Debug)]
pub(crate) struct StartedServices(Vec<&'static str>);

impl StartedServices {
    /// `services up`, remembering what this call started.
    pub(crate) fn up(set: Set) -> Result<Self> {
        up(set).map(Self)
    }
}

impl Drop for StartedServices {
    fn drop(&mut self) {
        if !self.0.is_empty() {
            println!("== services down");
            stop_keys(&self.0);
        }
    }
}

/// The URL of the PostgreSQL service.
pub(crate) fn database_url() -> String {
    url_of("DATABASE_URL")
}

/// The URL of PgBouncer, with `pgbouncer=true`.
pub(crate) fn pgbouncer_url() -> String {
    url_of("PGBOUNCER_URL")
}

/// The PostgreSQL service's log, where the server writes the connections it refuses.
pub(crate) fn postgres_log() -> std::path::PathBuf {
    Layout::existing().log(postgres::Postgres.key())
}

/// The URL of the streaming standby.
pub(crate) fn standby_url() -> String {
    url_of("DATABASE_STANDBY_URL")
}

/// The data directories of the primary and the standby (each holds its
/// `postmaster.pid`).
pub(crate) fn postgres_data_dirs() -> (std::path::PathBuf, std::path::PathBuf) {
    let layout = Layout::existing();
    (
        postgres::Postgres::data_dir(&layout),
        standby::Standby::data_dir(&layout),
    )
}

/// The URL of the Redis service.
pub(crate) fn redis_url() -> String {
    url_of("REDIS_URL")
}

/// The URLs of the Redis Cluster's nodes, comma-separated.
pub(crate) fn redis_cluster_nodes() -> String {
    url_of("REDIS_CLUSTER_NODES")
}

fn url_of(variable: &str) -> String {
    env_vars()
        .into_iter()
        .find(|(name, _)| *name == variable)
        .map(|(_, url)| url)
        .unwrap_or_default()
}

/// `services down`: stops every service this tree started.
pub(crate) fn down() -> Result<()> {
    let keys: Vec<&str> = all().iter().map(|s| s.key()).collect();
    stop_keys(&keys);
    Ok(())
}

/// Stops the services named by `keys`, last started first.
pub(crate) fn stop_keys(keys: &[&str]) {
    let layout = Layout::existing();
    for service in all().into_iter().rev().filter(|s| keys.contains(&s.key())) {
        if let Err(e) = stop(service, &layout) {
            eprintln!("services: stopping {}: {e:#}", service.name());
        }
    }
}

fn stop(service: &dyn Service, layout: &Layout) -> Result<()> {
    let pid_file = layout.pid_file(service.key());
    let Ok(text) = std::fs::read_to_string(&pid_file) else {
        println!("services: {} not running", service.name());
        return Ok(());
    };
    let Some(pid) = running_pid(service, layout) else {
        println!(
            "services: {} not running (pid {} in {} is gone or no longer ours; left alone)",
            service.name(),
            text.trim(),
            pid_file.display()
        );
        std::fs::remove_file(&pid_file)?;
        return Ok(());
    };
    process::signal(pid, service.stop_signal())?;
    if !process::wait_for_exit(pid, STOP_TIMEOUT) {
        eprintln!(
            "services: {} (pid {pid}) still running after {}s; killing it",
            service.name(),
            STOP_TIMEOUT.as_secs()
        );
        process::signal(pid, "KILL")?;
        process::wait_for_exit(pid, Duration::from_secs(5));
    }
    std::fs::remove_file(&pid_file)?;
    println!("services: {} stopped (pid {pid})", service.name());
    Ok(())
}

/// `services status`: what runs, and where. Exit 0 when all that `services up`
/// starts run (the on-demand Redis groups aside), 3 otherwise.
pub(crate) fn status() -> Result<ExitCode> {
    let layout = Layout::existing();
    let mut all_up = true;
    for service in all() {
        let log = layout.log(service.key());
        match running_pid(service, &layout) {
            Some(pid) => {
                let answer = if service.is_ready(&layout) {
                    "answering"
                } else {
                    "NOT answering"
                };
                println!(
                    "{:<22} running, pid {pid}, 127.0.0.1:{}, {answer}; log {}",
                    service.name(),
                    service.port(),
                    log.display()
                );
            }
            None if group(service).is_some() => {
                println!("{:<22} stopped (on demand)", service.name());
            }
            None => {
                all_up = false;
                println!("{:<22} stopped", service.name());
            }
        }
    }
    println!("data: {}", layout.root.display());
    Ok(if all_up {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(3)
    })
}

#[cfg(test)]
mod tests {
    use super::redis_node::Role;
    use super::*;

    /// Linux hands out 32768-60999 to outgoing connections: a port there, free while
    /// a fault test has its server stopped, can be taken and keep the server down.
    /// And no two services share a port.
    #[test]
    fn every_port_is_below_the_ephemeral_range_and_taken_once() {
        let extra_ports = redis_sentinel::NODES
            .iter()
            .chain(&redis_cluster::NODES)
            .flat_map(|node| match node.role {
                Role::Cluster { bus_port } => {
                    vec![bus_port, node.port() + redis_node::TLS_PORT_OFFSET]
                }
                Role::Data { group, .. } | Role::Sentinel { group } if group.tls => {
                    vec![group.client_port(node.port())]
                }
                _ => vec![],
            });
        let ports: Vec<u16> = all()
            .iter()
            .map(|s| s.port())
            .chain(extra_ports)
            .chain([redis::TLS_PORT])
            .collect();
        let distinct: std::collections::BTreeSet<u16> = ports.iter().copied().collect();
        assert_eq!(
            distinct.len(),
            ports.len(),
            "a port is taken twice: {ports:?}"
        );
        assert_eq!(
            ports.len(),
            all().len() + 2 * redis_cluster::NODES.len() + 3 + 1
        );
        for port in ports {
            assert!(port < 32768, "port {port} is in the ephemeral range");
        }
    }
}
