//! The closed loop: tasks run an operation again and again, their number set per
//! phase (one phase for `steady`; three for `spike`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::{CpuSpan, Measurement, Operation, Recorder, Recorders, cpu_sample, placement};
use crate::interrupt::Interrupt;

/// The phase index while nothing is measured (warm-up, and after the last phase).
const NOT_MEASURING: usize = usize::MAX;

#[derive(Debug)]
struct Shared {
    /// Tasks with an index below this keep running.
    active: AtomicUsize,
    /// The phase being measured, or [`NOT_MEASURING`].
    phase: AtomicUsize,
    stop: AtomicBool,
    recorders: Vec<Recorders>,
}

async fn task(index: usize, operation: Operation, shared: Arc<Shared>) {
    while !shared.stop.load(Ordering::Relaxed) && index < shared.active.load(Ordering::Relaxed) {
        let (latency, outcome) = Recorder::run(&operation).await;
        if let Some(recorders) = shared.recorders.get(shared.phase.load(Ordering::Relaxed)) {
            recorders.record(index, latency, outcome);
        }
    }
}

/// Runs `operation` from `levels[0]` tasks for `warm_up` (not measured), then
/// measures one phase of `phase` per level with `levels[i]` tasks running. Returns one
/// measurement per phase; fewer when interrupted.
pub(crate) async fn phases(
    operation: Operation,
    levels: &[usize],
    warm_up: Duration,
    phase: Duration,
    interrupt: &Interrupt,
) -> Vec<Measurement> {
    let Some(&first) = levels.first() else {
        return Vec::new();
    };
    let shared = Arc::new(Shared {
        active: AtomicUsize::new(first),
        phase: AtomicUsize::new(NOT_MEASURING),
        stop: AtomicBool::new(false),
        recorders: levels.iter().map(|_| Recorders::new()).collect(),
    });
    let mut handles = Vec::new();
    let mut spawn = |range: std::ops::Range<usize>| {
        for index in range {
            handles.push(placement::spawn(
                index,
                task(index, Arc::clone(&operation), Arc::clone(&shared)),
            ));
        }
    };
    spawn(0..first);
    let mut running = first;
    let mut elapsed = Vec::new();
    let mut cpu = Vec::new();
    if interrupt.sleep(warm_up).await {
        for (index, &level) in levels.iter().enumerate() {
            shared.active.store(level, Ordering::Relaxed);
            if level > running {
                spawn(running..level);
            }
            running = level;
            shared.phase.store(index, Ordering::Relaxed);
            let (cpu_before, started) = (cpu_sample(), Instant::now());
            let complete = interrupt.sleep(phase).await;
            elapsed.push(started.elapsed());
            cpu.push(CpuSpan::since(cpu_before));
            if !complete {
                break;
            }
        }
    }
    shared.phase.store(NOT_MEASURING, Ordering::Relaxed);
    shared.stop.store(true, Ordering::Relaxed);
    for handle in handles {
        let _ = handle.await;
    }
    let Ok(shared) = Arc::try_unwrap(shared) else {
        unreachable!("every task has finished");
    };
    shared
        .recorders
        .into_iter()
        .zip(elapsed.into_iter().zip(cpu))
        .map(|(recorders, (elapsed, cpu))| Measurement {
            cpu,
            ..recorders.into_measurement(elapsed)
        })
        .collect()
}

/// `concurrency` tasks for `warm_up` (not measured), then for `duration` (measured);
/// `None` when interrupted before measuring.
pub(crate) async fn closed_loop(
    operation: Operation,
    concurrency: usize,
    warm_up: Duration,
    duration: Duration,
    interrupt: &Interrupt,
) -> Option<Measurement> {
    phases(operation, &[concurrency], warm_up, duration, interrupt)
        .await
        .pop()
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use super::*;
    use crate::measure::test_support::sleeping;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn measures_after_the_warm_up_and_counts_failures() {
        let (operation, calls) = sleeping(Duration::from_millis(2));
        let m = closed_loop(
            operation,
            4,
            Duration::from_millis(100),
            Duration::from_millis(300),
            &Interrupt::never(),
        )
        .await
        .expect("measured");
        let total_calls = calls.load(Ordering::Relaxed);
        assert!(
            m.operations() > 0 && m.operations() < total_calls,
            "warm-up excluded: {} of {total_calls}",
            m.operations()
        );
        assert!(m.latency_ms(0.5) >= 2.0, "{}", m.latency_ms(0.5));
        assert!(m.errors > 0 && m.success_rate() > 0.6 && m.success_rate() < 0.9);
        assert_eq!(m.first_error.as_deref(), Some("every fourth fails"));
        assert!(m.acquire_us.is_some());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn each_phase_runs_its_own_number_of_tasks() {
        // A 20 ms operation: n tasks complete about n / 20 ms operations per second.
        let (operation, _) = sleeping(Duration::from_millis(20));
        let m = phases(
            operation,
            &[2, 20, 2],
            Duration::from_millis(50),
            Duration::from_millis(400),
            &Interrupt::never(),
        )
        .await;
        assert_eq!(m.len(), 3);
        let (before, spike, after) = (m[0].ops_per_sec(), m[1].ops_per_sec(), m[2].ops_per_sec());
        assert!(
            spike > 5.0 * before,
            "spike {spike:.0} vs before {before:.0}"
        );
        assert!(spike > 5.0 * after, "spike {spike:.0} vs after {after:.0}");
    }
}
