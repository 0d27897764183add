//! `/health/detailed`: everything at once: the pools with their configuration, the
//! server's view of this application (`pg_stat_activity`), the connection budget
//! (with PgBouncer's limits and `SHOW POOLS` when the pool runs behind PgBouncer), the
//! read replicas (each one's lag, fitness and reads, and the reads sent to the primary
//! and why), Redis's server info, the recent operations,
//! the process, the profile, the checks and the alerts. No secret: URLs are shown
//! with their passwords masked, and error texts are redacted.

use std::time::Duration;

use poolside_config::redact_text;
use poolside_core::{PgPool, Replicas};
use serde_json::{Value, json};

use crate::health::Health;
use crate::process;

fn seconds(duration: Duration) -> f64 {
    process::seconds(duration)
}

fn error_json(error: impl std::fmt::Display) -> Value {
    json!({ "error": redact_text(&error.to_string()) })
}

/// The connection budget (see [`PgPool::budget`]): the server's limits, who holds its
/// connections, PgBouncer's limits and `SHOW POOLS` behind PgBouncer, and what does
/// not fit.
async fn budget_json(pool: &PgPool, timeout: Duration) -> Value {
    match tokio::time::timeout(timeout, pool.budget()).await {
        Ok(Ok(budget)) => {
            let mut json = json!(budget);
            json["needed"] = json!(budget.needed());
            json["room"] = json!(budget.room());
            json["problems"] = json!(budget.problems());
            json
        }
        Ok(Err(error)) => error_json(error),
        Err(_) => error_json(format!("no answer within {timeout:?}")),
    }
}

async fn postgres_json(health: &Health, pool: &PgPool) -> Value {
    let timeout = health.inner.config.check_timeout;
    let config = pool.config();
    let server = match tokio::time::timeout(timeout, pool.server_view()).await {
        Ok(Ok(view)) => json!({
            "application_name": view.application_name,
            "connections": view.connections,
            "active": view.active,
            "max_connections": view.max_connections,
        }),
        Ok(Err(error)) => error_json(error),
        Err(_) => error_json(format!("no answer within {timeout:?}")),
    };
    let budget = budget_json(pool, timeout).await;
    json!({
        "url": config.url.to_string(),
        "pool": pool.stats(),
        "config": {
            "max_size": config.max_size,
            "min_idle": config.min_idle,
            "connection_timeout_s": seconds(config.connection_timeout),
            "idle_timeout_s": seconds(config.idle_timeout),
            "max_lifetime_s": seconds(config.max_lifetime),
            "pgbouncer": config.pgbouncer,
            "expected_instances": config.expected_instances,
        },
        "server": server,
        "budget": budget,
        "replicas": health.inner.replicas.as_ref().map(Replicas::stats),
    })
}

impl Health {
    /// Everything this crate knows, as one JSON document.
    pub async fn detailed(&self) -> Value {
        let inner = &*self.inner;
        let postgres = match &inner.postgres {
            Some(pool) => postgres_json(self, pool).await,
            None => Value::Null,
        };
        let (redis, cache) = redis_json(self).await;
        let summary = self.summary();
        json!({
            "status": summary.status,
            "profile": inner.profile,
            "process": {
                "pid": std::process::id(),
                "uptime_s": seconds(inner.started_at.elapsed()),
                "resident_memory_bytes": process::resident_bytes(),
            },
            "postgres": postgres,
            "redis": redis,
            "cache": cache,
            "operations": self.pool_report().operations,
            "checks": summary.checks,
            "alerts": self.alerts(),
        })
    }
}

/// Redis's pool, server info and the cache's counts (`null`s without Redis).
#[cfg(feature = "redis")]
async fn redis_json(health: &Health) -> (Value, Value) {
    let inner = &*health.inner;
    let redis = match &inner.redis {
        Some(pool) => {
            let timeout = inner.config.check_timeout;
            let server = match tokio::time::timeout(timeout, pool.server_info()).await {
                Ok(Ok(info)) => json!({
                "version": info.version,
                "used_memory_bytes": info.used_memory_bytes,
                "connected_clients": info.connected_clients,
                }),
                Ok(Err(error)) => error_json(error),
                Err(_) => error_json(format!("no answer within {timeout:?}")),
            };
            let topology = match tokio::time::timeout(timeout, pool.topology()).await {
                Ok(Ok(topology)) => json!(topology),
                Ok(Err(error)) => error_json(error),
                Err(_) => error_json(format!("no answer within {timeout:?}")),
            };
            json!({
                "required": inner.redis_required,
                "mode": pool.mode().name(),
                "pool": pool.stats(),
                "server": server,
                "topology": topology,
            })
        }
        None => Value::Null,
    };
    let cache = inner.cache.as_ref().map(|cache| {
        let stats = cache.stats();
        json!({ "counts": stats, "hit_rate_percent": stats.hit_rate_percent() })
    });
    (redis, cache.unwrap_or(Value::Null))
}

/// Without the redis feature there is neither Redis nor a cache.
#[cfg(not(feature = "redis"))]
async fn redis_json(_: &Health) -> (Value, Value) {
    (Value::Null, Value::Null)
}
