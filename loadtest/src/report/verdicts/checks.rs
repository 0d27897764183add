//! The scenarios that are not a comparison: sequential, burst, spike, stress, soak,
//! and the read replicas' split.

use super::super::{Report, Row};
use super::{levels, verdict};

impl Report {
    pub(super) fn sequential_check(&self) -> String {
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

    pub(super) fn burst_check(&self) -> String {
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

    pub(super) fn spike_check(&self) -> String {
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
    pub(super) fn stress_check(&self) -> String {
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

    pub(super) fn soak_check(&self) -> String {
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
    pub(super) fn replica_split(&self) -> Vec<String> {
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
