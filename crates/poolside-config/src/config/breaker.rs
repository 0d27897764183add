//! [`BreakerConfig`]: the `breaker` section.

use std::time::Duration;

/// The circuit breaker in front of each pool (`[breaker]`, `POOLSIDE_BREAKER__<KEY>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreakerConfig {
    /// Opens when at least this share of the calls in the window failed. Default: 50.
    pub failure_rate_percent: u32,
    /// ...and at least this many calls were made in it. Default: 20.
    pub min_calls: u32,
    /// How far back calls count. Default: 10 s.
    pub window: Duration,
    /// How long it stays open before probing. Default: 5 s.
    pub open_for: Duration,
    /// Probe calls let through while half-open; all must succeed to close. Default: 3.
    pub probes: u32,
}

impl Default for BreakerConfig {
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
