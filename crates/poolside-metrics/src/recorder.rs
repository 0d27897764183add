//! [`OperationRecorder`]: what the recording layer does with each finished operation:
//! the Prometheus figures through the `metrics` facade, the sliding window, and a log
//! line for a slow one.

use std::time::{Duration, SystemTime};

use metrics::{counter, histogram};

use crate::labels::{Outcome, PoolLabel};
use crate::names;
use crate::operation::OutcomeLabel;
use crate::snapshot::{SlowOperation, Snapshot};
use crate::window::Window;

/// Records the operations of one pool; shared by every service its layer wraps.
#[derive(Debug)]
pub struct OperationRecorder {
    pool: PoolLabel,
    slow_threshold: Duration,
    window: Window,
}

impl OperationRecorder {
    /// Records for the pool labelled `pool`, counting operations of at least
    /// `slow_threshold` as slow, with a snapshot over `window`.
    pub fn new(pool: PoolLabel, slow_threshold: Duration, window: Duration) -> Self {
        Self {
            pool,
            slow_threshold,
            window: Window::new(window),
        }
    }

    /// From the `[metrics]` section: its slow query threshold and window.
    pub fn from_config(pool: PoolLabel, config: &poolside_config::MetricsConfig) -> Self {
        Self::new(pool, config.slow_query_threshold, config.window)
    }

    /// The pool label.
    pub fn pool(&self) -> PoolLabel {
        self.pool
    }

    /// Records one finished operation and how it ended.
    pub fn record(
        &self,
        operation: &'static str,
        statement: Option<&str>,
        took: Duration,
        outcome: Outcome,
    ) {
        let pool = self.pool.as_str();
        let labels = [
            ("pool", pool),
            ("operation", operation),
            ("outcome", outcome.as_str()),
        ];
        histogram!(names::OPERATION_SECONDS, &labels).record(took.as_secs_f64());
        counter!(names::OPERATIONS, &labels).increment(1);
        let slow = took >= self.slow_threshold;
        let slow = slow.then(|| {
            counter!(names::SLOW_OPERATIONS, "pool" => pool, "operation" => operation).increment(1);
            tracing::warn!(
                target: "poolside::metrics",
                pool,
                operation,
                statement = statement.unwrap_or(""),
                took_ms = took.as_secs_f64() * 1000.0,
                outcome = outcome.as_str(),
                "slow operation"
            );
            SlowOperation {
                operation,
                statement: statement.map(str::to_owned),
                duration_ms: took.as_secs_f64() * 1000.0,
                outcome: outcome.as_str(),
                finished_at: SystemTime::now(),
            }
        });
        self.window.record(took, outcome == Outcome::Ok, slow);
    }

    /// Records one finished operation by its result: [`Outcome::Ok`], or the error's
    /// outcome.
    pub fn record_result<T, E: OutcomeLabel>(
        &self,
        operation: &'static str,
        statement: Option<&str>,
        took: Duration,
        result: &Result<T, E>,
    ) {
        let outcome = match result {
            Ok(_) => Outcome::Ok,
            Err(e) => e.outcome(),
        };
        self.record(operation, statement, took, outcome);
    }

    /// The operations of the last window.
    pub fn snapshot(&self) -> Snapshot {
        self.window.snapshot()
    }
}
