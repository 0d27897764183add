//! [`RedisConnection`]: a connection of the pool, to one server (the single server, or
//! a Sentinel group's primary) or to a whole cluster.

use futures_util::{StreamExt as _, TryStreamExt as _};
use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, RedisFuture, Value};

use super::every_primary::runs_on_every_primary;
use super::multi_slot::{Parts, Plan, plan};
use super::{blocking, connection_state};

/// A connection of [`RedisPool`](super::RedisPool). Both kinds multiplex: clones share
/// one connection, and concurrent commands pipeline on it. A clone of a `Server`
/// connection works while the pool holds the connection: once the pool closes it
/// (broken, idle past its time, or the pool closed), commands on a clone kept since
/// fail.
///
/// Any command or pipeline runs on it through the driver's
/// [`ConnectionLike`](redis::aio::ConnectionLike), whatever the mode, but for those
/// that change the connection for every command sharing it (`MULTI` sent alone,
/// `SELECT`, `SUBSCRIBE`, `CLIENT REPLY`, ...): they fail before anything is sent,
/// naming what to use instead (an atomic pipeline for `MULTI`):
///
/// ```no_run
/// # async fn run(pool: poolside_core::RedisPool) -> Result<(), Box<dyn std::error::Error>> {
/// let mut conn = pool.exclusive().await?;
/// let () = redis::cmd("SET").arg("k").arg("v").query_async(&mut *conn).await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub enum RedisConnection {
    /// To one server: `single` mode, or the primary a Sentinel group named.
    Server(MultiplexedConnection),
    /// To a Redis Cluster: each command goes to the node that holds its keys' slot,
    /// and MOVED and ASK redirections are followed. A write or a count over keys in
    /// several slots (`MSET`, `DEL`, `UNLINK`, `EXISTS`, `TOUCH`) goes as one command a
    /// slot, 16 at once, its answer put back together: the cluster client's own split
    /// leaves out, without an error, the parts for a node it holds no connection to
    /// at that moment. An `MGET` goes through the client's split (it fails loudly on
    /// a part left out), over 16 slots at most a go. A pipeline goes to one node: one
    /// holding a write the cluster runs on every primary (`FLUSHDB`) is refused.
    Cluster(ClusterConnection),
}

impl std::fmt::Debug for RedisConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RedisConnection::Server(_) => "RedisConnection::Server",
            RedisConnection::Cluster(_) => "RedisConnection::Cluster",
        })
    }
}

/// How many parts of one command a cluster connection sends at once: half of
/// `redis.cluster_in_flight`'s default, so that one command over hundreds of slots is
/// not a burst by itself (the kind that stalls the cluster client after slots move).
const PARTS_AT_ONCE: u16 = 16;

impl ConnectionLike for RedisConnection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        if let Some(refused) = refusal(cmd) {
            return Box::pin(std::future::ready(Err(refused)));
        }
        match self {
            RedisConnection::Server(conn) => conn.req_packed_command(cmd),
            RedisConnection::Cluster(conn) => match plan(cmd, PARTS_AT_ONCE) {
                Plan::Whole { .. } => conn.req_packed_command(cmd),
                Plan::Parts(parts) => Box::pin(in_parts(conn.clone(), parts)),
            },
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        if let Some(refused) = pipeline.cmd_iter().find_map(refusal) {
            return Box::pin(std::future::ready(Err(refused)));
        }
        match self {
            RedisConnection::Server(conn) => conn.req_packed_commands(pipeline, offset, count),
            RedisConnection::Cluster(_) if pipeline.cmd_iter().any(runs_on_every_primary) => {
                Box::pin(std::future::ready(Err(redis::RedisError::from((
                    redis::ErrorKind::Client,
                    "a pipeline goes to one node of a cluster",
                    "it holds a write the cluster runs on every primary (FLUSHDB, FLUSHALL, \
                     FUNCTION LOAD, ...): send that one with RedisPool::write(), which sends \
                     it to each primary"
                        .to_owned(),
                )))))
            }
            RedisConnection::Cluster(conn) => conn.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            RedisConnection::Server(conn) => conn.get_db(),
            RedisConnection::Cluster(conn) => conn.get_db(),
        }
    }
}

/// Why `cmd` is refused on every connection of the pool: it changes the connection
/// (`connection_state.rs`), or blocks until it is answered (`blocking.rs`).
fn refusal(cmd: &Cmd) -> Option<redis::RedisError> {
    connection_state::refusal(cmd).or_else(|| {
        let block = blocking::block_of(cmd)?;
        blocking::refusal(cmd, block, None).map(|refusal| {
            redis::RedisError::from((
                redis::ErrorKind::Client,
                "a command that blocks until it is answered",
                refusal,
            ))
        })
    })
}

/// `parts` of a command on `conn`, [`PARTS_AT_ONCE`] at once; their answers put
/// together as the command's.
async fn in_parts(conn: ClusterConnection, parts: Parts) -> redis::RedisResult<Value> {
    // Collected first, as in `RedisPool::send_parts`: no closure over a borrowed part
    // in this future's type, which must be `Send` for any lifetime.
    let sends: Vec<_> = parts
        .commands()
        .iter()
        .map(|(part, _)| {
            let mut conn = conn.clone();
            async move { conn.req_packed_command(part).await }
        })
        .collect();
    let answers: Vec<Value> = futures_util::stream::iter(sends)
        .buffered(usize::from(PARTS_AT_ONCE))
        .try_collect()
        .await?;
    parts.answer(answers)
}
