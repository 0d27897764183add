//! [`CircuitBreaker`]: the state one pool's callers share: closed, open, half-open.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use parking_lot::{Mutex, MutexGuard};
use std::time::Duration;

use tokio::time::Instant;

use super::{BreakerSettings, CircuitOpen};
use crate::{Classify, Failure};

/// Where the breaker stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BreakerState {
    /// Calls go through; failures are counted.
    Closed,
    /// Calls fail at once.
    Open,
    /// A few probe calls go through; their outcome decides.
    HalfOpen,
}

impl BreakerState {
    /// A short lowercase name, for logs and metrics labels.
    pub fn as_str(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half_open",
        }
    }
}

/// Buckets the window is cut into.
const BUCKETS: usize = 10;

/// Calls of the last window, in buckets counted with atomics: recording an answered
/// call takes no lock (at 100k calls a second a lock per call cost ~5% here).
#[derive(Debug)]
struct Window {
    base: Instant,
    bucket_nanos: u64,
    /// Buckets before this one do not count (set when the breaker closes again).
    floor: AtomicU64,
    buckets: [Bucket; BUCKETS],
}

#[derive(Debug, Default)]
struct Bucket {
    /// Which bucket of time (since `base`) the counts belong to.
    id: AtomicU64,
    answered: AtomicU32,
    failed: AtomicU32,
}

impl Window {
    fn new(window: Duration) -> Self {
        Self {
            base: Instant::now(),
            bucket_nanos: (window.as_nanos() / BUCKETS as u128).max(1) as u64,
            floor: AtomicU64::new(0),
            buckets: Default::default(),
        }
    }

    fn now(&self) -> u64 {
        (self.base.elapsed().as_nanos() / u128::from(self.bucket_nanos)) as u64
    }

    /// Counts one call in the bucket of now, emptying the bucket first when it still
    /// holds an older period's counts.
    fn add(&self, outcome: CallOutcome) {
        let id = self.now();
        let bucket = &self.buckets[(id % BUCKETS as u64) as usize];
        let held = bucket.id.load(Ordering::Acquire);
        if held != id
            && bucket
                .id
                .compare_exchange(held, id, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            bucket.answered.store(0, Ordering::Release);
            bucket.failed.store(0, Ordering::Release);
        }
        match outcome {
            CallOutcome::Answered => bucket.answered.fetch_add(1, Ordering::AcqRel),
            CallOutcome::Failed => bucket.failed.fetch_add(1, Ordering::AcqRel),
        };
    }

    /// (answered, failed) over the last window.
    fn totals(&self) -> (u32, u32) {
        let id = self.now();
        let oldest = id
            .saturating_sub(BUCKETS as u64 - 1)
            .max(self.floor.load(Ordering::Acquire));
        self.buckets
            .iter()
            .filter(|b| (oldest..=id).contains(&b.id.load(Ordering::Acquire)))
            .fold((0, 0), |(answered, failed), b| {
                (
                    answered + b.answered.load(Ordering::Acquire),
                    failed + b.failed.load(Ordering::Acquire),
                )
            })
    }

    /// Forgets every call so far.
    fn clear(&self) {
        self.floor.store(self.now() + 1, Ordering::Release);
    }
}

/// What the breaker's lock guards: where it stands, when it last opened, and its
/// probes while half-open.
#[derive(Debug)]
struct Circuit {
    state: BreakerState,
    opened_at: Instant,
    /// Probes admitted and not yet recorded.
    probes_in_flight: u32,
    /// Probes the backend answered since the breaker went half-open.
    probes_answered: u32,
}

/// How an admitted call ended, as the breaker counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallOutcome {
    /// The backend answered (an error it answered with included).
    Answered,
    /// The backend failed: unreachable, timed out, shut down.
    Failed,
}

impl CallOutcome {
    /// How a call that gave `result` ended: failed when its error is anything but
    /// permanent (the backend's own answer, such as a constraint violation).
    pub fn of<T, E: Classify>(result: &Result<T, E>) -> Self {
        match result {
            Err(error) if error.failure() != Failure::Permanent => CallOutcome::Failed,
            _ => CallOutcome::Answered,
        }
    }
}

/// The state shared by every caller of one pool: one probe tells all of them
/// whether the backend is back, instead of each waiting for its own timeout.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use poolside_resilience::breaker::{BreakerSettings, BreakerState, CallOutcome, CircuitBreaker};
///
/// let breaker = CircuitBreaker::new(BreakerSettings { min_calls: 2, ..Default::default() });
/// for _ in 0..2 {
///     let permit = breaker.admit().expect("closed");
///     permit.record(CallOutcome::Failed);
/// }
/// assert_eq!(breaker.state(), BreakerState::Open);
/// assert!(breaker.admit().is_err(), "fails at once while open");
/// ```
#[derive(Debug, Clone)]
pub struct CircuitBreaker {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    settings: BreakerSettings,
    circuit: Mutex<Circuit>,
    /// Mirrors `BreakerState::Closed`, so that calls on a healthy backend take no lock.
    closed: AtomicBool,
    window: Window,
    opened: AtomicU64,
}

/// Permission for one call, from [`CircuitBreaker::admit`]: record how the call went.
/// Dropped unrecorded (the call was cancelled), it counts as nothing.
#[derive(Debug)]
pub struct Permit {
    breaker: CircuitBreaker,
    probe: bool,
    recorded: bool,
}

impl CircuitBreaker {
    /// A closed breaker with these settings.
    pub fn new(settings: BreakerSettings) -> Self {
        Self {
            shared: Arc::new(Shared {
                settings: BreakerSettings {
                    probes: settings.probes.max(1),
                    min_calls: settings.min_calls.max(1),
                    ..settings
                },
                circuit: Mutex::new(Circuit {
                    state: BreakerState::Closed,
                    opened_at: Instant::now(),
                    probes_in_flight: 0,
                    probes_answered: 0,
                }),
                closed: AtomicBool::new(true),
                window: Window::new(settings.window),
                opened: AtomicU64::new(0),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Circuit> {
        self.shared.circuit.lock()
    }

    /// Where the breaker stands now.
    pub fn state(&self) -> BreakerState {
        self.lock().state
    }

    /// How many times it has opened.
    pub fn times_opened(&self) -> u64 {
        self.shared.opened.load(Ordering::Relaxed)
    }

    /// Runs `call` when the breaker admits it, and records how it went; while the
    /// circuit is open, fails at once with `E`'s open-circuit error. For calls that
    /// are not a tower service, such as a transaction.
    pub async fn call<T, E>(&self, call: impl Future<Output = Result<T, E>>) -> Result<T, E>
    where
        E: Classify + CircuitOpen,
    {
        let permit = self.admit().map_err(E::circuit_open)?;
        let result = call.await;
        permit.record(CallOutcome::of(&result));
        result
    }

    /// Permission for one call, or how long until the breaker probes again.
    pub fn admit(&self) -> Result<Permit, Duration> {
        if self.shared.closed.load(Ordering::Acquire) {
            return Ok(Permit {
                breaker: self.clone(),
                probe: false,
                recorded: false,
            });
        }
        let settings = &self.shared.settings;
        let mut circuit = self.lock();
        let probe = match circuit.state {
            BreakerState::Closed => false,
            BreakerState::Open => {
                let open = circuit.opened_at.elapsed();
                if open < settings.open_for {
                    return Err(settings.open_for - open);
                }
                circuit.state = BreakerState::HalfOpen;
                circuit.probes_in_flight = 1;
                circuit.probes_answered = 0;
                true
            }
            BreakerState::HalfOpen => {
                if circuit.probes_in_flight + circuit.probes_answered >= settings.probes {
                    return Err(settings.open_for);
                }
                circuit.probes_in_flight += 1;
                true
            }
        };
        drop(circuit);
        Ok(Permit {
            breaker: self.clone(),
            probe,
            recorded: false,
        })
    }

    fn open(&self, circuit: &mut Circuit) {
        circuit.state = BreakerState::Open;
        circuit.opened_at = Instant::now();
        self.shared.closed.store(false, Ordering::Release);
        self.shared.opened.fetch_add(1, Ordering::Relaxed);
    }

    /// Records a half-open probe's outcome (`None`: it was cancelled): enough answered
    /// probes close the breaker, one failed probe opens it again.
    fn record_probe(&self, outcome: Option<CallOutcome>) {
        let settings = &self.shared.settings;
        let mut circuit = self.lock();
        if circuit.state != BreakerState::HalfOpen {
            return;
        }
        circuit.probes_in_flight = circuit.probes_in_flight.saturating_sub(1);
        match outcome {
            Some(CallOutcome::Answered) => {
                circuit.probes_answered += 1;
                if circuit.probes_answered >= settings.probes {
                    circuit.state = BreakerState::Closed;
                    self.shared.window.clear();
                    self.shared.closed.store(true, Ordering::Release);
                }
            }
            Some(CallOutcome::Failed) => self.open(&mut circuit),
            None => {}
        }
    }

    /// Records the outcome of a call admitted while closed (`None`: it was
    /// cancelled), opening the breaker when the window's failure rate reaches the
    /// threshold.
    fn record_call(&self, outcome: Option<CallOutcome>) {
        let settings = &self.shared.settings;
        // Calls admitted before the breaker opened count no more.
        let Some(outcome) = outcome else { return };
        if !self.shared.closed.load(Ordering::Acquire) {
            return;
        }
        self.shared.window.add(outcome);
        if outcome == CallOutcome::Answered {
            return; // an answer never opens the breaker: no lock
        }
        let (answered, failed) = self.shared.window.totals();
        let calls = answered + failed;
        if calls >= settings.min_calls
            && u64::from(failed) * 100
                >= u64::from(settings.failure_rate_percent) * u64::from(calls)
        {
            let mut circuit = self.lock();
            if circuit.state == BreakerState::Closed {
                self.open(&mut circuit);
            }
        }
    }
}

impl Permit {
    /// Records how the call went.
    pub fn record(mut self, outcome: CallOutcome) {
        self.settle(Some(outcome));
    }

    /// Tells the breaker the call's outcome, once: `None` for a cancelled call.
    fn settle(&mut self, outcome: Option<CallOutcome>) {
        if std::mem::replace(&mut self.recorded, true) {
            return;
        }
        if self.probe {
            self.breaker.record_probe(outcome);
        } else {
            self.breaker.record_call(outcome);
        }
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.settle(None);
    }
}
