//! `instances`: many pos-service processes (release build), each with its own pool,
//! all through one PgBouncer, driven together over HTTP (nine product reads to one
//! sale) at each `--concurrency` (the tasks spread over the instances). Reports each
//! instance's and the total throughput and p99, PgBouncer's `SHOW POOLS` and the
//! server's connections over time, every failure that names a connection limit, and
//! what each instance's connection budget found.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use anyhow::{Context, Result};
use hdrhistogram::Histogram;

use super::{Scenario, Session};
use crate::measure::{ConnectionSampler, Measurement, closed_loop};
use crate::progress::Progress;
use crate::report::{InstancesFigures, Row, RunKey, names_a_limit};
use crate::systems::pos_service::{self, Instances, Launch};
use crate::systems::{PoolCounts, without_pgbouncer_flag};

/// The pos-service processes started.
pub(crate) const INSTANCES: usize = 8;
/// The workload's name in the results.
const WORKLOAD: &str = "pos-http";
/// The most tasks driven (higher `--concurrency` is run at this): each is a thread
/// blocked on its HTTP request.
const MAX_TASKS: usize = 400;
/// How often the connections are sampled.
const SAMPLE_EVERY: Duration = Duration::from_millis(250);

pub(super) fn run(session: &mut Session<'_>) {
    let options = session.options;
    let mut levels: Vec<usize> = options
        .concurrency
        .iter()
        .map(|&tasks| tasks.min(MAX_TASKS))
        .collect();
    levels.dedup();
    let progress = Progress::start(
        "instances / pos-http",
        (levels.len() * options.repeat) as u64 + 1,
    );
    if options.concurrency.iter().any(|&tasks| tasks > MAX_TASKS) {
        progress.line(&format!(
            "   concurrency above {MAX_TASKS} runs at {MAX_TASKS}: each task is a thread waiting on HTTP"
        ));
    }
    progress.running("starting the pos-service instances");
    let instances = match start(session) {
        Ok(instances) => instances,
        Err(e) => {
            progress.line(&format!(
                "   pos-service          failed: {}",
                poolside_config::redact_text(&format!("{e:#}"))
            ));
            progress.finish();
            return;
        }
    };
    progress.step();
    for &tasks in &levels {
        for run in 1..=options.repeat {
            if session.interrupt.is_set() {
                break;
            }
            progress.running(&format!("{INSTANCES} instances"));
            match measure(session, &instances, tasks) {
                Ok((measurements, figures)) => {
                    record(session, &progress, run, measurements, figures)
                }
                Err(e) => progress.line(&format!("   pos-service          failed: {e:#}")),
            }
            progress.step();
        }
    }
    progress.finish();
}

fn start(session: &Session<'_>) -> Result<Instances> {
    let target = session.target;
    let pgbouncer_url = target
        .pgbouncer_url
        .as_deref()
        .context("no PgBouncer URL")?;
    let direct_url = target.database_url.as_deref().context("no database URL")?;
    let binary = pos_service::build()?;
    let logs = crate::workspace::target_dir()
        .join("loadtest")
        .join("instances");
    Instances::start(&Launch {
        binary: &binary,
        count: INSTANCES,
        max_size: max_size(session),
        pgbouncer_url,
        direct_url,
        logs: &logs,
    })
}

/// Each instance's `postgres.max_size`: `--pool-size`, raised until the instances
/// together may open more connections than the server's `max_connections`, which only
/// PgBouncer lets them do.
fn max_size(session: &Session<'_>) -> u32 {
    let beyond = (session.max_connections + 1).div_ceil(INSTANCES);
    session
        .options
        .pool_size
        .max(u32::try_from(beyond).unwrap_or(u32::MAX))
}

/// Drives every instance at once with `tasks` spread over them, sampling the
/// connections meanwhile.
fn measure(
    session: &Session<'_>,
    instances: &Instances,
    tasks: usize,
) -> Result<(Vec<Measurement>, InstancesFigures)> {
    let target = session.target;
    let (options, interrupt) = (session.options, session.interrupt);
    let pgbouncer_url = without_pgbouncer_flag(target.pgbouncer_url.as_deref().unwrap_or_default());
    let direct_url = target.database_url.clone().unwrap_or_default();
    let log = options.postgres_log.as_deref();
    let server_log = server_log_length(log);
    let per_instance = tasks.div_ceil(instances.len()).max(1);
    let (measurements, samples) = session.runtime.block_on(async {
        let database = tokio_postgres::Config::from_str(&pgbouncer_url)?
            .get_dbname()
            .unwrap_or_default()
            .to_owned();
        let sampler =
            ConnectionSampler::start(&pgbouncer_url, &direct_url, &database, SAMPLE_EVERY).await?;
        let runs = (0..instances.len()).map(|n| {
            closed_loop(
                instances.operation(n),
                per_instance,
                options.warm_up,
                options.duration,
                interrupt,
            )
        });
        let measured = futures_util::future::join_all(runs).await;
        anyhow::Ok((measured, sampler.finish()))
    })?;
    let measurements: Vec<Measurement> = measurements.into_iter().flatten().collect();
    let mut limit_errors: Vec<String> = measurements
        .iter()
        .filter_map(|m| m.first_error.clone())
        .filter(|e| names_a_limit(e))
        .collect();
    limit_errors.extend(
        instances
            .output()
            .lines()
            .chain(server_log_since(log, server_log).lines())
            .filter(|line| names_a_limit(line))
            .map(str::to_owned),
    );
    let figures = InstancesFigures {
        tasks: per_instance * instances.len(),
        instances: instances.len(),
        max_size: max_size(session),
        server_max_connections: session.max_connections,
        samples,
        limit_errors,
        budget_findings: instances.budget_findings(),
    };
    Ok((measurements, figures))
}

/// A row per instance and one for all of them together.
fn record(
    session: &mut Session<'_>,
    progress: &Progress,
    run: usize,
    measurements: Vec<Measurement>,
    figures: InstancesFigures,
) {
    const NAMES: [&str; INSTANCES] = [
        "pos-service-1",
        "pos-service-2",
        "pos-service-3",
        "pos-service-4",
        "pos-service-5",
        "pos-service-6",
        "pos-service-7",
        "pos-service-8",
    ];
    let per_instance = figures.tasks / figures.instances.max(1);
    let key = |system: &'static str, concurrency: usize| RunKey {
        scenario: Scenario::Instances.name(),
        workload: WORKLOAD,
        system,
        concurrency,
        pool_size: Some(figures.max_size),
        phase: None,
        run,
    };
    let counts = PoolCounts::default();
    for (name, m) in NAMES.iter().zip(&measurements) {
        let row = Row::measured(key(name, per_instance), m, counts, counts);
        progress.line(&super::summary(&row));
        session.results.push(row);
    }
    if let Some(all) = together(&measurements) {
        let row = Row::measured(key("pos-service-all", figures.tasks), &all, counts, counts);
        progress.line(&super::summary(&row));
        session.results.push(row);
    }
    session.instances.push(figures);
}

/// The instances' measurements as one: operations summed, latencies merged, over the
/// longest elapsed time.
fn together(measurements: &[Measurement]) -> Option<Measurement> {
    let first = measurements.first()?;
    let mut latency_us = Histogram::new_from(&first.latency_us);
    let mut all = Measurement {
        elapsed: Duration::ZERO,
        latency_us: Histogram::new_from(&first.latency_us),
        acquire_us: None,
        errors: 0,
        timeouts: 0,
        first_error: None,
        // The instances are other processes: this process's CPU says nothing of them.
        cpu: None,
    };
    for m in measurements {
        latency_us.add(&m.latency_us).ok()?;
        all.elapsed = all.elapsed.max(m.elapsed);
        all.errors += m.errors;
        all.timeouts += m.timeouts;
        if all.first_error.is_none() {
            all.first_error.clone_from(&m.first_error);
        }
    }
    all.latency_us = latency_us;
    Some(all)
}

/// The length of the server's log, if the run was told where it is.
fn server_log_length(log: Option<&Path>) -> u64 {
    log.and_then(|path| std::fs::metadata(path).ok())
        .map_or(0, |m| m.len())
}

/// What the server logged after `offset` (empty where it cannot be read: a server
/// whose log the run was not told of).
fn server_log_since(log: Option<&Path>, offset: u64) -> String {
    log.and_then(|path| read_from(path, offset).ok())
        .unwrap_or_default()
}

fn read_from(path: &Path, offset: u64) -> std::io::Result<String> {
    use std::io::{Read as _, Seek as _, SeekFrom};
    let mut file = std::fs::File::open(path)?;
    file.seek(SeekFrom::Start(offset))?;
    let mut text = String::new();
    file.read_to_string(&mut text)?;
    Ok(text)
}
