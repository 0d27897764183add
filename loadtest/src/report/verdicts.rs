//! One verdict line per goal: the pool core issue's performance goals, then a check
//! per scenario. PASS or FAIL with the figures behind it, or why it was not measured.

use std::fmt::Write as _;

use super::{Report, Row};

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

    fn ratio_goal(
        &self,
        scenario: &str,
        workload: &str,
        name: &str,
        system: &str,
        base: &str,
        goal: f64,
    ) -> String {
        let lines: Vec<String> = levels(self, scenario, workload)
            .into_iter()
            .filter_map(|level| {
                self.ratio_at(scenario, workload, name, (system, base), level, goal)
            })
            .collect();
        if lines.is_empty() {
            format!("not measured: {name} ({scenario} / {workload} with both did not run)")
        } else {
            lines.join("\n  ")
        }
    }

    /// The verdict of `systems.0` against `systems.1` at `level` tasks, when both ran.
    fn ratio_at(
        &self,
        scenario: &str,
        workload: &str,
        name: &str,
        (system, base): (&str, &str),
        level: usize,
        goal: f64,
    ) -> Option<String> {
        let a = self.find(scenario, workload, system, level)?;
        let b = self.find(scenario, workload, base, level)?;
        let ratio = a.ops_per_sec / b.ops_per_sec;
        let spread = self
            .spread(scenario, workload, system, base, level, goal)
            .unwrap_or_default();
        Some(format!(
            "{} {name} at {level} tasks: {ratio:.2}x ({:.0} vs {:.0} ops/s; goal {goal}x){spread}",
            verdict(ratio >= goal),
            a.ops_per_sec,
            b.ops_per_sec
        ))
    }

    /// `systems.0` against `systems.1` on `steady / select` at `level` tasks only.
    fn ratio_goal_at(&self, name: &str, systems: (&str, &str), level: usize, goal: f64) -> String {
        self.ratio_at("steady", "select", name, systems, level, goal)
            .unwrap_or_else(|| {
                format!(
                    "not measured: {name} at {level} tasks (steady / select with both did not run)"
                )
            })
    }

    /// `system`'s client CPU per operation at most `factor` times `base`'s, on
    /// `steady / select` at `level` tasks (medians over the repetitions); `issue`
    /// names the goal's issue, when the heading does not.
    fn client_cpu_goal(
        &self,
        (system, base): (&str, &str),
        level: usize,
        factor: f64,
        issue: &str,
    ) -> String {
        let name = format!("{system} client CPU per operation vs {base}'s{issue}");
        let group = self
            .groups()
            .into_iter()
            .find(|g| g.is("steady", "select", level));
        let cpu = |s: &str| {
            group
                .as_ref()
                .and_then(|g| self.median_of(g, s, |r| r.client_cpu_us_per_op))
        };
        match (cpu(system), cpu(base)) {
            (Some(a), Some(b)) => format!(
                "{} {name} at {level} tasks: {a:.1} vs {b:.1} µs, {:.2}x (goal: at most {factor}x)",
                verdict(a <= b * factor),
                a / b
            ),
            _ => format!(
                "not measured: {name} at {level} tasks (steady / select with both, CPU read, did not run)"
            ),
        }
    }

    /// `system` against the fastest of `peers` at each level (by their medians).
    fn best_peer_goal(
        &self,
        scenario: &str,
        workload: &str,
        name: &str,
        system: &str,
        peers: &[&str],
        goal: f64,
    ) -> String {
        let mut lines = Vec::new();
        for level in levels(self, scenario, workload) {
            let Some(a) = self.find(scenario, workload, system, level) else {
                continue;
            };
            let best = peers
                .iter()
                .filter_map(|peer| self.find(scenario, workload, peer, level))
                .max_by(|x, y| x.ops_per_sec.total_cmp(&y.ops_per_sec));
            if let Some(b) = best {
                let ratio = a.ops_per_sec / b.ops_per_sec;
                lines.push(format!(
                    "{} {name} at {level} tasks: {ratio:.2}x ({:.0} vs {} {:.0} ops/s; goal {goal}x)",
                    verdict(ratio >= goal),
                    a.ops_per_sec,
                    b.key.system,
                    b.ops_per_sec
                ));
            }
        }
        if lines.is_empty() {
            format!("not measured: {name} ({scenario} / {workload} with a peer did not run)")
        } else {
            lines.join("\n  ")
        }
    }

    /// `raw` (the driver poolside's default path runs on, with no pool) against the
    /// workload's baselines, and poolside as a share of it: a goal above the driver's
    /// own ratio is out of reach for any pool on that driver on this machine.
    fn driver_ceiling(&self, workload: &str, raw: &str) -> String {
        let mut lines = Vec::new();
        for level in levels(self, "steady", workload) {
            let Some(driver) = self.find("steady", workload, raw, level) else {
                continue;
            };
            let against = super::table::baselines(workload)
                .into_iter()
                .filter_map(|base| {
                    let b = self.find("steady", workload, base, level)?;
                    Some(format!("{:.2}x {base}", driver.ops_per_sec / b.ops_per_sec))
                })
                .collect::<Vec<_>>()
                .join(", ");
            let share = self
                .find("steady", workload, "poolside", level)
                .map(|p| {
                    let ratios = self.paired_ratios("steady", workload, "poolside", raw, level);
                    let range = low_high(&ratios)
                        .map(|(low, high)| format!(" (per repetition {low:.2}-{high:.2}x)"))
                        .unwrap_or_default();
                    format!(
                        "; poolside {:.2}x of it{range}",
                        p.ops_per_sec / driver.ops_per_sec
                    )
                })
                .unwrap_or_default();
            let against = if against.is_empty() {
                "no baseline beside it".to_owned()
            } else {
                against
            };
            lines.push(format!(
                "{workload} at {level} tasks: {raw} {:.0} ops/s, {against}{share}",
                driver.ops_per_sec
            ));
        }
        if lines.is_empty() {
            format!("not measured: {raw} (steady / {workload} did not run it)")
        } else {
            lines.join("\n  ")
        }
    }

    /// With `--repeat`, the ratio within each repetition (both runs from the same pass
    /// over the systems): its range, and how many reached `goal`. When the range
    /// straddles the goal, the machine's noise decides the verdict.
    fn spread(
        &self,
        scenario: &str,
        workload: &str,
        system: &str,
        base: &str,
        level: usize,
        goal: f64,
    ) -> Option<String> {
        let ratios = self.paired_ratios(scenario, workload, system, base, level);
        let (low, high) = low_high(&ratios)?;
        let reached = ratios.iter().filter(|r| **r >= goal).count();
        Some(format!(
            "; per repetition {low:.2}-{high:.2}x, {reached} of {} at the goal",
            ratios.len()
        ))
    }

    /// 1000 tasks on the pool: poolside's p99 no worse than deadpool's, nothing over 1 s.
    fn fairness_goal(&self) -> String {
        let mut lines = Vec::new();
        for scenario in ["oversubscribed", "steady"] {
            for level in levels(self, scenario, "select")
                .into_iter()
                .filter(|l| *l >= 1000)
            {
                let (Some(p), Some(d)) = (
                    self.find(scenario, "select", "poolside", level),
                    self.find(scenario, "select", "deadpool", level),
                ) else {
                    continue;
                };
                let (pp99, dp99) = (p.p99_ms.unwrap_or(f64::MAX), d.p99_ms.unwrap_or(0.0));
                let pmax = p.max_ms.unwrap_or(f64::MAX);
                lines.push(format!(
                    "{} {scenario} {level} tasks on {} connections: poolside p99 {pp99:.1} ms vs deadpool {dp99:.1} ms, poolside max {pmax:.1} ms (goal: p99 no worse, max under 1 s)",
                    verdict(pp99 <= dp99 && pmax < 1000.0 && p.success_rate >= 1.0),
                    p.key.pool_size.unwrap_or(0),
                ));
            }
        }
        if lines.is_empty() {
            "not measured: 1000 tasks on the pool (run the oversubscribed scenario)".to_owned()
        } else {
            lines.join("\n  ")
        }
    }

    fn sequential_check(&self) -> String {
        let mut lines = Vec::new();
        for group in self
            .groups()
            .into_iter()
            .filter(|g| g.scenario == "sequential")
        {
            let Some(p) = self.median(&group, "poolside") else {
                continue;
            };
            let ops = p.operations.unwrap_or(0);
            let created = p.connections_created.unwrap_or(u64::MAX);
            let pool_size = u64::from(p.key.pool_size.unwrap_or(0));
            lines.push(format!(
                "{} sequential: {ops} queries one after another opened {created} connections (pool size {pool_size}), p99 {} ms",
                verdict(created <= pool_size && p.success_rate >= 1.0),
                p.p99_ms.map_or("-".to_owned(), |v| format!("{v:.2}")),
            ));
        }
        if lines.is_empty() {
            "not measured: sequential".to_owned()
        } else {
            lines.join("\n  ")
        }
    }

    fn burst_check(&self) -> String {
        let Some(level) = levels(self, "burst", "select").pop() else {
            return "not measured: burst".to_owned();
        };
        let Some(p) = self.find("burst", "select", "poolside", level) else {
            return "not measured: burst (poolside did not run)".to_owned();
        };
        let deadpool = self
            .find("burst", "select", "deadpool", level)
            .and_then(|d| d.p99_ms)
            .map_or(String::new(), |d| format!(" (deadpool {d:.1} ms)"));
        format!(
            "{} burst of {level} tasks on an idle pool: {:.2}% succeeded, p99 {:.1} ms{deadpool}",
            verdict(p.success_rate >= 1.0),
            p.success_rate * 100.0,
            p.p99_ms.unwrap_or(f64::NAN),
        )
    }

    fn spike_check(&self) -> String {
        let phase = |name: &str| -> Option<&Row> {
            let group = self
                .groups()
                .into_iter()
                .find(|g| g.scenario == "spike" && g.phase == Some(name))?;
            self.median(&group, "poolside")
        };
        let (Some(before), Some(spike), Some(after)) =
            (phase("before"), phase("spike"), phase("after"))
        else {
            return "not measured: spike (all three phases)".to_owned();
        };
        let p99 = |r: &Row| r.p99_ms.unwrap_or(f64::MAX);
        let recovered = p99(after) <= (2.0 * p99(before)).max(p99(before) + 5.0);
        let all_ok = [before, spike, after].iter().all(|r| r.success_rate >= 1.0);
        format!(
            "{} spike {} -> {} -> {} tasks: poolside p99 {:.1} -> {:.1} -> {:.1} ms, {} (goal: no failures, p99 back within 2x after)",
            verdict(recovered && all_ok),
            before.key.concurrency,
            spike.key.concurrency,
            after.key.concurrency,
            p99(before),
            p99(spike),
            p99(after),
            if all_ok { "no failures" } else { "some failed" },
        )
    }

    /// The knee: the most tasks each system served within the limits.
    fn stress_check(&self) -> String {
        let levels = levels(self, "stress", "select");
        if levels.is_empty() {
            return "not measured: stress".to_owned();
        }
        let limit = self.stress_p99_limit_ms;
        let within = |r: &Row| r.success_rate >= 0.999 && r.p99_ms.is_some_and(|p| p <= limit);
        let mut parts = Vec::new();
        for system in ["poolside", "deadpool"] {
            let runs: Vec<&Row> = levels
                .iter()
                .filter_map(|l| self.find("stress", "select", system, *l))
                .collect();
            if runs.is_empty() {
                continue;
            }
            let knee = runs
                .iter()
                .take_while(|r| within(r))
                .last()
                .map(|r| r.key.concurrency);
            let broke = runs.iter().find(|r| !within(r)).map_or_else(
                || {
                    format!(
                        "held to the last level, {}",
                        runs.last().map_or(0, |r| r.key.concurrency)
                    )
                },
                |r| {
                    format!(
                        "broke at {} (p99 {:.1} ms, {:.2}% succeeded)",
                        r.key.concurrency,
                        r.p99_ms.unwrap_or(f64::NAN),
                        r.success_rate * 100.0
                    )
                },
            );
            parts.push(format!(
                "{system} knee {} tasks, {broke}",
                knee.map_or("below the first level".to_owned(), |k| k.to_string())
            ));
        }
        format!(
            "INFO stress (limits: p99 <= {limit} ms, 99.9% success): {}",
            parts.join("; ")
        )
    }

    fn soak_check(&self) -> String {
        let Some(row) = self
            .results
            .iter()
            .find(|r| r.key.scenario == "soak" && r.key.system == "poolside")
        else {
            return "not measured: soak".to_owned();
        };
        let Some(soak) = &row.soak else {
            return "not measured: soak (no samples)".to_owned();
        };
        // Allocators keep some memory: allow 10% plus 8 MB.
        let memory_flat = soak.rss_end_mb <= soak.rss_start_mb * 1.1 + 8.0;
        let connections_flat = soak.pool_connections_min == soak.pool_connections_max
            && soak.server_connections_min == soak.server_connections_max;
        format!(
            "{} soak: memory {:.1} -> {:.1} MB, pool connections {}..{}, server connections {}..{}, {:.2}% succeeded (goal: flat)",
            verdict(memory_flat && connections_flat && row.success_rate >= 1.0),
            soak.rss_start_mb,
            soak.rss_end_mb,
            soak.pool_connections_min,
            soak.pool_connections_max,
            soak.server_connections_min,
            soak.server_connections_max,
            row.success_rate * 100.0,
        )
    }

    /// The `replicas` scenario at each level: throughput, the share the replica ran,
    /// and CPU per operation of the client and each server, primary alone and with
    /// the replica (medians). A split, not a goal.
    fn replica_split(&self) -> Vec<String> {
        let levels = levels(self, "replicas", "select");
        if levels.is_empty() {
            return vec!["not measured: run --scenario replicas".to_owned()];
        }
        let us = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.0} µs"));
        let describe = |row: &Row| {
            let cpu = row.cpu.unwrap_or_default();
            let share = row.replica_share.map_or_else(String::new, |s| {
                format!(", {:.0}% on the replica", s * 100.0)
            });
            format!(
                "{:.0} ops/s{share}; CPU per op: client {}, primary {}, standby {}",
                row.ops_per_sec,
                us(Some(cpu.client_us)),
                us(cpu.primary_us),
                us(cpu.standby_us)
            )
        };
        levels
            .into_iter()
            .map(|level| {
                match (
                    self.find("replicas", "select", "poolside", level),
                    self.find("replicas", "select", "poolside-replica", level),
                ) {
                    (Some(alone), Some(with)) => format!(
                        "INFO at {level} tasks: primary alone {}; primary + replica {}",
                        describe(alone),
                        describe(with)
                    ),
                    _ => format!("not measured at {level} tasks: a system failed (see above)"),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_rows::{report, report_of, row};

    #[test]
    fn verdicts_follow_the_figures_and_say_what_was_not_measured() {
        let report = report(&[
            (
                "steady",
                "select",
                "poolside",
                50,
                60_000.0,
                Some(2.0),
                Some(5.0),
            ),
            (
                "steady",
                "select",
                "poolside-exclusive",
                50,
                30_000.0,
                Some(3.0),
                Some(6.0),
            ),
            (
                "steady",
                "select",
                "deadpool",
                50,
                40_000.0,
                Some(3.0),
                Some(6.0),
            ),
            (
                "steady",
                "select",
                "pgbench-prepared",
                50,
                35_000.0,
                None,
                None,
            ),
            (
                "steady",
                "select",
                "raw-pipelined",
                50,
                70_000.0,
                Some(2.0),
                Some(5.0),
            ),
            (
                "oversubscribed",
                "select",
                "poolside",
                1000,
                90_000.0,
                Some(20.0),
                Some(1500.0),
            ),
            (
                "oversubscribed",
                "select",
                "deadpool",
                1000,
                40_000.0,
                Some(30.0),
                Some(50.0),
            ),
            (
                "stress",
                "select",
                "poolside",
                100,
                50_000.0,
                Some(10.0),
                Some(20.0),
            ),
            (
                "stress",
                "select",
                "poolside",
                200,
                50_000.0,
                Some(150.0),
                Some(200.0),
            ),
        ]);
        let verdicts = report.verdicts();
        for expected in [
            "PASS poolside vs pgbench -M prepared at 50 tasks: 1.71x",
            "FAIL poolside vs deadpool at 50 tasks: 1.50x",
            "FAIL poolside-exclusive vs deadpool at 50 tasks: 0.75x",
            "FAIL oversubscribed 1000 tasks",
            "not measured: Redis GET",
            "poolside knee 100 tasks, broke at 200",
            "not measured: soak",
            "select at 50 tasks: raw-pipelined 70000 ops/s, 2.00x pgbench-prepared, 1.75x deadpool; poolside 0.86x of it",
            "not measured: raw-multiplexed",
        ] {
            assert!(
                verdicts.contains(expected),
                "{expected:?} missing from:\n{verdicts}"
            );
        }
        let table = report.table();
        assert!(table.contains("1.71x"), "{table}");
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
        assert_eq!(json["machine"]["client_threads"].as_u64(), Some(1));
    }

    #[test]
    fn the_batched_read_goals_compare_rates_and_client_cpu() {
        let mut results: Vec<_> = [
            ("poolside-read", 50, 180_000.0),
            ("poolside", 50, 60_000.0),
            ("pgbench-prepared", 50, 50_000.0),
            ("pgbench-pipeline", 50, 250_000.0),
            ("poolside-read", 16, 90_000.0),
            ("pgbench-prepared", 16, 50_000.0),
            ("poolside-read-per-core", 50, 200_000.0),
        ]
        .into_iter()
        .map(|(system, tasks, ops)| row("steady", "select", system, tasks, ops, None, None))
        .collect();
        for r in &mut results {
            r.client_cpu_us_per_op = match (r.key.system, r.key.concurrency) {
                ("poolside-read", 50) => Some(4.0),
                ("poolside", 50) => Some(11.0),
                _ => None,
            };
        }
        let verdicts = report_of(results).verdicts();
        for expected in [
            "PASS poolside-read vs pgbench -M prepared at 50 tasks: 3.60x",
            "FAIL poolside-read vs pgbench -M prepared at 16 tasks: 1.80x",
            "PASS poolside-read vs pgbench-pipeline at 50 tasks: 0.72x",
            "PASS poolside-read client CPU per operation vs poolside's at 50 tasks: 4.0 vs 11.0 µs",
            "PASS poolside-read-per-core vs pgbench -M prepared at 50 tasks: 4.00x",
            "not measured: poolside-read-per-core vs pgbench -M prepared at 16 tasks",
            "not measured: sale: poolside vs deadpool",
        ] {
            assert!(
                verdicts.contains(expected),
                "{expected:?} missing from:\n{verdicts}"
            );
        }
    }

    #[test]
    fn the_cluster_goal_prints_for_both_layouts() {
        let verdicts = report_of(
            [
                ("poolside-cluster", 120_000.0),
                ("poolside-cluster-per-core", 250_000.0),
                ("redis-benchmark-cluster", 100_000.0),
            ]
            .into_iter()
            .map(|(system, ops)| row("steady", "redis-get", system, 50, ops, None, None))
            .collect(),
        )
        .verdicts();
        for expected in [
            "FAIL Redis Cluster GET: poolside-cluster vs redis-benchmark --cluster at 50 tasks: 1.20x",
            "PASS Redis Cluster GET: poolside-cluster-per-core vs redis-benchmark --cluster at 50 tasks: 2.50x",
        ] {
            assert!(
                verdicts.contains(expected),
                "{expected:?} missing from:\n{verdicts}"
            );
        }
    }

    #[test]
    fn the_pgbouncer_goal_is_against_the_fastest_peer() {
        let row = |system, ops| ("pgbouncer", "select", system, 50, ops, Some(2.0), Some(5.0));
        let report = report(&[
            row("poolside-pgbouncer", 40_000.0),
            row("poolside-pgbouncer-4rt", 10_000.0),
            row("deadpool-pgbouncer", 20_000.0),
            row("sqlx-pgbouncer", 9_000.0),
            row("pgbench-extended", 32_000.0),
        ]);
        let verdicts = report.verdicts();
        for expected in [
            "FAIL poolside-pgbouncer vs the best peer at 50 tasks: 1.25x (40000 vs pgbench-extended 32000 ops/s; goal 1.3x)",
            "PASS poolside-pgbouncer vs its four-round-trip path at 50 tasks: 4.00x",
        ] {
            assert!(
                verdicts.contains(expected),
                "{expected:?} missing from:\n{verdicts}"
            );
        }
    }
}
