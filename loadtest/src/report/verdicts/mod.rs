//! One verdict line per goal: the pool core issue's performance goals, then a check
//! per scenario. PASS or FAIL with the figures behind it, or why it was not measured.
//! This file orders the lines; `goals.rs` compares systems against their goals, and
//! `checks.rs` reads the scenarios that are not a comparison.

mod checks;
mod goals;
#[cfg(test)]
mod tests;

use std::fmt::Write as _;

use super::Report;

pub(super) fn verdict(pass: bool) -> &'static str {
    if pass { "PASS" } else { "FAIL" }
}

/// The lowest and highest of `ratios`, when there are at least two.
fn low_high(ratios: &[f64]) -> Option<(f64, f64)> {
    (ratios.len() >= 2).then(|| {
        let low = ratios.iter().copied().fold(f64::INFINITY, f64::min);
        let high = ratios.iter().copied().fold(0.0, f64::max);
        (low, high)
    })
}

/// Concurrency levels of `scenario`/`workload` (phase-less groups), in run order.
fn levels(report: &Report, scenario: &str, workload: &str) -> Vec<usize> {
    report
        .groups()
        .into_iter()
        .filter(|g| g.scenario == scenario && g.workload == workload && g.phase.is_none())
        .map(|g| g.concurrency)
        .collect()
}

/// The verdict text as it is written: headings as given, each verdict indented.
struct Lines(String);

impl Lines {
    fn heading(&mut self, heading: &str) {
        self.0.push_str(heading);
    }

    fn line(&mut self, text: String) {
        let _ = writeln!(self.0, "  {text}");
    }
}

impl Report {
    /// The verdict lines.
    pub(crate) fn verdicts(&self) -> String {
        let mut out = Lines(String::from(
            "\ngoals (pool core issue), from this run's medians:\n",
        ));
        for (name, system, base, goal) in [
            (
                "poolside vs pgbench -M prepared",
                "poolside",
                "pgbench-prepared",
                1.5,
            ),
            ("poolside vs deadpool", "poolside", "deadpool", 1.7),
            (
                "poolside-exclusive vs deadpool",
                "poolside-exclusive",
                "deadpool",
                1.0,
            ),
        ] {
            out.line(self.ratio_goal("steady", "select", name, system, base, goal));
        }
        out.line(self.fairness_goal());
        out.line(self.ratio_goal(
            "steady",
            "select",
            "every resilience layer on vs the bare pool (resilience issue)",
            "poolside-layered",
            "poolside",
            0.97,
        ));
        out.line(self.ratio_goal(
            "steady",
            "select",
            "metrics on vs off (metrics and health issue)",
            "poolside-metrics",
            "poolside",
            0.97,
        ));
        out.line(self.client_cpu_goal(("poolside-traced", "poolside"), 50, 1.05, " (spans issue)"));
        out.line(self.ratio_goal(
            "steady",
            "redis-get",
            "Redis GET: poolside vs redis-benchmark",
            "poolside",
            "redis-benchmark",
            3.0,
        ));
        out.heading("\nRedis past one server (Sentinel and Cluster issue):\n");
        // The cluster client on the default multi-threaded runtime, then on a
        // single-threaded runtime per core, a pool each.
        for system in ["poolside-cluster", "poolside-cluster-per-core"] {
            let cluster = format!("Redis Cluster GET: {system} vs redis-benchmark --cluster");
            out.line(
                self.ratio_at(
                    "steady",
                    "redis-get",
                    &cluster,
                    (system, "redis-benchmark-cluster"),
                    50,
                    2.0,
                )
                .unwrap_or_else(|| {
                    format!(
                        "not measured: {cluster} at 50 tasks (run --workload redis-get \
                         --redis-mode cluster)"
                    )
                }),
            );
        }
        out.heading("\nreads at the wire's limit (batched reads issue):\n");
        // The path on the default multi-threaded runtime, then laid out as pgbench
        // runs its clients: a single-threaded runtime per core, a pool each, bare and
        // through a `Poolside` each.
        for system in [
            "poolside-read",
            "poolside-read-per-core",
            "poolside-facade-per-core",
        ] {
            for (level, goal) in [(50, 3.0), (16, 2.0)] {
                out.line(self.ratio_goal_at(
                    &format!("{system} vs pgbench -M prepared"),
                    (system, "pgbench-prepared"),
                    level,
                    goal,
                ));
            }
            out.line(self.ratio_goal_at(
                &format!("{system} vs pgbench-pipeline"),
                (system, "pgbench-pipeline"),
                50,
                0.6,
            ));
            out.line(self.client_cpu_goal((system, "poolside"), 50, 1.0, ""));
        }
        out.line(self.ratio_goal(
            "steady",
            "sale",
            "sale: poolside vs deadpool",
            "poolside",
            "deadpool",
            1.15,
        ));
        out.heading("\nthrough PgBouncer (PostgreSQL past one instance issue):\n");
        out.line(self.best_peer_goal(
            "pgbouncer",
            "select",
            "poolside-pgbouncer vs the best peer",
            "poolside-pgbouncer",
            &["deadpool-pgbouncer", "sqlx-pgbouncer", "pgbench-extended"],
            1.3,
        ));
        out.line(self.ratio_goal(
            "pgbouncer",
            "select",
            "poolside-pgbouncer vs its four-round-trip path",
            "poolside-pgbouncer",
            "poolside-pgbouncer-4rt",
            2.5,
        ));
        out.heading("\nmany instances on one PgBouncer (PostgreSQL past one instance issue):\n");
        if self.instances.is_empty() {
            out.line("not measured: run --scenario instances".to_owned());
        }
        for figures in &self.instances {
            for text in figures.verdicts() {
                out.line(text);
            }
        }
        out.heading(
            "\nread replicas (PostgreSQL past one instance issue; the standby shares the cores):\n",
        );
        for text in self.replica_split() {
            out.line(text);
        }
        out.heading(
            "\nthe drivers alone, no pool (how far the goals are from what the driver does):\n",
        );
        out.line(self.driver_ceiling("select", "raw-pipelined"));
        out.line(self.driver_ceiling("redis-get", "raw-multiplexed"));
        out.heading("\nscenarios:\n");
        out.line(self.sequential_check());
        out.line(self.burst_check());
        out.line(self.spike_check());
        out.line(self.stress_check());
        out.line(self.soak_check());
        out.0
    }
}
