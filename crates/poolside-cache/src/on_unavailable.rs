//! [`OnUnavailable`]: what the cache does without Redis.

/// What the cache does when Redis is not configured or cannot be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnUnavailable {
    /// Reads return a miss, writes do nothing: the application carries on without its
    /// cache. The failure is counted as an error.
    #[default]
    Miss,
    /// Every call returns the error ([`ErrorKind::Unavailable`](poolside_core::ErrorKind::Unavailable) when not configured).
    Error,
}
