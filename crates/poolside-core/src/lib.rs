//! **poolside-core** owns the pools: PostgreSQL and Redis on bb8, fair acquisition, the
//! statement cache, the pipelined query path, PgBouncer mode, transactions, batches,
//! leak detection, shutdown and statistics. Its errors carry a stable [`ErrorKind`],
//! which maps to the resilience layers' retry classes ([`poolside_resilience::Classify`]).
//!
//! It may import: `poolside-config`, `poolside-resilience`, `poolside-macros` (the
//! `FromRow` derive), and outside crates.
//! It must never import: `poolside-metrics`, `poolside-health`, `poolside`. Metrics and
//! health read the pools' statistics; the pools never call them.
//!
#![doc = include_str!("../README.md")]

mod acquire_error;
mod answer_progress;
mod client_identity;
mod count_guard;
mod db_target;
mod error_kind;
// Public only for the checkout bench (`benches/checkout.rs`): not part of the API.
#[doc(hidden)]
pub mod fair_pool;
mod file_backed;
mod growing_lru;
mod leases;
mod observer;
mod pg;
mod reconnect_backoff;
#[cfg(feature = "redis")]
mod redis_pool;
mod resilience;
pub mod span_fields;
mod tcp_keepalive;
mod tls_client_config;
mod trusted_roots;

pub use db_target::DbTarget;
pub use error_kind::ErrorKind;
pub use observer::PoolObserver;
pub use pg::{
    ClosedCounts, ConnectionBudget, FromRow, IsolationLevel, Lsn, LsnParseError, Params, PgAnswer,
    PgBouncerBudget, PgConnection, PgError, PgPool, PgRequest, PoolStats, PooledPgConnection,
    PrimaryReason, ReplicaLayer, ReplicaService, ReplicaStats, Replicas, ReplicasStats, Row,
    ServerView, TransactionBody, TransactionFuture, TransactionOptions,
};
/// `#[derive(FromRow)]` (feature `derive`): see [`FromRow`](trait@FromRow).
#[cfg(feature = "derive")]
pub use poolside_macros::FromRow;
/// The Redis driver, re-exported so users need no second dependency.
#[cfg(feature = "redis")]
pub use redis;
#[cfg(feature = "redis")]
pub use redis_pool::{
    ExclusiveRedisConnection, RedisConnection, RedisError, RedisNodeState, RedisPool, RedisPrimary,
    RedisServerInfo, RedisStats, RedisTopology,
};
/// The PostgreSQL driver, re-exported so users need no second dependency.
pub use tokio_postgres;
