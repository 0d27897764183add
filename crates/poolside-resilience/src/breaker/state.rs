//! [`CircuitBreaker`]: the state one pool's callers share: closed, open, half-open.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use poolside_config::BreakerConfig;

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

#[derive(Debug)]
enum State {
    Closed,
    Open { since: Instant },
    HalfOpen { in_flight: u32, succeeded: u32 },
}

#[derive(Debug)]
struct Window {
    started: Instant,
    current: usize,
    /// (succeeded, failed) per bucket.
    counts: [(u32, u32); BUCKETS],
}

impl Window {
    fn new() -> Self {
        Self {
            started: Instant::now(),
            current: 0,
            counts: [(0, 0); BUCKETS],
        }
    }

    fn advance(&mut self, bucket: Duration) {
        let passed = (self.started.elapsed().as_nanos() / bucket.as_nanos().max(1)) as usize;
        for _ in 0..passed.min(BUCKETS) {
            self.current = (self.current + 1) % BUCKETS;
            self.counts[self.current] = (0, 0);
        }
        if passed > 0 {
            self.started = Instant::now();
        }
    }

    fn totals(&self) -> (u32, u32) {
        self.counts
            .iter()
            .fold((0, 0), |(ok, failed), (o, f)| (ok + o, failed + f))
    }
}

#[derive(Debug)]
struct Inner {
    state: State,
    window: Window,
}

/// How an admitted call ended, as the breaker counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallOutcome {
    /// The backend answered (an error it answered with included).
    Answered,
    /// The backend failed: unreachable, timed out, shut down.
    Failed,
}

/// The state shared by every caller of one pool: one probe tells all of them
/// whether the backend is back, instead of each waiting for its own timeout.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use poolside_resilience::breaker::{BreakerConfig, BreakerState, CallOutcome, CircuitBreaker};
///
/// let breaker = CircuitBreaker::new(BreakerConfig { min_calls: 2, ..Default::default() });
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
    settings: BreakerConfig,
    inner: Mutex<Inner>,
    opened: AtomicU64,
}

/// Leave to make one call; record how it went. Dropped unrecorded (the call was
/// cancelled), it counts as nothing.
#[derive(Debug)]
pub struct Permit {
    breaker: CircuitBreaker,
    probe: bool,
    recorded: bool,
}

impl CircuitBreaker {
    /// A closed breaker with the `[breaker]` settings.
    pub fn new(settings: BreakerConfig) -> Self {
        Self {
            shared: Arc::new(Shared {
                settings: BreakerConfig {
                    probes: settings.probes.max(1),
                    min_calls: settings.min_calls.max(1),
                    ..settings
                },
                inner: Mutex::new(Inner {
                    state: State::Closed,
                    window: Window::new(),
                }),
                opened: AtomicU64::new(0),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.shared
            .inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Where the breaker stands now.
    pub fn state(&self) -> BreakerState {
        match self.lock().state {
            State::Closed => BreakerState::Closed,
            State::Open { .. } => BreakerState::Open,
            State::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }

    /// How many times it has opened.
    pub fn times_opened(&self) -> u64 {
        self.shared.opened.load(Ordering::Relaxed)
    }

    /// Leave for one call, or how long until the breaker probes again.
    pub fn admit(&self) -> Result<Permit, Duration> {
        let settings = &self.shared.settings;
        let mut inner = self.lock();
        let probe = match &mut inner.state {
            State::Closed => false,
            State::Open { since } => {
                let open = since.elapsed();
                if open < settings.open_for {
                    return Err(settings.open_for - open);
                }
                inner.state = State::HalfOpen {
                    in_flight: 1,
                    succeeded: 0,
                };
                true
            }
            State::HalfOpen {
                in_flight,
                succeeded,
            } => {
                if *in_flight + *succeeded >= settings.probes {
                    return Err(settings.open_for);
                }
                *in_flight += 1;
                true
            }
        };
        drop(inner);
        Ok(Permit {
            breaker: self.clone(),
            probe,
            recorded: false,
        })
    }

    fn open(&self, inner: &mut Inner) {
        inner.state = State::Open {
            since: Instant::now(),
        };
        self.shared.opened.fetch_add(1, Ordering::Relaxed);
    }

    fn finish(&self, probe: bool, outcome: Option<CallOutcome>) {
        let settings = &self.shared.settings;
        let mut inner = self.lock();
        if probe {
            if let State::HalfOpen {
                in_flight,
                succeeded,
            } = &mut inner.state
            {
                *in_flight = in_flight.saturating_sub(1);
                match outcome {
                    Some(CallOutcome::Answered) => {
                        *succeeded += 1;
                        if *succeeded >= settings.probes {
                            inner.state = State::Closed;
                            inner.window = Window::new();
                        }
                    }
                    Some(CallOutcome::Failed) => self.open(&mut inner),
                    None => {}
                }
            }
            return;
        }
        // Calls admitted before the breaker opened count no more.
        let (State::Closed, Some(outcome)) = (&inner.state, outcome) else {
            return;
        };
        inner.window.advance(settings.window / BUCKETS as u32);
        let current = inner.window.current;
        match outcome {
            CallOutcome::Answered => inner.window.counts[current].0 += 1,
            CallOutcome::Failed => inner.window.counts[current].1 += 1,
        }
        let (answered, failed) = inner.window.totals();
        let calls = answered + failed;
        if calls >= settings.min_calls
            && u64::from(failed) * 100
                >= u64::from(settings.failure_rate_percent) * u64::from(calls)
        {
            self.open(&mut inner);
        }
    }
}

impl Permit {
    /// Records how the call went.
    pub fn record(mut self, outcome: CallOutcome) {
        self.recorded = true;
        self.breaker.finish(self.probe, Some(outcome));
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if !self.recorded {
            self.breaker.finish(self.probe, None);
        }
    }
}
