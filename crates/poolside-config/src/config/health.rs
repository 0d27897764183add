//! [`HealthConfig`]: the `health` section.

use std::time::Duration;

/// The background health monitor (`[health]`, `POOLSIDE_HEALTH__<KEY>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthConfig {
    /// Time between two checks of each dependency. Default: 30 s.
    pub check_interval: Duration,
    /// Longest one check may take before it counts as failed. Default: 5 s.
    pub check_timeout: Duration,
    /// Pool utilisation, in percent, reported as `warning`. Default: 70.
    pub warning_utilization: u32,
    /// Pool utilisation, in percent, reported as `critical`. Default: 90.
    pub critical_utilization: u32,
    /// p99 latency above which `/health/alerts` raises an alert. Default: 500 ms.
    pub p99_limit: Duration,
    /// Error rate, in percent, above which `/health/alerts` raises an alert. Default: 5.
    pub error_rate_percent: u32,
    /// Cache hit rate, in percent, below which `/health/alerts` raises an alert.
    /// Default: 70.
    pub cache_hit_rate_percent: u32,
}

impl Default for HealthConfig {
    fn default() -> Self {
        Self {
            check_interval: Duration::from_secs(30),
            check_timeout: Duration::from_secs(5),
            warning_utilization: 70,
            critical_utilization: 90,
            p99_limit: Duration::from_millis(500),
            error_rate_percent: 5,
            cache_hit_rate_percent: 70,
        }
    }
}
