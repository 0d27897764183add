//! Pool figures: the timings a pool reports as they happen (through its
//! [`PoolObserver`]), and its statistics sampled into gauges and counters, as HikariCP
//! exports them. Also the resilience figures: retry decisions, breaker state and
//! failover activations.

use std::sync::Arc;
use std::time::Duration;

use metrics::{Histogram, counter, gauge, histogram};
#[cfg(feature = "redis")]
use poolside_cache::CacheStats;
use poolside_config::MetricNaming;
use poolside_core::{PgPool, PoolObserver, PoolStats, ReplicasStats};
#[cfg(feature = "redis")]
use poolside_core::{RedisStats, RedisTopology};
use poolside_resilience::breaker::{BreakerState, CircuitBreaker};
use poolside_resilience::overflow::OverflowSwitch;
use poolside_resilience::retry::{Decision, RetryEvent};

use crate::labels::PoolLabel;
use crate::{names, otel_names};

/// A pool's acquire, usage and creation histograms, fed by the pool as it works.
struct Timings {
    acquire: Histogram,
    usage: Histogram,
    creation: Histogram,
}

impl PoolObserver for Timings {
    fn acquired(&self, waited: Duration) {
        self.acquire.record(waited.as_secs_f64());
    }

    fn released(&self, held: Duration) {
        self.usage.record(held.as_secs_f64());
    }

    fn connected(&self, took: Duration) {
        self.creation.record(took.as_secs_f64());
    }
}

/// One pool's figures under one naming: the timings it reports as it works and the
/// statistics sampled from it. `metrics.naming` picks the names:
/// `PoolFigures::new(label, config.metrics.naming)`.
///
/// # Examples
///
/// ```no_run
/// use poolside_config::MetricNaming;
/// use poolside_metrics::{Exporter, PoolFigures, PoolLabel};
///
/// # async fn run(pool: poolside_core::PgPool) -> Result<(), Box<dyn std::error::Error>> {
/// let exporter = Exporter::global()?;
/// let figures = PoolFigures::new(PoolLabel::Postgres, MetricNaming::Otel);
/// figures.observe_pg_pool(&pool);
/// exporter.add_sampler(move || figures.record_pg_stats(&pool.stats()));
/// assert!(exporter.render().contains("db_client_connection_max"));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct PoolFigures {
    label: PoolLabel,
    naming: MetricNaming,
}

impl PoolFigures {
    /// The figures of the pool labelled `label`, exported under `naming`.
    pub fn new(label: PoolLabel, naming: MetricNaming) -> Self {
        Self { label, naming }
    }

    /// Makes `pool` report its checkout waits, holding times and connect times into
    /// histograms (`poolside_connections_{acquire,usage,creation}_seconds`, or
    /// `db_client_connection_{wait,use,create}_time_seconds`). Install the recorder
    /// (the [`Exporter`](crate::Exporter)) first: the histograms are bound to the
    /// recorder installed now. False when the pool had an observer.
    pub fn observe_pg_pool(self, pool: &PgPool) -> bool {
        let pool_label = self.label.as_str();
        let timings = match self.naming {
            MetricNaming::Poolside => Timings {
                acquire: histogram!(names::CONNECTIONS_ACQUIRE_SECONDS, "pool" => pool_label),
                usage: histogram!(names::CONNECTIONS_USAGE_SECONDS, "pool" => pool_label),
                creation: histogram!(names::CONNECTIONS_CREATION_SECONDS, "pool" => pool_label),
            },
            MetricNaming::Otel => Timings {
                acquire: histogram!(otel_names::CONNECTION_WAIT_TIME, otel_names::POOL_NAME => pool_label),
                usage: histogram!(otel_names::CONNECTION_USE_TIME, otel_names::POOL_NAME => pool_label),
                creation: histogram!(otel_names::CONNECTION_CREATE_TIME, otel_names::POOL_NAME => pool_label),
            },
        };
        pool.set_observer(Arc::new(timings))
    }

    /// Sets the connection gauges and counters of a PostgreSQL pool from `stats`.
    pub fn record_pg_stats(self, stats: &PoolStats) {
        let label = self.label.as_str();
        self.record_connections(Connections {
            active: stats.active,
            idle: stats.idle,
            pending: stats.waiting as f64,
            max: stats.max_size,
            min_idle: Some(stats.min_idle),
            timed_out: stats.timed_out,
        });
        counter!(names::CONNECTIONS_REJECTED, "pool" => label).absolute(stats.rejected);
        counter!(names::CONNECTIONS_CREATED, "pool" => label).absolute(stats.created);
        counter!(names::CONNECTIONS_LEAKED, "pool" => label).absolute(stats.leaks);
        let closed = &stats.closed;
        for (reason, count) in [
            ("broken", closed.broken),
            ("max_lifetime", closed.max_lifetime),
            ("idle_timeout", closed.idle_timeout),
            ("interrupted", closed.interrupted),
            ("retired", closed.retired),
        ] {
            counter!(names::CONNECTIONS_CLOSED, "pool" => label, "reason" => reason)
                .absolute(count);
        }
    }

    /// Sets the connection gauges of a Redis pool, and its cache counters when given.
    #[cfg(feature = "redis")]
    pub fn record_redis_stats(self, stats: &RedisStats, cache: Option<&CacheStats>) {
        let label = self.label.as_str();
        self.record_connections(Connections {
            active: stats.active,
            idle: stats.idle,
            pending: stats.in_flight as f64,
            max: stats.max_size,
            min_idle: None,
            timed_out: stats.timed_out_checkouts,
        });
        counter!(names::REDIS_UNREPLICATED_WRITES, "pool" => label)
            .absolute(stats.unreplicated_writes);
        if let Some(cache) = cache {
            counter!(names::CACHE_HITS, "pool" => label).absolute(cache.hits);
            counter!(names::CACHE_MISSES, "pool" => label).absolute(cache.misses);
            counter!(names::CACHE_ERRORS, "pool" => label).absolute(cache.errors);
        }
    }

    /// Sets the connection gauges of a pool no longer reported (every owner shut
    /// down) to 0: no connections, no capacity.
    pub(crate) fn record_closed(self) {
        let min_idle = (self.label != PoolLabel::Redis).then_some(0);
        self.record_connections(Connections {
            active: 0,
            idle: 0,
            pending: 0.0,
            max: 0,
            min_idle,
            timed_out: 0,
        });
    }

    /// The figures both namings have, under this naming.
    fn record_connections(self, c: Connections) {
        let label = self.label.as_str();
        match self.naming {
            MetricNaming::Poolside => {
                gauge!(names::CONNECTIONS_ACTIVE, "pool" => label).set(f64::from(c.active));
                gauge!(names::CONNECTIONS_IDLE, "pool" => label).set(f64::from(c.idle));
                gauge!(names::CONNECTIONS_PENDING, "pool" => label).set(c.pending);
                gauge!(names::CONNECTIONS_MAX, "pool" => label).set(f64::from(c.max));
                if let Some(min_idle) = c.min_idle {
                    gauge!(names::CONNECTIONS_MIN, "pool" => label).set(f64::from(min_idle));
                }
                counter!(names::CONNECTIONS_TIMEOUT, "pool" => label).absolute(c.timed_out);
            }
            MetricNaming::Otel => {
                let pool = otel_names::POOL_NAME;
                let state = otel_names::CONNECTION_STATE;
                gauge!(otel_names::CONNECTION_COUNT, pool => label, state => "used")
                    .set(f64::from(c.active));
                gauge!(otel_names::CONNECTION_COUNT, pool => label, state => "idle")
                    .set(f64::from(c.idle));
                gauge!(otel_names::CONNECTION_PENDING_REQUESTS, pool => label).set(c.pending);
                gauge!(otel_names::CONNECTION_MAX, pool => label).set(f64::from(c.max));
                // bb8 keeps up to max_size connections idle.
                gauge!(otel_names::CONNECTION_IDLE_MAX, pool => label).set(f64::from(c.max));
                if let Some(min_idle) = c.min_idle {
                    gauge!(otel_names::CONNECTION_IDLE_MIN, pool => label).set(f64::from(min_idle));
                }
                counter!(otel_names::CONNECTION_TIMEOUTS, pool => label).absolute(c.timed_out);
            }
        }
    }
}

/// The connection figures both namings export.
struct Connections {
    active: u32,
    idle: u32,
    pending: f64,
    max: u32,
    min_idle: Option<u32>,
    timed_out: u64,
}

/// [`PoolFigures::observe_pg_pool`] under poolside's names.
pub fn observe_pg_pool(label: PoolLabel, pool: &PgPool) -> bool {
    PoolFigures::new(label, MetricNaming::Poolside).observe_pg_pool(pool)
}

/// [`PoolFigures::record_pg_stats`] under poolside's names.
pub fn record_pg_stats(label: PoolLabel, stats: &PoolStats) {
    PoolFigures::new(label, MetricNaming::Poolside).record_pg_stats(stats);
}

/// [`PoolFigures::record_redis_stats`] under poolside's names.
#[cfg(feature = "redis")]
pub fn record_redis_stats(label: PoolLabel, stats: &RedisStats, cache: Option<&CacheStats>) {
    PoolFigures::new(label, MetricNaming::Poolside).record_redis_stats(stats, cache);
}

/// Sets the read replicas' gauges and counters from `stats`, labelled by each
/// replica's `host:port`.
pub fn record_replica_stats(stats: &ReplicasStats) {
    for replica in &stats.replicas {
        let name = replica.name.clone();
        gauge!(names::REPLICA_FIT, "replica" => name.clone()).set(if replica.fit {
            1.0
        } else {
            0.0
        });
        if let Some(lag) = replica.lag_seconds {
            gauge!(names::REPLICA_LAG_SECONDS, "replica" => name.clone()).set(lag);
        }
        counter!(names::REPLICA_READS, "replica" => name).absolute(replica.reads);
    }
    for (reason, count) in &stats.to_primary {
        counter!(names::REPLICA_PRIMARY_READS, "reason" => *reason).absolute(*count);
    }
}

/// Sets each Redis node's `poolside_redis_node_up` (by `node` and `role`), and in a
/// cluster `poolside_redis_cluster_ok`, from the topology the pool last read
/// ([`RedisPool::topology`](poolside_core::RedisPool::topology), which the health
/// checks read past one server); the sentinels' failovers as a counter.
///
/// Every node has a series for each role, 1 only for the role it has now and only
/// while it is up: after a failover the old primary's `role="primary"` series reads
/// 0, so `poolside_redis_node_up{role="primary"} == 1` counts the primaries.
#[cfg(feature = "redis")]
pub fn record_redis_topology(topology: &RedisTopology) {
    let nodes = topology
        .nodes
        .iter()
        .map(|node| (node.address.as_str(), node.role, node.up));
    for (node, role, value) in node_up_values(nodes) {
        gauge!(names::REDIS_NODE_UP, "node" => node.to_owned(), "role" => role).set(value);
    }
    if let Some(state) = &topology.cluster_state {
        gauge!(names::REDIS_CLUSTER_OK).set(if state == "ok" { 1.0 } else { 0.0 });
    }
    if topology.mode == poolside_config::RedisMode::Sentinel {
        counter!(names::REDIS_FAILOVERS).absolute(topology.failovers);
    }
}

/// The roles a Redis node can have, each given a `poolside_redis_node_up` series.
#[cfg(feature = "redis")]
const REDIS_ROLES: [&str; 2] = ["primary", "replica"];

/// `poolside_redis_node_up`'s series for `(address, role, up)` nodes: per node, one
/// for each of [`REDIS_ROLES`] (and its own role, were it another), 1 for the role it
/// has while it is up, else 0.
#[cfg(feature = "redis")]
fn node_up_values<'a>(
    nodes: impl Iterator<Item = (&'a str, &'static str, bool)>,
) -> Vec<(&'a str, &'static str, f64)> {
    nodes
        .flat_map(|(address, role, up)| {
            let other = (!REDIS_ROLES.contains(&role)).then_some(role);
            REDIS_ROLES.into_iter().chain(other).map(move |series| {
                let value = if up && series == role { 1.0 } else { 0.0 };
                (address, series, value)
            })
        })
        .collect()
}

/// Sets `poolside_breaker_state` (0 closed, 1 half-open, 2 open).
pub fn record_breaker(label: PoolLabel, breaker: &CircuitBreaker) {
    record_breaker_state(label, breaker.state());
}

/// Sets `poolside_breaker_state` to `state`.
pub(crate) fn record_breaker_state(label: PoolLabel, state: BreakerState) {
    gauge!(names::BREAKER_STATE, "pool" => label.as_str()).set(f64::from(breaker_code(state)));
}

/// `poolside_breaker_state`'s value for `state`: 0 closed, 1 half-open, 2 open, so
/// that the larger is the worse.
pub(crate) fn breaker_code(state: BreakerState) -> u8 {
    match state {
        BreakerState::Closed => 0,
        BreakerState::HalfOpen => 1,
        BreakerState::Open => 2,
    }
}

/// Sets `poolside_failover_activations_total` from the switch's count.
pub fn record_overflow(label: PoolLabel, switch: &OverflowSwitch) {
    record_overflow_activations(label, switch.activations());
}

/// Sets `poolside_failover_activations_total` to `activations`.
pub(crate) fn record_overflow_activations(label: PoolLabel, activations: u64) {
    counter!(names::FAILOVER_ACTIVATIONS, "pool" => label.as_str()).absolute(activations);
}

/// A retry observer (for `RetryPolicy::observe`) counting each decision in
/// `poolside_retries_total{pool, decision}`: `retry`, or why the layer gave up.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use poolside_resilience::{Backoff, Jitter, RetryBudget, RetryPolicy};
///
/// let budget = RetryBudget::new(Duration::from_secs(10), 10, 20.0).expect("valid");
/// let backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(2), Jitter::Full);
/// let policy = RetryPolicy::new(3, backoff, Duration::from_secs(10), budget)
///     .observe(poolside_metrics::retry_observer(poolside_metrics::PoolLabel::Postgres));
/// # let _ = policy;
/// ```
pub fn retry_observer(label: PoolLabel) -> impl Fn(&RetryEvent) + Send + Sync + 'static {
    move |event: &RetryEvent| {
        let decision = match event.decision {
            Decision::Retry(_) => "retry",
            Decision::GiveUp(why) => why.as_str(),
        };
        counter!(names::RETRIES, "pool" => label.as_str(), "decision" => decision).increment(1);
        if let Decision::Retry(_) = event.decision {
            // The operation's span (a `TraceLayer` above the retry layer), if any.
            tracing::Span::current().record(crate::trace::fields::RETRY_ATTEMPT, event.attempt + 1);
        }
    }
}

#[cfg(all(test, feature = "redis"))]
mod tests {
    use super::node_up_values;

    #[test]
    fn a_failover_leaves_one_primary_series_at_one() {
        let after = [("a:1", "replica", true), ("b:2", "primary", true)];
        assert_eq!(
            node_up_values(after.into_iter()),
            [
                ("a:1", "primary", 0.0),
                ("a:1", "replica", 1.0),
                ("b:2", "primary", 1.0),
                ("b:2", "replica", 0.0),
            ]
        );
    }

    #[test]
    fn a_node_down_reads_zero_in_every_role() {
        let nodes = [("a:1", "primary", false)];
        assert_eq!(
            node_up_values(nodes.into_iter()),
            [("a:1", "primary", 0.0), ("a:1", "replica", 0.0)]
        );
    }

    #[test]
    fn a_role_of_another_name_gets_its_own_series() {
        let nodes = [("a:1", "arbiter", true)];
        assert_eq!(
            node_up_values(nodes.into_iter()),
            [
                ("a:1", "primary", 0.0),
                ("a:1", "replica", 0.0),
                ("a:1", "arbiter", 1.0),
            ]
        );
    }
}
