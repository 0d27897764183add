//! [`RedisStats`]: a snapshot of the Redis pool.

/// The Redis pool at one moment. `total = active + idle <= max_size`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct RedisStats {
    /// Most connections the pool opens.
    pub max_size: u32,
    /// Open connections.
    pub total: u32,
    /// Connections in use (the shared one included).
    pub active: u32,
    /// Connections open and free.
    pub idle: u32,
    /// Connections leased for sharing (0 or 1).
    pub shared: u32,
    /// Commands in flight now.
    pub in_flight: u64,
    /// Commands run since start.
    pub commands: u64,
    /// Commands that failed.
    pub errors: u64,
    /// Commands that ran past the command timeout.
    pub timeouts: u64,
    /// Commands refused because too many were in flight.
    pub rejected: u64,
    /// Checkouts that gave up after the connection timeout.
    pub timed_out_checkouts: u64,
}
