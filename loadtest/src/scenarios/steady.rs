//! `steady`: a fixed number of tasks for a duration, at each `--concurrency`, against
//! every system and the external baselines; repeated and interleaved with `--repeat`.

use poolside_config::RedisMode;

use super::{Scenario, Session};
use crate::pgbench::{Amount, Mode};
use crate::progress::Progress;
use crate::systems::System;
use crate::workload::Workload;

pub(super) fn run(session: &mut Session<'_>, workload: Workload) {
    let options = session.options;
    let cluster = workload.is_redis() && session.target.redis_mode == RedisMode::Cluster;
    let mut systems = if cluster {
        // deadpool-redis and the redis crate's multiplexed connection talk to one
        // server; the driver alone is its cluster connection.
        vec![
            System::PoolsideCluster,
            System::PoolsideClusterPerCore,
            System::RawCluster,
        ]
    } else {
        System::for_workload(workload).to_vec()
    };
    if workload == Workload::Select {
        // What the resilience layers, the metrics and the spans cost, beside the bare
        // default path.
        systems.insert(1, System::PoolsideLayered);
        systems.insert(2, System::PoolsideMetrics);
        systems.insert(3, System::PoolsideTraced);
        // The batched read path as pgbench runs: a runtime per core, bare and
        // through the facade.
        systems.insert(4, System::PoolsideReadPerCore);
        systems.insert(5, System::PoolsideFacadePerCore);
    }
    // The driver alone: how far any pool on it could go here.
    if !cluster {
        systems.extend(System::driver_alone(workload));
    }
    let baselines = if workload.is_redis() {
        1
    } else {
        Mode::for_workload(workload).len()
    };
    let steps = options.concurrency.len() * options.repeat * (systems.len() + baselines);
    let progress = Progress::start(&format!("steady / {}", workload.name()), steps as u64);
    for &tasks in &options.concurrency {
        for run in 1..=options.repeat {
            // Each repetition starts with another system, so that drift over the run
            // falls on all of them alike.
            for i in 0..systems.len() {
                let system = systems[(i + run - 1) % systems.len()];
                session.measure_steady(&progress, Scenario::Steady, workload, system, (tasks, run));
            }
            if workload.is_redis() {
                session.redis_benchmark(&progress, Scenario::Steady, workload, tasks, run);
            } else {
                for &mode in Mode::for_workload(workload) {
                    let amount = Amount::For {
                        clients: tasks,
                        duration: options.duration,
                    };
                    session.pgbench(
                        &progress,
                        Scenario::Steady,
                        workload,
                        mode,
                        amount,
                        None,
                        run,
                    );
                }
            }
        }
    }
    progress.finish();
}
