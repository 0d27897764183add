//! The Redis Cluster, started on demand (`services up redis-cluster`): six nodes on
//! :16400-16405, over TLS on :16410-16415 (cluster bus on :16500-16505), formed by
//! `redis-cli --cluster create` into three primaries with a replica each. The fault: `services kill redis-node N`
//! (N from 1), after which the node's replica takes its slots.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::redis_node::{RedisNode, Role, TLS_PORT_OFFSET, cli, cli_over_tls, info_field};
use super::{REDIS_PASSWORD, Service};

/// How long the cluster may take to form, or to serve every slot again.
const FORM_TIMEOUT: Duration = Duration::from_secs(60);

macro_rules! node {
    ($n:literal) => {
        RedisNode {
            name: concat!("Redis cluster node ", $n),
            key: concat!("redis-cluster-", $n),
            port: 16399 + $n,
            role: Role::Cluster {
                bus_port: 16499 + $n,
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

/// The nodes' TLS URLs, comma-separated (`REDIS_CLUSTER_TLS_NODES`); a client adds
/// `?sslrootcert=` with the test CA (`DATABASE_TLS_CA`).
pub(crate) fn tls_node_urls() -> String {
    NODES
        .iter()
        .map(|node| {
            format!(
                "rediss://default:{REDIS_PASSWORD}@127.0.0.1:{}",
                node.port() + TLS_PORT_OFFSET
            )
        })
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

/// Waits until every node says the cluster is ok, every replica is in sync with its
/// primary (so that a primary killed has a replica to take over), and every node
/// names the same primary for each slot, with none migrating (so that a client
/// asking any node for the slots gets the map the cluster serves).
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
    let mut first_view: Option<(u16, Vec<String>)> = None;
    for node in &NODES {
        let info = cli(node.port(), &["CLUSTER", "INFO"])?;
        let state = info_field(&info, "cluster_state");
        if state != Some("ok") {
            bail!("node {} says the cluster is {state:?}", node.port());
        }
        let nodes = cli(node.port(), &["CLUSTER", "NODES"])?;
        if let Some(open) = nodes
            .split_whitespace()
            .find(|field| field.starts_with('['))
        {
            bail!("node {} has a slot migrating: {open}", node.port());
        }
        let view = slot_owners(&nodes);
        match &first_view {
            Some((port, first)) if *first != view => bail!(
                "nodes {port} and {} name different primaries for some slots",
                node.port()
            ),
            Some(_) => {}
            None => first_view = Some((node.port(), view)),
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

/// One line of `CLUSTER NODES`: `id ip:port@cport flags primary-id ... slot...`.
struct NodeLine<'a> {
    id: &'a str,
    /// `ip:port`.
    address: &'a str,
    port: u16,
    /// Flagged `master`, not `fail` or `fail?`, and listing slots.
    serves_slots: bool,
    /// The slots it lists (`0-5460`, `5461`), without a migration in progress
    /// (`[5462->-id]`).
    ranges: Vec<&'a str>,
    /// A replica's primary (its node id).
    replica_of: Option<&'a str>,
}

impl NodeLine<'_> {
    /// How many slots its ranges hold.
    fn slots(&self) -> u32 {
        self.ranges.iter().map(|range| slot_count(range)).sum()
    }
}

/// Every well-formed line of `CLUSTER NODES` output.
fn node_lines(nodes: &str) -> impl Iterator<Item = NodeLine<'_>> {
    nodes.lines().filter_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let flags = fields.get(2)?;
        let flag = |test: &dyn Fn(&str) -> bool| flags.split(',').any(test);
        let address = fields.get(1)?.split('@').next()?;
        Some(NodeLine {
            id: fields.first()?,
            address,
            port: address.rsplit_once(':')?.1.parse().ok()?,
            serves_slots: fields.len() > 8
                && flag(&|f| f == "master")
                && !flag(&|f| f.starts_with("fail")),
            replica_of: flag(&|f| f == "slave")
                .then(|| fields.get(3).copied())
                .flatten(),
            ranges: fields
                .iter()
                .skip(8)
                .filter(|field| !field.starts_with('['))
                .copied()
                .collect(),
        })
    })
}

/// Each primary serving slots, as `CLUSTER NODES` says: its ID and slot ranges, in
/// order.
fn slot_owners(nodes: &str) -> Vec<String> {
    let mut owners: Vec<String> = node_lines(nodes)
        .filter(|node| node.serves_slots)
        .map(|node| format!("{} {}", node.id, node.ranges.join(" ")))
        .collect();
    owners.sort();
    owners
}

/// How many slots a `CLUSTER NODES` slot range lists: `first-last` or one slot.
fn slot_count(range: &str) -> u32 {
    let bound = |n: &str| n.parse::<u32>().ok();
    match range.split_once('-') {
        Some((first, last)) => match (bound(first), bound(last)) {
            (Some(first), Some(last)) if last >= first => last - first + 1,
            _ => 0,
        },
        None => u32::from(bound(range).is_some()),
    }
}

/// The node on `port` serves slots as a primary that is not failed, as `nodes`
/// (`CLUSTER NODES`) says.
fn serves_slots(nodes: &str, port: u16) -> bool {
    node_lines(nodes).any(|node| node.port == port && node.serves_slots)
}

/// Node `node`'s replicas' ports, when it serves slots as a primary now; `None` when
/// it does not.
pub(crate) fn replicas_of_primary(node: &RedisNode) -> Result<Option<Vec<u16>>> {
    let nodes = cluster_nodes()?;
    let Some(primary) =
        node_lines(&nodes).find(|line| line.port == node.port() && line.serves_slots)
    else {
        return Ok(None);
    };
    let replicas = node_lines(&nodes)
        .filter(|line| line.replica_of == Some(primary.id))
        .map(|line| line.port)
        .collect();
    Ok(Some(replicas))
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

/// `services reshard redis N`: moves `slots` slots from the primary that serves the
/// most to the one that serves the fewest (so that runs one after another keep every
/// primary serving), with `redis-cli --cluster reshard`, and waits until the cluster
/// serves again (see `serving`).
pub(crate) fn reshard(slots: &str) -> Result<()> {
    let slots: u32 = slots
        .parse()
        .ok()
        .filter(|&n| n > 0)
        .with_context(|| format!("{slots:?} is not a number of slots"))?;
    let nodes = cluster_nodes()?;
    let primaries: Vec<NodeLine<'_>> = node_lines(&nodes).filter(|n| n.serves_slots).collect();
    let (Some(from), Some(to)) = (
        primaries.iter().max_by_key(|n| n.slots()),
        primaries.iter().min_by_key(|n| n.slots()),
    ) else {
        bail!("no primary serves slots: {nodes}");
    };
    if primaries.len() < 2 {
        bail!("only {} serves slots: {nodes}", from.address);
    }
    if slots >= from.slots() {
        // A primary left with no slots becomes a replica (cluster-allow-replica-migration).
        bail!(
            "{} serves {} slots, the most of any primary: moving {slots} would leave it none",
            from.address,
            from.slots()
        );
    }
    let began = Instant::now();
    let slots_text = slots.to_string();
    let to_over_tls = format!("127.0.0.1:{}", to.port + TLS_PORT_OFFSET);
    cli_over_tls(
        to.port,
        &[
            "--cluster",
            "reshard",
            &to_over_tls,
            "--cluster-from",
            from.id,
            "--cluster-to",
            to.id,
            "--cluster-slots",
            &slots_text,
            "--cluster-yes",
        ],
    )
    .context("resharding")?;
    serving()?;
    println!(
        "services: moved {slots} slots from {} to {} in {} ms",
        from.address,
        to.address,
        began.elapsed().as_millis()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_lines_count_the_slots_each_primary_serves_and_name_their_ranges() {
        let nodes = "\
a 127.0.0.1:16400@16500 myself,master - 0 0 1 connected 0-5460 [5461->-b]
b 127.0.0.1:16401@16501 master - 0 0 2 connected 5461-10922 16383
c 127.0.0.1:16402@16502 master,fail - 0 0 3 connected 10923-16382
d 127.0.0.1:16403@16503 slave b 0 0 2 connected
";
        let lines: Vec<(u16, bool, u32)> = node_lines(nodes)
            .map(|n| (n.port, n.serves_slots, n.slots()))
            .collect();
        assert_eq!(
            lines,
            [
                (16400, true, 5461),
                (16401, true, 5463),
                (16402, false, 5460),
                (16403, false, 0)
            ]
        );
        assert_eq!(
            slot_owners(nodes),
            ["a 0-5460", "b 5461-10922 16383"],
            "the primaries serving slots, without the migration in progress"
        );
    }
}
