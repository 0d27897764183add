//! `sequential`: 500 and 1000 operations one after another from one task: the pool
//! must reuse its connections (none opened during the run).

use super::{Measured, Scenario, Session};
use crate::measure::sequential;
use crate::pgbench::{Amount, Mode};
use crate::progress::Progress;
use crate::systems::System;
use crate::workload::Workload;

/// The runs' lengths, with their names in the results' `phase`.
const LENGTHS: [(usize, &str); 2] = [(500, "500 queries"), (1000, "1000 queries")];

pub(super) fn run(session: &mut Session<'_>, workload: Workload) {
    let interrupt = session.interrupt;
    let systems = System::for_workload(workload);
    let steps = LENGTHS.len() * (systems.len() + 1);
    let progress = Progress::start(
        &format!("sequential / {}: 500 and 1000 in a row", workload.name()),
        steps as u64,
    );
    for (count, phase) in LENGTHS {
        for &system in systems {
            session.measure(
                &progress,
                Scenario::Sequential,
                workload,
                system,
                1,
                |operation, _| async move {
                    let mut measured =
                        Measured::at(1, sequential(operation, count, interrupt).await);
                    measured.phase = Some(phase);
                    vec![measured]
                },
            );
        }
        let amount = Amount::Sequential {
            transactions: count,
        };
        session.pgbench(
            &progress,
            Scenario::Sequential,
            workload,
            Mode::Prepared,
            amount,
            Some(phase),
            1,
        );
    }
    progress.finish();
}
