//! [`RedisManager`]: bb8-redis's connection manager, with a bound on opening a
//! connection, `redis.command_timeout` as each connection's response timeout, and
//! connect failures published to waiters.

use std::sync::Arc;
use std::time::Duration;

use bb8_redis::RedisConnectionManager;
use redis::aio::MultiplexedConnection;

use super::RedisError;
use crate::fair_pool::FailureSender;

/// Opens and checks Redis connections for bb8.
pub(crate) struct RedisManager {
    inner: RedisConnectionManager,
    /// `host:port`, for messages (no credentials).
    pub(crate) target: String,
    connect_timeout: Duration,
    /// Set on every connection in place of the driver's own 500 ms, which would
    /// otherwise cut every longer command (a 1 s `BLPOP`) short.
    command_timeout: Duration,
    failures: FailureSender<RedisError>,
}

impl std::fmt::Debug for RedisManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisManager")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

impl RedisManager {
    pub(crate) fn new(
        url: &str,
        connect_timeout: Duration,
        command_timeout: Duration,
        failures: FailureSender<RedisError>,
    ) -> Result<Self, RedisError> {
        let inner = RedisConnectionManager::new(url)
            .map_err(|e| RedisError::from_driver(e, "redis.url is not a valid Redis URL"))?;
        let target = url::Url::parse(url)
            .ok()
            .map(|u| {
                format!(
                    "{}:{}",
                    u.host_str().unwrap_or("?"),
                    u.port().unwrap_or(6379)
                )
            })
            .unwrap_or_else(|| "redis".to_owned());
        Ok(Self {
            inner,
            target,
            connect_timeout,
            command_timeout,
            failures,
        })
    }

    fn publish(&self, error: &RedisError) {
        tracing::warn!(target: "poolside::redis", error = %error, "connect failed");
        self.failures
            .send_replace(Some(Arc::new(error.duplicate())));
    }
}

impl bb8::ManageConnection for RedisManager {
    type Connection = MultiplexedConnection;
    type Error = RedisError;

    async fn connect(&self) -> Result<MultiplexedConnection, RedisError> {
        let context = format!("connecting to {}", self.target);
        // A PING right away: the driver opens a connection without checking that the
        // server takes it (no password given where one is required, NOAUTH), and a
        // connection refused only by its first command would pass for open, fail
        // validation, and leave waiters to the full connection timeout.
        let opened = async {
            let mut conn = self.inner.connect().await?;
            let _: String = redis::cmd("PING").query_async(&mut conn).await?;
            Ok::<_, redis::RedisError>(conn)
        };
        let result = match tokio::time::timeout(self.connect_timeout, opened).await {
            Ok(Ok(mut conn)) => {
                conn.set_response_timeout(self.command_timeout);
                return Ok(conn);
            }
            Ok(Err(e)) => RedisError::from_driver(e, &context).unsent(),
            Err(_) => RedisError::new(
                crate::ErrorKind::Connect,
                format!("{context}: no answer within {:?}", self.connect_timeout),
            ),
        };
        self.publish(&result);
        Err(result)
    }

    async fn is_valid(&self, conn: &mut MultiplexedConnection) -> Result<(), RedisError> {
        self.inner
            .is_valid(conn)
            .await
            .map_err(|e| RedisError::from_driver(e, "checking a connection"))
    }

    fn has_broken(&self, _: &mut MultiplexedConnection) -> bool {
        false
    }
}
