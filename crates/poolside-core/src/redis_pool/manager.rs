//! [`RedisManager`]: bb8's connection manager for Redis, opening connections through
//! the [`Deployment`] of `redis.mode` with the pool's own timeouts
//! (`redis.connection_timeout` to connect, `redis.command_timeout` for each command, in
//! place of the driver's 1 s and 500 ms), spacing reconnects after failures
//! ([`ReconnectBackoff`]), and publishing connect failures to waiters.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use poolside_config::RedisConfig;
use redis::AsyncConnectionConfig;

use super::deployment::Deployment;
use super::driver::Driver;
use super::{RedisConnection, RedisError};
use crate::ErrorKind;
use crate::fair_pool::FailureSender;
use crate::reconnect_backoff::ReconnectBackoff;

/// A connection as bb8 holds it: the connection, its driver, and how many failovers
/// the sentinels had announced, and how many times the cluster client had been built
/// again for changed certificate files, when it opened.
pub(crate) struct Managed {
    pub(crate) conn: RedisConnection,
    pub(crate) driver: Driver,
    pub(crate) failovers: u64,
    pub(crate) certificates: u64,
    /// Set by [`abandon`](Self::abandon): let go when it returns.
    abandoned: AtomicBool,
}

impl Managed {
    /// Whether the server has closed the connection (its driver ended): nothing sent
    /// on it would go out.
    pub(crate) fn closed(&self) -> bool {
        self.driver.ended()
    }

    /// Marks the connection as not to serve again: bb8 drops it when it returns.
    /// For a cluster connection whose command timed out: the redis crate's cluster
    /// client (1.8.2) can stop for good when a slot refresh begins while a request
    /// it polled holds a read lock it then cannot release (see ARCHITECTURE.md).
    pub(crate) fn abandon(&self) {
        self.abandoned.store(true, Ordering::Relaxed);
    }

    /// Whether [`abandon`](Self::abandon) marked it.
    pub(crate) fn abandoned(&self) -> bool {
        self.abandoned.load(Ordering::Relaxed)
    }
}

/// Opens and checks Redis connections for bb8.
pub(crate) struct RedisManager {
    /// Where connections go: one server, a Sentinel group's primary, a cluster.
    pub(crate) deployment: Arc<Deployment>,
    connection: AsyncConnectionConfig,
    /// Where connections go, for messages (no credentials).
    pub(crate) target: String,
    connect_timeout: Duration,
    backoff: Arc<ReconnectBackoff<RedisError>>,
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
        backoff: Arc<ReconnectBackoff<RedisError>>,
        failures: FailureSender<RedisError>,
    ) -> Result<Self, RedisError> {
        let (deployment, target) = Deployment::new(config)?;
        let mut connection = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(config.connection_timeout))
            .set_response_timeout(Some(config.command_timeout));
        if let Some(credentials) = deployment.credentials() {
            connection = connection.set_credentials_provider(credentials.clone());
        }
        Ok(Self {
            deployment: Arc::new(deployment),
            connection,
            target,
            connect_timeout: config.connection_timeout,
            backoff,
            failures,
        })
    }

    /// Opens a connection and checks that Redis takes it, within the connect timeout.
    async fn open(&self) -> Result<(RedisConnection, Driver), RedisError> {
        let context = format!("connecting to {}", self.target);
        // A check right away: the driver opens a connection without checking that the
        // server takes it (no password given where one is required, NOAUTH), and a
        // connection refused only by its first command would pass for open, fail
        // validation, and leave waiters to the full connection timeout.
        let opened = async {
            let (mut conn, driver) = self.deployment.open(&self.connection).await?;
            self.check(&mut conn).await?;
            Ok::<_, redis::RedisError>((conn, driver))
        };
        match tokio::time::timeout(self.connect_timeout, opened).await {
            Ok(Ok(opened)) => Ok(opened),
            Ok(Err(e)) => {
                let error = RedisError::from_driver_connecting(e, &context);
                Err(match self.deployment.credentials() {
                    Some(credentials) if error.kind() == ErrorKind::Auth => error.noting(&format!(
                        "the password comes from redis.password_file ({}), read at each \
                             new connection: check that it holds the current one",
                        credentials.path().display()
                    )),
                    _ => error,
                })
            }
            Err(_) => Err(RedisError::new(
                ErrorKind::Connect,
                format!("{context}: no answer within {:?}", self.connect_timeout),
            )),
        }
    }
}

impl bb8::ManageConnection for RedisManager {
    type Connection = Managed;
    type Error = RedisError;

    async fn connect(&self) -> Result<Managed, RedisError> {
        let started = Instant::now();
        // Counted before the lookup: a failover announced meanwhile breaks the
        // connection, and lifts the hold its failure would put on reconnects.
        let failovers = self.deployment.failovers();
        // Before opening: this looks at the files, and builds the cluster client again
        // if they changed, so that the connection opens with them.
        let certificates = self.deployment.certificates_generation();
        if let Some(held) = self.backoff.start_connect(started, failovers) {
            let error = held.error(&self.target);
            // Published, so that waiters fail at once as on a real failure; not logged
            // again, as waiters ask every 100 ms.
            self.failures
                .send_replace(Some(Arc::new(error.duplicate())));
            return Err(error);
        }
        match self.open().await {
            Ok((conn, driver)) => {
                self.backoff.succeeded();
                Ok(Managed {
                    conn,
                    driver,
                    failovers,
                    certificates,
                    abandoned: AtomicBool::new(false),
                })
            }
            Err(error) => {
                let delay = self
                    .backoff
                    .failed(
                        started,
                        Instant::now(),
                        failovers,
                        Arc::new(error.duplicate()),
                    )
                    .delay;
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

    async fn is_valid(&self, managed: &mut Managed) -> Result<(), RedisError> {
        if managed.closed() {
            return Err(RedisError::new(
                ErrorKind::Connect,
                "the server closed the connection",
            ));
        }
        if self.predates_failover(managed) {
            return Err(RedisError::new(
                ErrorKind::Connect,
                "the connection was opened before the sentinels' last failover",
            ));
        }
        // Here only, not in `has_broken` on every return: it looks at the files, and a
        // stale connection returned idle is let go at its next checkout anyway.
        if managed.certificates != self.deployment.certificates_generation() {
            return Err(RedisError::new(
                ErrorKind::Connect,
                "the connection was opened with certificate files that have changed since",
            ));
        }
        self.check(&mut managed.conn)
            .await
            .map_err(|e| RedisError::from_driver(e, "checking a connection"))
    }

    /// Closed by the server, abandoned, or opened before the sentinels' last failover
    /// (it may go to the old primary).
    fn has_broken(&self, managed: &mut Managed) -> bool {
        managed.closed() || managed.abandoned() || self.predates_failover(managed)
    }
}

impl RedisManager {
    /// Opened before the sentinels' last failover: it may go to the old primary.
    fn predates_failover(&self, managed: &Managed) -> bool {
        managed.failovers != self.deployment.failovers()
    }

    /// `UNWATCH`, which also ends a `WATCH` the connection's last exclusive user left
    /// behind (it would abort the next atomic pipeline sent on it, silently:
    /// `watch_command.rs`); in a Sentinel group `ROLE` beside it, in the same round
    /// trip, which fails a connection to a server that is no longer the primary (after
    /// a failover it answers as a replica), so that bb8 drops it and opens one to the
    /// new primary.
    async fn check(&self, conn: &mut RedisConnection) -> redis::RedisResult<()> {
        let unwatch = {
            let mut conn = conn.clone();
            async move {
                match redis::cmd("UNWATCH").query_async::<()>(&mut conn).await {
                    // A user the ACL denies UNWATCH can WATCH nothing either; the
                    // server answered.
                    Err(e)
                        if e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoPerm) =>
                    {
                        Ok(())
                    }
                    answer => answer,
                }
            }
        };
        if !self.deployment.follows_a_primary() {
            return unwatch.await;
        }
        let role_command = redis::cmd("ROLE");
        let role = role_command.query_async::<Vec<redis::Value>>(conn);
        let (unwatched, role) = futures_util::future::join(unwatch, role).await;
        unwatched?;
        match role?.first() {
            Some(redis::Value::BulkString(role)) if role == b"master" => Ok(()),
            _ => Err(redis::RedisError::from((
                redis::ErrorKind::Server(redis::ServerErrorKind::ReadOnly),
                "the server the sentinels named is no longer the primary",
            ))),
        }
    }
}
