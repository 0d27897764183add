//! A sequential run: one task, one operation after another.

use std::time::Instant;

use super::{CpuSpan, Measurement, Operation, Recorder, Recorders, cpu_sample};
use crate::interrupt::Interrupt;

/// Runs `operation` `count` times, one after another (fewer when interrupted).
pub(crate) async fn sequential(
    operation: Operation,
    count: usize,
    interrupt: &Interrupt,
) -> Measurement {
    let recorders = Recorders::new();
    let (cpu_before, started) = (cpu_sample(), Instant::now());
    for _ in 0..count {
        if interrupt.is_set() {
            break;
        }
        let (latency, outcome) = Recorder::run(&operation).await;
        recorders.record(0, latency, outcome);
    }
    let elapsed = started.elapsed();
    Measurement {
        cpu: CpuSpan::since(cpu_before),
        ..recorders.into_measurement(elapsed)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::measure::test_support::sleeping;

    #[tokio::test]
    async fn runs_one_after_another() {
        let (operation, _) = sleeping(Duration::from_millis(2));
        let m = sequential(operation, 20, &Interrupt::never()).await;
        assert_eq!(m.operations(), 20);
        assert!(m.elapsed >= Duration::from_millis(40), "{:?}", m.elapsed);
    }
}
