//! [`MetricsConfig`]: the `metrics` section.

use std::net::SocketAddr;
use std::time::Duration;

/// Metrics export and logging (`[metrics]`, `POOLSIDE_METRICS__<KEY>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsConfig {
    /// Address of a stand-alone Prometheus listener: the facade serves `/metrics` there
    /// (behind `health.admin_token` when set). Default: none (`/metrics` is on the
    /// application's own router).
    pub exporter_addr: Option<SocketAddr>,
    /// Time between two pool summary log lines. Default: 60 s.
    pub log_interval: Duration,
    /// An operation at least this long counts as slow (counted, logged, and kept among
    /// the slowest recent ones). Default: 100 ms.
    pub slow_query_threshold: Duration,
    /// The sliding window of the in-process snapshot (rates, percentiles). Default:
    /// 60 s.
    pub window: Duration,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            exporter_addr: None,
            log_interval: Duration::from_secs(60),
            slow_query_threshold: Duration::from_millis(100),
            window: Duration::from_secs(60),
        }
    }
}
