//! [`RedisPool`]: commands over a shared multiplexed connection, an exclusive
//! connection when a command needs one; to one server, a Sentinel group's primary or a
//! cluster. Replicated writes are in `replicated.rs`, the commands per primary in
//! `primary.rs`, the topology in `topology.rs`, the cluster's side of the shared path
//! (its bound, overflow connections and commands in parts) in `cluster_path.rs`.

use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use poolside_config::{RedisConfig, RedisMode};
use redis::FromRedisValue;
use tokio::sync::watch;

use super::blocking;
use super::cluster_path::shared_connections;
use super::cluster_room::ClusterRoom;
use super::deployment::Deployment;
use super::manager::RedisManager;
use super::watch_command;
use super::{RedisConnection, RedisError, RedisServerInfo, RedisStats, RedisTopology};
use crate::ErrorKind;
use crate::acquire_error::{PoolTerms, pool_error};
use crate::count_guard::CountGuard;
use crate::fair_pool::{AcquireError, Checkout, FairPool, Sizes};
use crate::leases::Leases;
use crate::reconnect_backoff::ReconnectBackoff;

/// A pool of Redis connections.
///
/// Commands ([`command`](Self::command)) go over one multiplexed connection leased
/// from the pool and shared by every caller, so concurrent commands pipeline instead of
/// queuing for an exclusive checkout; one that blocks (`BLPOP`, `WAIT`) takes a
/// connection of its own for its time. A caller that needs a connection of its own
/// across commands (WATCH, then an atomic pipeline) takes one from
/// [`exclusive`](Self::exclusive); a subscriber takes a dedicated connection from
/// [`pubsub`](Self::pubsub). The first two draw on `redis.max_size`; the exclusive
/// checkout is first come, first served. Beyond `redis.max_queued_commands` commands in
/// flight, new ones fail at once with [`ErrorKind::Overloaded`].
///
/// The same calls work on one server, a Sentinel group or a Redis Cluster
/// (`redis.mode`), through the redis crate's own clients. A write that must survive a
/// failover goes through [`write`](Self::write), acknowledged once a replica has it.
///
/// # Examples
///
/// ```no_run
/// # async fn run(config: poolside_config::RedisConfig) -> Result<(), poolside_core::RedisError> {
/// let pool = poolside_core::RedisPool::connect(&config).await?;
/// let () = pool.command(redis::cmd("SET").arg("greeting").arg("hello")).await?;
/// let value: String = pool.command(redis::cmd("GET").arg("greeting")).await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisPool {
    pub(super) inner: Arc<Inner>,
}

pub(super) struct Inner {
    pub(super) fair: FairPool<RedisManager>,
    /// Shared with the manager: while it holds connects off, checkouts that would
    /// need one fail at once.
    backoff: Arc<ReconnectBackoff<RedisError>>,
    /// The shared connection, leased on first use; never leased in a pool of one.
    pub(super) shared: Leases<Lease>,
    in_flight: AtomicU64,
    pub(super) counters: Counters,
    pub(super) config: RedisConfig,
    target: String,
    /// Where connections go; the pub/sub connections are opened here.
    pub(super) deployment: Arc<Deployment>,
    /// The last topology read.
    pub(super) topology: parking_lot::Mutex<Option<RedisTopology>>,
}

/// Where a request goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Path {
    /// The shared multiplexed connection; on a cluster, a request reaching `slots`
    /// slots (one, but for a chunk of an `MGET`), which takes as many places in the
    /// connection's room.
    Shared { slots: u16 },
    /// A connection of its own, for a request that holds the connection (`WAIT`).
    Exclusive,
    /// As `Exclusive`, never sent again (a request in parts, some of which may have
    /// run when another failed unsent), its connection let go when it fails.
    ExclusiveOnce,
}

impl Path {
    /// The shared connection, for a request of one slot (or none).
    pub(super) const ONE_SLOT: Self = Self::Shared { slots: 1 };
}

/// A connection leased for sharing; callers use clones of `conn`.
pub(super) struct Lease {
    pub(super) conn: RedisConnection,
    /// Holds the connection out of the pool; it knows the failovers seen when it
    /// opened, and whether the server has closed it (after either, the lease is let
    /// go).
    pub(super) checkout: Checkout<RedisManager>,
    /// On a cluster: the bound on the requests in flight on it.
    pub(super) room: Option<ClusterRoom>,
}

#[derive(Debug, Default)]
pub(super) struct Counters {
    commands: AtomicU64,
    pub(super) errors: AtomicU64,
    pub(super) timeouts: AtomicU64,
    rejected: AtomicU64,
    pub(super) unreplicated: AtomicU64,
}

impl std::fmt::Debug for RedisPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisPool")
            .field("target", &self.inner.target)
            .field("stats", &self.stats())
            .finish()
    }
}

impl RedisPool {
    /// Builds the pool without connecting (as [`PgPool::connect_lazy`] does); fails
    /// only on a URL that does not parse. Must run inside a Tokio runtime.
    ///
    /// [`PgPool::connect_lazy`]: crate::PgPool::connect_lazy
    pub fn connect_lazy(config: &RedisConfig) -> Result<Self, RedisError> {
        let (failures_tx, failures) = watch::channel(None);
        let backoff = Arc::new(super::reconnect::backoff(config));
        let manager = RedisManager::new(config, Arc::clone(&backoff), failures_tx)?;
        let (target, deployment) = (manager.target.clone(), Arc::clone(&manager.deployment));
        let pool = bb8::Pool::builder()
            .max_size(config.max_size)
            .connection_timeout(config.connection_timeout)
            .test_on_check_out(true)
            // Waiters ask again instead (see `FairPool`): bb8's own retry backs off to
            // half the connection timeout.
            .retry_connection(false)
            .build_unchecked(manager);
        Ok(Self {
            inner: Arc::new(Inner {
                fair: FairPool::new(pool, config.max_size, failures, RedisError::is_permanent),
                backoff,
                shared: Leases::new(shared_connections(config)),
                in_flight: AtomicU64::new(0),
                counters: Counters::default(),
                config: config.clone(),
                target,
                deployment,
                topology: parking_lot::Mutex::new(None),
            }),
        })
    }

    /// Builds the pool and checks that Redis answers (`PING`), failing with the real
    /// error (refused, bad password) naming the host.
    pub async fn connect(config: &RedisConfig) -> Result<Self, RedisError> {
        let pool = Self::connect_lazy(config)?;
        let _: String = pool.command(&redis::cmd("PING")).await?;
        Ok(pool)
    }

    fn acquire_error(&self, error: AcquireError<RedisError>) -> RedisError {
        let terms = PoolTerms {
            server: "Redis",
            section: "redis",
            target: &self.inner.target,
            max_size: self.inner.config.max_size,
            open: self.inner.fair.state().map_or(0, |s| s.connections),
            unreachable_fix: match self.inner.config.mode {
                RedisMode::Single => "check that Redis runs and answers at redis.url",
                RedisMode::Sentinel => {
                    "check that the sentinels in redis.sentinels run and name a primary for \
                     redis.master_name, and that it answers"
                }
                RedisMode::Cluster => {
                    "check that the nodes in redis.cluster_nodes run and the cluster serves \
                     every slot (CLUSTER INFO)"
                }
            },
        };
        pool_error(error, &terms)
    }

    /// The error to fail a checkout with at once while reconnects are held off and no
    /// connection is open: it would only wait for a connect that is not coming. With
    /// connections open (busy ones too), the checkout waits for one as usual.
    fn held_off(&self) -> Option<RedisError> {
        let failovers = self.inner.deployment.failovers();
        let held = self.inner.backoff.held_off(Instant::now(), failovers)?;
        let open = self.inner.fair.state().map_or(0, |state| state.connections);
        (open == 0).then(|| held.error(&self.inner.target))
    }

    /// A connection of its own, first come, first served, within the connection
    /// timeout. Returned to the pool when dropped; a `WATCH` left on it (no atomic
    /// pipeline after) ends before it serves again. Each command on it is bounded by
    /// `redis.command_timeout` too: a blocking command (`BLPOP key 2`) must block for
    /// less than that (one with a timeout of 0 is refused), and the connection be
    /// dropped only once it answered: dropped mid-block, the connection goes back
    /// still blocked, and its block takes the next element pushed.
    pub async fn exclusive(&self) -> Result<ExclusiveRedisConnection, RedisError> {
        if let Some(error) = self.held_off() {
            return Err(error);
        }
        let checkout = self
            .inner
            .fair
            .acquire(self.inner.config.connection_timeout)
            .await
            .map_err(|e| self.acquire_error(e))?;
        Ok(ExclusiveRedisConnection { checkout })
    }

    /// A connection for pub/sub (`SUBSCRIBE` takes a connection over), opened within
    /// the connection timeout. It is outside the pool's `max_size`: a subscriber
    /// holds it for as long as it listens. In a Sentinel group it goes to the primary
    /// of the moment (a subscriber must subscribe again after a failover); in a
    /// cluster to the first node, which hears every `PUBLISH` of the cluster.
    pub async fn pubsub(&self) -> Result<redis::aio::PubSub, RedisError> {
        let timeout = self.inner.config.connection_timeout;
        let context = format!("opening a pub/sub connection to {}", self.inner.target);
        match tokio::time::timeout(timeout, self.inner.deployment.pubsub()).await {
            Ok(result) => result.map_err(|e| RedisError::from_driver(e, &context)),
            Err(_) => Err(RedisError::new(
                ErrorKind::Connect,
                format!("{context}: no answer within {timeout:?}"),
            )),
        }
    }

    /// The shared connection in slot `index` of the pool's (one, but for a cluster's
    /// overflow), leased when there is none or it has failed.
    pub(super) async fn shared(&self, index: usize) -> Result<Arc<Lease>, RedisError> {
        let inner = &*self.inner;
        let lease = || async {
            if let Some(error) = self.held_off() {
                return Err(error);
            }
            let checkout = inner
                .fair
                .acquire(inner.config.connection_timeout)
                .await
                .map_err(|e| self.acquire_error(e))?;
            Ok(Lease {
                conn: checkout.conn.conn.clone(),
                checkout,
                room: match inner.config.mode {
                    RedisMode::Cluster => ClusterRoom::new(inner.config.cluster_in_flight),
                    _ => None,
                },
            })
        };
        let failovers = inner.deployment.failovers();
        let live = |lease: &Lease| {
            lease.checkout.failovers == failovers
                && !lease.checkout.closed()
                && !lease.checkout.abandoned()
        };
        inner.shared.pick_at(index, live, lease).await
    }

    /// Runs `cmd` on the shared connection (on an exclusive one in a pool of one),
    /// within `redis.command_timeout`. A command that blocks until it is answered
    /// (`BLPOP`, `BZPOPMIN`, `WAIT`, `XREAD BLOCK`, ...) goes on a connection of its
    /// own, checked out as [`exclusive`](Self::exclusive) does: on the shared one,
    /// every other caller's command would wait behind it. One that would block as long
    /// as the timeout or longer (a timeout of 0: forever) is refused before it is sent:
    /// the call would fail while the server still blocked for it, and the next element
    /// pushed would go to it, unread. One that timed out anyway (its block started
    /// late), or whose call was dropped, has its connection closed, which ends the
    /// block. A `WATCH` is refused, as it would hold for the other callers of the
    /// connection: WATCH on an [`exclusive`](Self::exclusive) connection.
    ///
    /// On a cluster, a write or a count over keys in several slots (`MSET`, `DEL`,
    /// `UNLINK`, `EXISTS`, `TOUCH`) is sent as one request per slot: the cluster
    /// client's own split skips, silently, the nodes it holds no connection to
    /// (ARCHITECTURE.md). An `MGET` goes whole, the client splitting it, in chunks over
    /// half of `redis.cluster_in_flight` slots at most; when the client left a node out
    /// (it fails the `MGET` then), it goes again a request a slot. The parts go half of
    /// `redis.cluster_in_flight` at once, each within the timeout, the command counting
    /// once in [`stats`](Self::stats) and against `redis.max_queued_commands`, and its
    /// answer is put back together as the client would (each value at its key's place
    /// for `MGET`, counts summed for `DEL`). Such a command is no more atomic than Redis
    /// Cluster makes it: a part that fails fails the command, after others may have run.
    ///
    /// At most `redis.cluster_in_flight` slots' worth of requests (32 by default) are in
    /// flight on a shared cluster connection at once; the rest go to another shared
    /// connection (up to four, half of `redis.max_size`) or wait for the first place
    /// freed, within the same timeout. A larger burst, after slots moved, can stop the
    /// redis crate's cluster client for good (ARCHITECTURE.md).
    ///
    /// ```no_run
    /// # async fn run(pool: poolside_core::RedisPool, keys: &[String]) -> Result<(), poolside_core::RedisError> {
    /// // Any number of keys, on one server or a cluster.
    /// let values: Vec<Option<String>> = pool.command(redis::cmd("MGET").arg(keys)).await?;
    /// # Ok(()) }
    /// ```
    pub async fn command<T: FromRedisValue>(&self, cmd: &redis::Cmd) -> Result<T, RedisError> {
        let path = self.path_of(std::iter::once(cmd))?;
        // Boxed, the plan in it: this path's state would otherwise make every
        // command's future as large as its own.
        let planned = self
            .plan(cmd)
            .map(|plan| Box::pin(self.command_as_planned(cmd, plan)));
        if let Some(planned) = planned {
            return redis::from_redis_value(planned.await?).map_err(|e| {
                RedisError::from_driver(e.into(), "reading a Redis command's answer")
            });
        }
        self.send(
            path,
            |mut conn| async move { cmd.query_async(&mut conn).await },
        )
        .await
    }

    /// Sends `pipeline` (its commands in one round trip; atomic when built with
    /// `.atomic()`) as [`command`](Self::command) sends one command: on a connection
    /// of its own when one of its commands blocks.
    pub async fn pipeline<T: FromRedisValue>(
        &self,
        pipeline: &redis::Pipeline,
    ) -> Result<T, RedisError> {
        let path = self.path_of(pipeline.cmd_iter())?;
        // On a cluster a pipeline goes to one node, in one request.
        self.send(path, |mut conn| async move {
            pipeline.query_async(&mut conn).await
        })
        .await
    }

    /// The path of `cmds`, a request of one slot, read once for every pool call: the
    /// shared connection, or one of its own when a command of it blocks until it is
    /// answered. Refused, before anything is sent, when it holds a `WATCH`
    /// (`watch_command.rs`) or a command that blocks past `redis.command_timeout`
    /// (`blocking.rs`).
    pub(super) fn path_of<'a>(
        &self,
        cmds: impl Iterator<Item = &'a redis::Cmd>,
    ) -> Result<Path, RedisError> {
        let timeout = Some(self.inner.config.command_timeout);
        let mut path = Path::ONE_SLOT;
        for cmd in cmds {
            if let Some(refused) = watch_command::refusal(cmd) {
                return Err(refused);
            }
            if let Some(block) = blocking::block_of(cmd) {
                if let Some(refusal) = blocking::refusal(cmd, block, timeout) {
                    return Err(RedisError::new(ErrorKind::Query, refusal));
                }
                path = Path::Exclusive;
            }
        }
        Ok(path)
    }

    /// Sends one request (`call` on a handle of the connection), counted against
    /// `redis.max_queued_commands` and bounded by `redis.command_timeout`. A request
    /// that a connection failed before it ran (a replica's READONLY after a failover)
    /// is sent once more, on another connection (but on `Path::ExclusiveOnce`).
    pub(super) async fn send<T, F, Fut>(&self, path: Path, call: F) -> Result<T, RedisError>
    where
        F: Fn(RedisConnection) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let _admitted = self.admit()?;
        // Not `send_admitted`: its future nested in this one would make every
        // command's future larger.
        let mut result = self.send_once(path, &call).await;
        if resends(path, &result) {
            result = self.send_once(path, &call).await;
        }
        if result.is_err() {
            self.inner.counters.errors.fetch_add(1, Ordering::Relaxed);
        }
        result
    }

    /// Admits one command: counted in `commands`, and in flight until the guard
    /// drops; refused at once past `redis.max_queued_commands`.
    pub(super) fn admit(&self) -> Result<CountGuard<'_>, RedisError> {
        let inner = &*self.inner;
        let in_flight = CountGuard::enter(&inner.in_flight);
        if in_flight.on_entry() > u64::from(inner.config.max_queued_commands) {
            inner.counters.rejected.fetch_add(1, Ordering::Relaxed);
            return Err(RedisError::new(
                ErrorKind::Overloaded,
                format!(
                    "{} Redis commands are in flight already (redis.max_queued_commands): refused rather than queued",
                    inner.config.max_queued_commands
                ),
            ));
        }
        inner.counters.commands.fetch_add(1, Ordering::Relaxed);
        Ok(in_flight)
    }

    /// [`send`](Self::send) for a command already admitted (one of its parts), its
    /// failure not counted.
    pub(super) async fn send_admitted<T, F, Fut>(
        &self,
        path: Path,
        call: &F,
    ) -> Result<T, RedisError>
    where
        F: Fn(RedisConnection) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let mut result = self.send_once(path, call).await;
        if resends(path, &result) {
            result = self.send_once(path, call).await;
        }
        result
    }

    /// `call` on the shared connection (on an exclusive one for the exclusive paths, or
    /// in a pool of one); a shared connection that failed or timed out is let go.
    async fn send_once<T, F, Fut>(&self, path: Path, call: &F) -> Result<T, RedisError>
    where
        F: Fn(RedisConnection) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        if let (Path::Shared { slots }, true) = (path, self.inner.config.max_size > 1) {
            let lease = self.shared(0).await?;
            let place = lease.room.as_ref().map(|room| room.try_enter(slots));
            let (lease, place, spilled) = match place {
                None => (lease, None, false),
                Some(Some(place)) => (lease, Some(place), false),
                // Boxed, as the lease in `shared` is: this path's state would
                // otherwise make every command's future as large as its own.
                Some(None) => {
                    let (lease, place) = Box::pin(self.shared_with_room(lease, slots)).await?;
                    (lease, place, true)
                }
            };
            let result = call(lease.conn.clone())
                .await
                .map_err(|e| self.command_error(e));
            drop(place);
            if spilled {
                self.let_go_if_spare(&lease);
            }
            // A command that timed out leaves the shared connection suspect (a server
            // stalled, or commands stuck behind one that blocks): the next go on a new
            // one. A server that answered, refusing for now, leaves it sound.
            if let Err(e) = &result {
                if matches!(e.kind(), ErrorKind::Connect | ErrorKind::Cancelled)
                    && !e.refused_for_now()
                {
                    self.inner.shared.evict(&lease);
                }
                if self.stuck(e) {
                    lease.checkout.abandon();
                }
            }
            result
        } else {
            // Held until the request completes; `call` gets a handle on it. Boxed, as
            // the lease in `shared` is.
            let conn = Box::pin(self.exclusive()).await?;
            // A request that blocks, its call dropped before the answer, may still
            // block on the server: the connection is let go, rather than handed to the
            // next caller with it (a `BLPOP` would take the next element pushed,
            // unread).
            let unanswered = (path == Path::Exclusive).then(|| LetGoUnlessAnswered(&conn.checkout));
            let result = call(conn.clone()).await.map_err(|e| self.command_error(e));
            // One that timed out likewise; a request in parts that failed may have
            // left others queued on it (a `WAIT` holding its node's link): it is let
            // go, as a stuck one is.
            let let_go = result.as_ref().err().is_some_and(|e| {
                path == Path::ExclusiveOnce
                    || self.stuck(e)
                    || (path == Path::Exclusive && e.kind() == ErrorKind::Cancelled)
            });
            std::mem::forget(unanswered);
            if let_go {
                conn.checkout.abandon();
            }
            result
        }
    }

    /// Whether `error`, a command's, may leave its connection stuck for good: a
    /// timeout on a cluster connection, whose client can stop at a slot refresh (see
    /// [`Managed::abandon`]). Such a connection is let go rather than checked out again,
    /// where it can pass its check and stall the next command in turn.
    fn stuck(&self, error: &RedisError) -> bool {
        self.inner.config.mode == RedisMode::Cluster && error.kind() == ErrorKind::Cancelled
    }

    /// How the pool's Redis is deployed (`redis.mode`).
    pub fn mode(&self) -> RedisMode {
        self.inner.config.mode
    }

    /// The error of a command. The connection bounds each by `redis.command_timeout`
    /// (its response timeout, set by the manager): a timeout is counted and named so.
    fn command_error(&self, error: redis::RedisError) -> RedisError {
        if error.is_timeout() {
            self.inner.counters.timeouts.fetch_add(1, Ordering::Relaxed);
            RedisError::new(
                ErrorKind::Cancelled,
                format!(
                    "a Redis command took longer than redis.command_timeout ({:?})",
                    self.inner.config.command_timeout
                ),
            )
        } else {
            RedisError::from_driver(error, "running a Redis command")
        }
    }

    /// The pool now.
    pub fn stats(&self) -> RedisStats {
        let inner = &*self.inner;
        let sizes = Sizes::of(inner.fair.state().as_ref());
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        RedisStats {
            max_size: inner.config.max_size,
            total: sizes.total,
            active: sizes.active,
            idle: sizes.idle,
            shared: inner.shared.leased(),
            in_flight: load(&inner.in_flight),
            commands: load(&inner.counters.commands),
            errors: load(&inner.counters.errors),
            timeouts: load(&inner.counters.timeouts),
            rejected: load(&inner.counters.rejected),
            unreplicated_writes: load(&inner.counters.unreplicated),
            timed_out_checkouts: load(&inner.fair.counters.timed_out),
        }
    }

    /// Version, used memory and connected clients, from `INFO`.
    pub async fn server_info(&self) -> Result<RedisServerInfo, RedisError> {
        let info: String = self
            .command(
                redis::cmd("INFO")
                    .arg("server")
                    .arg("memory")
                    .arg("clients"),
            )
            .await?;
        Ok(RedisServerInfo::parse(&info))
    }

    /// Shuts the pool down: new commands fail at once, connections in use get until
    /// `deadline` to come back, then every connection is closed. Returns how many were
    /// still in use at the deadline.
    pub async fn close(&self, deadline: Duration) -> u32 {
        self.inner.shared.release_all();
        self.inner.fair.close(deadline).await
    }
}

/// Whether a request on `path` that ended in `result` goes once more: a connection
/// failed it before it ran (a replica's READONLY after a failover), and it may be sent
/// again (not on `Path::ExclusiveOnce`).
fn resends<T>(path: Path, result: &Result<T, RedisError>) -> bool {
    path != Path::ExclusiveOnce
        && result.as_ref().err().is_some_and(|e| {
            e.kind() == ErrorKind::Connect && !e.was_sent() && !e.refused_for_now()
        })
}

/// Lets its connection go when dropped: held over a request the connection must not
/// outlive unanswered, and forgotten once the answer came.
struct LetGoUnlessAnswered<'a>(&'a Checkout<RedisManager>);

impl Drop for LetGoUnlessAnswered<'_> {
    fn drop(&mut self) {
        self.0.abandon();
    }
}

/// A Redis connection of its own, returned to the pool when dropped. Derefs to the
/// driver's connection, so any command or pipeline runs on it.
pub struct ExclusiveRedisConnection {
    checkout: Checkout<RedisManager>,
}

impl Deref for ExclusiveRedisConnection {
    type Target = RedisConnection;

    fn deref(&self) -> &RedisConnection {
        &self.checkout.conn.conn
    }
}

impl DerefMut for ExclusiveRedisConnection {
    fn deref_mut(&mut self) -> &mut RedisConnection {
        &mut self.checkout.conn.conn
    }
}

impl std::fmt::Debug for ExclusiveRedisConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExclusiveRedisConnection")
            .finish_non_exhaustive()
    }
}
