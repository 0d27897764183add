//! [`RedisConfig`]: the optional `redis` section, and [`RedisMode`]: one server, a
//! Sentinel group or a cluster.

use std::fmt;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use crate::{Profile, SecretUrl};

/// Settings of the Redis pool (`[redis]`, `POOLSIDE_REDIS__<KEY>`). The section exists
/// only when one of its keys is set; then what [`mode`](Self::mode) needs is required:
/// `url` for one server, `sentinels` and `master_name` for a Sentinel group,
/// `cluster_nodes` for a cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisConfig {
    /// How Redis is deployed. Default: `single`.
    pub mode: RedisMode,
    /// `redis://`, `rediss://` (TLS; the certificate checked against the CA file of
    /// `?sslrootcert=`, else the system's) or `unix://` URL of the one server
    /// (`single` mode).
    /// Legacy: `REDIS_URL`.
    pub url: SecretUrl,
    /// The sentinels' URLs (`sentinel` mode). Their credentials and database are used
    /// for the sentinels and the data nodes alike.
    pub sentinels: Vec<SecretUrl>,
    /// The name the sentinels monitor the primary under (`sentinel` mode).
    pub master_name: String,
    /// A file holding the data nodes' password, read again for each new connection: a
    /// rotated password (an ACL user's, `requirepass`, a managed service's AUTH token)
    /// takes effect without a restart, while connections already open stay
    /// authenticated. `url` and `cluster_nodes` must then name no password; in a
    /// Sentinel group the file's password is the primary's, and the password of
    /// `sentinels` stays the sentinels'. The user is the URL's, `default` without one.
    /// A trailing line break is ignored. Default: none.
    pub password_file: Option<PathBuf>,
    /// URLs of some of the cluster's nodes (`cluster` mode): the client learns the
    /// rest, and which node holds which slots, from them. `rediss://` for TLS (all of
    /// them, with one `?sslrootcert=`, or none for the system's CAs).
    pub cluster_nodes: Vec<SecretUrl>,
    /// Most connections the pool opens. Default: 10.
    pub max_size: u32,
    /// Longest wait to get a connection. Default: 5 s. Legacy: `REDIS_CONNECTION_TIMEOUT` (ms).
    pub connection_timeout: Duration,
    /// Longest a single command may take. Default: 3 s. Legacy: `REDIS_COMMAND_TIMEOUT` (ms).
    pub command_timeout: Duration,
    /// Failed connects in a row over which the delay before reconnecting keeps
    /// doubling; after them the pool keeps reconnecting at the longest delay, and never
    /// gives up (see [`reconnect_delay`](Self::reconnect_delay)). Default: 3. Legacy:
    /// `REDIS_MAX_RETRIES`.
    pub max_retries: u32,
    /// Delay before reconnecting after a failed connect, doubled per failure in a row;
    /// the pool takes up to a quarter off each, at random, so that instances that
    /// lost Redis together do not reconnect together. Meanwhile commands that need a
    /// new connection fail at once. Default: 1 s.
    /// Legacy: `REDIS_RETRY_DELAY` (ms).
    pub retry_delay: Duration,
    /// Commands that may wait for a connection before new ones are refused. Default: 1000.
    pub max_queued_commands: u32,
    /// In `cluster` mode, how many slots' worth of requests may be in flight on a shared
    /// cluster connection at once (a `GET` one, an `MGET` one per slot of its keys); the
    /// rest go to another shared connection or wait their turn within
    /// `command_timeout`, and one command goes in parts over half as many at most. After
    /// slots move, a larger burst can stall the redis crate's cluster client for good;
    /// a bound costs some throughput past it. 0: no bound. Default: 32.
    pub cluster_in_flight: u32,
    /// Replicas that must have a write before the pool acknowledges it (`WAIT`
    /// after each write of `RedisPool::write`, and so of every `RedisCache` write): a
    /// write the primary took but no replica did is lost when a replica is promoted,
    /// and is reported as failed instead. Default (unset): 1 in `sentinel` and
    /// `cluster` mode, 0 (no wait) in `single` mode; see
    /// [`replicas_to_wait_for`](Self::replicas_to_wait_for).
    pub wait_replicas: Option<u32>,
    /// Longest a write waits for `wait_replicas` replicas before it is reported as
    /// failed. Default: 1 s.
    pub wait_timeout: Duration,
}

impl RedisConfig {
    /// This configuration's share for one of `runtimes` pools that together stand in
    /// for it (one per core's runtime): `max_size` and `max_queued_commands` divided
    /// between them, rounded up. A share keeps two connections where the whole has
    /// two or more, so that each pool keeps its shared multiplexed connection beside
    /// exclusive checkouts.
    ///
    /// ```
    /// use std::num::NonZeroU32;
    ///
    /// let whole = poolside_config::RedisConfig::defaults(poolside_config::Profile::Production);
    /// let share = whole.per_runtime(NonZeroU32::new(8).unwrap());
    /// assert_eq!((share.max_size, share.max_queued_commands), (2, 125));
    /// ```
    #[must_use]
    pub fn per_runtime(&self, runtimes: NonZeroU32) -> Self {
        let share = |count: u32| count.div_ceil(runtimes.get());
        Self {
            max_size: share(self.max_size).max(self.max_size.min(2)),
            max_queued_commands: share(self.max_queued_commands),
            ..self.clone()
        }
    }

    /// How long the pool waits before reconnecting after `failures` failed connects in a
    /// row (at least one): `retry_delay`, doubled per failure for the first
    /// `max_retries` of them (1 s, 2 s, 4 s with the defaults), then the longest of
    /// those.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let config = poolside_config::RedisConfig::defaults(poolside_config::Profile::Production);
    /// let delays: Vec<_> = (1..=5).map(|n| config.reconnect_delay(n).as_secs()).collect();
    /// assert_eq!(delays, [1, 2, 4, 4, 4]);
    /// ```
    pub fn reconnect_delay(&self, failures: u32) -> Duration {
        let doublings = failures
            .min(self.max_retries.max(1))
            .saturating_sub(1)
            .min(31);
        self.retry_delay.saturating_mul(1 << doublings)
    }

    /// How many replicas a write must reach before the pool acknowledges it:
    /// `wait_replicas`, or by mode when unset (1 where a replica may be promoted,
    /// `sentinel` and `cluster`; 0 for one server).
    ///
    /// ```
    /// use poolside_config::{Profile, RedisConfig, RedisMode};
    /// let mut config = RedisConfig::defaults(Profile::Production);
    /// assert_eq!(config.replicas_to_wait_for(), 0);
    /// config.mode = RedisMode::Sentinel;
    /// assert_eq!(config.replicas_to_wait_for(), 1);
    /// config.wait_replicas = Some(0);
    /// assert_eq!(config.replicas_to_wait_for(), 0);
    /// ```
    pub fn replicas_to_wait_for(&self) -> u32 {
        self.wait_replicas.unwrap_or(match self.mode {
            RedisMode::Single => 0,
            RedisMode::Sentinel | RedisMode::Cluster => 1,
        })
    }

    /// The built-in defaults (the same in every profile), with no URL.
    pub fn defaults(_profile: Profile) -> Self {
        Self {
            mode: RedisMode::Single,
            url: SecretUrl::default(),
            sentinels: Vec::new(),
            master_name: String::new(),
            password_file: None,
            cluster_nodes: Vec::new(),
            max_size: 10,
            connection_timeout: Duration::from_secs(5),
            command_timeout: Duration::from_secs(3),
            max_retries: 3,
            retry_delay: Duration::from_secs(1),
            max_queued_commands: 1000,
            cluster_in_flight: 32,
            wait_replicas: None,
            wait_timeout: Duration::from_secs(1),
        }
    }
}

/// How Redis is deployed (`redis.mode`); serialized as configuration spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RedisMode {
    /// One server at `redis.url`.
    #[default]
    Single,
    /// A primary with replicas, found and failed over by Redis Sentinel
    /// (`redis.sentinels`, `redis.master_name`).
    Sentinel,
    /// Redis Cluster: keys sharded over primaries by slot (`redis.cluster_nodes`).
    Cluster,
}

impl RedisMode {
    /// Every mode, in the order configuration lists them.
    pub const ALL: [RedisMode; 3] = [RedisMode::Single, RedisMode::Sentinel, RedisMode::Cluster];

    /// The name as configuration spells it.
    pub fn name(self) -> &'static str {
        match self {
            RedisMode::Single => "single",
            RedisMode::Sentinel => "sentinel",
            RedisMode::Cluster => "cluster",
        }
    }
}

impl fmt::Display for RedisMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for RedisMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RedisMode::ALL
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                format!("{s:?} is not a Redis mode: expected single, sentinel or cluster")
            })
    }
}
