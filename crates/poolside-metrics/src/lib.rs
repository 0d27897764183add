//! **poolside-metrics** owns observability figures: the recording tower layer, pool
//! figures sampled from `poolside-core`'s statistics, the Prometheus exporter, and
//! percentile snapshots.
//!
//! It may import: `poolside-config`, `poolside-resilience`, `poolside-core`, and outside
//! crates.
//! It must never import: `poolside-health`, `poolside`.
//!
#![doc = include_str!("../README.md")]

mod exporter;
mod labels;
pub mod names;
mod operation;
mod operation_handles;
pub mod otel_names;
mod pool_figures;
mod pool_sources;
mod record;
mod recorder;
mod snapshot;
mod status;
pub mod trace;
mod window;

pub use exporter::{Exporter, ExporterError, Reported};
pub use labels::{Outcome, PoolLabel};
pub use operation::{Operation, OutcomeLabel};
pub use pool_figures::{
    PoolFigures, observe_pg_pool, record_breaker, record_overflow, record_pg_stats,
    record_replica_stats, retry_observer,
};
#[cfg(feature = "redis")]
pub use pool_figures::{record_redis_stats, record_redis_topology};
pub use pool_sources::PoolSources;
pub use record::{Metrics, MetricsLayer, ResponseFuture};
pub use recorder::OperationRecorder;
pub use snapshot::{SlowOperation, Snapshot};
pub use status::{PoolReport, spawn_periodic_log};
pub use trace::{DbTarget, TraceLayer, Traced};
pub use window::Window;
