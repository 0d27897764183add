//! [`Snapshot`]: the operations of the last window, for JSON endpoints, logs and the
//! status screen.

use std::time::SystemTime;

use serde::Serialize;

/// The operations recorded over the last `window_seconds`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Snapshot {
    /// The window the figures cover (shorter right after start).
    pub window_seconds: f64,
    /// Operations finished in the window.
    pub operations: u64,
    /// Operations per second over the window.
    pub per_second: f64,
    /// Mean latency, milliseconds.
    pub mean_ms: f64,
    /// Median latency, milliseconds.
    pub p50_ms: f64,
    /// 95th percentile latency, milliseconds.
    pub p95_ms: f64,
    /// 99th percentile latency, milliseconds.
    pub p99_ms: f64,
    /// Largest latency, milliseconds.
    pub max_ms: f64,
    /// Share of operations that succeeded, percent (100 with none).
    pub success_percent: f64,
    /// Share of operations that failed, percent.
    pub error_percent: f64,
    /// Operations at or over the slow query threshold.
    pub slow: u64,
    /// The slowest recent slow operations, slowest first.
    pub slowest: Vec<SlowOperation>,
}

/// One slow operation: its name and statement shape, never its parameters.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SlowOperation {
    /// The caller's operation name.
    pub operation: &'static str,
    /// The statement with its placeholders, when the request gave one.
    pub statement: Option<String>,
    /// How long it took, milliseconds.
    pub duration_ms: f64,
    /// `ok` or the error's outcome label.
    pub outcome: &'static str,
    /// When it finished.
    #[serde(serialize_with = "seconds_since_epoch")]
    pub finished_at: SystemTime,
}

fn seconds_since_epoch<S: serde::Serializer>(at: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    let seconds = at
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    s.serialize_f64(seconds)
}
