//! The Redis Cluster, started on demand (`services up redis-cluster`): six nodes on
//! :56400-56405 (cluster bus on :46400-46405), formed by `redis-cli --cluster create`
//! into three primaries with a replica each. The fault: `services kill redis-node N`
//! (N from 1), after which the node's replica takes its slots.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::redis_node::{RedisNode, Role, cli, info_field};
use super::{REDIS_PASSWORD, Service};

/// How long the cluster may take to form, or to serve every slot again.
const FORM_TIMEOUT: Duration = Duration::from_secs(60);

macro_rules! node {
    ($n:literal) => {
        RedisNode {
            name: concat!("Redis cluster node ", $n),
            key: concat!("redis-cluster-", $n),
            port: 56399 + $n,
            role: Role::Cluster {
                bus_port: 46399 + $n,
            },
        }
    };
}

/// The cluster's nodes, numbered from 1.
pub(crate) static NODES: [RedisNode; 6] =
    [node!(1), node!(2), node!(3), node!(4), node!(5), node!(6)];

/// The nodes' URLs, comma-separated (`REDIS_CLUSTER_NODES`).
pub(crate) fn node_urls() -> String {
    NODES
        .iter()
        .map(|node| format!("redis://default:{REDIS_PASSWORD}@127.0.0.1:{}", node.port()))
        .collect::<Vec<_>>()
        .join(",")
}

/// Node `n` (from 1).
pub(crate) fn node(n: &str) -> Result<&'static RedisNode> {
    n.parse::<usize>()
        .ok()
        .and_then(|n| n.checked_sub(1))
        .and_then(|i| NODES.get(i))
        .with_context(|| {
            format!(
                "no Redis cluster node {n:?}: the nodes are 1 to {}",
                NODES.len()
            )
        })
}

/// Forms the cluster unless its nodes know each other already (started again with
/// their `nodes.conf`), then waits until every live node serves every slot.
pub(crate) fn form() -> Result<()> {
    let first = NODES[0].port();
    let known = cli(first, &["CLUSTER", "INFO"])
        .ok()
        .and_then(|info| info_field(&info, "cluster_known_nodes").map(str::to_owned));
    if known.as_deref() != Some("6") {
        let addresses: Vec<String> = NODES
            .iter()
            .map(|node| format!("127.0.0.1:{}", node.port()))
            .collect();
        let mut args = vec!["--cluster", "create"];
        args.extend(addresses.iter().map(String::as_str));
        args.extend(["--cluster-replicas", "1", "--cluster-yes"]);
        cli(first, &args).context("forming the cluster")?;
    }
    serving()
}

/// Waits until every node says the cluster is ok, and every replica is in sync
/// with its primary, so that a primary killed has a replica to take over.
fn serving() -> Result<()> {
    let began = Instant::now();
    loop {
        let last = match ready() {
            Ok(()) => return Ok(()),
            Err(e) => e,
        };
        if began.elapsed() > FORM_TIMEOUT {
            return Err(last.context(format!(
                "the Redis cluster was not ready within {}s",
                FORM_TIMEOUT.as_secs()
            )));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn ready() -> Result<()> {
    let mut replicas = 0;
    for node in &NODES {
        let info = cli(node.port(), &["CLUSTER", "INFO"])?;
        let state = info_field(&info, "cluster_state");
        if state != Some("ok") {
            bail!("node {} says the cluster is {state:?}", node.port());
        }
        let replication = cli(node.port(), &["INFO", "replication"])?;
        if info_field(&replication, "role") == Some("slave") {
            if info_field(&replication, "master_link_status") != Some("up") {
                bail!("replica {} is not in sync", node.port());
            }
            replicas += 1;
        }
    }
    if replicas != NODES.len() / 2 {
        bail!(
            "{replicas} of the nodes are replicas, not {}",
            NODES.len() / 2
        );
    }
    Ok(())
}
