//! [`MetricsConfig`]: the `metrics` section.

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
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
    /// Which names the figures the OpenTelemetry database conventions cover are
    /// exported under: `poolside` (`poolside_connections_active`, ...) or `otel`
    /// (`db_client_connection_count{db_client_connection_state="used"}`, ...).
    /// Default: `poolside`.
    pub naming: MetricNaming,
    /// Whether an operation's span carries its statement (`db.query.text`), with its
    /// placeholders and never its parameter values. Off by default: SQL built at run
    /// time may hold values. Default: false.
    pub trace_query_text: bool,
    /// The share of operations that get a span, in percent: 100 traces every one, a
    /// lower figure makes spans for that share at random (head sampling; an unsampled
    /// operation makes no span and no child span, and costs nothing of the exporter).
    /// Default: 100.
    pub trace_sample_percent: u32,
}

/// The names metrics are exported under (`metrics.naming`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MetricNaming {
    /// poolside's own, modelled on HikariCP's (`poolside_*`), which the shipped
    /// alerts and dashboard read.
    #[default]
    Poolside,
    /// The OpenTelemetry database client conventions (`db.client.*`), as Prometheus
    /// renders them (`db_client_operation_duration_seconds`). Figures the conventions
    /// do not name keep their `poolside_*` names.
    Otel,
}

impl MetricNaming {
    /// The name as configuration spells it.
    pub fn name(self) -> &'static str {
        match self {
            MetricNaming::Poolside => "poolside",
            MetricNaming::Otel => "otel",
        }
    }
}

impl fmt::Display for MetricNaming {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for MetricNaming {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [MetricNaming::Poolside, MetricNaming::Otel]
            .into_iter()
            .find(|n| n.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| format!("{s:?} is not a metric naming: expected poolside or otel"))
    }
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            exporter_addr: None,
            log_interval: Duration::from_secs(60),
            slow_query_threshold: Duration::from_millis(100),
            window: Duration::from_secs(60),
            naming: MetricNaming::Poolside,
            trace_query_text: false,
            trace_sample_percent: 100,
        }
    }
}
