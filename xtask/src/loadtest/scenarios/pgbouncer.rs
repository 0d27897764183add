//! `pgbouncer`: `steady` through PgBouncer in transaction mode, at each
//! `--concurrency`: poolside in PgBouncer mode beside its four-round-trip path of
//! before, deadpool-postgres and sqlx as their documentation sets them up for it, and
//! `pgbench -M extended`, all through the same PgBouncer; repeated and interleaved with
//! `--repeat`.

use super::{Measured, Scenario, Session};
use crate::loadtest::measure::closed_loop;
use crate::loadtest::pgbench::{Amount, Mode};
use crate::loadtest::progress::Progress;
use crate::loadtest::systems::System;
use crate::loadtest::workload::Workload;

pub(super) fn run(session: &mut Session<'_>, workload: Workload) {
    let (options, interrupt) = (session.options, session.interrupt);
    let systems = System::through_pgbouncer(workload);
    let steps = options.concurrency.len() * options.repeat * (systems.len() + 1);
    let progress = Progress::start(&format!("pgbouncer / {}", workload.name()), steps as u64);
    for &tasks in &options.concurrency {
        for run in 1..=options.repeat {
            // Each repetition starts with another system, as in `steady`.
            for i in 0..systems.len() {
                let system = systems[(i + run - 1) % systems.len()];
                session.measure(
                    &progress,
                    Scenario::Pgbouncer,
                    workload,
                    system,
                    run,
                    |operation, _| async move {
                        closed_loop(
                            operation,
                            tasks,
                            options.warm_up,
                            options.duration,
                            interrupt,
                        )
                        .await
                        .map(|m| Measured::at(tasks, m))
                        .into_iter()
                        .collect()
                    },
                );
            }
            let amount = Amount::For {
                clients: tasks,
                duration: options.duration,
            };
            session.pgbench(
                &progress,
                Scenario::Pgbouncer,
                workload,
                Mode::Extended,
                amount,
                None,
                run,
            );
        }
    }
    progress.finish();
}
