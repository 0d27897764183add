//! [`RedisConfig`]: the optional `redis` section.

use std::time::Duration;

use crate::{Profile, SecretUrl};

/// Settings of the Redis pool (`[redis]`, `POOLSIDE_REDIS__<KEY>`). The section exists
/// only when one of its keys is set; then `url` is required.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisConfig {
    /// `redis://`, `rediss://` or `unix://` URL. Required. Legacy: `REDIS_URL`.
    pub url: SecretUrl,
    /// Most connections the pool opens. Default: 10.
    pub max_size: u32,
    /// Longest wait to get a connection. Default: 5 s. Legacy: `REDIS_CONNECTION_TIMEOUT` (ms).
    pub connection_timeout: Duration,
    /// Longest a single command may take. Default: 3 s. Legacy: `REDIS_COMMAND_TIMEOUT` (ms).
    pub command_timeout: Duration,
    /// Failed connects in a row over which the delay before reconnecting keeps
    /// doubling; after them the pool keeps reconnecting at the longest delay, and never
    /// gives up (see [`reconnect_delay`](Self::reconnect_delay)). Default: 3. Legacy:
    /// `REDIS_MAX_RETRIES`.
    pub max_retries: u32,
    /// Delay before reconnecting after a failed connect, doubled per failure in a row.
    /// Meanwhile commands that need a new connection fail at once. Default: 1 s.
    /// Legacy: `REDIS_RETRY_DELAY` (ms).
    pub retry_delay: Duration,
    /// Commands that may wait for a connection before new ones are refused. Default: 1000.
    pub max_queued_commands: u32,
}

impl RedisConfig {
    /// How long the pool waits before reconnecting after `failures` failed connects in a
    /// row (at least one): `retry_delay`, doubled per failure for the first
    /// `max_retries` of them (1 s, 2 s, 4 s with the defaults), then the longest of
    /// those.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let config = poolside_config::RedisConfig::defaults(poolside_config::Profile::Production);
    /// let delays: Vec<_> = (1..=5).map(|n| config.reconnect_delay(n).as_secs()).collect();
    /// assert_eq!(delays, [1, 2, 4, 4, 4]);
    /// ```
    pub fn reconnect_delay(&self, failures: u32) -> Duration {
        let doublings = failures
            .min(self.max_retries.max(1))
            .saturating_sub(1)
            .min(31);
        self.retry_delay.saturating_mul(1 << doublings)
    }

    /// The built-in defaults (the same in every profile), with no URL.
    pub fn defaults(_profile: Profile) -> Self {
        Self {
            url: SecretUrl::default(),
            max_size: 10,
            connection_timeout: Duration::from_secs(5),
            command_timeout: Duration::from_secs(3),
            max_retries: 3,
            retry_delay: Duration::from_secs(1),
            max_queued_commands: 1000,
        }
    }
}
