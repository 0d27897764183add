//! [`RedisManager`]: bb8-redis's connection manager, opening connections with the
//! pool's own timeouts (`redis.connection_timeout` to connect, `redis.command_timeout`
//! for each command, in place of the driver's 1 s and 500 ms), spacing reconnects after
//! failures ([`ReconnectBackoff`]), and publishing connect failures to waiters.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bb8_redis::RedisConnectionManager;
use poolside_config::RedisConfig;
use redis::AsyncConnectionConfig;
use redis::aio::MultiplexedConnection;

use super::RedisError;
use super::reconnect::ReconnectBackoff;
use crate::ErrorKind;
use crate::fair_pool::FailureSender;

/// Opens and checks Redis connections for bb8.
pub(crate) struct RedisManager {
    /// bb8-redis's manager, which checks connections (`PING`).
    inner: RedisConnectionManager,
    /// Opens connections, with `connection`'s timeouts (and the pool's pub/sub ones).
    pub(crate) client: redis::Client,
    connection: AsyncConnectionConfig,
    /// `host:port`, for messages (no credentials).
    pub(crate) target: String,
    connect_timeout: Duration,
    backoff: Arc<ReconnectBackoff>,
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
        config: &RedisConfig,
        backoff: Arc<ReconnectBackoff>,
        failures: FailureSender<RedisError>,
    ) -> Result<Self, RedisError> {
        let url = config.url.expose();
        let invalid = |e| RedisError::from_driver(e, "redis.url is not a valid Redis URL");
        let inner = RedisConnectionManager::new(url).map_err(invalid)?;
        let client = redis::Client::open(url).map_err(invalid)?;
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
            client,
            connection: AsyncConnectionConfig::new()
                .set_connection_timeout(Some(config.connection_timeout))
                .set_response_timeout(Some(config.command_timeout)),
            target,
            connect_timeout: config.connection_timeout,
            backoff,
            failures,
        })
    }

    /// Opens a connection and checks that Redis takes it, within the connect timeout.
    async fn open(&self) -> Result<MultiplexedConnection, RedisError> {
        let context = format!("connecting to {}", self.target);
        // A PING right away: the driver opens a connection without checking that the
        // server takes it (no password given where one is required, NOAUTH), and a
        // connection refused only by its first command would pass for open, fail
        // validation, and leave waiters to the full connection timeout.
        let opened = async {
            let mut conn = self
                .client
                .get_multiplexed_async_connection_with_config(&self.connection)
                .await?;
            let _: String = redis::cmd("PING").query_async(&mut conn).await?;
            Ok::<_, redis::RedisError>(conn)
        };
        match tokio::time::timeout(self.connect_timeout, opened).await {
            Ok(Ok(conn)) => Ok(conn),
            Ok(Err(e)) => Err(RedisError::from_driver(e, &context).while_connecting()),
            Err(_) => Err(RedisError::new(
                ErrorKind::Connect,
                format!("{context}: no answer within {:?}", self.connect_timeout),
            )),
        }
    }
}

impl bb8::ManageConnection for RedisManager {
    type Connection = MultiplexedConnection;
    type Error = RedisError;

    async fn connect(&self) -> Result<MultiplexedConnection, RedisError> {
        let started = Instant::now();
        if let Some(held) = self.backoff.held_off(started) {
            let error = held.error(&self.target);
            // Published, so that waiters fail at once as on a real failure; not logged
            // again, as waiters ask every 100 ms.
            self.failures
                .send_replace(Some(Arc::new(error.duplicate())));
            return Err(error);
        }
        match self.open().await {
            Ok(conn) => {
                self.backoff.succeeded();
                Ok(conn)
            }
            Err(error) => {
                let delay = self.backoff.failed(started, Instant::now(), &error);
                tracing::warn!(
                    target: "poolside::redis",
                    error = %error,
                    next_attempt_in = ?delay,
                    "connect failed"
                );
                self.failures
                    .send_replace(Some(Arc::new(error.duplicate())));
                Err(error)
            }
        }
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
