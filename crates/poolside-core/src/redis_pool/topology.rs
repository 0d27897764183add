//! [`RedisTopology`]: which node is primary, the replicas' state and, in a cluster,
//! the cluster's state, as the servers report them (`INFO replication`,
//! `CLUSTER INFO`, `CLUSTER NODES`).

use poolside_config::RedisMode;
use serde::Serialize;

use super::RedisError;
use super::cluster_nodes;
use super::pool::RedisPool;

/// The Redis nodes as the pool last read them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct RedisTopology {
    /// How Redis is deployed.
    pub mode: RedisMode,
    /// Every node known: the primary (or each cluster primary) and its replicas.
    pub nodes: Vec<RedisNodeState>,
    /// `CLUSTER INFO`'s `cluster_state` (`ok` when every slot is served); `None`
    /// outside a cluster.
    pub cluster_state: Option<String>,
    /// Failovers the sentinels announced since the pool started (Sentinel mode).
    pub failovers: u64,
}

/// One node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct RedisNodeState {
    /// `host:port`, or `primary` for a single server reached by its URL.
    pub address: String,
    /// `primary` or `replica`.
    pub role: &'static str,
    /// Whether it is reachable and in step: a replica's link to its primary is up, a
    /// cluster node is connected and not failed.
    pub up: bool,
    /// A replica's primary (`host:port`, or its cluster node id).
    pub primary: Option<String>,
    /// Slots a cluster primary serves.
    pub slots: Option<u32>,
}

impl RedisTopology {
    /// Whether every node is up and, in a cluster, every slot served.
    pub fn is_healthy(&self) -> bool {
        self.nodes.iter().all(|node| node.up)
            && self
                .cluster_state
                .as_deref()
                .is_none_or(|state| state == "ok")
    }

    /// From a primary's `INFO replication`: it, and each replica it lists
    /// (`slave0:ip=..,port=..,state=online,...`).
    pub(crate) fn of_replication(mode: RedisMode, primary: &str, info: &str) -> Self {
        let mut nodes = vec![RedisNodeState {
            address: primary.to_owned(),
            role: "primary",
            up: true,
            primary: None,
            slots: None,
        }];
        for line in info.lines() {
            let Some((name, fields)) = line.trim().split_once(':') else {
                continue;
            };
            if !name.starts_with("slave") || !name[5..].chars().all(|c| c.is_ascii_digit()) {
                continue;
            }
            let field = |key: &str| {
                fields
                    .split(',')
                    .find_map(|pair| pair.strip_prefix(key)?.strip_prefix('='))
            };
            nodes.push(RedisNodeState {
                address: format!(
                    "{}:{}",
                    field("ip").unwrap_or("?"),
                    field("port").unwrap_or("?")
                ),
                role: "replica",
                up: field("state") == Some("online"),
                primary: Some(primary.to_owned()),
                slots: None,
            });
        }
        Self {
            mode,
            nodes,
            cluster_state: None,
            failovers: 0,
        }
    }

    /// From `CLUSTER INFO` and `CLUSTER NODES`.
    pub(crate) fn of_cluster(info: &str, nodes: &str) -> Self {
        let cluster_state = info.lines().find_map(|line| {
            line.trim()
                .strip_prefix("cluster_state:")
                .map(str::to_owned)
        });
        let nodes = cluster_nodes::parse(nodes)
            .map(|node| RedisNodeState {
                address: node.address.to_owned(),
                role: if node.primary { "primary" } else { "replica" },
                up: node.connected && !node.failed,
                primary: node.primary_id.map(str::to_owned),
                slots: node.primary.then_some(node.slots),
            })
            .collect();
        Self {
            mode: RedisMode::Cluster,
            nodes,
            cluster_state,
            failovers: 0,
        }
    }
}

impl RedisPool {
    /// Reads which node is primary, its replicas' state and, in a cluster, the
    /// cluster's state (`CLUSTER INFO`, `CLUSTER NODES`; elsewhere `INFO replication`
    /// on the primary). The reading is kept for [`last_topology`](Self::last_topology).
    ///
    /// ```no_run
    /// # async fn run(pool: poolside_core::RedisPool) -> Result<(), poolside_core::RedisError> {
    /// let topology = pool.topology().await?;
    /// for node in &topology.nodes {
    ///     println!("{} {} up={}", node.address, node.role, node.up);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn topology(&self) -> Result<RedisTopology, RedisError> {
        let mut topology = match self.inner.config.mode {
            RedisMode::Cluster => {
                let info: String = self.command(redis::cmd("CLUSTER").arg("INFO")).await?;
                let nodes: String = self.command(redis::cmd("CLUSTER").arg("NODES")).await?;
                RedisTopology::of_cluster(&info, &nodes)
            }
            mode => {
                let mut both = redis::pipe();
                both.cmd("CLIENT")
                    .arg("INFO")
                    .cmd("INFO")
                    .arg("replication");
                let (client, info): (String, String) = self.pipeline(&both).await?;
                // The primary's own address: the local end of this connection.
                let address = client
                    .split_whitespace()
                    .find_map(|field| field.strip_prefix("laddr="))
                    .unwrap_or("primary");
                RedisTopology::of_replication(mode, address, &info)
            }
        };
        topology.failovers = self.inner.deployment.failovers();
        *self.inner.topology.lock() = Some(topology.clone());
        Ok(topology)
    }

    /// The last [`topology`](Self::topology) read, if one was.
    pub fn last_topology(&self) -> Option<RedisTopology> {
        self.inner.topology.lock().clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_primarys_replicas() {
        let info = "# Replication\r\nrole:master\r\nconnected_slaves:2\r\n\
                    slave0:ip=127.0.0.1,port=56381,state=online,offset=10,lag=0\r\n\
                    slave1:ip=127.0.0.1,port=56382,state=wait_bgsave,offset=0,lag=1\r\n\
                    slave_read_repl_offset:10\r\n";
        let topology = RedisTopology::of_replication(RedisMode::Sentinel, "127.0.0.1:56380", info);
        let states: Vec<(&str, &str, bool)> = topology
            .nodes
            .iter()
            .map(|n| (n.address.as_str(), n.role, n.up))
            .collect();
        assert_eq!(
            states,
            [
                ("127.0.0.1:56380", "primary", true),
                ("127.0.0.1:56381", "replica", true),
                ("127.0.0.1:56382", "replica", false),
            ]
        );
        assert!(!topology.is_healthy());
    }

    #[test]
    fn reads_the_cluster() {
        let info = "cluster_state:ok\r\ncluster_slots_assigned:16384\r\n";
        let nodes = "\
a1 127.0.0.1:56400@46400 myself,master - 0 0 1 connected 0-5460
b2 127.0.0.1:56403@46403 slave a1 0 0 1 connected
c3 127.0.0.1:56401@46401 master,fail - 0 0 2 disconnected 5461-10922 10923
";
        let topology = RedisTopology::of_cluster(info, nodes);
        assert_eq!(topology.cluster_state.as_deref(), Some("ok"));
        let summary: Vec<(&str, &str, bool, Option<u32>)> = topology
            .nodes
            .iter()
            .map(|n| (n.address.as_str(), n.role, n.up, n.slots))
            .collect();
        assert_eq!(
            summary,
            [
                ("127.0.0.1:56400", "primary", true, Some(5461)),
                ("127.0.0.1:56403", "replica", true, None),
                ("127.0.0.1:56401", "primary", false, Some(5463)),
            ]
        );
        assert_eq!(topology.nodes[1].primary.as_deref(), Some("a1"));
        assert!(!topology.is_healthy());
    }
}
