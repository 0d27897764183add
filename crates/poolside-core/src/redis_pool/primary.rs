//! [`RedisPrimary`]: a node that holds keys, and [`RedisPool::primaries`] and
//! [`RedisPool::command_on`], for commands each such node answers for its own keys
//! (`SCAN`).

use std::fmt;

use poolside_config::RedisMode;
use redis::FromRedisValue;
use redis::cluster_routing::{RoutingInfo, SingleNodeRoutingInfo};

use super::cluster_nodes;
use super::pool::RedisPool;
use super::{RedisConnection, RedisError};

/// A node that holds keys, as [`RedisPool::primaries`](super::RedisPool::primaries)
/// lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedisPrimary {
    /// The one server, or the primary a Sentinel group names.
    Server,
    /// A primary of a cluster.
    ClusterNode {
        /// Its host, as the cluster announces it.
        host: String,
        /// Its port.
        port: u16,
    },
}

impl RedisPrimary {
    /// The primaries in `CLUSTER NODES` output that hold slots, failed or not: a
    /// failed one's keys are out of reach until a replica takes its slots over, and
    /// a command on it fails rather than leave them out.
    pub(crate) fn of_cluster_nodes(nodes: &str) -> Vec<Self> {
        cluster_nodes::parse(nodes)
            .filter(|node| node.primary && node.lists_slots)
            .filter_map(|node| {
                let (host, port) = node.address.rsplit_once(':')?;
                Some(RedisPrimary::ClusterNode {
                    host: host.to_owned(),
                    port: port.parse().ok()?,
                })
            })
            .collect()
    }
}

impl fmt::Display for RedisPrimary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RedisPrimary::Server => f.write_str("the server"),
            RedisPrimary::ClusterNode { host, port } => write!(f, "{host}:{port}"),
        }
    }
}

impl RedisPool {
    /// The nodes that hold keys: the one server (or the Sentinel group's primary), or
    /// each primary of a cluster holding slots, as `CLUSTER NODES` lists them now. For
    /// commands that each node must answer for its own keys, such as `SCAN`, with
    /// [`command_on`](Self::command_on). A primary the cluster marks failed is listed
    /// while it still holds slots: its keys are out of reach until a replica takes
    /// them over, and a command on it fails rather than leave them out.
    ///
    /// ```no_run
    /// # async fn run(pool: poolside_core::RedisPool) -> Result<(), poolside_core::RedisError> {
    /// for node in pool.primaries().await? {
    ///     let (_cursor, keys): (u64, Vec<String>) =
    ///         pool.command_on(&node, redis::cmd("SCAN").arg(0).arg("MATCH").arg("user:*")).await?;
    ///     println!("{node}: {keys:?}");
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn primaries(&self) -> Result<Vec<RedisPrimary>, RedisError> {
        if self.inner.config.mode != RedisMode::Cluster {
            return Ok(vec![RedisPrimary::Server]);
        }
        let nodes: String = self.command(redis::cmd("CLUSTER").arg("NODES")).await?;
        Ok(RedisPrimary::of_cluster_nodes(&nodes))
    }

    /// Runs `cmd` on `node` (one of [`primaries`](Self::primaries)), as
    /// [`command`](Self::command) runs it (one that blocks on a connection of its own).
    pub async fn command_on<T: FromRedisValue>(
        &self,
        node: &RedisPrimary,
        cmd: &redis::Cmd,
    ) -> Result<T, RedisError> {
        let RedisPrimary::ClusterNode { host, port } = node else {
            return self.command(cmd).await;
        };
        let path = self.path_of(std::iter::once(cmd))?;
        self.send(path, |conn| async move {
            match conn {
                RedisConnection::Cluster(mut cluster) => {
                    let routing = RoutingInfo::SingleNode(SingleNodeRoutingInfo::ByAddress {
                        host: host.clone(),
                        port: *port,
                    });
                    let value = cluster.route_command(cmd.clone(), routing).await?;
                    Ok(redis::from_redis_value(value)?)
                }
                RedisConnection::Server(mut server) => cmd.query_async(&mut server).await,
            }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_primaries_holding_slots_of_cluster_nodes() {
        let nodes = "\
c41f 127.0.0.1:56404@46404 slave 5274 0 1796419121510 2 connected
cb11 127.0.0.1:56400@46400 myself,master - 0 1796419121000 1 connected 0-5460
e8dd 127.0.0.1:56402@46402 master,fail - 1796419131062 1796419130058 3 disconnected 10923-16383
5274 127.0.0.1:56401@46401 master - 0 1796419122012 2 connected 5461-10922
49f1 127.0.0.1:56403@46403 master - 0 1796419122012 4 connected
";
        assert_eq!(
            RedisPrimary::of_cluster_nodes(nodes),
            [
                RedisPrimary::ClusterNode {
                    host: "127.0.0.1".into(),
                    port: 56400
                },
                RedisPrimary::ClusterNode {
                    host: "127.0.0.1".into(),
                    port: 56402
                },
                RedisPrimary::ClusterNode {
                    host: "127.0.0.1".into(),
                    port: 56401
                },
            ],
            "the failed one too; not the replica, nor the primary with no slots"
        );
    }
}
