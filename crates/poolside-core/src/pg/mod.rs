//! The PostgreSQL pool: [`PgPool`], the connections it hands out, its statistics and
//! errors.

mod background_warm_up;
mod budget;
mod connect_config;
mod connect_spacing;
mod connection;
mod copy_statement;
mod error;
mod from_row;
mod generation;
mod keepalive;
mod leaks;
mod lifetime;
mod manager;
mod owned_params;
mod param_types;
mod params;
mod pending_begin;
mod pipeline;
mod pipelined;
mod pool;
mod pooled;
mod read;
mod replicas;
mod request;
mod row;
mod rows;
mod schema_epoch;
mod session_effects;
mod session_locks;
mod set_config_calls;
mod shared_refusals;
mod statement_cache;
mod statement_call;
mod statement_path;
mod statement_text;
mod stats;
mod temp_objects;
mod tls;
mod transaction;

pub use budget::{ConnectionBudget, PgBouncerBudget};
pub use connection::PgConnection;
pub use error::PgError;
pub use from_row::FromRow;
pub use params::Params;
pub use pool::PgPool;
pub use pooled::PooledPgConnection;
pub use replicas::{
    Lsn, LsnParseError, PrimaryReason, ReplicaLayer, ReplicaService, ReplicaStats, Replicas,
    ReplicasStats,
};
pub use request::{PgAnswer, PgRequest};
pub use row::Row;
pub use stats::{ClosedCounts, PoolStats};
pub use transaction::{IsolationLevel, TransactionBody, TransactionFuture, TransactionOptions};

/// This application's connections as the server sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerView {
    /// The `application_name` counted.
    pub application_name: String,
    /// Connections in `pg_stat_activity` with that name, in this database.
    pub connections: u32,
    /// Of those, how many are running a statement.
    pub active: u32,
    /// The server's `max_connections`.
    pub max_connections: u32,
}
