//! The scenarios, each a shape of load run on one workload against every system
//! that runs it, and the [`Session`] they record their runs in.

mod burst;
mod instances;
mod oversubscribed;
mod pgbouncer;
mod replicas;
mod sequential;
mod soak;
mod spike;
mod steady;
mod stress;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Result, bail};
use tokio::runtime::Runtime;

use super::interrupt::Interrupt;
use super::measure::{
    CpuPerOp, CpuSpan, Measurement, Operation, closed_loop, cpu_sample, placed_on,
};
use super::options::Options;
use super::pgbench::{self, Amount, Mode, Script};
use super::progress::Progress;
use super::redis_benchmark;
use super::report::{InstancesFigures, Row, RunKey, SoakFigures};
use super::systems::{self, PoolCounts, System, Target};
use super::workload::Workload;

pub(crate) use oversubscribed::TASKS as OVERSUBSCRIBED_TASKS;
pub(crate) use stress::P99_LIMIT_MS as STRESS_P99_LIMIT_MS;

/// A shape of load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scenario {
    /// Fixed concurrency for a duration, at each `--concurrency`.
    Steady,
    /// `steady`, through PgBouncer in transaction mode.
    Pgbouncer,
    /// Eight pos-service processes on one PgBouncer, driven over HTTP.
    Instances,
    /// The select on the primary alone and on the primary plus its standby.
    Replicas,
    /// Idle, then many tasks at once.
    Burst,
    /// Steady, ten times the tasks, steady again.
    Spike,
    /// Concurrency doubled until errors or latency break the limits: the knee.
    Stress,
    /// A long steady run; memory and connections must stay flat.
    Soak,
    /// 1000 tasks on the pool (20 connections by default).
    Oversubscribed,
    /// 500 and 1000 operations one after another.
    Sequential,
}

impl Scenario {
    /// Every scenario, in run order.
    pub(crate) const ALL: [Scenario; 10] = [
        Scenario::Steady,
        Scenario::Pgbouncer,
        Scenario::Instances,
        Scenario::Replicas,
        Scenario::Oversubscribed,
        Scenario::Burst,
        Scenario::Spike,
        Scenario::Stress,
        Scenario::Sequential,
        Scenario::Soak,
    ];

    /// The name in the results and on the command line.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Scenario::Steady => "steady",
            Scenario::Pgbouncer => "pgbouncer",
            Scenario::Instances => "instances",
            Scenario::Replicas => "replicas",
            Scenario::Burst => "burst",
            Scenario::Spike => "spike",
            Scenario::Stress => "stress",
            Scenario::Soak => "soak",
            Scenario::Oversubscribed => "oversubscribed",
            Scenario::Sequential => "sequential",
        }
    }

    /// The scenario named `name`.
    pub(crate) fn parse(name: &str) -> Result<Self> {
        match Self::ALL.into_iter().find(|s| s.name() == name) {
            Some(scenario) => Ok(scenario),
            None => bail!(
                "unknown scenario {name:?}: choose from steady, pgbouncer, instances, replicas, burst, spike, stress, soak, oversubscribed, sequential"
            ),
        }
    }

    /// The workloads this scenario runs (when `--workload` allows them).
    pub(crate) fn workloads(self) -> &'static [Workload] {
        match self {
            Scenario::Steady => &Workload::ALL,
            Scenario::Pgbouncer => &[Workload::Select, Workload::Sale],
            // The pos-service's sales, with its product reads, over HTTP.
            Scenario::Instances => &[Workload::Sale],
            Scenario::Replicas => &[Workload::Select],
            Scenario::Oversubscribed => &[Workload::Select, Workload::RedisGet],
            Scenario::Burst
            | Scenario::Spike
            | Scenario::Stress
            | Scenario::Soak
            | Scenario::Sequential => &[Workload::Select],
        }
    }

    /// Runs this scenario on `workload`, recording into `session`.
    pub(crate) fn run(self, session: &mut Session<'_>, workload: Workload) {
        match self {
            Scenario::Steady => steady::run(session, workload),
            Scenario::Pgbouncer => pgbouncer::run(session, workload),
            Scenario::Instances => instances::run(session),
            Scenario::Replicas => replicas::run(session),
            Scenario::Burst => burst::run(session, workload),
            Scenario::Spike => spike::run(session, workload),
            Scenario::Stress => stress::run(session, workload),
            Scenario::Soak => soak::run(session, workload),
            Scenario::Oversubscribed => oversubscribed::run(session, workload),
            Scenario::Sequential => sequential::run(session, workload),
        }
    }
}

/// One measurement a run produced, and where it belongs.
#[derive(Debug)]
pub(crate) struct Measured {
    pub(crate) concurrency: usize,
    pub(crate) phase: Option<&'static str>,
    pub(crate) measurement: Measurement,
    pub(crate) soak: Option<SoakFigures>,
    /// CPU per operation, where the scenario measured it.
    pub(crate) cpu: Option<CpuPerOp>,
    /// Share of the measured operations a read replica ran, where there is one.
    pub(crate) replica_share: Option<f64>,
}

impl Measured {
    fn at(concurrency: usize, measurement: Measurement) -> Self {
        Self {
            concurrency,
            phase: None,
            measurement,
            soak: None,
            cpu: None,
            replica_share: None,
        }
    }
}

/// Reads a pool's counts while it runs.
pub(crate) type Counts = Arc<dyn Fn() -> PoolCounts + Send + Sync>;

/// Everything a scenario needs, and what the scenarios measured so far.
#[derive(Debug)]
pub(crate) struct Session<'a> {
    pub(crate) options: &'a Options,
    pub(crate) target: &'a Target,
    pub(crate) interrupt: &'a Interrupt,
    pub(crate) runtime: &'a Runtime,
    /// The server's `max_connections`: pgbench is skipped at client counts near it.
    pub(crate) max_connections: usize,
    /// The sale workload as a pgbench script.
    pub(crate) sale_script: PathBuf,
    /// `pgbench-pipeline`'s script.
    pub(crate) pipeline_script: PathBuf,
    pub(crate) results: Vec<Row>,
    /// What the `instances` runs saw besides their rows.
    pub(crate) instances: Vec<InstancesFigures>,
    /// The exact baseline commands that ran.
    pub(crate) commands: Vec<String>,
}

/// pgbench is skipped at client counts this close to the server's `max_connections`.
const PGBENCH_HEADROOM: usize = 20;

impl Session<'_> {
    /// Opens `system`'s pool, runs `measure` on its operation, closes the pool, and
    /// records a row per measurement. Failures are reported and the run skipped.
    pub(crate) fn measure<F, Fut>(
        &mut self,
        progress: &Progress,
        scenario: Scenario,
        workload: Workload,
        system: System,
        run: usize,
        measure: F,
    ) where
        F: FnOnce(Operation, Counts) -> Fut,
        Fut: Future<Output = Vec<Measured>>,
    {
        if self.interrupt.is_set() || !self.options.includes(system.name()) {
            return;
        }
        progress.running(system.name());
        let target = self.target;
        let outcome = self.runtime.block_on(async {
            let prepared = systems::prepare(system, workload, target).await?;
            let counts: Counts = Arc::from(prepared.counts);
            let before = counts();
            let measured = placed_on(
                prepared.runtimes,
                measure(prepared.operation, Arc::clone(&counts)),
            )
            .await;
            let after = counts();
            (prepared.close)().await;
            anyhow::Ok((measured, before, after))
        });
        match outcome {
            Ok((measured, before, after)) => {
                for m in measured {
                    let key = RunKey {
                        scenario: scenario.name(),
                        workload: workload.name(),
                        system: system.name(),
                        concurrency: m.concurrency,
                        pool_size: Some(self.target.pool_size),
                        phase: m.phase,
                        run,
                    };
                    let mut row = Row::measured(key, &m.measurement, before, after);
                    row.soak = m.soak;
                    row.cpu = m.cpu;
                    row.replica_share = m.replica_share;
                    progress.line(&summary(&row));
                    self.results.push(row);
                }
            }
            Err(e) => progress.line(&format!(
                "   {:<25} failed: {}",
                system.name(),
                poolside_config::redact_text(&format!("{e:#}"))
            )),
        }
        progress.step();
    }

    /// Runs `system` on `workload` with `tasks` tasks in a closed loop for the
    /// duration, after the warm-up, recorded under `scenario` as repetition `run`.
    pub(crate) fn measure_steady(
        &mut self,
        progress: &Progress,
        scenario: Scenario,
        workload: Workload,
        system: System,
        (tasks, run): (usize, usize),
    ) {
        let (options, interrupt) = (self.options, self.interrupt);
        self.measure(
            progress,
            scenario,
            workload,
            system,
            run,
            |operation, _| async move {
                closed_loop(
                    operation,
                    tasks,
                    options.warm_up,
                    options.duration,
                    interrupt,
                )
                .await
                .map(|m| Measured::at(tasks, m))
                .into_iter()
                .collect()
            },
        );
    }

    /// Runs pgbench in `mode` on `workload`'s script, recorded under `scenario` as
    /// repetition `run`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn pgbench(
        &mut self,
        progress: &Progress,
        scenario: Scenario,
        workload: Workload,
        mode: Mode,
        amount: Amount,
        phase: Option<&'static str>,
        run: usize,
    ) {
        let clients = match amount {
            Amount::For { clients, .. } => clients,
            Amount::Sequential { .. } => 1,
        };
        if self.interrupt.is_set() || !self.options.includes(mode.system()) {
            return;
        }
        // The pipeline's row stands beside the others at `clients` tasks; pgbench runs
        // it over its own few connections.
        let amount = match (mode, amount) {
            (Mode::Pipeline, Amount::For { duration, .. }) => Amount::For {
                clients: pgbench::PIPELINE_CONNECTIONS,
                duration,
            },
            _ => amount,
        };
        // Through PgBouncer, clients wait there for a server connection: no limit.
        let (url, fits) = match mode {
            Mode::Extended => (
                self.target
                    .pgbouncer_url
                    .as_deref()
                    .map(systems::without_pgbouncer_flag),
                true,
            ),
            _ => (
                self.target.database_url.clone(),
                clients_fit(amount, self.max_connections),
            ),
        };
        let (Some(url), true) = (url, fits) else {
            progress.line(&format!(
                "   {:<25} skipped at {clients} clients: the server allows {} connections",
                mode.system(),
                self.max_connections
            ));
            progress.step();
            return;
        };
        progress.running(mode.system());
        let script = match (workload, mode) {
            (Workload::Sale, _) => Script::File(&self.sale_script),
            (_, Mode::Pipeline) => Script::File(&self.pipeline_script),
            _ => Script::Select,
        };
        let cpu_before = cpu_sample();
        match pgbench::run(&url, mode, script, amount) {
            Ok(result) => {
                let key = RunKey {
                    scenario: scenario.name(),
                    workload: workload.name(),
                    system: mode.system(),
                    concurrency: clients,
                    pool_size: None,
                    phase,
                    run,
                };
                let row = Row::pgbench(
                    key,
                    &result,
                    mode.statements_per_transaction(),
                    CpuSpan::since(cpu_before),
                );
                self.record_baseline(progress, row, result.command);
            }
            Err(e) => progress.line(&format!("   {:<25} failed: {e:#}", mode.system())),
        }
        progress.step();
    }

    /// Runs redis-benchmark on `workload` with `clients` clients, as repetition `run`.
    pub(crate) fn redis_benchmark(
        &mut self,
        progress: &Progress,
        scenario: Scenario,
        workload: Workload,
        clients: usize,
        run: usize,
    ) {
        if self.interrupt.is_set() || !self.options.includes("redis-benchmark") {
            return;
        }
        progress.running("redis-benchmark");
        let Some(url) = self.target.redis_url.as_deref() else {
            progress.step();
            return;
        };
        // About one run's worth of requests at redis-benchmark's usual rate.
        let requests = (self.options.duration.as_secs_f64() * 80_000.0).max(10_000.0) as u64;
        let cpu_before = cpu_sample();
        let cluster = self.target.redis_mode == poolside_config::RedisMode::Cluster;
        let system = if cluster {
            "redis-benchmark-cluster"
        } else {
            "redis-benchmark"
        };
        match redis_benchmark::run(url, workload, clients, requests, cluster) {
            Ok(result) => {
                let key = RunKey {
                    scenario: scenario.name(),
                    workload: workload.name(),
                    system,
                    concurrency: clients,
                    pool_size: None,
                    phase: None,
                    run,
                };
                let row = Row::redis_benchmark(key, &result, requests, CpuSpan::since(cpu_before));
                self.record_baseline(progress, row, result.command);
            }
            Err(e) => progress.line(&format!("   {system:<23} failed: {e:#}")),
        }
        progress.step();
    }
}

impl Session<'_> {
    /// Records an external baseline's run and the exact command behind it.
    fn record_baseline(&mut self, progress: &Progress, row: Row, command: String) {
        progress.line(&summary(&row));
        self.results.push(row);
        if !self.commands.contains(&command) {
            self.commands.push(command);
        }
    }
}

fn clients_fit(amount: Amount, max_connections: usize) -> bool {
    match amount {
        Amount::For { clients, .. } => clients + PGBENCH_HEADROOM <= max_connections,
        Amount::Sequential { .. } => true,
    }
}

/// The line printed as each run ends.
fn summary(row: &Row) -> String {
    let phase = row.key.phase.map(|p| format!(" {p}")).unwrap_or_default();
    let p99 = row
        .p99_ms
        .map_or_else(String::new, |p| format!(", p99 {p:.2} ms"));
    let failed = row.errors + row.timeouts;
    let failed = if failed > 0 {
        let first = row
            .first_error
            .as_deref()
            .map_or_else(String::new, |e| format!(" (first: {e})"));
        format!(", {failed} failed{first}")
    } else {
        String::new()
    };
    format!(
        "   {:<25} {:>5} tasks{phase}: {:>9.0} ops/s{p99}{failed}",
        row.key.system, row.key.concurrency, row.ops_per_sec
    )
}
