//! `oversubscribed`: far more tasks than connections (1000 on a pool of 20 by
//! default): does every waiter get served, in order, without a long tail?

use super::{Measured, Scenario, Session};
use crate::measure::closed_loop;
use crate::progress::Progress;
use crate::systems::System;
use crate::workload::Workload;

/// Tasks at once.
pub(crate) const TASKS: usize = 1000;

pub(super) fn run(session: &mut Session<'_>, workload: Workload) {
    let (options, interrupt) = (session.options, session.interrupt);
    let systems = System::for_workload(workload);
    let steps = systems.len() + usize::from(workload.is_redis());
    let title = format!(
        "oversubscribed / {}: {TASKS} tasks, pool of {}",
        workload.name(),
        options.pool_size
    );
    let progress = Progress::start(&title, steps as u64);
    for &system in systems {
        session.measure(
            &progress,
            Scenario::Oversubscribed,
            workload,
            system,
            1,
            |operation, _| async move {
                closed_loop(
                    operation,
                    TASKS,
                    options.warm_up,
                    options.duration,
                    interrupt,
                )
                .await
                .map(|m| Measured::at(TASKS, m))
                .into_iter()
                .collect()
            },
        );
    }
    // pgbench needs a server connection per client: too many here.
    if workload.is_redis() {
        session.redis_benchmark(&progress, Scenario::Oversubscribed, workload, TASKS, 1);
    }
    progress.finish();
}
