//! [`PostgresConfig`]: the `postgres` section.

use std::num::NonZeroU32;
use std::path::PathBuf;
use std::time::Duration;

use crate::{Profile, SecretUrl};

/// Settings of the PostgreSQL pool (`[postgres]` in `poolside.toml`,
/// `POOLSIDE_POSTGRES__<KEY>` in the environment).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostgresConfig {
    /// Connection string, with the Prisma-style parameters (`connection_limit`,
    /// `pool_timeout`, `connect_timeout`, `pgbouncer`) already taken out and applied.
    /// Multi-host libpq URLs are accepted, and libpq's TLS parameters (`sslmode` up to
    /// `verify-full`, `sslrootcert`; see [`tls_params`](crate::tls_params)). Required.
    /// Legacy: `DATABASE_URL`.
    pub url: SecretUrl,
    /// A file holding the password of the pools' connection strings that name none
    /// (`url`, `replicas`, and `overflow.secondary_url`, which takes this section's
    /// settings), read again for each new connection: a rotated password (a
    /// Kubernetes Secret volume, a Vault agent's file) takes effect without a restart,
    /// while connections already open keep theirs until `max_lifetime`. A trailing
    /// line break is ignored. `direct_url` is not the pools': whoever connects to it
    /// reads the file. Default: none.
    pub password_file: Option<PathBuf>,
    /// A connection string that bypasses PgBouncer, for migrations and session state.
    /// Default: none. Legacy: `DATABASE_URL_DIRECT`.
    pub direct_url: Option<SecretUrl>,
    /// Idle connections kept open and warmed at start. Default: by profile (2/1/5/5).
    /// Legacy: `DATABASE_POOL_MIN`, `DB_MIN_CONNECTIONS`, `DB_POOL_MIN`.
    pub min_idle: u32,
    /// Most connections the pool opens. Default: by profile (10/5/20/20). Legacy:
    /// `DATABASE_POOL_MAX`, `DB_CONNECTION_LIMIT`, `DB_MAX_CONNECTIONS`, `DB_POOL_MAX`;
    /// URL: `connection_limit`.
    pub max_size: u32,
    /// Longest wait for a connection from the pool, opening one included (HikariCP's
    /// `connectionTimeout`, Prisma's `pool_timeout`). Default: by profile (5/3/10/10 s).
    /// Legacy: `DATABASE_POOL_CONNECTION_TIMEOUT`, `DB_CONNECTION_TIMEOUT` (ms),
    /// `DB_POOL_TIMEOUT` (s); URL: `pool_timeout` (s).
    pub connection_timeout: Duration,
    /// Longest time to open one new connection (TCP, TLS and authentication).
    /// Default: `connection_timeout`. URL: `connect_timeout` (s).
    pub connect_timeout: Option<Duration>,
    /// An idle connection is closed after this long, and the pool reopens up to
    /// `min_idle` (bb8's rule); a pool with `min_idle == max_size` closes none. Default: by profile
    /// (10/5/30/30 s). Legacy: `DATABASE_POOL_IDLE_TIMEOUT`, `DB_IDLE_TIMEOUT`,
    /// `DB_POOL_IDLE_TIMEOUT` (ms).
    pub idle_timeout: Duration,
    /// A connection is closed after this long, jittered so that they do not all expire
    /// at once. Default: 30 min. Legacy: `DB_MAX_LIFETIME` (ms).
    pub max_lifetime: Duration,
    /// Longest a single statement may run. Default: 30 s. Legacy: `DB_QUERY_TIMEOUT` (ms).
    pub query_timeout: Duration,
    /// Connections of the pool shared by the pipelined path (`PgPool::query`), whose
    /// statements are pipelined on the wire; 0 turns the path off. Counted within
    /// `max_size`, and never all of it. Best near the database server's cores; measure.
    /// Default: 2; 1 in PgBouncer mode (`pgbouncer`), where one deep pipeline costs
    /// PgBouncer's single thread less than several shallow ones.
    pub pipeline_connections: u32,
    /// Connections of the batched read path (statements marked read-only: concurrent
    /// ones go out together, under one Sync), opened read-only on first use; 0 turns
    /// the path off. Reserved within `max_size`: exclusive checkouts and the pipelined
    /// path get `max_size - read_connections`. Not in PgBouncer mode. Default: 0.
    pub read_connections: u32,
    /// Most statements one batch of the read path carries. Default: 64.
    pub read_batch_size: u32,
    /// Checkouts that may wait when every connection is in use; beyond them, new ones
    /// fail at once with `Overloaded` (load shedding). Default: 1000.
    pub max_waiting: u32,
    /// Prepared statements cached per connection (LRU); 0 turns the cache off. In
    /// PgBouncer mode, the statements whose parameter types the pool keeps (one cache
    /// for the pool). Default: 256. Legacy: `DB_STATEMENT_CACHE_SIZE`.
    pub statement_cache_size: u32,
    /// PgBouncer transaction mode: unnamed statements only (each in one round trip,
    /// with parameter types learnt once per pool), no session state. Default: false.
    /// URL: `pgbouncer=true`.
    pub pgbouncer: bool,
    /// Read replicas (streaming standbys): each gets a read-only pool of this section's
    /// settings, and statements marked read-only go to one that is up and close enough.
    /// Default: none.
    pub replicas: Vec<SecretUrl>,
    /// A replica replaying further behind the primary than this takes no reads until
    /// it catches up. Default: 5 s.
    pub replica_max_lag: Duration,
    /// How often each replica's state and lag are sampled. Default: 1 s.
    pub replica_check_interval: Duration,
    /// How many instances of the service share the database, each with a pool of
    /// `max_size`: at start-up the pool warns when `expected_instances x max_size`
    /// connections cannot fit in what the server (or PgBouncer) leaves free. Default: 1.
    pub expected_instances: u32,
    /// A connection held longer than this is reported as a possible leak; `off` or 0
    /// turns detection off. Default: 60 s.
    pub leak_detection_threshold: Option<Duration>,
    /// Start without the server: the service starts, and answers its liveness probe,
    /// while PostgreSQL is still down (readiness and startup fail until it answers);
    /// the pool opens its `min_idle` connections once it does. Off, a start fails when
    /// the server cannot be reached, and an orchestrator's restarts back off (up to 5
    /// minutes in Kubernetes) while the database is away. Default: false.
    pub connect_lazy: bool,
}

impl PostgresConfig {
    /// How many connections the pipelined path shares: `pipeline_connections`, but
    /// never all of `max_size` (so that exclusive checkouts are never starved); 0 when
    /// that leaves none.
    ///
    /// ```
    /// let mut config = poolside_config::PostgresConfig::defaults(poolside_config::Profile::Production);
    /// assert_eq!(config.shared_pipeline_connections(), 2);
    /// config.max_size = 2;
    /// assert_eq!(config.shared_pipeline_connections(), 1);
    /// ```
    pub fn shared_pipeline_connections(&self) -> u32 {
        self.pipeline_connections
            .min(self.max_size.saturating_sub(1))
    }

    /// How many connections the batched read path opens: `read_connections`, or 0 in
    /// PgBouncer mode (its statements are prepared per connection) or when it would
    /// leave fewer than one connection for everything else.
    ///
    /// ```
    /// let mut config = poolside_config::PostgresConfig::defaults(poolside_config::Profile::Production);
    /// assert_eq!(config.batched_read_connections(), 0);
    /// config.read_connections = 2;
    /// assert_eq!(config.batched_read_connections(), 2);
    /// config.pgbouncer = true;
    /// assert_eq!(config.batched_read_connections(), 0);
    /// ```
    pub fn batched_read_connections(&self) -> u32 {
        if self.pgbouncer || self.read_connections >= self.max_size {
            0
        } else {
            self.read_connections
        }
    }

    /// The connections left for exclusive checkouts and the pipelined path: `max_size`
    /// less the batched read path's ([`batched_read_connections`](Self::batched_read_connections)).
    ///
    /// ```
    /// let mut config = poolside_config::PostgresConfig::defaults(poolside_config::Profile::Production);
    /// config.read_connections = 2;
    /// assert_eq!(config.pooled_connections(), config.max_size - 2);
    /// ```
    pub fn pooled_connections(&self) -> u32 {
        self.max_size - self.batched_read_connections()
    }

    /// This configuration's share for one of `runtimes` pools that together stand in
    /// for it, one per single-threaded runtime (one runtime per core, as
    /// `examples/per-core` runs): `max_size`, `min_idle`, `max_waiting`,
    /// `pipeline_connections` and `read_connections` divided between them, rounded up, so
    /// that the pools together open about as many connections as the one would. Each
    /// share keeps at least one connection of every path the whole has, and one more for
    /// transactions (raising `max_size` where the division leaves too few), so a valid
    /// configuration's share is valid too. `expected_instances` is multiplied, as each
    /// pool is one more client of the server for the start-up fit check.
    ///
    /// ```
    /// use std::num::NonZeroU32;
    ///
    /// let mut whole = poolside_config::PostgresConfig::defaults(poolside_config::Profile::Production);
    /// whole.read_connections = 2;
    /// let share = whole.per_runtime(NonZeroU32::new(2).unwrap());
    /// assert_eq!((share.max_size, share.min_idle), (10, 3));
    /// assert_eq!((share.pipeline_connections, share.read_connections), (1, 1));
    /// assert_eq!(share.expected_instances, 2);
    /// ```
    #[must_use]
    pub fn per_runtime(&self, runtimes: NonZeroU32) -> Self {
        let n = runtimes.get();
        let share = |count: u32| count.div_ceil(n);
        let pipeline_connections = share(self.pipeline_connections);
        let read_connections = share(self.read_connections);
        // Every path's connections, and one for transactions: the least that passes
        // validation (`read_connections` and the pipelined path below `max_size`).
        let least = pipeline_connections
            .saturating_add(read_connections)
            .saturating_add(1);
        let max_size = share(self.max_size).max(least);
        Self {
            max_size,
            min_idle: share(self.min_idle).min(max_size),
            max_waiting: share(self.max_waiting),
            pipeline_connections,
            read_connections,
            expected_instances: self.expected_instances.saturating_mul(n),
            ..self.clone()
        }
    }

    /// The built-in defaults of `profile` (with no URL).
    pub fn defaults(profile: Profile) -> Self {
        let (min_idle, max_size, idle_secs, timeout_secs) = match profile {
            Profile::Development => (2, 10, 10, 5),
            Profile::Test => (1, 5, 5, 3),
            Profile::Staging | Profile::Production => (5, 20, 30, 10),
        };
        Self {
            url: SecretUrl::default(),
            password_file: None,
            direct_url: None,
            min_idle,
            max_size,
            connection_timeout: Duration::from_secs(timeout_secs),
            connect_timeout: None,
            idle_timeout: Duration::from_secs(idle_secs),
            max_lifetime: Duration::from_secs(30 * 60),
            query_timeout: Duration::from_secs(30),
            pipeline_connections: 2,
            read_connections: 0,
            read_batch_size: 64,
            max_waiting: 1000,
            statement_cache_size: 256,
            pgbouncer: false,
            replicas: Vec::new(),
            replica_max_lag: Duration::from_secs(5),
            replica_check_interval: Duration::from_secs(1),
            expected_instances: 1,
            leak_detection_threshold: Some(Duration::from_secs(60)),
            connect_lazy: false,
        }
    }

    /// The time allowed to open one connection: `connect_timeout`, else
    /// `connection_timeout`.
    pub fn effective_connect_timeout(&self) -> Duration {
        self.connect_timeout.unwrap_or(self.connection_timeout)
    }
}
