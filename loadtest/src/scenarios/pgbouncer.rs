//! `pgbouncer`: `steady` through PgBouncer in transaction mode, at each
//! `--concurrency`: poolside in PgBouncer mode beside its four-round-trip path of
//! before, deadpool-postgres and sqlx as their documentation sets them up for it, and
//! `pgbench -M extended`, all through the same PgBouncer; repeated and interleaved with
//! `--repeat`.

use super::{Scenario, Session};
use crate::pgbench::{Amount, Mode};
use crate::progress::Progress;
use crate::systems::System;
use crate::workload::Workload;

pub(super) fn run(session: &mut Session<'_>, workload: Workload) {
    let options = session.options;
    let systems = System::through_pgbouncer(workload);
    let steps = options.concurrency.len() * options.repeat * (systems.len() + 1);
    let progress = Progress::start(&format!("pgbouncer / {}", workload.name()), steps as u64);
    for &tasks in &options.concurrency {
        for run in 1..=options.repeat {
            // Each repetition starts with another system, as in `steady`.
            for i in 0..systems.len() {
                let system = systems[(i + run - 1) % systems.len()];
                session.measure_steady(
                    &progress,
                    Scenario::Pgbouncer,
                    workload,
                    system,
                    (tasks, run),
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
