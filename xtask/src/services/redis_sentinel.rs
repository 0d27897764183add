//! The Redis Sentinel groups, started on demand (`services up redis-sentinel`):
//! - [`GROUP`]: a primary (:16380), a replica (:16381) and three sentinels
//!   (:16390-16392) watching them as `poolside`, each quorum two. The faults: `services
//!   failover redis` (`SENTINEL FAILOVER`) and `services kill redis-primary`.
//! - [`TLS_GROUP`]: a primary (:16440), a replica (:16441) and one sentinel (:16442)
//!   watching them as `poolside-tls`, that speak TLS to each other and to clients on
//!   ports [`TLS_PORT_OFFSET`] above those (the test CA's certificate, a client's
//!   checked when it gives one), so that the sentinel names the primary by its TLS
//!   port. The plain ports serve `redis-cli` here.
//!
//! A primary is judged down after 3 s.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::redis_node::{RedisNode, Role, TLS_PORT_OFFSET, cli, info_field};
use super::{REDIS_PASSWORD, Service};

/// How long a group may take to settle after it starts or fails over.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(30);

/// A Sentinel group: two data nodes, the first the primary at the start, and its
/// sentinels.
#[derive(Debug)]
pub(crate) struct SentinelGroup {
    /// The name the sentinels give the group's primary.
    pub(crate) master: &'static str,
    /// The data nodes' (plain) ports.
    pub(crate) data_ports: [u16; 2],
    /// The sentinels' (plain) ports.
    pub(crate) sentinel_ports: &'static [u16],
    /// Whether the group speaks TLS, on ports [`TLS_PORT_OFFSET`] above its plain
    /// ones: between its nodes (`tls-replication`), and so to the clients the
    /// sentinels name the primary to.
    pub(crate) tls: bool,
}

/// The plain group, which the fault commands act on.
pub(crate) static GROUP: SentinelGroup = SentinelGroup {
    master: "poolside",
    data_ports: [16380, 16381],
    sentinel_ports: &[16390, 16391, 16392],
    tls: false,
};

/// The group over TLS.
pub(crate) static TLS_GROUP: SentinelGroup = SentinelGroup {
    master: "poolside-tls",
    data_ports: [16440, 16441],
    sentinel_ports: &[16442],
    tls: true,
};

/// A data node of `group`; the first is the primary at the start.
const fn data(
    name: &'static str,
    key: &'static str,
    group: &'static SentinelGroup,
    n: usize,
) -> RedisNode {
    RedisNode {
        name,
        key,
        port: group.data_ports[n],
        role: Role::Data {
            group,
            follows: if n == 0 {
                None
            } else {
                Some(group.data_ports[0])
            },
        },
    }
}

/// Sentinel `n` of `group`.
const fn sentinel(
    name: &'static str,
    key: &'static str,
    group: &'static SentinelGroup,
    n: usize,
) -> RedisNode {
    RedisNode {
        name,
        key,
        port: group.sentinel_ports[n],
        role: Role::Sentinel { group },
    }
}

/// The groups' processes, each group's data nodes before its sentinels.
pub(crate) static NODES: [RedisNode; 8] = [
    data("Redis Sentinel node 1", "redis-sentinel-data-1", &GROUP, 0),
    data("Redis Sentinel node 2", "redis-sentinel-data-2", &GROUP, 1),
    sentinel("Redis sentinel 1", "redis-sentinel-1", &GROUP, 0),
    sentinel("Redis sentinel 2", "redis-sentinel-2", &GROUP, 1),
    sentinel("Redis sentinel 3", "redis-sentinel-3", &GROUP, 2),
    data(
        "Redis Sentinel TLS node 1",
        "redis-sentinel-tls-data-1",
        &TLS_GROUP,
        0,
    ),
    data(
        "Redis Sentinel TLS node 2",
        "redis-sentinel-tls-data-2",
        &TLS_GROUP,
        1,
    ),
    sentinel(
        "Redis TLS sentinel 1",
        "redis-sentinel-tls-1",
        &TLS_GROUP,
        0,
    ),
];

impl SentinelGroup {
    /// The port clients reach the node on plain port `port` at.
    pub(crate) fn client_port(&self, port: u16) -> u16 {
        if self.tls {
            port + TLS_PORT_OFFSET
        } else {
            port
        }
    }

    /// The plain port of the node clients reach on `port`.
    fn node_port(&self, port: u16) -> u16 {
        if self.tls {
            port - TLS_PORT_OFFSET
        } else {
            port
        }
    }

    /// The sentinels' URLs, comma-separated (`REDIS_SENTINELS`,
    /// `REDIS_SENTINELS_TLS`: there a client adds `?sslrootcert=` with the test CA,
    /// `DATABASE_TLS_CA`).
    pub(crate) fn sentinel_urls(&self) -> String {
        let scheme = if self.tls { "rediss" } else { "redis" };
        self.sentinel_ports
            .iter()
            .map(|&port| {
                format!(
                    "{scheme}://default:{REDIS_PASSWORD}@127.0.0.1:{}",
                    self.client_port(port)
                )
            })
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The (plain) port of the primary, as the first sentinel that answers names
    /// it.
    pub(crate) fn primary_port(&self) -> Result<u16> {
        let mut last = None;
        for &port in self.sentinel_ports {
            match cli(port, &["SENTINEL", "get-master-addr-by-name", self.master]) {
                Ok(reply) => {
                    let named: u16 = reply
                        .lines()
                        .nth(1)
                        .and_then(|p| p.trim().parse().ok())
                        .with_context(|| format!("sentinel answered {reply:?}"))?;
                    return Ok(self.node_port(named));
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| anyhow::anyhow!("no sentinel")))
            .context("no sentinel named the primary: run `cargo xtask services up redis-sentinel`")
    }
}

/// Waits until both groups can fail over ([`SentinelGroup::settle`]).
pub(crate) fn settle() -> Result<()> {
    GROUP.settle()?;
    TLS_GROUP.settle()
}

impl SentinelGroup {
    /// Waits until the group can fail over: the primary is a primary with its
    /// replica in sync, and every sentinel sees that replica and the other
    /// sentinels.
    fn settle(&self) -> Result<()> {
        let began = Instant::now();
        let mut last = String::new();
        while began.elapsed() < SETTLE_TIMEOUT {
            match self.settled() {
                Ok(()) => return Ok(()),
                Err(e) => last = format!("{e:#}"),
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        bail!(
            "the Sentinel group {:?} did not settle within {}s: {last}",
            self.master,
            SETTLE_TIMEOUT.as_secs()
        )
    }

    fn settled(&self) -> Result<()> {
        let primary = self.primary_port()?;
        let info = cli(primary, &["INFO", "replication"])?;
        if info_field(&info, "role") != Some("master")
            || info_field(&info, "connected_slaves") != Some("1")
        {
            bail!("the primary on {primary} is not a primary with one replica: {info}");
        }
        let replica = self
            .data_ports
            .into_iter()
            .find(|&p| p != primary)
            .context("no replica port")?;
        let info = cli(replica, &["INFO", "replication"])?;
        if info_field(&info, "master_link_status") != Some("up") {
            bail!("the replica on {replica} is not in sync: {info}");
        }
        let others = (self.sentinel_ports.len() - 1).to_string();
        let named = self.client_port(primary).to_string();
        for &port in self.sentinel_ports {
            let master = cli(port, &["SENTINEL", "master", self.master])?;
            let field = |name: &str| {
                let mut lines = master.lines();
                lines
                    .position(|l| l.trim() == name)
                    .and_then(|_| lines.next())
                    .map(str::trim)
                    .map(str::to_owned)
            };
            if field("num-slaves").as_deref() != Some("1")
                || field("num-other-sentinels").as_deref() != Some(others.as_str())
                || field("port").as_deref() != Some(named.as_str())
            {
                bail!("sentinel {port} does not see the whole group yet");
            }
        }
        Ok(())
    }

    /// `services failover redis`: asks a sentinel to fail over, and waits until the
    /// other node is the primary and the group has settled again.
    pub(crate) fn failover(&self) -> Result<()> {
        self.settle()?;
        let before = self.primary_port()?;
        let began = Instant::now();
        cli(
            self.sentinel_ports[0],
            &["SENTINEL", "FAILOVER", self.master],
        )?;
        self.await_new_primary(before, began)?;
        self.settle()?;
        println!(
            "services: the Sentinel group settled {} ms after the failover began",
            began.elapsed().as_millis()
        );
        Ok(())
    }

    /// Waits until the sentinels name a primary other than the one on `before`, and
    /// it answers as a primary; says how long that took from `began`.
    pub(crate) fn await_new_primary(&self, before: u16, began: Instant) -> Result<()> {
        loop {
            // A sentinel may not answer for a moment; ask again until the deadline.
            if let Ok(port) = self.primary_port()
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
    pub(crate) fn primary_node(&self) -> Result<&'static RedisNode> {
        let port = self.primary_port()?;
        NODES
            .iter()
            .find(|node| node.port() == port)
            .with_context(|| {
                format!("the sentinels name :{port}, which is not a node of the group")
            })
    }
}
