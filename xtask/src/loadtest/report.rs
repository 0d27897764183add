//! The results: one row per measured run, the JSON for machines, the table and the
//! verdict on each goal for people.

use std::fmt::Write as _;

use serde::Serialize;

use super::pgbench::PgbenchResult;
use super::runner::Measurement;

/// One measured run. Field names are stable: tools read them.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Row {
    pub(crate) scenario: &'static str,
    pub(crate) workload: &'static str,
    pub(crate) system: &'static str,
    pub(crate) concurrency: usize,
    /// `null` for pgbench, which opens one connection per client.
    pub(crate) pool_size: Option<u32>,
    pub(crate) ops_per_sec: f64,
    /// Percentiles are `null` for pgbench, which reports only an average.
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
}

impl Row {
    pub(crate) fn measured(
        system: &'static str,
        concurrency: usize,
        pool_size: u32,
        m: &Measurement,
    ) -> Self {
        Self {
            scenario: "steady",
            workload: "select",
            system,
            concurrency,
            pool_size: Some(pool_size),
            ops_per_sec: m.ops_per_sec(),
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
        }
    }

    pub(crate) fn pgbench(
        system: &'static str,
        concurrency: usize,
        result: &PgbenchResult,
    ) -> Self {
        Self {
            scenario: "steady",
            workload: "select",
            system,
            concurrency,
            pool_size: None,
            ops_per_sec: result.tps,
            p50_ms: None,
            p95_ms: None,
            p99_ms: None,
            max_ms: None,
            latency_avg_ms: result.latency_avg_ms,
            acquire_p99_ms: None,
            success_rate: if result.failed == 0 { 1.0 } else { 0.0 },
            errors: result.failed,
            timeouts: 0,
        }
    }
}

/// The machine the figures come from.
#[derive(Debug, Serialize)]
pub(crate) struct Machine {
    pub(crate) cores: usize,
    pub(crate) memory_bytes: u64,
    pub(crate) kernel: String,
    /// Each baseline command as run (passwords masked).
    pub(crate) baseline_commands: Vec<String>,
}

impl Machine {
    pub(crate) fn this_one(baseline_commands: Vec<String>) -> Self {
        let memory_kb = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|info| {
                let line = info
                    .lines()
                    .find(|l| l.starts_with("MemTotal:"))?
                    .to_owned();
                line.split_whitespace().nth(1)?.parse::<u64>().ok()
            })
            .unwrap_or(0);
        Self {
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            memory_bytes: memory_kb * 1024,
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .unwrap_or_default()
                .trim()
                .to_owned(),
            baseline_commands,
        }
    }
}

/// The whole report, as written to `--json`.
#[derive(Debug, Serialize)]
pub(crate) struct Report {
    pub(crate) machine: Machine,
    pub(crate) results: Vec<Row>,
    /// What the load test does not measure yet.
    pub(crate) not_built: Vec<&'static str>,
}

fn find<'a>(rows: &'a [Row], system: &str, concurrency: usize) -> Option<&'a Row> {
    rows.iter()
        .find(|r| r.system == system && r.concurrency == concurrency)
}

fn ms(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| format!("{v:.2}"))
}

impl Report {
    /// The table: one block per concurrency, ratios against pgbench `-M prepared` and
    /// deadpool measured in the same run.
    pub(crate) fn table(&self) -> String {
        let mut out = String::new();
        let mut levels: Vec<usize> = self.results.iter().map(|r| r.concurrency).collect();
        levels.dedup();
        for level in levels {
            let _ = writeln!(out, "\nsteady / select, {level} clients");
            let _ = writeln!(
                out,
                "  {:<20} {:>10} {:>8} {:>8} {:>8} {:>9} {:>10} {:>8} {:>8} {:>9}",
                "system",
                "ops/s",
                "p50 ms",
                "p95 ms",
                "p99 ms",
                "max ms",
                "acq p99",
                "success",
                "vs pgb-p",
                "vs deadp"
            );
            let prepared = find(&self.results, "pgbench-prepared", level).map(|r| r.ops_per_sec);
            let deadpool = find(&self.results, "deadpool", level).map(|r| r.ops_per_sec);
            for row in self.results.iter().filter(|r| r.concurrency == level) {
                let ratio = |base: Option<f64>| {
                    base.map_or_else(
                        || "-".to_owned(),
                        |b| format!("{:.2}x", row.ops_per_sec / b),
                    )
                };
                let _ = writeln!(
                    out,
                    "  {:<20} {:>10.0} {:>8} {:>8} {:>8} {:>9} {:>10} {:>7.2}% {:>8} {:>9}",
                    row.system,
                    row.ops_per_sec,
                    ms(row.p50_ms.or(row.latency_avg_ms)),
                    ms(row.p95_ms),
                    ms(row.p99_ms),
                    ms(row.max_ms),
                    ms(row.acquire_p99_ms),
                    row.success_rate * 100.0,
                    ratio(prepared),
                    ratio(deadpool),
                );
            }
        }
        out
    }

    /// One line per goal of the pool core issue: PASS, FAIL, or not measured, with the
    /// figures behind it.
    pub(crate) fn verdicts(&self) -> String {
        let mut out = String::from("\ngoals (pool core issue), from this run:\n");
        let mut levels: Vec<usize> = self.results.iter().map(|r| r.concurrency).collect();
        levels.dedup();
        let mut ratio_goal = |name: &str, system: &str, base: &str, goal: f64| {
            for &level in &levels {
                let line = match (
                    find(&self.results, system, level),
                    find(&self.results, base, level),
                ) {
                    (Some(a), Some(b)) => {
                        let ratio = a.ops_per_sec / b.ops_per_sec;
                        let verdict = if ratio >= goal { "PASS" } else { "FAIL" };
                        format!("{verdict} {name} at {level} clients: {ratio:.2}x (goal {goal}x)")
                    }
                    _ => format!("not measured: {name} at {level} clients ({base} did not run)"),
                };
                let _ = writeln!(out, "  {line}");
            }
        };
        ratio_goal(
            "poolside vs pgbench -M prepared",
            "poolside",
            "pgbench-prepared",
            1.5,
        );
        ratio_goal("poolside vs deadpool", "poolside", "deadpool", 1.7);
        ratio_goal(
            "poolside-exclusive vs deadpool",
            "poolside-exclusive",
            "deadpool",
            1.0,
        );
        match (
            find(&self.results, "poolside", 1000),
            find(&self.results, "deadpool", 1000),
        ) {
            (Some(p), Some(d)) => {
                let (pp99, dp99, pmax) = (
                    p.p99_ms.unwrap_or(f64::MAX),
                    d.p99_ms.unwrap_or(0.0),
                    p.max_ms.unwrap_or(f64::MAX),
                );
                let verdict = if pp99 <= dp99 && pmax < 1000.0 {
                    "PASS"
                } else {
                    "FAIL"
                };
                let _ = writeln!(
                    out,
                    "  {verdict} 1000 clients: poolside p99 {pp99:.1} ms vs deadpool {dp99:.1} ms, poolside max {pmax:.1} ms (goal: p99 no worse, max under 1 s)"
                );
            }
            _ => {
                let _ = writeln!(
                    out,
                    "  not measured: 1000 clients (run with --concurrency including 1000)"
                );
            }
        }
        let _ = writeln!(
            out,
            "  not measured: Redis GET vs redis-benchmark (the Redis workloads are not built yet)"
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(
        system: &'static str,
        concurrency: usize,
        ops: f64,
        p99: Option<f64>,
        max: Option<f64>,
    ) -> Row {
        Row {
            scenario: "steady",
            workload: "select",
            system,
            concurrency,
            pool_size: Some(20),
            ops_per_sec: ops,
            p50_ms: p99,
            p95_ms: p99,
            p99_ms: p99,
            max_ms: max,
            latency_avg_ms: None,
            acquire_p99_ms: None,
            success_rate: 1.0,
            errors: 0,
            timeouts: 0,
        }
    }

    #[test]
    fn verdicts_follow_the_figures_and_say_what_was_not_measured() {
        let report = Report {
            machine: Machine::this_one(vec![]),
            results: vec![
                row("poolside", 50, 60_000.0, Some(2.0), Some(5.0)),
                row("poolside-exclusive", 50, 30_000.0, Some(3.0), Some(6.0)),
                row("deadpool", 50, 40_000.0, Some(3.0), Some(6.0)),
                row("pgbench-prepared", 50, 35_000.0, None, None),
                row("poolside", 1000, 90_000.0, Some(20.0), Some(1500.0)),
                row("deadpool", 1000, 40_000.0, Some(30.0), Some(50.0)),
            ],
            not_built: vec![],
        };
        let verdicts = report.verdicts();
        assert!(
            verdicts.contains("PASS poolside vs pgbench -M prepared at 50 clients: 1.71x"),
            "{verdicts}"
        );
        assert!(
            verdicts.contains("FAIL poolside vs deadpool at 50 clients: 1.50x"),
            "{verdicts}"
        );
        assert!(
            verdicts.contains("FAIL poolside-exclusive vs deadpool at 50 clients: 0.75x"),
            "{verdicts}"
        );
        assert!(
            verdicts.contains("not measured: poolside vs pgbench -M prepared at 1000 clients"),
            "{verdicts}"
        );
        assert!(
            verdicts.contains("FAIL 1000 clients"),
            "a max over 1 s fails: {verdicts}"
        );
        let json = serde_json::to_value(&report).expect("serialises");
        for field in [
            "scenario",
            "workload",
            "system",
            "concurrency",
            "pool_size",
            "ops_per_sec",
            "p50_ms",
            "p95_ms",
            "p99_ms",
            "max_ms",
            "acquire_p99_ms",
            "success_rate",
            "errors",
            "timeouts",
        ] {
            assert!(
                json["results"][0].get(field).is_some(),
                "JSON lacks {field}"
            );
        }
        assert!(json["machine"]["cores"].as_u64().is_some_and(|c| c >= 1));
        assert!(report.table().contains("1.71x"));
    }
}
