//! Measuring a system: the shapes of load (a closed loop in phases, bursts, a
//! sequential run), each recording every operation's latency in an HDR histogram.

mod burst;
mod connections;
mod cpu;
mod phases;
mod placement;
mod sequential;

pub(crate) use burst::burst;
pub(crate) use connections::{ConnectionSample, ConnectionSampler};
pub(crate) use cpu::{
    CpuClock, CpuPerOp, CpuSpan, install as install_cpu_clock, postmaster_of_backend,
    postmaster_pid, sample as cpu_sample,
};
pub(crate) use phases::{closed_loop, phases};
pub(crate) use placement::placed_on;
pub(crate) use sequential::sequential;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use parking_lot::Mutex;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

/// Longest one operation may take before it counts as a timeout.
pub(crate) const OPERATION_TIMEOUT: Duration = Duration::from_secs(10);

/// How one operation went.
#[derive(Debug, Clone, Default)]
pub(crate) struct Outcome {
    /// The error's message when it failed.
    pub(crate) error: Option<String>,
    /// How long it waited for a connection, where the system lets that be seen.
    pub(crate) acquire: Option<Duration>,
}

impl Outcome {
    /// An outcome from a result, with no acquire time.
    pub(crate) fn of<E: std::fmt::Display>(result: Result<(), E>) -> Self {
        Self {
            error: result.err().map(|e| e.to_string()),
            acquire: None,
        }
    }
}

/// One operation of a system under test.
pub(crate) type Operation =
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Outcome> + Send>> + Send + Sync>;

/// The operation that runs `call` on a clone of `shared` (a pool, a client) each time.
pub(crate) fn per_call<S, F, Fut>(shared: S, call: F) -> Operation
where
    S: Clone + Send + Sync + 'static,
    F: Fn(S) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Outcome> + Send + 'static,
{
    Arc::new(move || Box::pin(call(shared.clone())))
}

/// What one measured stretch of load recorded.
#[derive(Debug)]
pub(crate) struct Measurement {
    /// Time the measured operations ran in.
    pub(crate) elapsed: Duration,
    /// Latency of every measured operation, in microseconds.
    pub(crate) latency_us: Histogram<u64>,
    /// Connection wait of every measured operation that reports one, in microseconds.
    pub(crate) acquire_us: Option<Histogram<u64>>,
    pub(crate) errors: u64,
    pub(crate) timeouts: u64,
    /// The first error seen, to show why operations failed.
    pub(crate) first_error: Option<String>,
    /// CPU times at the start and the end of the measured stretch.
    pub(crate) cpu: Option<CpuSpan>,
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
            total.saturating_sub(self.errors + self.timeouts) as f64 / total as f64
        }
    }
}

/// A histogram from 1 µs to 100 s, three significant digits.
fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 100_000_000, 3)
        .unwrap_or_else(|_| Histogram::new(3).expect("a histogram"))
}

/// What a share of the tasks recorded; merged into a [`Measurement`] at the end.
#[derive(Debug)]
struct Recorder {
    latency: Histogram<u64>,
    acquire: Histogram<u64>,
    errors: u64,
    timeouts: u64,
    first_error: Option<String>,
}

impl Recorder {
    fn new() -> Self {
        Self {
            latency: histogram(),
            acquire: histogram(),
            errors: 0,
            timeouts: 0,
            first_error: None,
        }
    }

    /// Runs `operation` once, bounded by [`OPERATION_TIMEOUT`]; returns its latency
    /// and how it went (`None`: timed out).
    async fn run(operation: &Operation) -> (Duration, Option<Outcome>) {
        let started = Instant::now();
        let outcome = tokio::time::timeout(OPERATION_TIMEOUT, operation())
            .await
            .ok();
        (started.elapsed(), outcome)
    }

    fn record(&mut self, latency: Duration, outcome: Option<Outcome>) {
        let _ = self.latency.record(micros(latency));
        match outcome {
            Some(outcome) => {
                if let Some(error) = outcome.error {
                    self.errors += 1;
                    self.first_error.get_or_insert(error);
                }
                if let Some(acquire) = outcome.acquire {
                    let _ = self.acquire.record(micros(acquire));
                }
            }
            None => self.timeouts += 1,
        }
    }
}

/// Recorders shared by many tasks, a few of them so that tasks seldom wait for each
/// other's lock. One histogram per task would cost ~150 KB each: 300 MB at 1000 tasks,
/// which would swamp the memory figures of the soak scenario.
#[derive(Debug)]
struct Recorders(Vec<Mutex<Recorder>>);

impl Recorders {
    const SHARDS: usize = 16;

    fn new() -> Self {
        Self(
            (0..Self::SHARDS)
                .map(|_| Mutex::new(Recorder::new()))
                .collect(),
        )
    }

    /// Records one operation of task `task`.
    fn record(&self, task: usize, latency: Duration, outcome: Option<Outcome>) {
        self.0[task % Self::SHARDS].lock().record(latency, outcome);
    }

    /// Everything recorded, as one measurement over `elapsed`.
    fn into_measurement(self, elapsed: Duration) -> Measurement {
        let mut latency = histogram();
        let mut acquire = histogram();
        let (mut errors, mut timeouts, mut first_error) = (0, 0, None);
        for r in self.0 {
            let r = r.into_inner();
            let _ = latency.add(&r.latency);
            let _ = acquire.add(&r.acquire);
            errors += r.errors;
            timeouts += r.timeouts;
            first_error = first_error.or(r.first_error);
        }
        Measurement {
            elapsed,
            latency_us: latency,
            acquire_us: (!acquire.is_empty()).then_some(acquire),
            errors,
            timeouts,
            first_error,
            cpu: None,
        }
    }
}

fn micros(d: Duration) -> u64 {
    d.as_micros().clamp(1, u128::from(u64::MAX)) as u64
}

#[cfg(test)]
mod test_support {
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;

    /// An operation that sleeps `latency`, fails every fourth call, and reports an
    /// acquire time; with the count of calls.
    pub(crate) fn sleeping(latency: Duration) -> (Operation, Arc<AtomicU64>) {
        let calls = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&calls);
        let operation: Operation = Arc::new(move || {
            let n = counter.fetch_add(1, Ordering::Relaxed);
            Box::pin(async move {
                tokio::time::sleep(latency).await;
                Outcome {
                    error: n.is_multiple_of(4).then(|| "every fourth fails".to_owned()),
                    acquire: Some(Duration::from_micros(50)),
                }
            })
        });
        (operation, calls)
    }
}
