//! [`ErrorKind`]: the stable classification of every pool error, PostgreSQL and Redis
//! alike, for retry policies, metrics labels and HTTP status mapping.

use std::fmt;

/// What kind of failure an error is. Stable: match on it, label metrics with
/// [`as_str`](ErrorKind::as_str).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// No connection became free within the connection timeout.
    PoolTimeout,
    /// The pool is closed or closing: no new work is accepted.
    PoolClosed,
    /// A connection could not be opened or was lost (refused, reset, server gone).
    Connect,
    /// The server refused the credentials or the database does not exist.
    Auth,
    /// The server rejected a statement (syntax, constraint other than unique, ...).
    Query,
    /// Serialization failure (SQLSTATE 40001): the transaction may be re-run.
    Serialization,
    /// Deadlock detected (SQLSTATE 40P01): the transaction may be re-run.
    Deadlock,
    /// Unique violation (SQLSTATE 23505): never retried.
    UniqueViolation,
    /// The operation was cancelled or ran past its timeout.
    Cancelled,
    /// The backend is not configured or not reachable (Redis optional).
    Unavailable,
    /// Refused at once for want of room: too much work is queued already, or Redis is
    /// at `maxmemory` and refuses writes (`OOM`).
    Overloaded,
}

impl ErrorKind {
    /// A short lowercase name, for logs and metrics labels.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::PoolTimeout => "pool_timeout",
            ErrorKind::PoolClosed => "pool_closed",
            ErrorKind::Connect => "connect",
            ErrorKind::Auth => "auth",
            ErrorKind::Query => "query",
            ErrorKind::Serialization => "serialization",
            ErrorKind::Deadlock => "deadlock",
            ErrorKind::UniqueViolation => "unique_violation",
            ErrorKind::Cancelled => "cancelled",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Overloaded => "overloaded",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
