//! `cargo xtask loadtest`: poolside measured against the tools users would pick instead,
//! every figure from the same machine in the same invocation.
//!
//! Built so far: the `steady` scenario on the `select` workload (pgbench's `-S`), for
//! poolside on both paths, deadpool-postgres, sqlx, raw bb8, and pgbench in three modes;
//! latencies in HDR histograms with the warm-up excluded; a table with ratios, a verdict
//! per goal, and the JSON. The rest of the load-test issue (the other scenarios and
//! workloads, the Redis baselines, progress bars, the chart) is named in every report
//! and makes the command exit 2 until it lands.

mod options;
mod pgbench;
mod report;
mod runner;
mod systems;

use std::process::ExitCode;
use std::str::FromStr;

use anyhow::{Context, Result};

use crate::services::{self, StartedServices};
use options::Options;
use report::{Machine, Report, Row};
use systems::System;

/// What the load test does not measure yet.
const NOT_BUILT: &[&str] = &[
    "scenarios burst, spike, stress, soak, oversubscribed, sequential",
    "workloads sale, redis-get, redis-set",
    "baselines deadpool-redis and redis-benchmark",
    "progress bars, the chart (--plot), Ctrl-C handling",
];

/// pgbench is skipped at client counts this close to the server's `max_connections`.
const PGBENCH_HEADROOM: usize = 20;

/// Runs the load test with the arguments after `loadtest`.
pub(crate) fn run(args: &[&str]) -> Result<ExitCode> {
    if args.iter().any(|a| matches!(*a, "--help" | "-h")) {
        println!("{}", options::USAGE);
        return Ok(ExitCode::SUCCESS);
    }
    let options = Options::parse(args)?;
    if cfg!(debug_assertions) && std::env::var_os(RELEASE_MARKER).is_none() {
        return rerun_in_release(args);
    }
    // Only the embedded servers, or a server the caller names explicitly.
    let (url, _started) = match &options.database_url {
        Some(url) => (url.clone(), None),
        None => {
            println!("== services up");
            (services::database_url(), Some(StartedServices::up()?))
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the Tokio runtime")?;
    let (rows, max_connections) = runtime.block_on(prepare_database(&url))?;
    println!(
        "== steady / select: {} s per run after {} ms warm-up, pool size {}, {rows} rows",
        options.duration.as_secs_f64(),
        options.warm_up.as_millis(),
        options.pool_size
    );

    let mut results = Vec::new();
    let mut commands = Vec::new();
    for &clients in &options.concurrency {
        for system in System::ALL {
            let measured = runtime.block_on(async {
                let prepared = systems::prepare(system, &url, options.pool_size, rows).await?;
                let measurement = runner::run(
                    prepared.operation,
                    clients,
                    options.warm_up,
                    options.duration,
                )
                .await;
                (prepared.close)().await;
                anyhow::Ok(measurement)
            });
            match measured {
                Ok(m) => {
                    println!(
                        "   {:<20} {clients:>5} clients: {:>9.0} ops/s",
                        system.name(),
                        m.ops_per_sec()
                    );
                    results.push(Row::measured(system.name(), clients, options.pool_size, &m));
                }
                Err(e) => println!(
                    "   {:<20} {clients:>5} clients: failed: {e:#}",
                    system.name()
                ),
            }
        }
        if clients + PGBENCH_HEADROOM > max_connections {
            println!(
                "   pgbench skipped at {clients} clients: the server allows {max_connections} connections"
            );
            continue;
        }
        for mode in pgbench::Mode::ALL {
            match pgbench::run(&url, mode, clients, options.duration) {
                Ok(result) => {
                    println!(
                        "   {:<20} {clients:>5} clients: {:>9.0} tps",
                        mode.system(),
                        result.tps
                    );
                    results.push(Row::pgbench(mode.system(), clients, &result));
                    if !commands.contains(&result.command) {
                        commands.push(result.command);
                    }
                }
                Err(e) => println!(
                    "   {:<20} {clients:>5} clients: failed: {e:#}",
                    mode.system()
                ),
            }
        }
    }

    let report = Report {
        machine: Machine::this_one(commands),
        results,
        not_built: NOT_BUILT.to_vec(),
    };
    print!("{}", report.table());
    print!("{}", report.verdicts());
    if let Some(path) = &options.json {
        let json = serde_json::to_string_pretty(&report).context("writing the JSON")?;
        std::fs::write(path, json).with_context(|| format!("writing {}", path.display()))?;
        println!("\nJSON written to {}", path.display());
    }
    println!("\nnot built yet (the rest of the load-test issue):");
    for item in NOT_BUILT {
        println!("  - {item}");
    }
    Ok(ExitCode::from(2))
}

/// Set in the environment of the release build this command re-runs itself as.
const RELEASE_MARKER: &str = "POOLSIDE_LOADTEST_RELEASE";

/// Runs the load test again as a release build: a debug build would measure the
/// compiler's settings, not the pools.
fn rerun_in_release(args: &[&str]) -> Result<ExitCode> {
    println!("== building the load test in release mode (the first build takes a few minutes)");
    let status = crate::cargo::cargo()
        .args(["run", "--release", "--package", "xtask", "--", "loadtest"])
        .args(args)
        .current_dir(crate::paths::workspace_root())
        .env(RELEASE_MARKER, "1")
        .status()
        .context("running the release build of the load test")?;
    Ok(ExitCode::from(
        status
            .code()
            .and_then(|c| u8::try_from(c).ok())
            .unwrap_or(1),
    ))
}

/// Makes sure pgbench's tables exist (`pgbench -i` when missing); returns the number of
/// accounts and the server's `max_connections`.
async fn prepare_database(url: &str) -> Result<(i32, usize)> {
    let config = tokio_postgres::Config::from_str(url).context("the database URL")?;
    let (client, connection) = config
        .connect(tokio_postgres::NoTls)
        .await
        .map_err(|e| anyhow::anyhow!("{}", poolside_config::redact_text(&e.to_string())))?;
    tokio::spawn(connection);
    let count = client
        .query_one("SELECT count(*)::int4 FROM pgbench_accounts", &[])
        .await;
    let rows = match count {
        Ok(row) if row.get::<_, i32>(0) > 0 => row.get(0),
        _ => {
            println!("== pgbench tables missing: pgbench -i -s 1");
            pgbench::initialise(url)?;
            client
                .query_one("SELECT count(*)::int4 FROM pgbench_accounts", &[])
                .await?
                .get(0)
        }
    };
    let max: String = client.query_one("SHOW max_connections", &[]).await?.get(0);
    Ok((rows, max.parse().unwrap_or(100)))
}
