//! The Redis Sentinel group, started on demand (`services up redis-sentinel`): a
//! primary (:16380), a replica (:16381) and three sentinels (:16390-16392) watching
//! them as `poolside`, each quorum two, a primary judged down after 3 s. The faults:
//! `services failover redis` (`SENTINEL FAILOVER`) and `services kill redis-primary`.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::redis_node::{RedisNode, Role, cli, info_field};
use super::{REDIS_PASSWORD, Service};

/// The name the sentinels give the group's primary.
pub(crate) const MASTER_NAME: &str = "poolside";
/// The first primary's port.
const PRIMARY_PORT: u16 = 16380;
/// The data nodes' ports.
pub(crate) const DATA_PORTS: [u16; 2] = [PRIMARY_PORT, 16381];
/// The sentinels' ports.
pub(crate) const SENTINEL_PORTS: [u16; 3] = [16390, 16391, 16392];
/// How long the group may take to settle after it starts or fails over.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(30);

/// The group's processes, data nodes first.
pub(crate) static NODES: [RedisNode; 5] = [
    RedisNode {
        name: "Redis Sentinel node 1",
        key: "redis-sentinel-data-1",
        port: DATA_PORTS[0],
        role: Role::Data { follows: None },
    },
    RedisNode {
        name: "Redis Sentinel node 2",
        key: "redis-sentinel-data-2",
        port: DATA_PORTS[1],
        role: Role::Data {
            follows: Some(PRIMARY_PORT),
        },
    },
    RedisNode {
        name: "Redis sentinel 1",
        key: "redis-sentinel-1",
        port: SENTINEL_PORTS[0],
        role: Role::Sentinel {
            primary: PRIMARY_PORT,
            master: MASTER_NAME,
        },
    },
    RedisNode {
        name: "Redis sentinel 2",
        key: "redis-sentinel-2",
        port: SENTINEL_PORTS[1],
        role: Role::Sentinel {
            primary: PRIMARY_PORT,
            master: MASTER_NAME,
        },
    },
    RedisNode {
        name: "Redis sentinel 3",
        key: "redis-sentinel-3",
        port: SENTINEL_PORTS[2],
        role: Role::Sentinel {
            primary: PRIMARY_PORT,
            master: MASTER_NAME,
        },
    },
];

/// The sentinels' URLs, comma-separated (`REDIS_SENTINELS`).
pub(crate) fn sentinel_urls() -> String {
    SENTINEL_PORTS
        .map(|port| format!("redis://default:{REDIS_PASSWORD}@127.0.0.1:{port}"))
        .join(",")
}

/// The port of the primary, as the first sentinel that answers names it.
pub(crate) fn primary_port() -> Result<u16> {
    let mut last = None;
    for port in SENTINEL_PORTS {
        match cli(port, &["SENTINEL", "get-master-addr-by-name", MASTER_NAME]) {
            Ok(reply) => {
                let port = reply
                    .lines()
                    .nth(1)
                    .and_then(|p| p.trim().parse().ok())
                    .with_context(|| format!("sentinel answered {reply:?}"))?;
                return Ok(port);
            }
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| anyhow::anyhow!("no sentinel")))
        .context("no sentinel named the primary: run `cargo xtask services up redis-sentinel`")
}

/// Waits until the group can fail over: the primary is a primary with its replica
/// in sync, and every sentinel sees that replica and the two other sentinels.
pub(crate) fn settle() -> Result<()> {
    let began = Instant::now();
    let mut last = String::new();
    while began.elapsed() < SETTLE_TIMEOUT {
        match settled() {
            Ok(()) => return Ok(()),
            Err(e) => last = format!("{e:#}"),
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    bail!(
        "the Sentinel group did not settle within {}s: {last}",
        SETTLE_TIMEOUT.as_secs()
    )
}

fn settled() -> Result<()> {
    let primary = primary_port()?;
    let info = cli(primary, &["INFO", "replication"])?;
    if info_field(&info, "role") != Some("master")
        || info_field(&info, "connected_slaves") != Some("1")
    {
        bail!("the primary on {primary} is not a primary with one replica: {info}");
    }
    let replica = DATA_PORTS
        .into_iter()
        .find(|&p| p != primary)
        .context("no replica port")?;
    let info = cli(replica, &["INFO", "replication"])?;
    if info_field(&info, "master_link_status") != Some("up") {
        bail!("the replica on {replica} is not in sync: {info}");
    }
    for port in SENTINEL_PORTS {
        let master = cli(port, &["SENTINEL", "master", MASTER_NAME])?;
        let field = |name: &str| {
            let mut lines = master.lines();
            lines
                .position(|l| l.trim() == name)
                .and_then(|_| lines.next())
                .map(str::trim)
                .map(str::to_owned)
        };
        if field("num-slaves").as_deref() != Some("1")
            || field("num-other-sentinels").as_deref() != Some("2")
            || field("port").as_deref() != Some(primary.to_string().as_str())
        {
            bail!("sentinel {port} does not see the whole group yet");
        }
    }
    Ok(())
}

/// `services failover redis`: asks a sentinel to fail over, and waits until the other
/// node is the primary and the group has settled again.
pub(crate) fn failover() -> Result<()> {
    settle()?;
    let before = primary_port()?;
    let began = Instant::now();
    cli(SENTINEL_PORTS[0], &["SENTINEL", "FAILOVER", MASTER_NAME])?;
    await_new_primary(before, began)?;
    settle()?;
    println!(
        "services: the Sentinel group settled {} ms after the failover began",
        began.elapsed().as_millis()
    );
    Ok(())
}

/// Waits until the sentinels name a primary other than the one on `before`, and it
/// answers as a primary; says how long that took from `began`.
pub(crate) fn await_new_primary(before: u16, began: Instant) -> Result<()> {
    loop {
        // A sentinel may not answer for a moment; ask again until the deadline.
        if let Ok(port) = primary_port()
            && port != before
            && cli(port, &["ROLE"]).is_ok_and(|role| role.starts_with("master"))
        {
            println!(
                "services: Redis failed over from :{before} to :{port} in {} ms",
                began.elapsed().as_millis()
            );
            return Ok(());
        }
        if began.elapsed() > SETTLE_TIMEOUT {
            bail!(
                "the sentinels did not promote a new primary within {}s",
                SETTLE_TIMEOUT.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The node serving as primary now.
pub(crate) fn primary_node() -> Result<&'static RedisNode> {
    let port = primary_port()?;
    NODES
        .iter()
        .find(|node| node.port() == port)
        .with_context(|| format!("the sentinels name :{port}, which is not a node of the group"))
}
