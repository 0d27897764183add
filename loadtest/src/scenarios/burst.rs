//! `burst`: the pool sits idle, then 1000 tasks arrive at once, each with one
//! operation; a few bursts in a row.

use super::oversubscribed::TASKS;
use super::{Measured, Scenario, Session};
use crate::measure::burst;
use crate::progress::Progress;
use crate::systems::System;
use crate::workload::Workload;

pub(super) fn run(session: &mut Session<'_>, workload: Workload) {
    let (options, interrupt) = (session.options, session.interrupt);
    let systems = System::for_workload(workload);
    let title = format!(
        "burst / {}: {} bursts of {TASKS} tasks after {:?} idle",
        workload.name(),
        options.bursts,
        options.burst_idle
    );
    let progress = Progress::start(&title, systems.len() as u64);
    for &system in systems {
        session.measure(
            &progress,
            Scenario::Burst,
            workload,
            system,
            1,
            |operation, _| async move {
                burst(
                    operation,
                    TASKS,
                    options.bursts,
                    options.burst_idle,
                    interrupt,
                )
                .await
                .map(|m| Measured::at(TASKS, m))
                .into_iter()
                .collect()
            },
        );
    }
    progress.finish();
}
