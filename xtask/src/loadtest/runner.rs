//! The closed-loop runner: `concurrency` tasks each run an operation again and again;
//! after a warm-up that is not measured, every operation's latency goes into an HDR
//! histogram.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

/// Longest one operation may take before it counts as a timeout.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(10);

/// How one operation went.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Outcome {
    /// Whether it succeeded.
    pub(crate) ok: bool,
    /// How long it waited for a connection, where the system lets that be seen.
    pub(crate) acquire: Option<Duration>,
}

/// One operation of a system under test.
pub(crate) type Operation =
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Outcome> + Send>> + Send + Sync>;

/// What a run measured.
#[derive(Debug)]
pub(crate) struct Measurement {
    pub(crate) elapsed: Duration,
    /// Latency of every measured operation, in microseconds.
    pub(crate) latency_us: Histogram<u64>,
    /// Connection wait of every measured operation that reports one, in microseconds.
    pub(crate) acquire_us: Option<Histogram<u64>>,
    pub(crate) errors: u64,
    pub(crate) timeouts: u64,
}

impl Measurement {
    /// Operations measured, failed ones included.
    pub(crate) fn operations(&self) -> u64 {
        self.latency_us.len()
    }

    /// Operations per second.
    pub(crate) fn ops_per_sec(&self) -> f64 {
        self.operations() as f64 / self.elapsed.as_secs_f64().max(f64::EPSILON)
    }

    /// Latency at quantile `q`, in milliseconds.
    pub(crate) fn latency_ms(&self, q: f64) -> f64 {
        self.latency_us.value_at_quantile(q) as f64 / 1000.0
    }

    /// Share of operations that succeeded.
    pub(crate) fn success_rate(&self) -> f64 {
        let total = self.operations();
        if total == 0 {
            0.0
        } else {
            (total - self.errors - self.timeouts) as f64 / total as f64
        }
    }
}

fn histogram() -> Histogram<u64> {
    // 1 µs to 100 s, three significant digits.
    Histogram::new_with_bounds(1, 100_000_000, 3)
        .unwrap_or_else(|_| Histogram::new(3).expect("a histogram"))
}

/// Per-task results.
struct TaskResult {
    latency: Histogram<u64>,
    acquire: Histogram<u64>,
    errors: u64,
    timeouts: u64,
}

/// Runs `operation` from `concurrency` tasks for `warm_up` (not measured), then for
/// `duration` (measured), and stops them.
pub(crate) async fn run(
    operation: Operation,
    concurrency: usize,
    warm_up: Duration,
    duration: Duration,
) -> Measurement {
    let measuring = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let (operation, measuring, stop) = (
                Arc::clone(&operation),
                Arc::clone(&measuring),
                Arc::clone(&stop),
            );
            tokio::spawn(async move {
                let mut result = TaskResult {
                    latency: histogram(),
                    acquire: histogram(),
                    errors: 0,
                    timeouts: 0,
                };
                while !stop.load(Ordering::Relaxed) {
                    let started = Instant::now();
                    let outcome = tokio::time::timeout(OPERATION_TIMEOUT, operation()).await;
                    if !measuring.load(Ordering::Relaxed) {
                        continue;
                    }
                    let micros = started.elapsed().as_micros().max(1) as u64;
                    let _ = result.latency.record(micros);
                    match outcome {
                        Ok(outcome) => {
                            if !outcome.ok {
                                result.errors += 1;
                            }
                            if let Some(acquire) = outcome.acquire {
                                let _ = result.acquire.record(acquire.as_micros().max(1) as u64);
                            }
                        }
                        Err(_) => result.timeouts += 1,
                    }
                }
                result
            })
        })
        .collect();
    tokio::time::sleep(warm_up).await;
    measuring.store(true, Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(duration).await;
    stop.store(true, Ordering::Relaxed);
    let elapsed = started.elapsed();

    let mut measurement = Measurement {
        elapsed,
        latency_us: histogram(),
        acquire_us: None,
        errors: 0,
        timeouts: 0,
    };
    let mut acquire = histogram();
    for task in tasks {
        if let Ok(result) = task.await {
            let _ = measurement.latency_us.add(&result.latency);
            let _ = acquire.add(&result.acquire);
            measurement.errors += result.errors;
            measurement.timeouts += result.timeouts;
        }
    }
    measurement.acquire_us = (!acquire.is_empty()).then_some(acquire);
    measurement
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn measures_after_the_warm_up_and_counts_failures() {
        let calls = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let counter = Arc::clone(&calls);
        let operation: Operation = Arc::new(move || {
            let n = counter.fetch_add(1, Ordering::Relaxed);
            Box::pin(async move {
                tokio::time::sleep(Duration::from_millis(2)).await;
                Outcome {
                    ok: !n.is_multiple_of(4),
                    acquire: Some(Duration::from_micros(50)),
                }
            })
        });
        let m = run(
            operation,
            4,
            Duration::from_millis(100),
            Duration::from_millis(300),
        )
        .await;
        let total_calls = calls.load(Ordering::Relaxed);
        assert!(
            m.operations() > 0 && m.operations() < total_calls,
            "warm-up excluded"
        );
        assert!(m.latency_ms(0.5) >= 2.0, "{}", m.latency_ms(0.5));
        assert!(m.errors > 0 && m.success_rate() > 0.6 && m.success_rate() < 0.9);
        assert!(m.acquire_us.is_some());
    }
}
