//! [`RedisPrimary`]: a node that holds keys, for commands each such node answers for
//! its own keys (`SCAN`).

use std::fmt;

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
    /// The primaries in `CLUSTER NODES` output that serve slots and are not failed.
    pub(crate) fn of_cluster_nodes(nodes: &str) -> Vec<Self> {
        nodes
            .lines()
            .filter_map(|line| {
                let fields: Vec<&str> = line.split_whitespace().collect();
                let flags = fields.get(2)?;
                let serving = flags.split(',').any(|f| f == "master")
                    && !flags.split(',').any(|f| f == "fail" || f == "fail?")
                    && fields.len() > 8;
                if !serving {
                    return None;
                }
                // ip:port@cport[,hostname]
                let address = fields.get(1)?.split('@').next()?;
                let (host, port) = address.rsplit_once(':')?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_serving_primaries_of_cluster_nodes() {
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
                    port: 56401
                },
            ]
        );
    }
}
