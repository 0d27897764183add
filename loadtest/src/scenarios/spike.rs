//! `spike`: steady at the first `--concurrency`, then ten times the tasks, then back:
//! does the pool absorb the spike and recover at once?

use super::{Measured, Scenario, Session};
use crate::measure::phases;
use crate::progress::Progress;
use crate::systems::System;
use crate::workload::Workload;

/// The phases' names, in order.
const PHASES: [&str; 3] = ["before", "spike", "after"];

pub(super) fn run(session: &mut Session<'_>, workload: Workload) {
    let (options, interrupt) = (session.options, session.interrupt);
    let base = options.concurrency.first().copied().unwrap_or(50);
    let levels = [base, base * 10, base];
    let systems = System::for_workload(workload);
    let title = format!(
        "spike / {}: {base} -> {} -> {base} tasks",
        workload.name(),
        base * 10
    );
    let progress = Progress::start(&title, systems.len() as u64);
    for &system in systems {
        session.measure(
            &progress,
            Scenario::Spike,
            workload,
            system,
            1,
            |operation, _| async move {
                phases(
                    operation,
                    &levels,
                    options.warm_up,
                    options.duration,
                    interrupt,
                )
                .await
                .into_iter()
                .zip(levels.into_iter().zip(PHASES))
                .map(|(measurement, (concurrency, phase))| Measured {
                    concurrency,
                    phase: Some(phase),
                    measurement,
                    soak: None,
                    cpu: None,
                    replica_share: None,
                })
                .collect()
            },
        );
    }
    progress.finish();
}
