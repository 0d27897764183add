//! [`RedisConnection`]: a connection of the pool, to one server (the single server, or
//! a Sentinel group's primary) or to a whole cluster.

use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, RedisFuture, Value};

/// A connection of [`RedisPool`](super::RedisPool). Both kinds multiplex: clones share
/// one connection, and concurrent commands pipeline on it. A clone of a `Server`
/// connection works while the pool holds the connection: once the pool closes it
/// (broken, idle past its time, or the pool closed), commands on a clone kept since
/// fail.
///
/// Any command or pipeline runs on it through the driver's
/// [`ConnectionLike`](redis::aio::ConnectionLike), whatever the mode:
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
    /// and MOVED and ASK redirections are followed. A multi-key command (`MGET`,
    /// `MSET`, `DEL`, `UNLINK`, `EXISTS`) over several slots is split by slot here,
    /// and the parts for a node not connected at that moment are left out without an
    /// error: `RedisPool::command` sends such writes and counts one command a slot.
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

impl ConnectionLike for RedisConnection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            RedisConnection::Server(conn) => conn.req_packed_command(cmd),
            RedisConnection::Cluster(conn) => conn.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            RedisConnection::Server(conn) => conn.req_packed_commands(pipeline, offset, count),
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
