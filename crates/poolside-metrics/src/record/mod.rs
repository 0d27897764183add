//! [`MetricsLayer`]: records every operation that passes through it, with its latency
//! and outcome, into an [`OperationRecorder`](crate::OperationRecorder).
//!
//! Outermost in the facade's stack (metrics -> deadline -> retry -> breaker ->
//! failover -> pool), so that a figure covers the whole operation, retries included.
//! Requests name themselves through [`Operation`](crate::Operation), errors label
//! themselves through [`OutcomeLabel`](crate::OutcomeLabel).
//!
//! # Examples
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use poolside_metrics::{MetricsLayer, OperationRecorder, PoolLabel};
//! use tower::{Layer, ServiceExt};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let recorder = Arc::new(OperationRecorder::new(
//!     PoolLabel::Postgres,
//!     Duration::from_millis(100),
//!     Duration::from_secs(60),
//! ));
//! let service = MetricsLayer::new(Arc::clone(&recorder)).layer(tower::service_fn(
//!     |(_, id): (&'static str, i64)| async move { Ok::<i64, std::convert::Infallible>(id) },
//! ));
//! assert_eq!(service.oneshot(("get_product", 7)).await.unwrap(), 7);
//! assert_eq!(recorder.snapshot().operations, 1);
//! # });
//! ```

mod future;
mod layer;
mod service;

pub use future::ResponseFuture;
pub use layer::MetricsLayer;
pub use service::Metrics;
