//! `stress`: double the tasks from the first `--concurrency` until operations fail or
//! p99 passes the limit; the last level within the limits is the knee.

use super::{Measured, Scenario, Session};
use crate::measure::closed_loop;
use crate::progress::Progress;
use crate::systems::System;
use crate::workload::Workload;

/// The p99 latency a level must stay within.
pub(crate) const P99_LIMIT_MS: f64 = 100.0;
/// The share of operations that must succeed.
const SUCCESS_LIMIT: f64 = 0.999;

pub(super) fn run(session: &mut Session<'_>, workload: Workload) {
    let (options, interrupt) = (session.options, session.interrupt);
    let first = options.concurrency.first().copied().unwrap_or(50);
    let levels: Vec<usize> = std::iter::successors(Some(first), |l| Some(l * 2))
        .take_while(|l| *l <= options.stress_max_tasks)
        .collect();
    let title = format!(
        "stress / {}: {} to {} tasks, limits p99 {P99_LIMIT_MS} ms and {}% success",
        workload.name(),
        first,
        levels.last().copied().unwrap_or(first),
        SUCCESS_LIMIT * 100.0
    );
    let mut systems = vec![System::Poolside, System::Deadpool];
    if workload == Workload::Select {
        // The batched read path's knee, beside the pipelined path's.
        systems.insert(1, System::PoolsideRead);
    }
    let progress = Progress::start(&title, systems.len() as u64);
    for system in systems {
        let levels = &levels;
        session.measure(
            &progress,
            Scenario::Stress,
            workload,
            system,
            1,
            |operation, _| async move {
                let mut measured = Vec::new();
                for &tasks in levels {
                    let Some(m) = closed_loop(
                        operation.clone(),
                        tasks,
                        options.warm_up,
                        options.duration,
                        interrupt,
                    )
                    .await
                    else {
                        break;
                    };
                    let broke =
                        m.success_rate() < SUCCESS_LIMIT || m.latency_ms(0.99) > P99_LIMIT_MS;
                    measured.push(Measured::at(tasks, m));
                    if broke {
                        break;
                    }
                }
                measured
            },
        );
    }
    progress.finish();
}
