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
    /// Retries of a failed command. Default: 3. Legacy: `REDIS_MAX_RETRIES`.
    pub max_retries: u32,
    /// First delay between retries, doubled on each. Default: 1 s. Legacy:
    /// `REDIS_RETRY_DELAY` (ms).
    pub retry_delay: Duration,
    /// Commands that may wait for a connection before new ones are refused. Default: 1000.
    pub max_queued_commands: u32,
}

impl RedisConfig {
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
