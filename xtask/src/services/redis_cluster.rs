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

/// The cluster's view from the first node that answers: one line per node.
fn cluster_nodes() -> Result<String> {
    NODES
        .iter()
        .find_map(|node| cli(node.port(), &["CLUSTER", "NODES"]).ok())
        .context("no Redis cluster node answers: run `cargo xtask services up redis-cluster`")
}

/// The node on `port` serves slots as a primary that is not failed, as `nodes`
/// (`CLUSTER NODES`) says.
fn serves_slots(nodes: &str, port: u16) -> bool {
    nodes.lines().any(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let address = format!("127.0.0.1:{port}@");
        fields.len() > 8
            && fields[1].starts_with(&address)
            && fields[2].split(',').any(|f| f == "master")
            && !fields[2].split(',').any(|f| f.starts_with("fail"))
    })
}

/// Node `node`'s replicas' ports, when it serves slots as a primary now; `None` when
/// it does not.
pub(crate) fn replicas_of_primary(node: &RedisNode) -> Result<Option<Vec<u16>>> {
    let nodes = cluster_nodes()?;
    if !serves_slots(&nodes, node.port()) {
        return Ok(None);
    }
    let address = format!("127.0.0.1:{}@", node.port());
    let id = nodes
        .lines()
        .find(|line| {
            line.split_whitespace()
                .nth(1)
                .is_some_and(|a| a.starts_with(&address))
        })
        .and_then(|line| line.split_whitespace().next())
        .context("the node is not in CLUSTER NODES")?;
    let replicas = nodes
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let replica = fields.get(2)?.split(',').any(|f| f == "slave");
            (replica && fields.get(3) == Some(&id)).then(|| port_of(fields.get(1)?))?
        })
        .collect();
    Ok(Some(replicas))
}

/// The port of `ip:port@cport`.
fn port_of(address: &str) -> Option<u16> {
    address.split('@').next()?.rsplit_once(':')?.1.parse().ok()
}

/// After primary `killed` went down: waits until one of its `replicas` serves slots as
/// a primary and every live node says the cluster is ok; says how long that took from
/// `began`. (Until then the old primary must not start again: with no persistence
/// it would come back empty, as the primary of its slots, and its replica would copy
/// the emptiness.)
pub(crate) fn await_promotion(killed: &RedisNode, replicas: &[u16], began: Instant) -> Result<()> {
    loop {
        let ok = NODES
            .iter()
            .filter(|node| node.port() != killed.port())
            .filter_map(|node| cli(node.port(), &["CLUSTER", "INFO"]).ok())
            .all(|info| info_field(&info, "cluster_state") == Some("ok"));
        let nodes = cluster_nodes()?;
        if let Some(promoted) = replicas.iter().find(|&&port| serves_slots(&nodes, port))
            && ok
        {
            println!(
                "services: Redis failed over from :{} to :{promoted} in {} ms",
                killed.port(),
                began.elapsed().as_millis()
            );
            return Ok(());
        }
        if began.elapsed() > FORM_TIMEOUT {
            bail!(
                "no replica of :{} took its slots within {}s",
                killed.port(),
                FORM_TIMEOUT.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `services reshard redis N`: moves `slots` slots from the first primary that
/// serves slots to the next, with `redis-cli --cluster reshard`, and waits until
/// every node says the cluster is ok.
pub(crate) fn reshard(slots: &str) -> Result<()> {
    let slots: u32 = slots
        .parse()
        .ok()
        .filter(|&n| n > 0)
        .with_context(|| format!("{slots:?} is not a number of slots"))?;
    let nodes = cluster_nodes()?;
    let primaries: Vec<(String, String)> = nodes
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let serving = fields.len() > 8
                && fields[2].split(',').any(|f| f == "master")
                && !fields[2].split(',').any(|f| f.starts_with("fail"));
            serving.then(|| {
                (
                    fields[0].to_owned(),
                    fields[1].split('@').next().unwrap_or("").to_owned(),
                )
            })
        })
        .collect();
    let [(from, from_addr), (to, to_addr), ..] = primaries.as_slice() else {
        bail!("fewer than two primaries serve slots: {nodes}");
    };
    let began = Instant::now();
    let slots_text = slots.to_string();
    let port = to_addr
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse().ok())
        .context("a primary's port")?;
    cli(
        port,
        &[
            "--cluster",
            "reshard",
            to_addr,
            "--cluster-from",
            from,
            "--cluster-to",
            to,
            "--cluster-slots",
            &slots_text,
            "--cluster-yes",
        ],
    )
    .context("resharding")?;
    serving()?;
    println!(
        "services: moved {slots} slots from {from_addr} to {to_addr} in {} ms",
        began.elapsed().as_millis()
    );
    Ok(())
}
