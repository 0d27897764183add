//! `cargo xtask loadtest`: poolside measured against the tools users would pick
//! instead, every figure from the same machine in the same invocation.
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
//! Only loopback servers it starts itself are measured, unless `--database-url` or
//! `--redis-url` names another server explicitly. Ctrl-C stops the run, prints what
//! was measured and stops the servers it started.

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

use std::path::PathBuf;
use std::process::ExitCode;
use std::str::FromStr;
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::services::{self, StartedServices};
use interrupt::Interrupt;
use measure::{CpuClock, postmaster_pid};
use options::Options;
use report::{Machine, Report};
use scenarios::{Scenario, Session};
use systems::Target;
use workload::{Data, Workload};

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
    let started = Instant::now();
    let servers = if options.external_servers() {
        None
    } else {
        println!("== services up");
        // The standby's replay takes CPU from every other measurement: it runs only
        // for the replicas scenario.
        let set = if options.scenarios.contains(&Scenario::Replicas)
            && options.workloads.contains(&Workload::Select)
        {
            services::Set::All
        } else {
            services::Set::WithoutStandby
        };
        Some(StartedServices::up(set)?)
    };
    let standby_url = servers
        .as_ref()
        .map(|_| format!("{}?sslmode=disable", services::standby_url()));
    let cpu_clock = match servers {
        Some(_) => {
            let (primary, standby) = services::postgres_data_dirs();
            CpuClock::new(postmaster_pid(&primary), postmaster_pid(&standby))
        }
        None => CpuClock::new(None, None),
    };
    let (database_url, redis_url, pgbouncer_url) = match servers {
        // In the clear: the server offers TLS, which libpq (pgbench) and poolside
        // would take by default and the other drivers (NoTls) would not; one rule for
        // all keeps the comparison about the pools.
        Some(_) => (
            Some(format!("{}?sslmode=disable", services::database_url())),
            Some(services::redis_url()),
            Some(format!("{}&sslmode=disable", services::pgbouncer_url())),
        ),
        None => (
            options.database_url.clone(),
            options.redis_url.clone(),
            options.pgbouncer_url.clone(),
        ),
    };
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
    let (data, max_connections) = match &database_url {
        Some(url) if plan.iter().any(|(_, w)| !w.is_redis()) => {
            runtime.block_on(prepare_database(url, planned(Workload::Sale)))?
        }
        _ => (Data { accounts: 1 }, 0),
    };
    if let Some(url) = redis_url
        .as_deref()
        .filter(|_| plan.iter().any(|(_, w)| w.is_redis()))
    {
        runtime.block_on(workload::redis::prepare(url))?;
    }
    let sale_script = write_sale_script()?;
    let target = Target {
        database_url,
        redis_url,
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
        cpu_clock,
        max_connections,
        sale_script,
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
        machine: Machine::this_one(session.commands),
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
    drop(servers);
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
             --pgbouncer-url; the replicas scenario runs on the standby the load test \
             starts): {}",
            skipped.join(", ")
        );
    }
    if plan.is_empty() {
        bail!("nothing to run: no scenario and workload asked for has a server to run against");
    }
    Ok(plan)
}

/// Set in the environment of the release build this command re-runs itself as.
const RELEASE_MARKER: &str = "POOLSIDE_LOADTEST_RELEASE";

/// Runs the load test again as a release build: a debug build would measure the
/// compiler's settings, not the pools. On Unix the release build replaces this
/// process, so that Ctrl-C reaches it alone.
fn rerun_in_release(args: &[&str]) -> Result<ExitCode> {
    println!("== building the load test in release mode (the first build takes a few minutes)");
    let mut command = crate::cargo::cargo();
    command
        .args([
            "run",
            "--quiet",
            "--release",
            "--package",
            "xtask",
            "--",
            "loadtest",
        ])
        .args(args)
        .current_dir(crate::paths::workspace_root())
        .env(RELEASE_MARKER, "1");
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt as _;
        let error = command.exec();
        Err(error).context("running the release build of the load test")
    }
    #[cfg(not(unix))]
    {
        let status = command
            .status()
            .context("running the release build of the load test")?;
        Ok(ExitCode::from(
            status
                .code()
                .and_then(|c| u8::try_from(c).ok())
                .unwrap_or(1),
        ))
    }
}

/// Makes sure the tables of the PostgreSQL workloads exist; returns the data they
/// hold and the server's `max_connections`.
async fn prepare_database(url: &str, sale: bool) -> Result<(Data, usize)> {
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
    Ok((Data { accounts }, max.parse().unwrap_or(100)))
}

/// Writes the sale as a pgbench script under `target/loadtest/`.
fn write_sale_script() -> Result<PathBuf> {
    let dir = crate::paths::workspace_root()
        .join("target")
        .join("loadtest");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join("sale.pgbench");
    std::fs::write(&path, workload::sale::PGBENCH_SCRIPT)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}
