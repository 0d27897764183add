//! [`RetryConfig`]: the `retry` section.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// Retry policy for operations that are safe to repeat (`[retry]`, `POOLSIDE_RETRY__<KEY>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryConfig {
    /// Tries in all, the first included. Default: 3. Legacy: `DB_RETRY_ATTEMPTS`.
    pub attempts: u32,
    /// Backoff before the first retry, doubled on each. Default: 100 ms. Legacy:
    /// `DB_RETRY_DELAY` (ms).
    pub base_delay: Duration,
    /// Longest backoff between two tries. Default: 2 s.
    pub max_delay: Duration,
    /// How backoff delays are randomised. Default: `full`.
    pub jitter: Jitter,
    /// Deadline across all tries of one operation. Default: 5 s.
    pub total_deadline: Duration,
    /// Retries allowed as a percentage of the requests of the last `budget_window`,
    /// shared by all callers, so that an outage never multiplies the load. 0 to 1000.
    /// Default: 20.
    pub budget_percent: u32,
    /// Retries a second allowed on top of the percentage, for quiet clients. Default: 10.
    pub budget_min_per_sec: u32,
    /// How far back the budget counts requests. 1 s to 60 s. Default: 10 s.
    pub budget_window: Duration,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            attempts: 3,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(2),
            jitter: Jitter::Full,
            total_deadline: Duration::from_secs(5),
            budget_percent: 20,
            budget_min_per_sec: 10,
            budget_window: Duration::from_secs(10),
        }
    }
}

/// How a backoff delay is randomised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Jitter {
    /// A uniform delay in `[0, backoff]`: the least total work under contention.
    #[default]
    Full,
    /// Half the backoff plus a uniform delay in `[0, backoff / 2]`.
    Equal,
    /// The backoff itself, not randomised.
    None,
}

impl Jitter {
    /// The name as configuration spells it.
    pub fn name(self) -> &'static str {
        match self {
            Jitter::Full => "full",
            Jitter::Equal => "equal",
            Jitter::None => "none",
        }
    }
}

impl fmt::Display for Jitter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Jitter {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Jitter::Full, Jitter::Equal, Jitter::None]
            .into_iter()
            .find(|j| j.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| format!("{s:?} is not a jitter: expected full, equal or none"))
    }
}
