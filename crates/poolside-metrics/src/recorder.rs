//! [`OperationRecorder`]: what the recording layer does with each finished operation:
//! the Prometheus figures through the `metrics` facade, the sliding window, and a log
//! line for a slow one.

use std::time::{Duration, SystemTime};

use metrics::{counter, histogram};
use poolside_config::MetricNaming;

use crate::labels::{Outcome, PoolLabel};
use crate::operation::OutcomeLabel;
use crate::operation_handles::{Figures, OperationHandles};
use crate::snapshot::{SlowOperation, Snapshot};
use crate::window::Window;
use crate::{names, otel_names};

/// Records the operations of one pool; shared by every service its layer wraps.
#[derive(Debug)]
pub struct OperationRecorder {
    pool: PoolLabel,
    slow_threshold: Duration,
    window: Window,
    naming: MetricNaming,
    handles: OperationHandles,
}

impl OperationRecorder {
    /// Records for the pool labelled `pool`, counting operations of at least
    /// `slow_threshold` as slow, with a snapshot over `window`.
    pub fn new(pool: PoolLabel, slow_threshold: Duration, window: Duration) -> Self {
        Self {
            pool,
            slow_threshold,
            window: Window::new(window),
            naming: MetricNaming::Poolside,
            handles: OperationHandles::default(),
        }
    }

    /// From the `[metrics]` section: its slow query threshold, window and naming.
    pub fn from_config(pool: PoolLabel, config: &poolside_config::MetricsConfig) -> Self {
        Self::new(pool, config.slow_query_threshold, config.window).with_naming(config.naming)
    }

    /// Exports under `naming`: `poolside_operation_duration_seconds` and
    /// `poolside_operations_total`, or the OpenTelemetry
    /// `db_client_operation_duration_seconds` (whose `_count` counts operations).
    pub fn with_naming(mut self, naming: MetricNaming) -> Self {
        self.naming = naming;
        self
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
        self.handles.record(operation, outcome, took, || {
            self.register(operation, outcome)
        });
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

    /// The figures one operation's finishes with `outcome` go to, from the recorder in
    /// effect (looked up once per operation and outcome, then kept).
    fn register(&self, operation: &'static str, outcome: Outcome) -> Figures {
        let pool = self.pool.as_str();
        match self.naming {
            MetricNaming::Poolside => {
                let labels = [
                    ("pool", pool),
                    ("operation", operation),
                    ("outcome", outcome.as_str()),
                ];
                Figures {
                    duration: histogram!(names::OPERATION_SECONDS, &labels),
                    count: Some(counter!(names::OPERATIONS, &labels)),
                }
            }
            MetricNaming::Otel => {
                let system = ("db_system_name", self.pool.db_system());
                let name = ("db_operation_name", operation);
                // The histogram's `_count` counts the operations.
                let duration = match outcome {
                    Outcome::Ok => histogram!(otel_names::OPERATION_DURATION, &[system, name]),
                    failed => histogram!(
                        otel_names::OPERATION_DURATION,
                        &[system, name, ("error_type", failed.as_str())]
                    ),
                };
                Figures {
                    duration,
                    count: None,
                }
            }
        }
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
