//! The goals that compare one system with another: a rate ratio at each level, client
//! CPU per operation, the fastest peer, the driver's own ceiling, and the tail under
//! 1000 tasks.

use super::super::Report;
use super::{levels, low_high, verdict};

impl Report {
    pub(super) fn ratio_goal(
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
    pub(super) fn ratio_at(
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
    pub(super) fn ratio_goal_at(
        &self,
        name: &str,
        systems: (&str, &str),
        level: usize,
        goal: f64,
    ) -> String {
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
    pub(super) fn client_cpu_goal(
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
    pub(super) fn best_peer_goal(
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
    pub(super) fn driver_ceiling(&self, workload: &str, raw: &str) -> String {
        let mut lines = Vec::new();
        for level in levels(self, "steady", workload) {
            let Some(driver) = self.find("steady", workload, raw, level) else {
                continue;
            };
            let against = super::super::table::baselines(workload)
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
    pub(super) fn spread(
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
    pub(super) fn fairness_goal(&self) -> String {
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
}
