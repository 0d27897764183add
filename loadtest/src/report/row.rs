//! [`Row`]: one measured run, as the JSON carries it.

use serde::Serialize;

use crate::measure::{CpuPerOp, CpuSpan, Measurement};
use crate::pgbench::PgbenchResult;
use crate::redis_benchmark::RedisBenchmarkResult;
use crate::systems::PoolCounts;

/// What a run was: the fields that tell runs apart.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct RunKey {
    pub(crate) scenario: &'static str,
    pub(crate) workload: &'static str,
    pub(crate) system: &'static str,
    /// Tasks (or clients) running at once.
    pub(crate) concurrency: usize,
    /// `null` for pgbench and redis-benchmark, which open one connection per client.
    pub(crate) pool_size: Option<u32>,
    /// The phase of a `spike` (`before`, `spike`, `after`); `null` elsewhere.
    pub(crate) phase: Option<&'static str>,
    /// Which repetition (from 1) with `--repeat`.
    pub(crate) run: usize,
}

/// Memory and connections over a `soak` run, sampled every second.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct SoakFigures {
    /// Resident memory of the load test process after the first and last second.
    pub(crate) rss_start_mb: f64,
    pub(crate) rss_end_mb: f64,
    pub(crate) rss_max_mb: f64,
    /// Connections the pool held open, least and most.
    pub(crate) pool_connections_min: u64,
    pub(crate) pool_connections_max: u64,
    /// Connections the server saw from the pool, least and most.
    pub(crate) server_connections_min: u64,
    pub(crate) server_connections_max: u64,
}

/// One measured run. Field names are stable: tools read them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Row {
    #[serde(flatten)]
    pub(crate) key: RunKey,
    pub(crate) ops_per_sec: f64,
    /// Operations measured, failed ones included; `null` where the tool does not say.
    pub(crate) operations: Option<u64>,
    /// Percentiles are `null` where the tool reports only an average (pgbench).
    pub(crate) p50_ms: Option<f64>,
    pub(crate) p95_ms: Option<f64>,
    pub(crate) p99_ms: Option<f64>,
    pub(crate) max_ms: Option<f64>,
    pub(crate) latency_avg_ms: Option<f64>,
    /// `null` where the system does not let the wait for a connection be seen.
    pub(crate) acquire_p99_ms: Option<f64>,
    pub(crate) success_rate: f64,
    pub(crate) errors: u64,
    pub(crate) timeouts: u64,
    /// Transactions run again; `null` where the system does not count them.
    pub(crate) retries: Option<u64>,
    /// Connections opened while the system ran (over all phases or levels of a spike or
    /// stress run); `null` where the system does not count them.
    pub(crate) connections_created: Option<u64>,
    /// Why operations failed, from the first failure (secrets masked).
    pub(crate) first_error: Option<String>,
    pub(crate) soak: Option<SoakFigures>,
    /// CPU microseconds per operation of the client: this process for the pools it
    /// runs, the tool's own process for pgbench and redis-benchmark; `null` where not
    /// measured.
    pub(crate) client_cpu_us_per_op: Option<f64>,
    /// CPU microseconds per operation of the server the workload runs on: PostgreSQL's
    /// processes (its postmaster and every backend) or Redis's; `null` where the server
    /// is not on this machine or was not found.
    pub(crate) server_cpu_us_per_op: Option<f64>,
    /// The replicas scenario's split: client, primary and standby.
    pub(crate) cpu: Option<CpuPerOp>,
    /// Share of the operations a read replica ran; `null` without replicas.
    pub(crate) replica_share: Option<f64>,
}

fn delta(before: Option<u64>, after: Option<u64>) -> Option<u64> {
    Some(after?.saturating_sub(before?))
}

/// The server a workload's CPU is read from: Redis for the Redis workloads, else the
/// PostgreSQL primary.
fn server_cpu(workload: &str, span: &CpuSpan, operations: u64) -> Option<f64> {
    if workload.starts_with("redis") {
        span.per_op(operations, |t| t.redis)
    } else {
        span.per_op(operations, |t| t.primary)
    }
}

impl Row {
    /// A run measured in this process; `before` and `after` are the pool's counts
    /// around it.
    pub(crate) fn measured(
        key: RunKey,
        m: &Measurement,
        before: PoolCounts,
        after: PoolCounts,
    ) -> Self {
        Self {
            ops_per_sec: m.ops_per_sec(),
            operations: Some(m.operations()),
            p50_ms: Some(m.latency_ms(0.50)),
            p95_ms: Some(m.latency_ms(0.95)),
            p99_ms: Some(m.latency_ms(0.99)),
            max_ms: Some(m.latency_us.max() as f64 / 1000.0),
            latency_avg_ms: Some(m.latency_us.mean() / 1000.0),
            acquire_p99_ms: m
                .acquire_us
                .as_ref()
                .map(|h| h.value_at_quantile(0.99) as f64 / 1000.0),
            success_rate: m.success_rate(),
            errors: m.errors,
            timeouts: m.timeouts,
            retries: delta(before.retries, after.retries),
            connections_created: delta(before.created, after.created),
            first_error: m.first_error.as_deref().map(poolside_config::redact_text),
            soak: None,
            client_cpu_us_per_op: m
                .cpu
                .and_then(|span| span.per_op(m.operations(), |t| Some(t.client))),
            server_cpu_us_per_op: m
                .cpu
                .and_then(|span| server_cpu(key.workload, &span, m.operations())),
            cpu: None,
            replica_share: None,
            key,
        }
    }

    /// A pgbench run whose transactions ran `statements` statements each (counted as
    /// operations), `cpu` spanning the tool's run (its CPU is this process's
    /// children's).
    pub(crate) fn pgbench(
        key: RunKey,
        result: &PgbenchResult,
        statements: usize,
        cpu: Option<CpuSpan>,
    ) -> Self {
        let per = statements as u64;
        let operations = (result.processed + result.failed) * per;
        Self {
            ops_per_sec: result.tps * per as f64,
            operations: Some(operations),
            p50_ms: None,
            p95_ms: None,
            p99_ms: None,
            max_ms: None,
            latency_avg_ms: result.latency_avg_ms,
            acquire_p99_ms: None,
            success_rate: result.processed as f64
                / (result.processed + result.failed).max(1) as f64,
            errors: result.failed * per,
            timeouts: 0,
            retries: None,
            connections_created: None,
            first_error: None,
            soak: None,
            client_cpu_us_per_op: cpu
                .and_then(|span| span.per_op(operations, |t| Some(t.children))),
            server_cpu_us_per_op: cpu.and_then(|span| server_cpu(key.workload, &span, operations)),
            cpu: None,
            replica_share: None,
            key,
        }
    }

    /// A redis-benchmark run of `requests` requests, `cpu` spanning the tool's run.
    pub(crate) fn redis_benchmark(
        key: RunKey,
        result: &RedisBenchmarkResult,
        requests: u64,
        cpu: Option<CpuSpan>,
    ) -> Self {
        Self {
            ops_per_sec: result.requests_per_sec,
            operations: Some(requests),
            p50_ms: Some(result.p50_ms),
            p95_ms: Some(result.p95_ms),
            p99_ms: Some(result.p99_ms),
            max_ms: Some(result.max_ms),
            latency_avg_ms: Some(result.avg_ms),
            acquire_p99_ms: None,
            success_rate: 1.0,
            errors: 0,
            timeouts: 0,
            retries: None,
            connections_created: None,
            first_error: None,
            soak: None,
            client_cpu_us_per_op: cpu.and_then(|span| span.per_op(requests, |t| Some(t.children))),
            server_cpu_us_per_op: cpu.and_then(|span| server_cpu(key.workload, &span, requests)),
            cpu: None,
            replica_share: None,
            key,
        }
    }
}
