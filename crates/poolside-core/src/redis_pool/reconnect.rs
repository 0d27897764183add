//! [`ReconnectBackoff`]: how long the Redis pool holds off opening a connection after
//! connects failed in a row, so that a Redis that is down or hanging gets one connect
//! attempt per delay, not one per command, and callers meanwhile fail at once.
//!
//! The manager consults it before each connect, and `RedisPool` before each checkout,
//! so that a held-off caller fails without waiting on bb8 at all.
//!
//! The delays grow as `redis.retry_delay` doubled per failure in a row, for
//! `redis.max_retries` failures (1 s, 2 s, 4 s by default); after that the pool keeps
//! trying at the longest of them and never gives up. A connect that succeeds resets
//! the count. Each delay is up to a quarter shorter, at random: the instances of a
//! service that lost one Redis together would otherwise reconnect at the same
//! moments, every one of them at each step.
//!
//! The failures hold off connects to the server they failed on. In a Sentinel group
//! each connect goes to the primary the sentinels name, and once they announce a
//! failover the failures to the old one hold nothing off: the next connect goes to
//! the new primary at once, not a delay after it took over.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;
use std::time::{Duration, Instant};

use poolside_config::RedisConfig;

use super::RedisError;
use crate::ErrorKind;

/// Up to this fraction of each delay is taken off, at random.
const DELAY_JITTER: f64 = 0.25;

/// The failed connects in a row of one pool, and when the next may start.
#[derive(Debug)]
pub(crate) struct ReconnectBackoff {
    /// The delay after 1, 2, ... failures in a row; the last one repeats.
    delays: Box<[Duration]>,
    /// The fraction of each delay that may be taken off ([`DELAY_JITTER`]).
    jitter: f64,
    /// Whether the latest connect failed: the lock is taken only then.
    failing: AtomicBool,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Connects failed in a row.
    failures: u32,
    /// When the latest of them failed: the next connect may start its delay later.
    failed_at: Option<Instant>,
    /// That delay, jittered when drawn.
    delay: Duration,
    /// The latest failure, which held-off connects report.
    last: Option<Arc<RedisError>>,
    /// The failovers seen when the latest connect failed (always 0 but in a
    /// Sentinel group).
    failovers: u64,
}

/// A connect held off: how long still, and the failure that holds it off.
#[derive(Debug)]
pub(crate) struct HeldOff {
    pub(crate) remaining: Duration,
    pub(crate) failures: u32,
    pub(crate) last: Arc<RedisError>,
}

impl HeldOff {
    /// The error a held-off caller gets: the failure behind it (its kind, and nothing
    /// sent), and when the next connect to `target` may start.
    pub(crate) fn error(&self, target: &str) -> RedisError {
        let kind = match self.last.kind() {
            ErrorKind::Auth => ErrorKind::Auth,
            _ => ErrorKind::Connect,
        };
        RedisError::new(
            kind,
            format!(
                "{}; not reconnecting to {target} for another {:.1?} ({} failed connect(s) in a row; redis.retry_delay and redis.max_retries space the attempts)",
                self.last, self.remaining, self.failures
            ),
        )
    }
}

impl ReconnectBackoff {
    /// The delays `config` sets (`redis.retry_delay`, `redis.max_retries`).
    pub(crate) fn new(config: &RedisConfig) -> Self {
        // Past 32 doublings the delay saturates; validation refuses far less.
        let growing = config.max_retries.clamp(1, 32);
        Self {
            delays: (1..=growing).map(|n| config.reconnect_delay(n)).collect(),
            jitter: DELAY_JITTER,
            failing: AtomicBool::new(false),
            state: Mutex::new(State::default()),
        }
    }

    /// The delay after `failures` failed connects in a row (at least one).
    fn delay_after(&self, failures: u32) -> Duration {
        let index = (failures.max(1) as usize).min(self.delays.len()) - 1;
        self.delays[index]
    }

    /// `Some` while a connect starting at `now`, with `failovers` seen, must not reach
    /// the network: never once a failover was announced after the latest failure.
    pub(crate) fn held_off(&self, now: Instant, failovers: u64) -> Option<HeldOff> {
        if !self.failing.load(Ordering::Acquire) {
            return None;
        }
        let state = self.state.lock();
        if state.failovers != failovers {
            return None;
        }
        let next_attempt = state.failed_at?.checked_add(state.delay)?;
        let remaining = next_attempt
            .checked_duration_since(now)
            .filter(|remaining| !remaining.is_zero())?;
        Some(HeldOff {
            remaining,
            failures: state.failures,
            last: Arc::clone(state.last.as_ref()?),
        })
    }

    /// Records `error`, from a connect that started at `started`, with `failovers`
    /// seen, and failed at `now`; returns how long the next connect is held off.
    /// Connects that overlapped (they started before the latest failure) count as one
    /// failure, not several; the first failure after a failover as the first.
    pub(crate) fn failed(
        &self,
        started: Instant,
        now: Instant,
        failovers: u64,
        error: &RedisError,
    ) -> Duration {
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
        state.last = Some(Arc::new(error.duplicate()));
        self.failing.store(true, Ordering::Release);
        delay
    }

    /// A connect succeeded: the next failure starts from the first delay again.
    pub(crate) fn succeeded(&self) {
        if !self.failing.load(Ordering::Acquire) {
            return;
        }
        let mut state = self.state.lock();
        *state = State::default();
        self.failing.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The delays of `first_delay` and `max_retries`, without jitter unless `jitter`.
    fn backoff_with(first_delay: Duration, max_retries: u32, jitter: bool) -> ReconnectBackoff {
        let backoff = ReconnectBackoff::new(&RedisConfig {
            retry_delay: first_delay,
            max_retries,
            ..RedisConfig::defaults(poolside_config::Profile::Production)
        });
        ReconnectBackoff {
            jitter: if jitter { backoff.jitter } else { 0.0 },
            ..backoff
        }
    }

    fn backoff_of(first_delay: Duration, max_retries: u32) -> ReconnectBackoff {
        backoff_with(first_delay, max_retries, false)
    }

    fn refused() -> RedisError {
        RedisError::new(ErrorKind::Connect, "connecting to 127.0.0.1:1: refused")
    }

    #[test]
    fn delays_double_for_the_growing_ones_then_stay() {
        let backoff = backoff_of(Duration::from_secs(1), 3);
        let delays: Vec<_> = (1..=5).map(|n| backoff.delay_after(n).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 4, 4]);
        let flat = backoff_of(Duration::from_millis(200), 0);
        assert_eq!(flat.delay_after(7), Duration::from_millis(200));
        let huge = backoff_of(Duration::from_secs(1), u32::MAX);
        assert_eq!(huge.delay_after(u32::MAX), Duration::from_secs(1 << 31));
        assert_eq!(huge.delay_after(0), Duration::from_secs(1));
    }

    #[test]
    fn holds_off_until_the_delay_has_passed_and_resets_on_success() {
        let backoff = backoff_of(Duration::from_secs(1), 3);
        let t0 = Instant::now();
        assert!(backoff.held_off(t0, 0).is_none(), "nothing failed yet");

        assert_eq!(
            backoff.failed(t0, t0, 0, &refused()),
            Duration::from_secs(1)
        );
        let held = backoff
            .held_off(t0 + Duration::from_millis(400), 0)
            .expect("held off");
        assert_eq!(held.remaining, Duration::from_millis(600));
        assert_eq!(held.failures, 1);
        let error = held.error("127.0.0.1:1");
        assert_eq!(error.kind(), ErrorKind::Connect);
        assert!(
            error
                .to_string()
                .starts_with("connecting to 127.0.0.1:1: refused; not reconnecting to 127.0.0.1:1 for another 600.0ms (1 failed connect(s) in a row"),
            "{error}"
        );
        let t1 = t0 + Duration::from_secs(1);
        assert!(backoff.held_off(t1, 0).is_none(), "the delay has passed");

        assert_eq!(
            backoff.failed(t1, t1, 0, &refused()),
            Duration::from_secs(2)
        );
        assert!(
            backoff
                .held_off(t1 + Duration::from_millis(1900), 0)
                .is_some()
        );
        backoff.succeeded();
        assert!(backoff.held_off(t1, 0).is_none());
        let t2 = t1 + Duration::from_secs(1);
        assert_eq!(
            backoff.failed(t2, t2, 0, &refused()),
            Duration::from_secs(1),
            "a success starts over"
        );
    }

    #[test]
    fn overlapping_connects_count_as_one_failure() {
        let backoff = backoff_of(Duration::from_secs(1), 3);
        let started = Instant::now();
        let failed = started + Duration::from_millis(10);
        for _ in 0..5 {
            assert_eq!(
                backoff.failed(started, failed, 0, &refused()),
                Duration::from_secs(1)
            );
        }
        let later = failed + Duration::from_secs(1);
        assert_eq!(
            backoff.failed(later, later, 0, &refused()),
            Duration::from_secs(2)
        );
    }

    #[test]
    fn a_failover_lifts_the_hold_and_starts_the_count_over() {
        let backoff = backoff_of(Duration::from_secs(1), 3);
        let t0 = Instant::now();
        backoff.failed(t0, t0, 0, &refused());
        let t1 = t0 + Duration::from_secs(1);
        assert_eq!(
            backoff.failed(t1, t1, 0, &refused()),
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
            backoff.failed(soon, soon, 1, &refused()),
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
                let backoff = backoff_with(Duration::from_secs(4), 3, true);
                let delay = backoff.failed(t0, t0, 0, &refused());
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
