//! The fixed label values of poolside's figures: [`PoolLabel`] (`pool`) and
//! [`Outcome`] (`outcome`). Types rather than strings, so that a figure cannot be
//! labelled with a word no dashboard or alert knows.

use poolside_core::ErrorKind;

/// The `pool` label: which of a service's pools a figure is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PoolLabel {
    /// The PostgreSQL pool (`postgres`).
    Postgres,
    /// The overflow pool, which takes critical operations while the primary pool is
    /// busy (`postgres_secondary`).
    Secondary,
    /// The Redis pool (`redis`).
    Redis,
}

impl PoolLabel {
    /// The label's value.
    ///
    /// ```
    /// assert_eq!(poolside_metrics::PoolLabel::Secondary.as_str(), "postgres_secondary");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            PoolLabel::Postgres => "postgres",
            PoolLabel::Secondary => "postgres_secondary",
            PoolLabel::Redis => "redis",
        }
    }

    /// The pool's `db.system.name` in the OpenTelemetry conventions: `postgresql` or
    /// `redis`.
    pub fn db_system(self) -> &'static str {
        match self {
            PoolLabel::Postgres | PoolLabel::Secondary => "postgresql",
            PoolLabel::Redis => "redis",
        }
    }
}

/// The `outcome` label of an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// It succeeded (`ok`).
    Ok,
    /// Its caller dropped it before it finished (`cancelled`).
    Dropped,
    /// It failed, with the error's kind (`pool_timeout`, `serialization`, ...).
    Failed(ErrorKind),
}

impl Outcome {
    /// The label's value.
    ///
    /// ```
    /// use poolside_metrics::Outcome;
    /// use poolside_core::ErrorKind;
    ///
    /// assert_eq!(Outcome::Ok.as_str(), "ok");
    /// assert_eq!(Outcome::Failed(ErrorKind::PoolTimeout).as_str(), "pool_timeout");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Dropped => "cancelled",
            Outcome::Failed(kind) => kind.as_str(),
        }
    }
}
