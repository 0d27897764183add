//! [`PoolReport`]: the pools and their recent operations in one value, rendered as the
//! one-screen `status()` text and as the periodic log line operators read.

use std::fmt::Write as _;
use std::time::Duration;

#[cfg(feature = "redis")]
use poolside_cache::{CacheStats, RedisCache};
use poolside_core::{PgPool, PoolStats};
#[cfg(feature = "redis")]
use poolside_core::{RedisPool, RedisStats};

use crate::recorder::OperationRecorder;
use crate::snapshot::Snapshot;

/// What the status screen and the periodic log line show.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct PoolReport {
    /// The PostgreSQL pool, when there is one.
    pub postgres: Option<PoolStats>,
    /// The Redis pool, when there is one.
    #[cfg(feature = "redis")]
    pub redis: Option<RedisStats>,
    /// The cache's counts, when there is a cache.
    #[cfg(feature = "redis")]
    pub cache: Option<CacheStats>,
    /// The operations of the last window.
    pub operations: Snapshot,
}

impl PoolReport {
    /// The report read now from the pools there are and the recorder's window.
    pub fn read(
        postgres: Option<&PgPool>,
        #[cfg(feature = "redis")] redis: Option<&RedisPool>,
        #[cfg(feature = "redis")] cache: Option<&RedisCache>,
        operations: Option<&OperationRecorder>,
    ) -> Self {
        Self {
            postgres: postgres.map(PgPool::stats),
            #[cfg(feature = "redis")]
            redis: redis.map(RedisPool::stats),
            #[cfg(feature = "redis")]
            cache: cache.map(RedisCache::stats),
            operations: operations
                .map(OperationRecorder::snapshot)
                .unwrap_or_default(),
        }
    }

    /// The report as a one-screen text status.
    ///
    /// # Examples
    ///
    /// ```
    /// let text = poolside_metrics::PoolReport::default().status();
    /// assert!(text.contains("operations"));
    /// ```
    pub fn status(&self) -> String {
        let mut out = String::new();
        if let Some(pg) = &self.postgres {
            let _ = writeln!(
                out,
                "postgres   {}/{} active, {} idle, {} waiting, {:.0}% used (min {}); \
                 {} acquired, {} waited, {} timed out, {} opened, {} leaks",
                pg.active,
                pg.max_size,
                pg.idle,
                pg.waiting,
                pg.utilization_percent,
                pg.min_idle,
                pg.acquired,
                pg.waited,
                pg.timed_out,
                pg.created,
                pg.leaks
            );
        }
        #[cfg(feature = "redis")]
        if let Some(redis) = &self.redis {
            let _ = writeln!(
                out,
                "redis      {}/{} connections, {} commands in flight; {} commands, {} errors, \
                 {} timeouts, {} refused",
                redis.total,
                redis.max_size,
                redis.in_flight,
                redis.commands,
                redis.errors,
                redis.timeouts,
                redis.rejected
            );
        }
        #[cfg(feature = "redis")]
        if let Some(cache) = &self.cache {
            let _ = writeln!(
                out,
                "cache      {:.1}% hit rate ({} hits, {} misses), {} sets, {} deletes, {} errors",
                cache.hit_rate_percent(),
                cache.hits,
                cache.misses,
                cache.sets,
                cache.deletes,
                cache.errors
            );
        }
        let ops = &self.operations;
        let _ = writeln!(
            out,
            "operations {:.1}/s over {:.0} s; p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, \
             max {:.2} ms; {:.2}% errors; {} slow",
            ops.per_second,
            ops.window_seconds,
            ops.p50_ms,
            ops.p95_ms,
            ops.p99_ms,
            ops.max_ms,
            ops.error_percent,
            ops.slow
        );
        for slow in &ops.slowest {
            let _ = writeln!(
                out,
                "  slow     {:>9.1} ms  {} ({}){}",
                slow.duration_ms,
                slow.operation,
                slow.outcome,
                slow.statement
                    .as_ref()
                    .map(|s| format!(": {s}"))
                    .unwrap_or_default()
            );
        }
        out
    }

    /// Writes the report's key figures as one `tracing` line at INFO.
    pub fn log(&self) {
        let ops = &self.operations;
        let pg = self.postgres.as_ref();
        #[cfg(feature = "redis")]
        let cache_hit_percent = self.cache.as_ref().map(CacheStats::hit_rate_percent);
        #[cfg(not(feature = "redis"))]
        let cache_hit_percent: Option<f64> = None;
        tracing::info!(
            target: "poolside::metrics",
            active = pg.map(|p| p.active),
            idle = pg.map(|p| p.idle),
            waiting = pg.map(|p| p.waiting),
            max = pg.map(|p| p.max_size),
            utilization_percent = pg.map(|p| p.utilization_percent),
            per_second = ops.per_second,
            p50_ms = ops.p50_ms,
            p99_ms = ops.p99_ms,
            error_percent = ops.error_percent,
            slow = ops.slow,
            cache_hit_percent,
            "pool status"
        );
    }
}

/// Logs `report()` every `interval` (the `metrics.log_interval` setting) until the
/// returned task is aborted. Must run inside a Tokio runtime.
pub fn spawn_periodic_log(
    interval: Duration,
    report: impl Fn() -> PoolReport + Send + 'static,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await;
        loop {
            ticks.tick().await;
            report().log();
        }
    })
}
