//! Pool figures: the timings a pool reports as they happen (through its
//! [`PoolObserver`]), and its statistics sampled into gauges and counters, as HikariCP
//! exports them. Also the resilience figures: retry decisions, breaker state and
//! failover activations.

use std::sync::Arc;
use std::time::Duration;

use metrics::{Histogram, counter, gauge, histogram};
#[cfg(feature = "redis")]
use poolside_cache::CacheStats;
#[cfg(feature = "redis")]
use poolside_core::RedisStats;
use poolside_core::{PgPool, PoolObserver, PoolStats, ReplicasStats};
use poolside_resilience::breaker::{BreakerState, CircuitBreaker};
use poolside_resilience::overflow::OverflowSwitch;
use poolside_resilience::retry::{Decision, RetryEvent};

use crate::labels::PoolLabel;
use crate::names;

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

/// Makes `pool` report its checkout waits, holding times and connect times into the
/// `poolside_connections_{acquire,usage,creation}_seconds` histograms labelled `label`.
/// Install the recorder (the [`Exporter`](crate::Exporter)) first: the histograms
/// are bound to the recorder installed now. False when the pool had an observer.
pub fn observe_pg_pool(label: PoolLabel, pool: &PgPool) -> bool {
    pool.set_observer(Arc::new(Timings {
        acquire: histogram!(names::CONNECTIONS_ACQUIRE_SECONDS, "pool" => label.as_str()),
        usage: histogram!(names::CONNECTIONS_USAGE_SECONDS, "pool" => label.as_str()),
        creation: histogram!(names::CONNECTIONS_CREATION_SECONDS, "pool" => label.as_str()),
    }))
}

/// Sets the connection gauges and counters of a PostgreSQL pool from `stats`.
pub fn record_pg_stats(label: PoolLabel, stats: &PoolStats) {
    gauge!(names::CONNECTIONS_ACTIVE, "pool" => label.as_str()).set(f64::from(stats.active));
    gauge!(names::CONNECTIONS_IDLE, "pool" => label.as_str()).set(f64::from(stats.idle));
    gauge!(names::CONNECTIONS_PENDING, "pool" => label.as_str()).set(stats.waiting as f64);
    gauge!(names::CONNECTIONS_MAX, "pool" => label.as_str()).set(f64::from(stats.max_size));
    gauge!(names::CONNECTIONS_MIN, "pool" => label.as_str()).set(f64::from(stats.min_idle));
    counter!(names::CONNECTIONS_TIMEOUT, "pool" => label.as_str()).absolute(stats.timed_out);
    counter!(names::CONNECTIONS_REJECTED, "pool" => label.as_str()).absolute(stats.rejected);
    counter!(names::CONNECTIONS_CREATED, "pool" => label.as_str()).absolute(stats.created);
    counter!(names::CONNECTIONS_LEAKED, "pool" => label.as_str()).absolute(stats.leaks);
    let closed = &stats.closed;
    for (reason, count) in [
        ("broken", closed.broken),
        ("max_lifetime", closed.max_lifetime),
        ("idle_timeout", closed.idle_timeout),
        ("interrupted", closed.interrupted),
        ("retired", closed.retired),
    ] {
        counter!(names::CONNECTIONS_CLOSED, "pool" => label.as_str(), "reason" => reason)
            .absolute(count);
    }
}

/// Sets the connection gauges of a Redis pool, and its cache counters when given.
#[cfg(feature = "redis")]
pub fn record_redis_stats(label: PoolLabel, stats: &RedisStats, cache: Option<&CacheStats>) {
    gauge!(names::CONNECTIONS_ACTIVE, "pool" => label.as_str()).set(f64::from(stats.active));
    gauge!(names::CONNECTIONS_IDLE, "pool" => label.as_str()).set(f64::from(stats.idle));
    gauge!(names::CONNECTIONS_PENDING, "pool" => label.as_str()).set(stats.in_flight as f64);
    gauge!(names::CONNECTIONS_MAX, "pool" => label.as_str()).set(f64::from(stats.max_size));
    counter!(names::CONNECTIONS_TIMEOUT, "pool" => label.as_str())
        .absolute(stats.timed_out_checkouts);
    if let Some(cache) = cache {
        counter!(names::CACHE_HITS, "pool" => label.as_str()).absolute(cache.hits);
        counter!(names::CACHE_MISSES, "pool" => label.as_str()).absolute(cache.misses);
        counter!(names::CACHE_ERRORS, "pool" => label.as_str()).absolute(cache.errors);
    }
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

/// Sets `poolside_breaker_state` (0 closed, 1 half-open, 2 open).
pub fn record_breaker(label: PoolLabel, breaker: &CircuitBreaker) {
    let state = match breaker.state() {
        BreakerState::Closed => 0.0,
        BreakerState::HalfOpen => 1.0,
        BreakerState::Open => 2.0,
    };
    gauge!(names::BREAKER_STATE, "pool" => label.as_str()).set(state);
}

/// Sets `poolside_failover_activations_total` from the switch's count.
pub fn record_overflow(label: PoolLabel, switch: &OverflowSwitch) {
    counter!(names::FAILOVER_ACTIVATIONS, "pool" => label.as_str()).absolute(switch.activations());
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
