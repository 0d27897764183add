//! [`KeyTtl`]: how long a key has left, and TTLs as Redis takes them.

use std::time::Duration;

use poolside_core::{ErrorKind, RedisError};

/// How long a key has left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyTtl {
    /// No such key.
    Missing,
    /// The key never expires.
    Persistent,
    /// The key expires after this long.
    ExpiresIn(Duration),
}

/// `ttl` in whole milliseconds, as `PX` takes it: from 1 ms up.
pub(crate) fn ttl_millis(ttl: Duration) -> Result<u64, RedisError> {
    match u64::try_from(ttl.as_millis()) {
        Ok(ms) if ms > 0 => Ok(ms),
        _ => Err(RedisError::new(
            ErrorKind::Query,
            format!("a TTL must be from 1 ms up, not {ttl:?}"),
        )),
    }
}
