//! [`TraceLayer`]: runs every operation that passes through it in a `tracing` span
//! named and attributed after the OpenTelemetry database semantic conventions, so that
//! `tracing-opentelemetry` exports it as a client span a collector understands.
//!
//! The span is named after the operation (`db.operation.name`, the caller's name) and
//! carries `db.system.name`, `db.namespace`, `server.address`, `server.port` and the
//! pool's name from the [`DbTarget`] it was built with. What happens below it fills
//! in the rest: the pool records the path it took (`poolside.path`: `pipelined`,
//! `batched_read`, `exclusive`), a replica its name (`poolside.replica`), the retry
//! layer's observer the attempt (`poolside.retry.attempt`), and a failure
//! `db.response.status_code` (the SQLSTATE), `error.type` (the outcome label) and
//! `otel.status_code = "ERROR"`. The query text (`db.query.text`) is recorded only
//! when asked for ([`TraceLayer::with_query_text`]), and only as the statement with
//! its placeholders: parameter values are never recorded. Checkouts and connects run
//! in child spans of their own (`poolside.checkout`, `poolside.connect`). The
//! overflow layer sets `poolside.overflow = true` on a request it sends to the
//! secondary pool.
//!
//! Without a subscriber that wants the span (level INFO, target `poolside::db`), it
//! costs one check of a cached flag.
//!
//! # Examples
//!
//! ```
//! use poolside_metrics::{DbTarget, TraceLayer};
//! use tower::{Layer, ServiceExt};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let target = DbTarget::postgres("postgres", "app", "127.0.0.1", 5432);
//! let service = TraceLayer::new(target).layer(tower::service_fn(
//!     |(_, id): (&'static str, i64)| async move { Ok::<i64, std::convert::Infallible>(id) },
//! ));
//! assert_eq!(service.oneshot(("get_product", 7)).await.unwrap(), 7);
//! # });
//! ```

mod future;
mod layer;
mod service;

pub use future::TraceFuture;
pub use layer::TraceLayer;
pub use poolside_core::DbTarget;
pub use service::Traced;

/// The span fields the layers and pools below record into, by name.
pub use poolside_core::span_fields as fields;
