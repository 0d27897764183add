//! The results: one row per measured run, the JSON for machines, and for people a
//! table with ratios and a verdict on each goal.

mod instances;
mod machine;
mod row;
mod table;
mod verdicts;

pub(crate) use instances::{InstancesFigures, names_a_limit};
pub(crate) use machine::Machine;
pub(crate) use row::{Row, RunKey, SoakFigures};

use serde::Serialize;

/// The whole report, as written to `--json`.
#[derive(Debug, Serialize)]
pub(crate) struct Report {
    pub(crate) machine: Machine,
    /// Every measured run, repetitions included.
    pub(crate) results: Vec<Row>,
    /// The p99 limit the `stress` scenario held poolside to.
    pub(crate) stress_p99_limit_ms: f64,
    /// What each `instances` run saw besides its rows: connections over time,
    /// failures naming a connection limit, budget findings.
    pub(crate) instances: Vec<InstancesFigures>,
    /// Whether Ctrl-C cut the run short (the results are what was measured before).
    pub(crate) interrupted: bool,
}

/// Runs that differ only in their repetition, as one group.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct GroupKey {
    pub(crate) scenario: &'static str,
    pub(crate) workload: &'static str,
    pub(crate) phase: Option<&'static str>,
    pub(crate) concurrency: usize,
}

impl GroupKey {
    fn of(row: &Row) -> Self {
        Self {
            scenario: row.key.scenario,
            workload: row.key.workload,
            phase: row.key.phase,
            concurrency: row.key.concurrency,
        }
    }

    /// Whether this is the phase-less group of `scenario`/`workload` at `concurrency`.
    fn is(&self, scenario: &str, workload: &str, concurrency: usize) -> bool {
        self.scenario == scenario
            && self.workload == workload
            && self.concurrency == concurrency
            && self.phase.is_none()
    }
}

impl Report {
    /// The groups of runs (scenario, workload, phase, concurrency), in the order
    /// they ran.
    pub(crate) fn groups(&self) -> Vec<GroupKey> {
        let mut groups: Vec<GroupKey> = Vec::new();
        for row in &self.results {
            let key = GroupKey::of(row);
            if !groups.contains(&key) {
                groups.push(key);
            }
        }
        groups
    }

    /// The systems measured in `group`, in the order they ran.
    pub(crate) fn systems(&self, group: &GroupKey) -> Vec<&'static str> {
        let mut systems = Vec::new();
        for row in self.results.iter().filter(|r| GroupKey::of(r) == *group) {
            if !systems.contains(&row.key.system) {
                systems.push(row.key.system);
            }
        }
        systems
    }

    /// The median run (by throughput) of `system` in `group`.
    pub(crate) fn median(&self, group: &GroupKey, system: &str) -> Option<&Row> {
        let mut runs: Vec<&Row> = self
            .results
            .iter()
            .filter(|r| r.key.system == system && GroupKey::of(r) == *group)
            .collect();
        runs.sort_by(|a, b| a.ops_per_sec.total_cmp(&b.ops_per_sec));
        runs.get(runs.len().saturating_sub(1) / 2).copied()
    }

    /// The median of `figure` over the runs of `system` in `group` that have it.
    pub(crate) fn median_of(
        &self,
        group: &GroupKey,
        system: &str,
        figure: impl Fn(&Row) -> Option<f64>,
    ) -> Option<f64> {
        let mut values: Vec<f64> = self
            .results
            .iter()
            .filter(|r| r.key.system == system && GroupKey::of(r) == *group)
            .filter_map(figure)
            .collect();
        values.sort_by(f64::total_cmp);
        values.get(values.len().checked_sub(1)? / 2).copied()
    }

    /// The median run of `system` in `scenario`/`workload` at `concurrency` (no phase).
    pub(crate) fn find(
        &self,
        scenario: &str,
        workload: &str,
        system: &str,
        concurrency: usize,
    ) -> Option<&Row> {
        let group = self
            .groups()
            .into_iter()
            .find(|g| g.is(scenario, workload, concurrency))?;
        self.median(&group, system)
    }

    /// `system`'s throughput over `base`'s in each repetition both ran (phase-less
    /// `scenario`/`workload` at `concurrency`), in repetition order.
    pub(crate) fn paired_ratios(
        &self,
        scenario: &str,
        workload: &str,
        system: &str,
        base: &str,
        concurrency: usize,
    ) -> Vec<f64> {
        let in_group: Vec<&Row> = self
            .results
            .iter()
            .filter(|r| GroupKey::of(r).is(scenario, workload, concurrency))
            .collect();
        in_group
            .iter()
            .filter(|a| a.key.system == system)
            .filter_map(|a| {
                let b = in_group
                    .iter()
                    .find(|b| b.key.system == base && b.key.run == a.key.run)?;
                (b.ops_per_sec > 0.0).then(|| a.ops_per_sec / b.ops_per_sec)
            })
            .collect()
    }
}

#[cfg(test)]
pub(crate) mod test_rows {
    use super::*;

    /// A row's figures: scenario, workload, system, tasks, ops/s, p99 ms, max ms.
    pub(crate) type Figures = (
        &'static str,
        &'static str,
        &'static str,
        usize,
        f64,
        Option<f64>,
        Option<f64>,
    );

    /// A report of one row per entry of `figures`.
    pub(crate) fn report(figures: &[Figures]) -> Report {
        report_of(
            figures
                .iter()
                .map(|&(scenario, workload, system, tasks, ops, p99, max)| {
                    row(scenario, workload, system, tasks, ops, p99, max)
                })
                .collect(),
        )
    }

    /// A report of `results`.
    pub(crate) fn report_of(results: Vec<Row>) -> Report {
        Report {
            machine: Machine::this_one(1, vec![]),
            results,
            stress_p99_limit_ms: 100.0,
            instances: Vec::new(),
            interrupted: false,
        }
    }

    /// A row of `system` in `scenario`/`workload`, the figures given.
    pub(crate) fn row(
        scenario: &'static str,
        workload: &'static str,
        system: &'static str,
        concurrency: usize,
        ops: f64,
        p99: Option<f64>,
        max: Option<f64>,
    ) -> Row {
        Row {
            key: RunKey {
                scenario,
                workload,
                system,
                concurrency,
                pool_size: Some(20),
                phase: None,
                run: 1,
            },
            ops_per_sec: ops,
            operations: Some(1000),
            p50_ms: p99,
            p95_ms: p99,
            p99_ms: p99,
            max_ms: max,
            latency_avg_ms: None,
            acquire_p99_ms: None,
            success_rate: 1.0,
            errors: 0,
            timeouts: 0,
            retries: None,
            connections_created: Some(0),
            first_error: None,
            soak: None,
            client_cpu_us_per_op: None,
            server_cpu_us_per_op: None,
            cpu: None,
            replica_share: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_rows::{report_of, row};

    #[test]
    fn the_median_of_repetitions_is_the_middle_run() {
        let mut results = Vec::new();
        for (run, ops) in [(1, 300.0), (2, 100.0), (3, 200.0)] {
            let mut r = row(
                "steady",
                "select",
                "poolside",
                50,
                ops,
                Some(1.0),
                Some(2.0),
            );
            r.key.run = run;
            results.push(r);
        }
        let report = report_of(results);
        let median = report
            .find("steady", "select", "poolside", 50)
            .expect("found");
        assert_eq!((median.key.run, median.ops_per_sec), (3, 200.0));
        assert!(report.find("steady", "select", "poolside", 100).is_none());
    }

    #[test]
    fn ratios_pair_the_runs_of_one_repetition() {
        let mut results = Vec::new();
        // Repetition 3 of the base is missing: that repetition has no ratio.
        for (system, run, ops) in [
            ("poolside", 1, 300.0),
            ("deadpool", 1, 200.0),
            ("poolside", 2, 100.0),
            ("deadpool", 2, 400.0),
            ("poolside", 3, 500.0),
        ] {
            let mut r = row("steady", "select", system, 50, ops, None, None);
            r.key.run = run;
            results.push(r);
        }
        let report = report_of(results);
        assert_eq!(
            report.paired_ratios("steady", "select", "poolside", "deadpool", 50),
            vec![1.5, 0.25]
        );
        let verdicts = report.verdicts();
        assert!(
            verdicts.contains("per repetition 0.25-1.50x, 0 of 2 at the goal"),
            "{verdicts}"
        );
    }

    #[test]
    fn cpu_per_operation_is_the_median_over_the_runs_that_read_it() {
        let mut results = Vec::new();
        for (run, ops, client) in [
            (1, 300.0, Some(9.0)),
            (2, 100.0, Some(5.0)),
            (3, 200.0, None),
        ] {
            let mut r = row("steady", "select", "poolside", 50, ops, None, None);
            r.key.run = run;
            r.client_cpu_us_per_op = client;
            r.server_cpu_us_per_op = client.map(|c| c * 2.0);
            results.push(r);
        }
        let report = report_of(results);
        let group = report.groups().remove(0);
        // Two runs read it: the lower middle of two, as for throughput.
        assert_eq!(
            report.median_of(&group, "poolside", |r| r.client_cpu_us_per_op),
            Some(5.0)
        );
        assert_eq!(
            report.median_of(&group, "deadpool", |r| r.client_cpu_us_per_op),
            None
        );
        let table = report.table();
        assert!(
            table.contains("cli µs") && table.contains("srv µs"),
            "{table}"
        );
        assert!(table.contains("    5.0    10.0 "), "{table}");
    }
}
