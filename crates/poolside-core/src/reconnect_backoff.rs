//! [`ReconnectBackoff`]: the generic core of both backends' reconnect spacing. After
//! connects failed in a row, a pool holds off opening a connection for a delay, so
//! that a server that is down, starting up or out of connection slots gets one
//! connect attempt per delay, not one per caller; the held-off connects fail at once
//! with the failure behind them, touching no network.
//!
//! The delays grow per failure in a row up to the last one, which repeats; a connect
//! that succeeds resets the count. Each delay is up to a quarter shorter, at random:
//! the instances of a service that lost their server together would otherwise
//! reconnect at the same moments, every one of them at each step.
//!
//! Once a delay has passed, one connect goes out; the others wait for it (up to
//! another delay), so that a pool whose callers all want a connection sends one
//! connect per delay, not one per connection slot.
//!
//! A backend with failovers it hears of (a Redis Sentinel group) passes their count:
//! failures before the latest failover hold nothing off.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// Up to this fraction of each delay is taken off, at random.
const DELAY_JITTER: f64 = 0.25;

/// The failed connects in a row of one pool, and when the next may start; `E` is the
/// backend's error.
#[derive(Debug)]
pub(crate) struct ReconnectBackoff<E> {
    /// The delay after 1, 2, ... failures in a row; the last one repeats.
    delays: Box<[Duration]>,
    /// The fraction of each delay that may be taken off ([`DELAY_JITTER`]).
    jitter: f64,
    /// Whether the latest connect failed: the lock is taken only then.
    failing: AtomicBool,
    state: Mutex<State<E>>,
}

#[derive(Debug)]
struct State<E> {
    /// Connects failed in a row.
    failures: u32,
    /// When the latest of them failed: the next connect may start its delay later.
    failed_at: Option<Instant>,
    /// That delay, jittered when drawn.
    delay: Duration,
    /// When the next connect may start: the latest failure plus its delay, or a
    /// delay after the connect that went out once it had passed.
    opens_at: Option<Instant>,
    /// The latest failure, which held-off connects report.
    last: Option<Arc<E>>,
    /// The failovers seen when the latest connect failed.
    failovers: u64,
}

impl<E> Default for State<E> {
    fn default() -> Self {
        Self {
            failures: 0,
            failed_at: None,
            delay: Duration::ZERO,
            opens_at: None,
            last: None,
            failovers: 0,
        }
    }
}

/// A connect held off: how long still, and the failure that holds it off.
#[derive(Debug)]
pub(crate) struct HeldOff<E> {
    pub(crate) remaining: Duration,
    pub(crate) failures: u32,
    pub(crate) last: Arc<E>,
}

/// What a failed connect leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NextConnect {
    /// How long the next connect is held off.
    pub(crate) delay: Duration,
    /// Connects failed in a row, this one included (overlapping ones count once).
    pub(crate) failures: u32,
}

impl<E> ReconnectBackoff<E> {
    /// Holds off connects for `delays[0]` after a first failure, `delays[1]` after a
    /// second in a row, and so on; the last delay repeats. No delay, no hold.
    pub(crate) fn new(delays: impl IntoIterator<Item = Duration>) -> Self {
        let mut delays: Vec<Duration> = delays.into_iter().collect();
        if delays.is_empty() {
            delays.push(Duration::ZERO);
        }
        Self {
            delays: delays.into_boxed_slice(),
            jitter: DELAY_JITTER,
            failing: AtomicBool::new(false),
            state: Mutex::new(State::default()),
        }
    }

    /// The delay after `failures` failed connects in a row (at least one), before
    /// jitter.
    pub(crate) fn delay_after(&self, failures: u32) -> Duration {
        let index = (failures.max(1) as usize).min(self.delays.len()) - 1;
        self.delays[index]
    }

    /// `Some` while a connect starting at `now`, with `failovers` seen, must not reach
    /// the network: never once a failover was announced after the latest failure.
    /// A look only, for a checkout that would fail at once (the Redis pool's).
    #[cfg(any(feature = "redis", test))]
    pub(crate) fn held_off(&self, now: Instant, failovers: u64) -> Option<HeldOff<E>> {
        if !self.failing.load(Ordering::Acquire) {
            return None;
        }
        Self::holding(&self.state.lock(), now, failovers)
    }

    /// [`held_off`](Self::held_off) for a connect about to start at `now`: when it is
    /// not held off while connects fail, it goes out alone, and the connects that
    /// would start in the next delay are held off until it has failed or succeeded.
    pub(crate) fn start_connect(&self, now: Instant, failovers: u64) -> Option<HeldOff<E>> {
        if !self.failing.load(Ordering::Acquire) {
            return None;
        }
        let mut state = self.state.lock();
        let held = Self::holding(&state, now, failovers);
        if held.is_none() && state.failovers == failovers {
            state.opens_at = now.checked_add(state.delay);
        }
        held
    }

    fn holding(state: &State<E>, now: Instant, failovers: u64) -> Option<HeldOff<E>> {
        if state.failovers != failovers {
            return None;
        }
        let remaining = state
            .opens_at?
            .checked_duration_since(now)
            .filter(|remaining| !remaining.is_zero())?;
        Some(HeldOff {
            remaining,
            failures: state.failures,
            last: Arc::clone(state.last.as_ref()?),
        })
    }

    /// Records `error`, from a connect that started at `started`, with `failovers`
    /// seen, and failed at `now`. Connects that overlapped (they started before the
    /// latest failure) count as one failure, not several; the first failure after a
    /// failover as the first.
    pub(crate) fn failed(
        &self,
        started: Instant,
        now: Instant,
        failovers: u64,
        error: Arc<E>,
    ) -> NextConnect {
        let mut state = self.state.lock();
        if state.failovers != failovers {
            state.failures = 0;
            state.failed_at = None;
            state.failovers = failovers;
        }
        let overlapped = state.failed_at.is_some_and(|at| started <= at);
        if !overlapped {
            state.failures = state.failures.saturating_add(1);
        }
        let delay = self
            .delay_after(state.failures)
            .mul_f64(1.0 - self.jitter * fastrand::f64());
        state.failed_at = Some(now);
        state.delay = delay;
        state.opens_at = now.checked_add(delay);
        state.last = Some(error);
        self.failing.store(true, Ordering::Release);
        NextConnect {
            delay,
            failures: state.failures,
        }
    }

    /// A connect succeeded: the next failure starts from the first delay again.
    /// Returns the failures in a row it ends (0 when the last connect succeeded too).
    pub(crate) fn succeeded(&self) -> u32 {
        if !self.failing.load(Ordering::Acquire) {
            return 0;
        }
        let mut state = self.state.lock();
        let failures = state.failures;
        *state = State::default();
        self.failing.store(false, Ordering::Release);
        failures
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 1 s doubling to 4 s, without jitter unless `jitter`.
    fn backoff_with(first: Duration, jitter: bool) -> ReconnectBackoff<String> {
        ReconnectBackoff {
            jitter: if jitter { DELAY_JITTER } else { 0.0 },
            ..ReconnectBackoff::new([first, first * 2, first * 4])
        }
    }

    fn backoff() -> ReconnectBackoff<String> {
        backoff_with(Duration::from_secs(1), false)
    }

    fn refused() -> Arc<String> {
        Arc::new("connecting to 127.0.0.1:1: refused".to_owned())
    }

    #[test]
    fn delays_grow_then_the_last_repeats() {
        let backoff = backoff();
        let delays: Vec<_> = (0..=5).map(|n| backoff.delay_after(n).as_secs()).collect();
        assert_eq!(delays, [1, 1, 2, 4, 4, 4]);
        let none = ReconnectBackoff::<String>::new([]);
        assert_eq!(none.delay_after(3), Duration::ZERO);
        let t0 = Instant::now();
        none.failed(t0, t0, 0, refused());
        assert!(none.held_off(t0, 0).is_none(), "no delay, no hold");
    }

    #[test]
    fn holds_off_until_the_delay_has_passed_and_resets_on_success() {
        let backoff = backoff();
        let t0 = Instant::now();
        assert!(backoff.held_off(t0, 0).is_none(), "nothing failed yet");

        let next = backoff.failed(t0, t0, 0, refused());
        assert_eq!(
            next,
            NextConnect {
                delay: Duration::from_secs(1),
                failures: 1
            }
        );
        let held = backoff
            .held_off(t0 + Duration::from_millis(400), 0)
            .expect("held off");
        assert_eq!(held.remaining, Duration::from_millis(600));
        assert_eq!(held.failures, 1);
        assert_eq!(*held.last, *refused());
        let t1 = t0 + Duration::from_secs(1);
        assert!(backoff.held_off(t1, 0).is_none(), "the delay has passed");

        assert_eq!(
            backoff.failed(t1, t1, 0, refused()).delay,
            Duration::from_secs(2)
        );
        assert!(
            backoff
                .held_off(t1 + Duration::from_millis(1900), 0)
                .is_some()
        );
        assert_eq!(backoff.succeeded(), 2);
        assert_eq!(backoff.succeeded(), 0);
        assert!(backoff.held_off(t1, 0).is_none());
        let t2 = t1 + Duration::from_secs(1);
        assert_eq!(
            backoff.failed(t2, t2, 0, refused()).delay,
            Duration::from_secs(1),
            "a success starts over"
        );
    }

    #[test]
    fn once_the_delay_passed_one_connect_goes_out_and_the_others_wait_for_it() {
        let backoff = backoff();
        let t0 = Instant::now();
        assert!(backoff.start_connect(t0, 0).is_none(), "nothing failed yet");
        assert!(backoff.start_connect(t0, 0).is_none(), "nor held off");
        backoff.failed(t0, t0, 0, refused());
        let t1 = t0 + Duration::from_secs(1);
        assert!(backoff.held_off(t1, 0).is_none(), "a look holds nothing");
        assert!(backoff.start_connect(t1, 0).is_none(), "the first goes out");
        let held = backoff
            .start_connect(t1 + Duration::from_millis(300), 0)
            .expect("the second waits for it");
        assert_eq!(held.remaining, Duration::from_millis(700));
        assert!(
            backoff.held_off(t1, 0).is_some(),
            "checkouts see the hold too"
        );
        // One that hangs past a delay: another goes out then.
        let t2 = t1 + Duration::from_secs(1);
        assert!(backoff.start_connect(t2, 0).is_none());
        assert!(backoff.start_connect(t2, 0).is_some());
        assert!(
            backoff.start_connect(t2, 1).is_none(),
            "a failover lifts the hold"
        );
        // It fails: counted as the second failure, the hold now its delay.
        let t3 = t2 + Duration::from_millis(50);
        assert_eq!(backoff.failed(t2, t3, 0, refused()).failures, 2);
        assert_eq!(
            backoff.start_connect(t3, 0).expect("held off").remaining,
            Duration::from_secs(2)
        );
        backoff.succeeded();
        assert!(backoff.start_connect(t3, 0).is_none());
        assert!(
            backoff.start_connect(t3, 0).is_none(),
            "connects succeed again"
        );
    }

    #[test]
    fn overlapping_connects_count_as_one_failure() {
        let backoff = backoff();
        let started = Instant::now();
        let failed = started + Duration::from_millis(10);
        for _ in 0..5 {
            assert_eq!(
                backoff.failed(started, failed, 0, refused()),
                NextConnect {
                    delay: Duration::from_secs(1),
                    failures: 1
                }
            );
        }
        let later = failed + Duration::from_secs(1);
        assert_eq!(
            backoff.failed(later, later, 0, refused()).delay,
            Duration::from_secs(2)
        );
    }

    #[test]
    fn a_failover_lifts_the_hold_and_starts_the_count_over() {
        let backoff = backoff();
        let t0 = Instant::now();
        backoff.failed(t0, t0, 0, refused());
        let t1 = t0 + Duration::from_secs(1);
        assert_eq!(
            backoff.failed(t1, t1, 0, refused()).delay,
            Duration::from_secs(2)
        );
        let soon = t1 + Duration::from_millis(100);
        assert!(
            backoff.held_off(soon, 0).is_some(),
            "the old primary failed"
        );
        assert!(
            backoff.held_off(soon, 1).is_none(),
            "the sentinels named a new primary since"
        );
        assert_eq!(
            backoff.failed(soon, soon, 1, refused()).delay,
            Duration::from_secs(1),
            "the first failure on the new primary"
        );
        assert!(
            backoff
                .held_off(soon + Duration::from_millis(500), 1)
                .is_some()
        );
    }

    #[test]
    fn pools_that_failed_together_reconnect_at_their_own_moments() {
        let t0 = Instant::now();
        let delays: Vec<Duration> = (0..200)
            .map(|_| {
                let backoff = backoff_with(Duration::from_secs(4), true);
                let delay = backoff.failed(t0, t0, 0, refused()).delay;
                let held = backoff.held_off(t0, 0).expect("held off");
                assert_eq!(held.remaining, delay, "held off for the delay it returned");
                assert!(
                    backoff.held_off(t0 + delay, 0).is_none(),
                    "free once its delay has passed"
                );
                delay
            })
            .collect();
        assert!(
            delays
                .iter()
                .all(|d| (Duration::from_secs(3)..=Duration::from_secs(4)).contains(d)),
            "each delay between 3/4 of 4 s and 4 s: {delays:?}"
        );
        let shortest = delays.iter().min().expect("200 delays");
        let longest = delays.iter().max().expect("200 delays");
        assert!(
            *longest - *shortest > Duration::from_millis(500),
            "200 pools spread their reconnects over {:?} only",
            *longest - *shortest
        );
    }
}
