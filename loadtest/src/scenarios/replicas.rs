//! `replicas`: the select on the primary alone (`poolside`) and, marked read-only, on
//! the primary and one streaming standby (`poolside-replica`), at each
//! `--concurrency`, repeated and interleaved with `--repeat`. The standby shares the
//! two cores, so the report gives the split and the CPU per operation of the client,
//! the primary and the standby, not a scaling claim. CPU is read over the measured
//! stretch only, after a warm-up of its own.

use std::time::Duration;

use super::{Measured, Scenario, Session};
use crate::measure::closed_loop;
use crate::progress::Progress;
use crate::systems::System;
use crate::workload::Workload;

const SYSTEMS: [System; 2] = [System::Poolside, System::PoolsideReplica];

pub(super) fn run(session: &mut Session<'_>) {
    let options = session.options;
    let steps = options.concurrency.len() * options.repeat * SYSTEMS.len();
    let progress = Progress::start("replicas / select", steps as u64);
    for &tasks in &options.concurrency {
        for run in 1..=options.repeat {
            for i in 0..SYSTEMS.len() {
                let system = SYSTEMS[(i + run - 1) % SYSTEMS.len()];
                let interrupt = session.interrupt;
                session.measure(
                    &progress,
                    Scenario::Replicas,
                    Workload::Select,
                    system,
                    run,
                    |operation, counts| async move {
                        closed_loop(
                            operation.clone(),
                            tasks,
                            Duration::ZERO,
                            options.warm_up,
                            interrupt,
                        )
                        .await;
                        let reads_before = counts().replica_reads;
                        let measured = closed_loop(
                            operation,
                            tasks,
                            Duration::ZERO,
                            options.duration,
                            interrupt,
                        )
                        .await;
                        let reads_after = counts().replica_reads;
                        measured
                            .map(|m| Measured {
                                cpu: m
                                    .cpu
                                    .map(|span| span.before.per_op(&span.after, m.operations())),
                                replica_share: reads_before.zip(reads_after).map(|(b, a)| {
                                    a.saturating_sub(b) as f64 / m.operations().max(1) as f64
                                }),
                                ..Measured::at(tasks, m)
                            })
                            .into_iter()
                            .collect()
                    },
                );
            }
        }
    }
    progress.finish();
}
