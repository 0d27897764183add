//! [`BreakerSettings`]: when a [`CircuitBreaker`](super::CircuitBreaker) opens, how long
//! it stays open, and how many probes close it.

use std::time::Duration;

/// A circuit breaker's thresholds. The defaults are `poolside-config`'s `[breaker]`
/// defaults; the facade builds them from that section.
///
/// # Examples
///
/// ```
/// use poolside_resilience::breaker::BreakerSettings;
///
/// let settings = BreakerSettings { min_calls: 5, ..BreakerSettings::default() };
/// assert_eq!((settings.failure_rate_percent, settings.probes), (50, 3));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreakerSettings {
    /// Opens when at least this share of the calls in the window failed.
    pub failure_rate_percent: u32,
    /// ...and at least this many calls were made in it.
    pub min_calls: u32,
    /// How far back calls count.
    pub window: Duration,
    /// How long it stays open before probing.
    pub open_for: Duration,
    /// Probe calls let through while half-open; all must succeed to close.
    pub probes: u32,
}

impl Default for BreakerSettings {
    fn default() -> Self {
        Self {
            failure_rate_percent: 50,
            min_calls: 20,
            window: Duration::from_secs(10),
            open_for: Duration::from_secs(5),
            probes: 3,
        }
    }
}
