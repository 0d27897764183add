//! [`RedisPool::write`], [`RedisPool::write_pipeline`] and
//! [`RedisPool::write_pipelines`]: writes acknowledged only once `redis.wait_replicas`
//! replicas have them (`WAIT`), so that a failover never loses a write its caller was
//! told succeeded.

use std::sync::atomic::{AtomicU64, Ordering};

use futures_util::{StreamExt as _, TryStreamExt as _};
use poolside_config::RedisMode;
use redis::FromRedisValue;

use super::every_primary::runs_on_every_primary;
use super::multi_slot::Parts;
use super::pool::{Path, RedisPool};
use super::{RedisConnection, RedisError};
use crate::ErrorKind;

impl RedisPool {
    /// Runs the write `cmd` as [`command`](Self::command) does, and acknowledges it
    /// only once `redis.wait_replicas` replicas have it (by default one in `sentinel`
    /// and `cluster` mode, none for one server): `WAIT` goes in the same round trip.
    /// A write the primary took but the replicas did not within `redis.wait_timeout`
    /// fails with [`ErrorKind::Unavailable`]: a failover could lose it. On a cluster,
    /// a write over keys in several slots (`MSET`, `DEL`) goes in parts of one slot
    /// each on one connection of its own, each part with a `WAIT` behind it; a write
    /// the cluster runs on every primary (`FLUSHDB`, `FUNCTION LOAD`) goes to each
    /// primary `CLUSTER NODES` lists, a `WAIT` behind it.
    ///
    /// ```no_run
    /// # async fn run(pool: poolside_core::RedisPool) -> Result<(), poolside_core::RedisError> {
    /// let () = pool.write(redis::cmd("SET").arg("order:7").arg("paid")).await?;
    /// # Ok(()) }
    /// ```
    pub async fn write<T: FromRedisValue>(&self, cmd: &redis::Cmd) -> Result<T, RedisError> {
        self.path_of(std::iter::once(cmd))?;
        let cluster = self.inner.config.mode == RedisMode::Cluster;
        // Not left to the cluster client's fan-out, even with no replicas to wait
        // for: it skips a primary it holds no connection to.
        let value = if cluster && runs_on_every_primary(cmd) {
            self.on_every_primary(cmd).await?
        } else if self.inner.config.replicas_to_wait_for() == 0 {
            return self.command(cmd).await;
        } else if let Some(parts) = self.write_parts(cmd) {
            self.replicated_in_parts(&parts).await?
        } else {
            let mut pipeline = redis::pipe();
            pipeline.add_command(cmd.clone());
            let mut answers = self.replicated(&pipeline).await?;
            answers.pop().unwrap_or(redis::Value::Nil)
        };
        redis::from_redis_value(value)
            .map_err(|e| RedisError::from_driver(e.into(), "reading a Redis write's answer"))
    }

    /// A write in parts of one slot each, acknowledged as
    /// [`replicated_together`](Self::replicated_together) acknowledges them.
    async fn replicated_in_parts(&self, parts: &Parts) -> Result<redis::Value, RedisError> {
        let answers = self.replicated_together(parts.commands()).await?;
        parts.answer(answers).map_err(|e| {
            RedisError::from_driver(e, "putting together the answers of a split Redis write")
        })
    }

    /// `requests` (commands or pipelines, each to one node) on one connection of its
    /// own, as many at once as [`parts_at_once`](Self::parts_at_once) says, and `WAIT`
    /// where it counts the replicas of exactly those writes: on one server (or a
    /// Sentinel group's primary), once after them all; on a cluster, behind each
    /// request in its own round trip, so that it reaches the node that took the
    /// request, on the same connection. (A `WAIT` of its own on a cluster goes out
    /// through the cluster client's fan-out, which skips a primary it holds no
    /// connection to: the primary that took a write and then died, the one whose
    /// count matters.) Acknowledged when every `WAIT` counts enough replicas; the
    /// first that counts too few fails the whole at once, rather than after the
    /// `WAIT`s queued behind it on its node (each up to `redis.wait_timeout`), and
    /// the connection they hold is let go. Never sent again as a whole: some requests
    /// may have run. Their answers, in order.
    async fn replicated_together<R: Request>(
        &self,
        requests: &[R],
    ) -> Result<Vec<redis::Value>, RedisError> {
        let wait = self.wait_command();
        let wanted = u64::from(self.inner.config.replicas_to_wait_for());
        let at_once = self.parts_at_once(requests.len());
        let wait_behind_each = self.inner.config.mode == RedisMode::Cluster;
        let each_wait = wait_behind_each.then_some(&wait);
        // The fewest replicas a `WAIT` counted.
        let least = AtomicU64::new(u64::MAX);
        let sent = self
            .send(Path::ExclusiveOnce, |mut conn| {
                let (wait, least) = (&wait, &least);
                async move {
                    // Collected first, as in `send_parts`.
                    let sends: Vec<_> = requests
                        .iter()
                        .map(|request| request.send_on(conn.clone(), each_wait))
                        .collect();
                    let mut answered = futures_util::stream::iter(sends).buffered(at_once);
                    let mut answers = Vec::with_capacity(requests.len());
                    while let Some(answer) = answered.next().await {
                        let (answer, reached) = answer?;
                        if wait_behind_each {
                            least.fetch_min(reached, Ordering::Relaxed);
                            if reached < wanted {
                                return Err(redis::RedisError::from((
                                    redis::ErrorKind::Client,
                                    "a WAIT counted too few replicas",
                                )));
                            }
                        }
                        answers.push(answer);
                    }
                    if !wait_behind_each {
                        let reached: i64 = wait.query_async(&mut conn).await?;
                        least.fetch_min(u64::try_from(reached).unwrap_or(0), Ordering::Relaxed);
                    }
                    Ok(answers)
                }
            })
            .await;
        let reached = least.load(Ordering::Relaxed);
        match sent {
            Ok(answers) => self.check_replicas(reached).map(|()| answers),
            // `send` counted the error already.
            Err(_) if reached < wanted => Err(self.too_few_replicas(reached)),
            Err(e) => Err(e),
        }
    }

    /// `WAIT redis.wait_replicas redis.wait_timeout`.
    pub(super) fn wait_command(&self) -> redis::Cmd {
        let config = &self.inner.config;
        let timeout = u64::try_from(config.wait_timeout.as_millis()).unwrap_or(u64::MAX);
        let mut wait = redis::cmd("WAIT");
        wait.arg(config.replicas_to_wait_for()).arg(timeout.max(1));
        wait
    }

    /// Sends the writes of `pipeline` (not `.atomic()`: `WAIT` cannot run inside a
    /// transaction) as [`write`](Self::write) sends one. A pipeline goes to one node:
    /// on a cluster, one with a write the cluster runs on every primary (`FLUSHDB`) is
    /// refused (see [`RedisConnection`]); send that with `write`.
    pub async fn write_pipeline<T: FromRedisValue>(
        &self,
        pipeline: &redis::Pipeline,
    ) -> Result<T, RedisError> {
        if self.inner.config.replicas_to_wait_for() == 0 {
            return self.pipeline(pipeline).await;
        }
        self.path_of(pipeline.cmd_iter())?;
        if pipeline.is_transaction() {
            return Err(RedisError::new(
                ErrorKind::Query,
                "write_pipeline takes a pipeline without .atomic(): WAIT cannot run inside \
                 MULTI; send the transaction with pipeline(), then write() a WAIT",
            ));
        }
        let answers = self.replicated(pipeline).await?;
        redis::from_redis_value(redis::Value::Array(answers))
            .map_err(|e| RedisError::from_driver(e.into(), "reading a Redis pipeline's answers"))
    }

    /// Sends several `pipelines`, none `.atomic()`, each to one node (on a cluster,
    /// each keeping its keys in one slot), and acknowledges them as
    /// [`write`](Self::write) acknowledges a write: together, on one connection of its
    /// own, a few at once, then one `WAIT` (on a cluster, one behind each). With
    /// `redis.wait_replicas` 0, on the shared path. One command in the pool's figures,
    /// however many pipelines. Their answers, in order. A batch that fails may have
    /// run in part; it is not sent again.
    ///
    /// ```no_run
    /// # async fn run(pool: poolside_core::RedisPool) -> Result<(), poolside_core::RedisError> {
    /// // On a cluster: one pipeline a hash tag.
    /// let mut orders = redis::pipe();
    /// orders.set("{order:7}:state", "paid").ignore().set("{order:7}:total", 1250).ignore();
    /// let mut stock = redis::pipe();
    /// stock.decr("{sku:42}:stock", 1);
    /// let answers: Vec<Vec<i64>> = pool.write_pipelines(&[orders, stock]).await?;
    /// assert_eq!(answers[0], Vec::<i64>::new(), "both SETs ignored");
    /// # Ok(()) }
    /// ```
    pub async fn write_pipelines<T: FromRedisValue>(
        &self,
        pipelines: &[redis::Pipeline],
    ) -> Result<Vec<T>, RedisError> {
        if pipelines.iter().any(redis::Pipeline::is_transaction) {
            return Err(RedisError::new(
                ErrorKind::Query,
                "write_pipelines takes pipelines without .atomic(): WAIT cannot run inside \
                 MULTI; send each transaction with pipeline(), then write() a WAIT",
            ));
        }
        let paths = pipelines
            .iter()
            .map(|pipeline| self.path_of(pipeline.cmd_iter()))
            .collect::<Result<Vec<_>, _>>()?;
        let answers = if self.inner.config.replicas_to_wait_for() == 0 {
            // One command in the pool's figures, as with replicas to wait for.
            let _admitted = self.admit()?;
            let calls: Vec<_> = pipelines
                .iter()
                .map(|pipeline| {
                    move |mut conn: RedisConnection| async move {
                        pipeline.query_async::<redis::Value>(&mut conn).await
                    }
                })
                .collect();
            // A pipeline holding a command that blocks goes on a connection of its own.
            let sends: Vec<_> = paths
                .into_iter()
                .zip(&calls)
                .map(|(path, call)| self.send_admitted(path, call))
                .collect();
            let answers = futures_util::stream::iter(sends)
                .buffered(self.parts_at_once(pipelines.len()))
                .try_collect()
                .await;
            if answers.is_err() {
                self.inner.counters.errors.fetch_add(1, Ordering::Relaxed);
            }
            answers?
        } else {
            self.replicated_together(pipelines).await?
        };
        answers
            .into_iter()
            .map(|answer| {
                redis::from_redis_value(answer).map_err(|e| {
                    RedisError::from_driver(e.into(), "reading a Redis pipeline's answers")
                })
            })
            .collect()
    }

    /// `pipeline` then `WAIT`, in one round trip to the node of its keys; its answers
    /// (without the WAIT's), or the error of too few replicas.
    async fn replicated(
        &self,
        pipeline: &redis::Pipeline,
    ) -> Result<Vec<redis::Value>, RedisError> {
        let wait = &self.wait_command();
        // On a connection of its own: WAIT holds the connection until the replicas
        // answer, and would hold up every command queued behind it on a shared one.
        let (answers, reached) = self
            .send(Path::Exclusive, |conn| {
                query_with_wait(conn, pipeline, Some(wait))
            })
            .await?;
        self.check_replicas(reached)?;
        Ok(answers)
    }

    /// The error of a write that `reached` replicas took, when that is too few,
    /// counted.
    pub(super) fn check_replicas(&self, reached: u64) -> Result<(), RedisError> {
        if reached >= u64::from(self.inner.config.replicas_to_wait_for()) {
            return Ok(());
        }
        self.inner.counters.errors.fetch_add(1, Ordering::Relaxed);
        Err(self.too_few_replicas(reached))
    }

    /// The error of a write that only `reached` replicas took, counted in
    /// `unreplicated_writes`.
    fn too_few_replicas(&self, reached: u64) -> RedisError {
        let config = &self.inner.config;
        self.inner
            .counters
            .unreplicated
            .fetch_add(1, Ordering::Relaxed);
        let wanted = config.replicas_to_wait_for();
        RedisError::new(
            ErrorKind::Unavailable,
            format!(
                "a Redis write reached the primary but {reached} of the {wanted} replica(s) \
                 redis.wait_replicas asks for within redis.wait_timeout ({:?}): a failover \
                 could lose it, so it is not acknowledged; write it again once the primary \
                 has its replicas",
                config.wait_timeout
            ),
        )
        .after_sending()
    }
}

/// The replicas a `WAIT` at the end of a pipeline's `answers` counted (taken off them);
/// 0 when it did not answer with a count.
pub(super) fn wait_count(answers: &mut Vec<redis::Value>) -> u64 {
    match answers.pop() {
        Some(redis::Value::Int(n)) => u64::try_from(n).unwrap_or(0),
        _ => 0,
    }
}

/// A request [`RedisPool::replicated_together`] sends as one: a command, or a pipeline
/// (its answers as one array).
trait Request: Sync {
    /// Sends it on `conn`, with `wait` behind it in the same round trip when given;
    /// its answer, and the replicas `wait` counted (0 without one).
    fn send_on(
        &self,
        conn: RedisConnection,
        wait: Option<&redis::Cmd>,
    ) -> impl Future<Output = redis::RedisResult<(redis::Value, u64)>> + Send;
}

impl Request for (redis::Cmd, u16) {
    async fn send_on(
        &self,
        conn: RedisConnection,
        wait: Option<&redis::Cmd>,
    ) -> redis::RedisResult<(redis::Value, u64)> {
        let mut pipeline = redis::pipe();
        pipeline.add_command(self.0.clone());
        let (mut answers, reached) = query_with_wait(conn, &pipeline, wait).await?;
        Ok((answers.pop().unwrap_or(redis::Value::Nil), reached))
    }
}

impl Request for redis::Pipeline {
    async fn send_on(
        &self,
        conn: RedisConnection,
        wait: Option<&redis::Cmd>,
    ) -> redis::RedisResult<(redis::Value, u64)> {
        let (answers, reached) = query_with_wait(conn, self, wait).await?;
        Ok((redis::Value::Array(answers), reached))
    }
}

/// `pipeline` on `conn`, with `wait` behind it in the same round trip when given: its
/// answers (without the `WAIT`'s), and the replicas `wait` counted (0 without one).
async fn query_with_wait(
    mut conn: RedisConnection,
    pipeline: &redis::Pipeline,
    wait: Option<&redis::Cmd>,
) -> redis::RedisResult<(Vec<redis::Value>, u64)> {
    let Some(wait) = wait else {
        return Ok((pipeline.query_async(&mut conn).await?, 0));
    };
    let mut pipeline = pipeline.clone();
    pipeline.add_command(wait.clone());
    let mut answers: Vec<redis::Value> = pipeline.query_async(&mut conn).await?;
    let reached = wait_count(&mut answers);
    Ok((answers, reached))
}
