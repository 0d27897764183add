//! **poolside-loadtest**: poolside measured against the tools users would pick
//! instead, every figure from the same machine in the same invocation. Run it as
//! `cargo xtask loadtest`, which builds it in release mode, starts throwaway servers
//! (`cargo xtask services`) unless given servers of the caller's, installs pgbench and
//! redis-benchmark, and hands their URLs, data directories and log to it.
//!
//! - Scenarios (`scenarios/`): steady, oversubscribed, burst, spike, stress,
//!   sequential, soak; each a shape of load from `measure/`.
//! - Workloads (`workload/`): pgbench's `-S` select, the point-of-sale write
//!   transaction, Redis GET and SET.
//! - Systems (`systems/`): poolside on both paths, deadpool-postgres, sqlx, raw bb8,
//!   deadpool-redis, all in this process with the same pool size, and the same
//!   through PgBouncer; and pgbench (`-M simple`, `-M prepared`, `-C`, and
//!   `-M extended` through PgBouncer) and redis-benchmark as their own processes.
//! - Output (`report/`, `plot.rs`): a table of medians with ratios, a verdict per
//!   goal, the JSON, the chart; a progress bar per scenario meanwhile.
//!
//! Only the servers named by `--database-url`, `--redis-url` and `--pgbouncer-url` are
//! measured: the loopback ones `cargo xtask loadtest` starts, or the caller's. Ctrl-C
//! stops the run and prints what was measured; xtask then stops the servers it started.

mod interrupt;
mod measure;
mod options;
mod pgbench;
mod plot;
mod progress;
mod redis_benchmark;
mod report;
mod scenarios;
mod systems;
mod workload;
mod workspace;

use std::path::PathBuf;
use std::process::ExitCode;
use std::str::FromStr;
use std::time::Instant;

use anyhow::{Context, Result, bail};

use interrupt::Interrupt;
use measure::{CpuClock, postmaster_pid};
use options::Options;
use report::{Machine, Report};
use scenarios::{Scenario, Session};
use systems::Target;
use workload::{Data, Workload};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match run(&args) {
        Ok(code) => code,
        Err(error) => {
            eprintln!(
                "error: {}",
                poolside_config::redact_text(&format!("{error:#}"))
            );
            ExitCode::FAILURE
        }
    }
}

/// Runs the load test with the arguments after `loadtest`.
fn run(args: &[&str]) -> Result<ExitCode> {
    if args.iter().any(|a| matches!(*a, "--help" | "-h")) {
        println!("{}", options::USAGE);
        return Ok(ExitCode::SUCCESS);
    }
    let options = Options::parse(args)?;
    if options.servers_needed {
        println!("{}", options.servers_needed().name());
        return Ok(ExitCode::SUCCESS);
    }
    let started = Instant::now();
    let database_url = options.database_url.clone();
    let redis_url = options.redis_url.clone();
    let pgbouncer_url = options.pgbouncer_url.clone();
    let standby_url = options.standby_url.clone();
    let plan = plan(
        &options,
        database_url.is_some(),
        redis_url.is_some(),
        pgbouncer_url.is_some(),
        standby_url.is_some(),
    )?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the Tokio runtime")?;
    let interrupt = {
        let _entered = runtime.enter();
        Interrupt::on_ctrl_c()
    };
    let planned = |w: Workload| plan.iter().any(|(_, pw)| *pw == w);
    let (data, max_connections, postmaster) = match &database_url {
        Some(url) if plan.iter().any(|(_, w)| !w.is_redis()) => {
            runtime.block_on(prepare_database(url, planned(Workload::Sale)))?
        }
        _ => (Data { accounts: 1 }, 0, None),
    };
    let redis_pids = match redis_url
        .as_deref()
        .filter(|_| plan.iter().any(|(_, w)| w.is_redis()))
    {
        Some(url) if options.redis_mode == poolside_config::RedisMode::Cluster => {
            runtime.block_on(workload::redis::prepare_cluster(url))?
        }
        Some(url) => runtime
            .block_on(workload::redis::prepare(url))?
            .into_iter()
            .collect(),
        None => Vec::new(),
    };
    measure::install_cpu_clock(CpuClock::new(
        options
            .postgres_data
            .as_deref()
            .and_then(postmaster_pid)
            .or(postmaster),
        options.standby_data.as_deref().and_then(postmaster_pid),
        redis_pids,
    ));
    let sale_script = write_script("sale.pgbench", workload::sale::PGBENCH_SCRIPT)?;
    let pipeline_script = write_script(
        "select-pipeline.pgbench",
        &pgbench::pipeline_script(data.accounts),
    )?;
    let target = Target {
        database_url,
        redis_url,
        redis_mode: options.redis_mode,
        pgbouncer_url,
        standby_url,
        pool_size: options.pool_size,
        // The most tasks any scenario starts: a spike's tenfold, stress, oversubscribed.
        max_tasks: options
            .concurrency
            .iter()
            .map(|c| c * 10)
            .chain([options.stress_max_tasks, scenarios::OVERSUBSCRIBED_TASKS])
            .max()
            .unwrap_or(scenarios::OVERSUBSCRIBED_TASKS),
        data,
    };
    let mut session = Session {
        options: &options,
        target: &target,
        interrupt: &interrupt,
        runtime: &runtime,
        max_connections,
        sale_script,
        pipeline_script,
        results: Vec::new(),
        instances: Vec::new(),
        commands: Vec::new(),
    };
    for &(scenario, workload) in &plan {
        if interrupt.is_set() {
            break;
        }
        scenario.run(&mut session, workload);
    }

    let report = Report {
        machine: Machine::this_one(runtime.metrics().num_workers(), session.commands),
        results: session.results,
        instances: session.instances,
        stress_p99_limit_ms: scenarios::STRESS_P99_LIMIT_MS,
        interrupted: interrupt.is_set(),
    };
    print!("{}", report.table());
    for figures in &report.instances {
        print!("{}", figures.table());
    }
    print!("{}", report.verdicts());
    if let Some(path) = &options.json {
        let json = serde_json::to_string_pretty(&report).context("writing the JSON")?;
        std::fs::write(path, json).with_context(|| format!("writing {}", path.display()))?;
        println!("\nJSON written to {}", path.display());
    }
    if let Some(path) = &options.plot {
        match plot::draw(&report, path) {
            Ok(()) => println!("chart drawn in {}", path.display()),
            Err(e) => println!("no chart: {e:#}"),
        }
    }
    let took = started.elapsed().as_secs_f64();
    if report.interrupted {
        println!(
            "\ninterrupted after {took:.0} s: the figures above are what was measured before Ctrl-C"
        );
    } else {
        println!("\nload test took {took:.0} s");
    }
    drop(runtime);
    Ok(if report.interrupted {
        ExitCode::from(130)
    } else {
        ExitCode::SUCCESS
    })
}

/// The (scenario, workload) pairs to run, in order: those asked for whose server is
/// there.
fn plan(
    options: &Options,
    postgres: bool,
    redis: bool,
    pgbouncer: bool,
    standby: bool,
) -> Result<Vec<(Scenario, Workload)>> {
    let mut plan = Vec::new();
    let mut skipped = Vec::new();
    for &scenario in &options.scenarios {
        for &workload in scenario.workloads() {
            if !options.workloads.contains(&workload) {
                continue;
            }
            if (workload.is_redis() && !redis)
                || (!workload.is_redis() && !postgres)
                || (matches!(scenario, Scenario::Pgbouncer | Scenario::Instances) && !pgbouncer)
                || (scenario == Scenario::Replicas && !standby)
            {
                skipped.push(format!("{} / {}", scenario.name(), workload.name()));
                continue;
            }
            plan.push((scenario, workload));
        }
    }
    if !skipped.is_empty() {
        println!(
            "== skipped (no server for them: pass --database-url, --redis-url or \
             --pgbouncer-url; the replicas scenario runs on the standby that `cargo \
             xtask loadtest` starts): {}",
            skipped.join(", ")
        );
    }
    if plan.is_empty() {
        bail!("nothing to run: no scenario and workload asked for has a server to run against");
    }
    Ok(plan)
}

/// Makes sure the tables of the PostgreSQL workloads exist; returns the data they
/// hold, the server's `max_connections`, and its postmaster's pid when it runs on this
/// machine (for its CPU time).
async fn prepare_database(url: &str, sale: bool) -> Result<(Data, usize, Option<u32>)> {
    let config = tokio_postgres::Config::from_str(url).context("the database URL")?;
    let (client, connection) = config
        .connect(tokio_postgres::NoTls)
        .await
        .map_err(|e| anyhow::anyhow!("{}", poolside_config::redact_text(&e.to_string())))?;
    tokio::spawn(connection);
    let accounts = workload::select::prepare(&client, url).await?;
    if sale {
        workload::sale::prepare(&client).await?;
    }
    let max: String = client.query_one("SHOW max_connections", &[]).await?.get(0);
    let local = config.get_hosts().iter().all(|host| match host {
        tokio_postgres::config::Host::Tcp(name) => {
            matches!(name.as_str(), "127.0.0.1" | "localhost" | "::1")
        }
        tokio_postgres::config::Host::Unix(_) => true,
    });
    let backend: i32 = client
        .query_one("SELECT pg_backend_pid()", &[])
        .await?
        .get(0);
    let postmaster = u32::try_from(backend)
        .ok()
        .filter(|_| local)
        .and_then(measure::postmaster_of_backend);
    Ok((Data { accounts }, max.parse().unwrap_or(100), postmaster))
}

/// Writes a pgbench script as `name` under `target/loadtest/`.
fn write_script(name: &str, script: &str) -> Result<PathBuf> {
    let dir = workspace::target_dir().join("loadtest");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join(name);
    std::fs::write(&path, script).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}
