//! Bursts: the pool sits idle, then many tasks arrive at once, each with one operation.

use std::time::{Duration, Instant};

use super::{Measurement, Operation, Recorder, Recorders};
use crate::interrupt::Interrupt;

/// `bursts` times: `idle` with no load, then `tasks` tasks started at once, each
/// running `operation` once. Throughput is operations over the time the bursts took
/// to complete. `None` when interrupted before the first burst.
pub(crate) async fn burst(
    operation: Operation,
    tasks: usize,
    bursts: usize,
    idle: Duration,
    interrupt: &Interrupt,
) -> Option<Measurement> {
    let recorders = Recorders::new();
    let mut elapsed = Duration::ZERO;
    let mut ran = 0;
    for _ in 0..bursts {
        if !interrupt.sleep(idle).await {
            break;
        }
        let started = Instant::now();
        let handles: Vec<_> = (0..tasks)
            .map(|_| {
                let operation = operation.clone();
                tokio::spawn(async move { Recorder::run(&operation).await })
            })
            .collect();
        for (index, handle) in handles.into_iter().enumerate() {
            if let Ok((latency, outcome)) = handle.await {
                recorders.record(index, latency, outcome);
            }
        }
        elapsed += started.elapsed();
        ran += 1;
    }
    (ran > 0).then(|| recorders.into_measurement(elapsed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::test_support::sleeping;

    #[tokio::test]
    async fn runs_every_task_of_every_burst_once() {
        let (operation, calls) = sleeping(Duration::from_millis(5));
        let m = burst(
            operation,
            50,
            2,
            Duration::from_millis(10),
            &Interrupt::never(),
        )
        .await
        .expect("measured");
        assert_eq!(m.operations(), 100);
        assert_eq!(calls.load(std::sync::atomic::Ordering::Relaxed), 100);
        assert_eq!(m.errors, 25, "every fourth of 100 fails");
        assert!(m.elapsed < Duration::from_secs(2), "the tasks ran at once");
    }
}
