//! **poolside** is the facade: one builder that wires configuration, pools, resilience
//! layers, metrics and health, and re-exports them. It holds no logic of its own.
//!
//! It may import: every poolside crate, and outside crates.
//! It must never be imported by: any poolside crate (only by applications, examples,
//! tests and xtask's load test, which builds its layered system with `layers`).
//!
#![doc = include_str!("../README.md")]

mod builder;
mod error;
pub mod layers;
mod op;
mod poolside;
mod session;
mod stack;

pub use builder::PoolsideBuilder;
pub use error::Error;
pub use op::Op;
pub use poolside::Poolside;
pub use session::Session;

#[cfg(feature = "redis")]
pub use poolside_cache::{OnUnavailable, RedisCache};
pub use poolside_core::{
    ErrorKind, FromRow, Lsn, Params, PgConnection, PgError, PgPool, Row, TransactionBody,
    TransactionFuture,
};
#[cfg(feature = "redis")]
pub use poolside_core::{RedisConnection, RedisError, RedisPool};
pub use poolside_health::{Health, HealthReport, StartupTask, Status};
pub use poolside_metrics::{PoolReport, Snapshot};

/// The configuration crate.
pub use poolside_config as config;
/// The pools.
pub use poolside_core as core;
/// Health checks and endpoints.
pub use poolside_health as health;
/// Metrics.
pub use poolside_metrics as metrics;
/// The tower layers.
pub use poolside_resilience as resilience;
