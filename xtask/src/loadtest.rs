//! `cargo xtask loadtest`: builds `poolside-loadtest` (`loadtest/`) in release mode,
//! starts the throwaway servers it needs (none when the caller names servers of their
//! own), runs it with their URLs, data directories and log, and stops the servers
//! afterwards, Ctrl-C included: the load test handles Ctrl-C itself (it prints what it
//! measured), and xtask waits for it.

use std::process::{Command, ExitCode, ExitStatus};

use anyhow::{Context, Result, bail};

use crate::services::{self, Set, StartedServices};

/// The load test's package.
const PACKAGE: &str = "poolside-loadtest";

/// Runs the load test with the arguments after `loadtest`.
pub(crate) fn run(args: &[&str]) -> Result<ExitCode> {
    if args.iter().any(|a| matches!(*a, "--help" | "-h")) {
        return exit_code(load_test(args).status());
    }
    println!("== building the load test in release mode (the first build takes a few minutes)");
    let status = crate::cargo::cargo()
        .args(["build", "--quiet", "--release", "--package", PACKAGE])
        .current_dir(crate::paths::workspace_root())
        .status()
        .context("running cargo build for the load test")?;
    if !status.success() {
        bail!("building the load test failed ({status})");
    }
    let needed = load_test(&[args, &["--servers-needed"]].concat())
        .output()
        .context("asking the load test which servers it needs")?;
    if !needed.status.success() {
        // A bad flag: the load test says which.
        eprint!("{}", String::from_utf8_lossy(&needed.stderr));
        return Ok(ExitCode::from(2));
    }
    let set = match String::from_utf8_lossy(&needed.stdout).trim() {
        "none" => None,
        "without-standby" => Some(Set::WithoutStandby),
        "all" => Some(Set::All),
        other => bail!("the load test asked for servers {other:?}"),
    };
    let Some(set) = set else {
        return exit_code(wait_through_ctrl_c(load_test(args)));
    };
    let cluster = args
        .windows(2)
        .any(|pair| pair == ["--redis-mode", "cluster"]);
    println!("== services up");
    let servers = StartedServices::up(set)?;
    let cluster_servers = if cluster {
        Some(StartedServices::up(Set::RedisCluster)?)
    } else {
        None
    };
    let mut command = load_test(args);
    // The load test connects in the clear to URLs that name no sslmode.
    command
        .arg("--database-url")
        .arg(services::database_url())
        .arg("--redis-url")
        .arg(if cluster {
            services::redis_cluster_nodes()
        } else {
            services::redis_url()
        })
        .arg("--pgbouncer-url")
        .arg(services::pgbouncer_url())
        .arg("--postgres-log")
        .arg(services::postgres_log());
    let (primary_data, standby_data) = services::postgres_data_dirs();
    command.arg("--postgres-data").arg(primary_data);
    if set == Set::All {
        command
            .arg("--standby-url")
            .arg(services::standby_url())
            .arg("--standby-data")
            .arg(standby_data);
    }
    let status = wait_through_ctrl_c(command);
    drop(cluster_servers);
    drop(servers);
    exit_code(status)
}

/// The release build of the load test with `args`, pgbench's directory first on `PATH`.
fn load_test(args: &[&str]) -> Command {
    let mut command = crate::cargo::cargo();
    command
        .args(["run", "--quiet", "--release", "--package", PACKAGE, "--"])
        .args(args)
        .current_dir(crate::paths::workspace_root());
    if let Some(bin) = services::install::postgres_bin_dir() {
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut dirs = vec![bin];
        dirs.extend(std::env::split_paths(&path));
        if let Ok(joined) = std::env::join_paths(dirs) {
            command.env("PATH", joined);
        }
    }
    command
}

/// Runs `command` to its end; a Ctrl-C meanwhile reaches it (it is in the same process
/// group) and not xtask, which still has servers to stop.
fn wait_through_ctrl_c(mut command: Command) -> std::io::Result<ExitStatus> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    runtime.block_on(async {
        // Registered before the child starts: from here on Ctrl-C no longer ends xtask.
        let mut ctrl_c = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
        let mut child = command.spawn()?;
        let waited = tokio::task::spawn_blocking(move || child.wait());
        tokio::pin!(waited);
        loop {
            tokio::select! {
                status = &mut waited => return status.map_err(std::io::Error::other)?,
                _ = ctrl_c.recv() => println!("== Ctrl-C: waiting for the load test to finish its report"),
            }
        }
    })
}

fn exit_code(status: std::io::Result<ExitStatus>) -> Result<ExitCode> {
    let status = status.context("running the load test")?;
    Ok(status
        .code()
        .and_then(|code| u8::try_from(code).ok())
        .map_or(ExitCode::FAILURE, ExitCode::from))
}
