//! [`Backoff`]: how long to wait before each retry.

use std::time::Duration;

/// How a retry's delay is drawn under its ceiling.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Jitter {
    /// Uniformly from zero to the ceiling: spreads retrying callers the most.
    #[default]
    Full,
    /// Uniformly from half the ceiling to the ceiling.
    Equal,
    /// The ceiling itself.
    None,
}

/// Exponential backoff: before retry `n` (1 for the first retry) the ceiling is
/// `min(max_delay, base_delay * 2^(n-1))`, and the delay is drawn under it as the
/// jitter says. Full jitter (the default) draws uniformly from `[0, ceiling]`, which
/// spreads retrying callers the most and does the least total work.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use poolside_resilience::Backoff;
///
/// use poolside_resilience::retry::Jitter;
///
/// let backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(2), Jitter::Full);
/// assert_eq!(backoff.ceiling(1), Duration::from_millis(100));
/// assert_eq!(backoff.ceiling(2), Duration::from_millis(200));
/// assert_eq!(backoff.ceiling(9), Duration::from_secs(2), "capped at max_delay");
/// assert!(backoff.delay(1) <= Duration::from_millis(100));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    base_delay: Duration,
    max_delay: Duration,
    jitter: Jitter,
}

impl Backoff {
    /// A backoff from `base_delay` doubling up to `max_delay`.
    pub const fn new(base_delay: Duration, max_delay: Duration, jitter: Jitter) -> Self {
        Self {
            base_delay,
            max_delay,
            jitter,
        }
    }

    /// The longest delay before retry `retry` (1 for the first retry).
    pub fn ceiling(&self, retry: u32) -> Duration {
        let doublings = retry.saturating_sub(1).min(63);
        let factor = 1u64 << doublings;
        let nanos = self
            .base_delay
            .as_nanos()
            .saturating_mul(u128::from(factor));
        let uncapped = Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX));
        uncapped.min(self.max_delay)
    }

    /// The delay before retry `retry`, drawn under [`ceiling`](Self::ceiling).
    pub fn delay(&self, retry: u32) -> Duration {
        let ceiling = self.ceiling(retry);
        match self.jitter {
            Jitter::Full => ceiling.mul_f64(fastrand::f64()),
            Jitter::Equal => ceiling / 2 + (ceiling / 2).mul_f64(fastrand::f64()),
            Jitter::None => ceiling,
        }
    }

    /// The delay before retry `retry` when `remaining` is left of the operation's
    /// deadline, or `None` when waiting would leave no time for the retry itself:
    /// retrying then would only fail later.
    pub fn delay_within(&self, retry: u32, remaining: Duration) -> Option<Duration> {
        let delay = self.delay(retry);
        (delay < remaining).then_some(delay)
    }
}
