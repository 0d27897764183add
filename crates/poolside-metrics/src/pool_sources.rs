//! [`PoolSources`]: the pools, and what guards them, that one owner (a `Poolside`, or
//! one core's pool) reports to `/metrics`. Every registered set is summed at each
//! render under the same labels, so that several pools per role in one process (one
//! per core's runtime) read as one pool.

use poolside_config::MetricNaming;
#[cfg(feature = "redis")]
use poolside_core::RedisPool;
use poolside_core::{PgPool, Replicas};
use poolside_resilience::breaker::{BreakerState, CircuitBreaker};
use poolside_resilience::overflow::OverflowSwitch;

#[cfg(feature = "redis")]
use poolside_cache::{CacheStats, RedisCache};

use crate::PoolFigures;
use crate::labels::PoolLabel;
use crate::pool_figures::{breaker_code, record_breaker_state, record_overflow_activations};

/// What one owner reports: its PostgreSQL pool (`pool="postgres"`), the overflow pool
/// (`"postgres_secondary"`), the read replicas, the breaker and overflow switch in
/// front of them, and its Redis pool and cache (`"redis"`). Register it with
/// [`Exporter::report`](crate::Exporter::report).
///
/// At each render, the sets registered in the process are summed per label: sizes and
/// counts added (the sums' utilization worked out again), the same replicas merged
/// by name, the worst breaker state shown. Sets of the same naming
/// (`metrics.naming`) are summed together. Once no set reports a label, its
/// connection gauges read 0 and the breaker closed.
///
/// # Examples
///
/// ```
/// use poolside_config::MetricNaming;
/// use poolside_metrics::{Exporter, PoolSources};
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let config = poolside_config::Config::load().expect("DATABASE_URL is set").config;
/// let exporter = Exporter::global().expect("no other recorder");
/// // Two pools, as two cores' runtimes would each have one.
/// let mut reports = Vec::new();
/// for _ in 0..2 {
///     let pool = poolside_core::PgPool::connect(&config.postgres).await.expect("PostgreSQL answers");
///     reports.push(exporter.report(PoolSources::new(MetricNaming::Poolside).postgres(pool)));
/// }
/// let max = 2 * config.postgres.max_size;
/// assert!(exporter.render().contains(&format!("poolside_connections_max{{pool=\"postgres\"}} {max}")));
/// # });
/// ```
#[derive(Clone, Default)]
pub struct PoolSources {
    naming: MetricNaming,
    postgres: Option<PgPool>,
    secondary: Option<PgPool>,
    replicas: Option<Replicas>,
    breaker: Option<CircuitBreaker>,
    overflow: Option<OverflowSwitch>,
    #[cfg(feature = "redis")]
    redis: Option<RedisPool>,
    #[cfg(feature = "redis")]
    cache: Option<RedisCache>,
}

impl std::fmt::Debug for PoolSources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PoolSources")
            .field("naming", &self.naming)
            .field("postgres", &self.postgres.is_some())
            .field("secondary", &self.secondary.is_some())
            .field("replicas", &self.replicas.is_some())
            .finish_non_exhaustive()
    }
}

impl PoolSources {
    /// Nothing yet, reported under `naming`'s names.
    pub fn new(naming: MetricNaming) -> Self {
        Self {
            naming,
            ..Self::default()
        }
    }

    /// The PostgreSQL pool, under `pool="postgres"`.
    pub fn postgres(mut self, pool: PgPool) -> Self {
        self.postgres = Some(pool);
        self
    }

    /// The overflow pool, under `pool="postgres_secondary"`.
    pub fn secondary(mut self, pool: PgPool) -> Self {
        self.secondary = Some(pool);
        self
    }

    /// The read replicas, labelled by each replica's `host:port`.
    pub fn replicas(mut self, replicas: Replicas) -> Self {
        self.replicas = Some(replicas);
        self
    }

    /// The breaker in front of the PostgreSQL pool (`poolside_breaker_state`).
    pub fn breaker(mut self, breaker: CircuitBreaker) -> Self {
        self.breaker = Some(breaker);
        self
    }

    /// The overflow switch (`poolside_failover_activations_total`).
    pub fn overflow(mut self, switch: OverflowSwitch) -> Self {
        self.overflow = Some(switch);
        self
    }

    /// The Redis pool, and the cache over it, under `pool="redis"`; the topology the
    /// pool last read, past one server.
    #[cfg(feature = "redis")]
    pub fn redis(mut self, pool: RedisPool, cache: Option<RedisCache>) -> Self {
        self.redis = Some(pool);
        self.cache = cache;
        self
    }
}

/// The pools and the breaker one render wrote, so that the next one can close those
/// no set reports any more.
#[derive(Debug, Default)]
pub(crate) struct Written {
    pools: Vec<(MetricNaming, PoolLabel)>,
    breaker: bool,
}

/// Records the sum of `sets`: the pools' statistics under each naming the sets use,
/// then the figures every naming shares. A pool or breaker that `written` (the last
/// render) has and `sets` no longer report (its owners all shut down) reads as closed:
/// its connection gauges 0, the breaker closed, rather than frozen at their last values
/// (an alert on them would never resolve). `written` becomes what this render wrote.
pub(crate) fn record_sum(sets: &[PoolSources], written: &mut Written) {
    let mut now = Written::default();
    for naming in [MetricNaming::Poolside, MetricNaming::Otel] {
        let named: Vec<&PoolSources> = sets.iter().filter(|s| s.naming == naming).collect();
        let labels = record_pools(&named, naming);
        now.pools
            .extend(labels.into_iter().map(|label| (naming, label)));
    }
    let replicas = sets.iter().filter_map(|s| s.replicas.as_ref());
    if let Some(sum) = sum_of_any(replicas.map(Replicas::stats)) {
        crate::record_replica_stats(&sum);
    }
    if let Some(worst) = sets
        .iter()
        .filter_map(|s| s.breaker.as_ref().map(CircuitBreaker::state))
        .max_by_key(|state| breaker_code(*state))
    {
        record_breaker_state(PoolLabel::Postgres, worst);
        now.breaker = true;
    }
    let switches = sets.iter().filter_map(|s| s.overflow.as_ref());
    if let Some(activations) = sum_of_any(switches.map(OverflowSwitch::activations)) {
        record_overflow_activations(PoolLabel::Postgres, activations);
    }
    // Past one server only: `/health/detailed` reads one server's topology too.
    #[cfg(feature = "redis")]
    if let Some(topology) = sets
        .iter()
        .filter_map(|s| s.redis.as_ref()?.last_topology())
        .find(|topology| topology.mode != poolside_config::RedisMode::Single)
    {
        crate::record_redis_topology(&topology);
    }
    for &(naming, label) in &written.pools {
        if !now.pools.contains(&(naming, label)) {
            PoolFigures::new(label, naming).record_closed();
        }
    }
    if written.breaker && !now.breaker {
        record_breaker_state(PoolLabel::Postgres, BreakerState::Closed);
    }
    *written = now;
}

/// The pools' statistics of `sets`, all of one naming, summed per label; the labels
/// written.
fn record_pools(sets: &[&PoolSources], naming: MetricNaming) -> Vec<PoolLabel> {
    let mut labels = Vec::new();
    let postgres = sets.iter().filter_map(|s| s.postgres.as_ref());
    if let Some(sum) = sum_of_any(postgres.map(PgPool::stats)) {
        PoolFigures::new(PoolLabel::Postgres, naming).record_pg_stats(&sum);
        labels.push(PoolLabel::Postgres);
    }
    let secondary = sets.iter().filter_map(|s| s.secondary.as_ref());
    if let Some(sum) = sum_of_any(secondary.map(PgPool::stats)) {
        PoolFigures::new(PoolLabel::Secondary, naming).record_pg_stats(&sum);
        labels.push(PoolLabel::Secondary);
    }
    #[cfg(feature = "redis")]
    {
        let redis = sets.iter().filter_map(|s| s.redis.as_ref());
        if let Some(sum) = sum_of_any(redis.map(RedisPool::stats)) {
            let caches = sets.iter().filter_map(|s| s.cache.as_ref());
            let cache: Option<CacheStats> = sum_of_any(caches.map(RedisCache::stats));
            PoolFigures::new(PoolLabel::Redis, naming).record_redis_stats(&sum, cache.as_ref());
            labels.push(PoolLabel::Redis);
        }
    }
    labels
}

/// The sum of `items`, or `None` when there are none (no owner has that kind of
/// source, so nothing is recorded for it).
fn sum_of_any<T: std::iter::Sum>(items: impl Iterator<Item = T>) -> Option<T> {
    let mut items = items.peekable();
    items.peek().is_some().then(|| items.sum())
}
