//! The table for people: one block per scenario, workload and concurrency, the
//! median run of each system, its ratio to the baselines measured beside it, and the
//! medians of its client and server CPU µs per operation.

use std::fmt::Write as _;

use super::{GroupKey, Report, Row};

/// The two systems each workload's ratios are taken against.
pub(crate) fn baselines(workload: &str) -> [&'static str; 2] {
    if workload.starts_with("redis") {
        ["redis-benchmark", "deadpool-redis"]
    } else {
        ["pgbench-prepared", "deadpool"]
    }
}

fn ms(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| format!("{v:.2}"))
}

fn count(value: Option<u64>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| v.to_string())
}

fn heading(group: &GroupKey) -> String {
    let phase = group
        .phase
        .map(|p| format!(", phase {p}"))
        .unwrap_or_default();
    format!(
        "{} / {}, {} tasks{phase}",
        group.scenario, group.workload, group.concurrency
    )
}

impl Report {
    /// The whole table.
    pub(crate) fn table(&self) -> String {
        let mut out = String::new();
        for group in self.groups() {
            let [first, second] = baselines(group.workload);
            let base = |system: &str| self.median(&group, system).map(|r| r.ops_per_sec);
            let (first_ops, second_ops) = (base(first), base(second));
            let _ = writeln!(out, "\n{}", heading(&group));
            let _ = writeln!(
                out,
                "  {:<25} {:>10} {:>8} {:>8} {:>8} {:>9} {:>8} {:>8} {:>7} {:>7} {:>7} {:>9} {:>9}",
                "system",
                "ops/s",
                "p50 ms",
                "p95 ms",
                "p99 ms",
                "max ms",
                "acq p99",
                "success",
                "created",
                "cli µs",
                "srv µs",
                short(first),
                short(second),
            );
            for system in self.systems(&group) {
                let Some(row) = self.median(&group, system) else {
                    continue;
                };
                let ratio = |base: Option<f64>| {
                    base.map_or_else(
                        || "-".to_owned(),
                        |b| format!("{:.2}x", row.ops_per_sec / b),
                    )
                };
                let cpu = |figure: fn(&Row) -> Option<f64>| {
                    self.median_of(&group, system, figure)
                        .map_or_else(|| "-".to_owned(), |us| format!("{us:.1}"))
                };
                let _ = writeln!(
                    out,
                    "  {:<25} {:>10.0} {:>8} {:>8} {:>8} {:>9} {:>8} {:>7.2}% {:>7} {:>7} {:>7} {:>9} {:>9}",
                    system,
                    row.ops_per_sec,
                    ms(row.p50_ms.or(row.latency_avg_ms)),
                    ms(row.p95_ms),
                    ms(row.p99_ms),
                    ms(row.max_ms),
                    ms(row.acquire_p99_ms),
                    row.success_rate * 100.0,
                    count(row.connections_created),
                    cpu(|r| r.client_cpu_us_per_op),
                    cpu(|r| r.server_cpu_us_per_op),
                    ratio(first_ops),
                    ratio(second_ops),
                );
                details(&mut out, row);
            }
        }
        out
    }
}

/// `vs pgb-prep` for `pgbench-prepared`: a column heading that fits.
fn short(system: &str) -> String {
    let name = match system {
        "pgbench-prepared" => "pgb-prep",
        "redis-benchmark" => "redis-b",
        "deadpool-redis" => "dp-redis",
        other => other,
    };
    format!("vs {name}")
}

/// The lines under a row: soak figures, retries, the first error.
fn details(out: &mut String, row: &Row) {
    if let Some(soak) = &row.soak {
        let _ = writeln!(
            out,
            "  {:<25} memory {:.1} -> {:.1} MB (max {:.1}); pool connections {}..{}; server connections {}..{}",
            "",
            soak.rss_start_mb,
            soak.rss_end_mb,
            soak.rss_max_mb,
            soak.pool_connections_min,
            soak.pool_connections_max,
            soak.server_connections_min,
            soak.server_connections_max,
        );
    }
    if let Some(retries) = row.retries.filter(|r| *r > 0) {
        let _ = writeln!(out, "  {:<25} {retries} transactions run again", "");
    }
    if let Some(error) = &row.first_error {
        let failed = row.errors + row.timeouts;
        let _ = writeln!(out, "  {:<25} {failed} failed; first error: {error}", "");
    }
}
