//! The faults that fault tests inject into the running services: a PostgreSQL
//! restart three ways, a failover to the standby, and the failback that puts the
//! pair as `up` left it. Each acts on the processes `up` recorded, and keeps their
//! pid files true, so that `down` still stops exactly what runs.

use std::fmt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::layout::Layout;
use super::pgbouncer::PgBouncer;
use super::postgres::Postgres;
use super::process::{self, ServerUser, run};
use super::redis::Redis;
use super::standby::Standby;
use super::{Service, running_pid, start, stop};
use super::{redis_cluster, redis_sentinel};

/// How long a restarted server may take before its old processes are gone and it
/// starts (after `kill -9`, its backends may hold the shared memory a moment longer).
const RESTART_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the standby may take to replay what the primary wrote.
const CATCH_UP_TIMEOUT: Duration = Duration::from_secs(10);

/// How `services restart postgres` stops the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RestartMode {
    /// `pg_ctl stop -m fast`: sessions are ended and open transactions rolled back.
    Fast,
    /// `pg_ctl stop -m immediate`: every process quits at once; recovery on start.
    Immediate,
    /// `kill -9` of the postmaster: a crash; recovery on start.
    Kill,
}

impl RestartMode {
    /// From the words after `services restart postgres` (default `fast`).
    pub(crate) fn parse(args: &[&str]) -> Result<Self> {
        match args {
            [] | ["fast"] => Ok(Self::Fast),
            ["immediate"] => Ok(Self::Immediate),
            ["kill"] => Ok(Self::Kill),
            _ => bail!(
                "unknown restart mode {:?}: use fast, immediate or kill",
                args.join(" ")
            ),
        }
    }
}

impl fmt::Display for RestartMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Fast => "fast",
            Self::Immediate => "immediate",
            Self::Kill => "kill",
        })
    }
}

fn layout() -> Result<Layout> {
    Layout::create()?.with_user(ServerUser::for_current_process()?)
}

/// `pg_ctl` as the server user.
fn pg_ctl(layout: &Layout, data: &Path, args: &[&str]) -> Result<String> {
    let mut command = Command::new(Postgres::bin("pg_ctl")?);
    command.arg("-D").arg(data).args(args);
    if let Some(user) = &layout.user {
        user.apply(&mut command);
    }
    run(&mut command)
}

/// Stops the primary as `pg_ctl stop -m <mode>` does, and forgets its pid.
fn stop_primary(layout: &Layout, mode: &str) -> Result<()> {
    running_pid(&Postgres, layout)
        .context("PostgreSQL is not running: run `cargo xtask services up` first")?;
    pg_ctl(
        layout,
        &Postgres::data_dir(layout),
        &["stop", "-m", mode, "-w", "-t", "30"],
    )?;
    let _ = std::fs::remove_file(layout.pid_file(Postgres.key()));
    Ok(())
}

/// `services restart postgres <mode>`: stops PostgreSQL, then starts it again.
pub(crate) fn restart_postgres(mode: RestartMode) -> Result<()> {
    let layout = layout()?;
    let began = Instant::now();
    match mode {
        RestartMode::Fast => stop_primary(&layout, "fast")?,
        RestartMode::Immediate => stop_primary(&layout, "immediate")?,
        RestartMode::Kill => {
            let pid = running_pid(&Postgres, &layout)
                .context("PostgreSQL is not running: run `cargo xtask services up` first")?;
            process::signal(pid, "KILL")?;
            process::wait_for_exit(pid, RESTART_TIMEOUT);
            let _ = std::fs::remove_file(layout.pid_file(Postgres.key()));
        }
    }
    let stopped = began.elapsed();
    loop {
        match start(&Postgres, &layout) {
            Ok(_) => break,
            // After kill -9, the new postmaster refuses to start while the old
            // backends still hold the shared memory; they exit within moments.
            Err(e) if mode == RestartMode::Kill && began.elapsed() < RESTART_TIMEOUT => {
                eprintln!("services: PostgreSQL refused to start yet, retrying: {e:#}");
                std::thread::sleep(Duration::from_millis(200));
            }
            Err(e) => return Err(e),
        }
    }
    println!(
        "services: PostgreSQL restarted ({mode}): stopped after {} ms, answering after {} ms",
        stopped.as_millis(),
        began.elapsed().as_millis()
    );
    Ok(())
}

/// `services kill redis`: SIGKILL to Redis, a crash (its data is gone: the services
/// keep none on disk). `services up` starts it again.
pub(crate) fn kill_redis() -> Result<()> {
    kill(&Redis, "cargo xtask services up")
}

/// `services kill pgbouncer`: SIGKILL to PgBouncer, every client connection through
/// it cut at once, PostgreSQL left running. `services up` starts it again.
pub(crate) fn kill_pgbouncer() -> Result<()> {
    kill(&PgBouncer, "cargo xtask services up")
}

/// `services kill redis-primary`: SIGKILL to the Sentinel group's primary now, then
/// waits until the sentinels have promoted the replica. `services up redis-sentinel`
/// starts the node again, and the sentinels make it a replica.
pub(crate) fn kill_redis_primary() -> Result<()> {
    let primary = redis_sentinel::GROUP.primary_node()?;
    let killed = Instant::now();
    kill(primary, "cargo xtask services up redis-sentinel")?;
    redis_sentinel::GROUP.await_new_primary(primary.port(), killed)
}

/// `services kill redis-node N`: SIGKILL to node N (from 1) of the Redis Cluster; a
/// primary's replica takes its slots, which this waits for. `services up
/// redis-cluster` starts it again, as a replica.
pub(crate) fn kill_redis_cluster_node(n: &str) -> Result<()> {
    let node = redis_cluster::node(n)?;
    let replicas = redis_cluster::replicas_of_primary(node)?;
    let killed = Instant::now();
    kill(node, "cargo xtask services up redis-cluster")?;
    match replicas {
        Some(replicas) => redis_cluster::await_promotion(node, &replicas, killed),
        None => {
            println!("services: {} was a replica; no slots moved", node.name());
            Ok(())
        }
    }
}

/// `services reshard redis N`: N slots moved between two primaries of the cluster.
pub(crate) fn reshard_redis(slots: &str) -> Result<()> {
    redis_cluster::reshard(slots)
}

/// `services failover redis`: `SENTINEL FAILOVER` on the Sentinel group, waiting until
/// the replica is the primary and the group has settled.
pub(crate) fn failover_redis() -> Result<()> {
    redis_sentinel::GROUP.failover()
}

/// SIGKILL to `service`, by the pid `up` recorded; its pid file goes with it.
fn kill(service: &dyn Service, starts_again: &str) -> Result<()> {
    let layout = layout()?;
    let pid = running_pid(service, &layout).with_context(|| {
        format!(
            "{} is not running: run `{starts_again}` first",
            service.name()
        )
    })?;
    process::signal(pid, "KILL")?;
    process::wait_for_exit(pid, RESTART_TIMEOUT);
    let _ = std::fs::remove_file(layout.pid_file(service.key()));
    println!(
        "services: {} killed (pid {pid}); `{starts_again}` starts it again",
        service.name()
    );
    Ok(())
}

/// `services failover [--read-only]`: the primary is stopped (`pg_ctl stop -m fast`,
/// whose WAL senders hand the standby every record before the primary exits) or,
/// with `read_only`, left running but read-only once the standby has replayed all it
/// wrote; then the standby is promoted and takes writes.
pub(crate) fn failover(read_only: bool) -> Result<()> {
    let layout = layout()?;
    running_pid(&Standby, &layout)
        .context("the standby is not running: run `cargo xtask services up` first")?;
    let in_recovery = Postgres::psql_on(&layout, Standby.port(), "SELECT pg_is_in_recovery()")?;
    if in_recovery.trim() != "t" {
        bail!("the standby was promoted already: run `cargo xtask services failback` first");
    }
    let began = Instant::now();
    if read_only {
        Postgres::set_read_only(&layout, true)?;
        // Sessions take the new setting between statements: let those in flight end.
        std::thread::sleep(Duration::from_millis(300));
        let written = Postgres::psql(&layout, "SELECT pg_current_wal_lsn()")?;
        wait_for_replay(&layout, written.trim())?;
    } else {
        stop_primary(&layout, "fast")?;
        // The WAL senders sent everything up to the shutdown checkpoint; promote only
        // once the standby has replayed it, as a careful failover does, or a write
        // acknowledged just before the stop could be left in a socket buffer.
        wait_for_replay(&layout, &shutdown_checkpoint(&layout)?)?;
    }
    let primary_gone = began.elapsed();
    pg_ctl(
        &layout,
        &Standby::data_dir(&layout),
        &["promote", "-w", "-t", "30"],
    )?;
    println!(
        "services: failover: primary {} after {} ms, standby (127.0.0.1:{}) promoted after {} ms",
        if read_only { "read-only" } else { "stopped" },
        primary_gone.as_millis(),
        Standby.port(),
        began.elapsed().as_millis()
    );
    Ok(())
}

/// The primary's last checkpoint location (its shutdown checkpoint once stopped), from
/// `pg_controldata`.
fn shutdown_checkpoint(layout: &Layout) -> Result<String> {
    let mut command = Command::new(Postgres::bin("pg_controldata")?);
    command.arg("-D").arg(Postgres::data_dir(layout));
    if let Some(user) = &layout.user {
        user.apply(&mut command);
    }
    let output = run(&mut command)?;
    output
        .lines()
        .find_map(|line| line.strip_prefix("Latest checkpoint location:"))
        .map(|lsn| lsn.trim().to_owned())
        .context("pg_controldata printed no \"Latest checkpoint location\"")
}

/// Waits until the standby has replayed the primary's WAL up to `lsn`.
fn wait_for_replay(layout: &Layout, lsn: &str) -> Result<()> {
    let began = Instant::now();
    let sql = format!("SELECT pg_last_wal_replay_lsn() >= '{lsn}'::pg_lsn");
    while Postgres::psql_on(layout, Standby.port(), &sql)?.trim() != "t" {
        if began.elapsed() > CATCH_UP_TIMEOUT {
            bail!(
                "the standby did not replay up to {lsn} within {}s; its log: {}",
                CATCH_UP_TIMEOUT.as_secs(),
                layout.log(Standby.key()).display()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// `services failback`: the primary running and writable again, and the standby
/// copied from it anew (a promoted standby has left its timeline; what was written
/// to it is dropped, as this is throwaway test data).
pub(crate) fn failback() -> Result<()> {
    let layout = layout()?;
    stop(&Standby, &layout)?;
    start(&Postgres, &layout)?;
    Postgres::set_read_only(&layout, false)?;
    start(&Standby, &layout)?;
    println!("services: failback: primary writable, standby following it");
    Ok(())
}
