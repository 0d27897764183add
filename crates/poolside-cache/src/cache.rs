//! [`RedisCache`]: cache operations over the Redis pool, with hit and miss counts,
//! working (as misses, or as clear errors) when Redis is absent or down.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use poolside_config::RedisMode;
use poolside_core::redis::cluster_routing::Slot;
use poolside_core::{DbTarget, ErrorKind, RedisError, RedisPool, RedisPrimary, redis};
use tracing::Instrument as _;

use crate::codec::{decode, encode};
use crate::ttl::ttl_millis;
use crate::{CacheStats, KeyTtl, OnUnavailable};

/// Cache operations on Redis: values as JSON (any serde type) or raw bytes.
///
/// Built over an optional pool: with none, or with Redis down, calls behave as
/// [`OnUnavailable`] says, and nothing else in the application is affected.
///
/// # Examples
///
/// ```no_run
/// # async fn run(pool: Option<poolside_core::RedisPool>) -> Result<(), poolside_core::RedisError> {
/// use std::time::Duration;
/// use poolside_cache::{OnUnavailable, RedisCache};
///
/// let cache = RedisCache::new(pool, OnUnavailable::Miss);
/// cache.set("product:1", &("Cola", 250), Some(Duration::from_secs(60))).await?;
/// let product: Option<(String, u32)> = cache.get("product:1").await?;
/// println!("hit rate {:.1}%", cache.stats().hit_rate_percent());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct RedisCache {
    pool: Option<RedisPool>,
    on_unavailable: OnUnavailable,
    counters: Arc<Counters>,
    /// What each command's span names, when spans are on.
    target: Option<DbTarget>,
}

#[derive(Debug, Default)]
struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    sets: AtomicU64,
    deletes: AtomicU64,
    errors: AtomicU64,
}

fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

/// The command's name (its first argument), for its span.
fn command_name(cmd: &redis::Cmd) -> &str {
    match cmd.args_iter().next() {
        Some(redis::Arg::Simple(name)) => std::str::from_utf8(name).unwrap_or("command"),
        _ => "command",
    }
}

/// One round trip that stores `items`: one `SET` per key (with `PX millis` when given,
/// so each value is written with its expiry at once), or one `MSET` outside a cluster
/// when there is no TTL. (A cluster routes a pipeline by its first command with one
/// slot; `MSET` has none to the router, even for keys of one slot.)
fn pipeline_of<T: Serialize>(
    items: &[&(&str, T)],
    millis: Option<u64>,
    cluster: bool,
) -> Result<redis::Pipeline, RedisError> {
    let mut pipeline = redis::pipe();
    if millis.is_none() && !cluster {
        let mset = pipeline.cmd("MSET");
        for (key, value) in items {
            mset.arg(*key).arg(encode(key, value)?);
        }
        mset.ignore();
        return Ok(pipeline);
    }
    for (key, value) in items {
        let set = pipeline.cmd("SET").arg(*key).arg(encode(key, value)?);
        if let Some(millis) = millis {
            set.arg("PX").arg(millis);
        }
        set.ignore();
    }
    Ok(pipeline)
}

/// Keys deleted per `UNLINK` by [`RedisCache::delete_pattern`].
const SCAN_BATCH: u32 = 500;

impl RedisCache {
    /// A cache over `pool` (`None`: no Redis configured).
    pub fn new(pool: Option<RedisPool>, on_unavailable: OnUnavailable) -> Self {
        Self {
            pool,
            on_unavailable,
            counters: Arc::default(),
            target: None,
        }
    }

    /// Runs each command in a `tracing` span against `target` (the OpenTelemetry
    /// database conventions, as poolside-metrics' `TraceLayer` makes them for
    /// PostgreSQL), named after the command (`GET`, `MGET`, `SET`, ...).
    pub fn with_spans(mut self, target: DbTarget) -> Self {
        self.target = Some(target);
        self
    }

    /// The pool underneath, if any.
    pub fn pool(&self) -> Option<&RedisPool> {
        self.pool.as_ref()
    }

    /// Counts since start.
    pub fn stats(&self) -> CacheStats {
        let c = &*self.counters;
        let load = |n: &AtomicU64| n.load(Ordering::Relaxed);
        CacheStats {
            hits: load(&c.hits),
            misses: load(&c.misses),
            sets: load(&c.sets),
            deletes: load(&c.deletes),
            errors: load(&c.errors),
        }
    }

    /// Runs `cmd`; when Redis is absent or unreachable, gives `fallback` in miss mode.
    async fn run<T: redis::FromRedisValue>(
        &self,
        cmd: &redis::Cmd,
        fallback: impl FnOnce() -> T,
    ) -> Result<T, RedisError> {
        self.run_with(|| command_name(cmd), |pool| pool.command(cmd), fallback)
            .await
    }

    /// Runs the write `cmd`, acknowledged once `redis.wait_replicas` replicas have it
    /// ([`RedisPool::write`]); when Redis is absent or unreachable, gives `fallback` in
    /// miss mode.
    async fn write<T: redis::FromRedisValue>(
        &self,
        cmd: &redis::Cmd,
        fallback: impl FnOnce() -> T,
    ) -> Result<T, RedisError> {
        self.run_with(|| command_name(cmd), |pool| pool.write(cmd), fallback)
            .await
    }

    /// Makes `call` on the pool, in a span named `name()` when spans are on (the name
    /// is found only then); when Redis is absent or unreachable, gives `fallback` in
    /// miss mode.
    async fn run_with<'a, 'n, T, Fut>(
        &'a self,
        name: impl FnOnce() -> &'n str,
        call: impl FnOnce(&'a RedisPool) -> Fut,
        fallback: impl FnOnce() -> T,
    ) -> Result<T, RedisError>
    where
        Fut: Future<Output = Result<T, RedisError>>,
    {
        let span = self
            .target
            .as_ref()
            .map_or_else(tracing::Span::none, |target| target.span(name()));
        let result = match &self.pool {
            Some(pool) => call(pool).instrument(span.clone()).await,
            None => Err(not_configured()),
        };
        if let Err(e) = &result {
            DbTarget::record_failure(&span, e.kind().as_str(), None);
        }
        match result {
            Ok(value) => Ok(value),
            Err(e) => {
                add(&self.counters.errors, 1);
                if e.is_unavailable() && self.on_unavailable == OnUnavailable::Miss {
                    Ok(fallback())
                } else {
                    Err(e)
                }
            }
        }
    }

    /// The bytes at `key`.
    pub async fn get_bytes(&self, key: &str) -> Result<Option<Vec<u8>>, RedisError> {
        let value: Option<Vec<u8>> = self.run(redis::cmd("GET").arg(key), || None).await?;
        add(
            if value.is_some() {
                &self.counters.hits
            } else {
                &self.counters.misses
            },
            1,
        );
        Ok(value)
    }

    /// The value at `key`, read as JSON.
    pub async fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, RedisError> {
        self.get_bytes(key)
            .await?
            .map(|bytes| decode(key, &bytes))
            .transpose()
    }

    /// The values at `keys`, in order, read as JSON; a missing key gives `None`. One
    /// `MGET` (on a cluster, in parts the pool splits it into: see
    /// [`RedisPool::command`]).
    pub async fn mget<T: DeserializeOwned>(
        &self,
        keys: &[&str],
    ) -> Result<Vec<Option<T>>, RedisError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let values: Vec<Option<Vec<u8>>> = self
            .run(redis::cmd("MGET").arg(keys), || vec![None; keys.len()])
            .await?;
        let hits = values.iter().filter(|v| v.is_some()).count() as u64;
        add(&self.counters.hits, hits);
        add(&self.counters.misses, values.len() as u64 - hits);
        keys.iter()
            .zip(values)
            .map(|(key, value)| value.map(|bytes| decode(key, &bytes)).transpose())
            .collect()
    }

    /// Stores `value` at `key`, expiring after `ttl` when given.
    pub async fn set_bytes(
        &self,
        key: &str,
        value: &[u8],
        ttl: Option<Duration>,
    ) -> Result<(), RedisError> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(key).arg(value);
        if let Some(ttl) = ttl {
            cmd.arg("PX").arg(ttl_millis(ttl)?);
        }
        self.write::<()>(&cmd, || ()).await?;
        add(&self.counters.sets, 1);
        Ok(())
    }

    /// Stores `value` as JSON at `key`, expiring after `ttl` when given.
    pub async fn set<T: Serialize + ?Sized>(
        &self,
        key: &str,
        value: &T,
        ttl: Option<Duration>,
    ) -> Result<(), RedisError> {
        self.set_bytes(key, &encode(key, value)?, ttl).await
    }

    /// Stores every `(key, value)` as JSON, each expiring after `ttl` when given. In a
    /// cluster the items are sent in one pipeline per slot, together
    /// ([`RedisPool::write_pipelines`]).
    pub async fn mset<T: Serialize>(
        &self,
        items: &[(&str, T)],
        ttl: Option<Duration>,
    ) -> Result<(), RedisError> {
        if items.is_empty() {
            return Ok(());
        }
        let millis = ttl.map(ttl_millis).transpose()?;
        let cluster = self.is_cluster();
        let pipelines = self
            .by_slot(items, |(key, _)| key)
            .into_iter()
            .map(|group| pipeline_of(&group, millis, cluster))
            .collect::<Result<Vec<_>, _>>()?;
        let name = || if ttl.is_some() { "SET" } else { "MSET" };
        self.run_with(
            name,
            |pool| async move { pool.write_pipelines::<()>(&pipelines).await.map(drop) },
            || (),
        )
        .await?;
        add(&self.counters.sets, items.len() as u64);
        Ok(())
    }

    /// Whether the pool is on a Redis Cluster.
    fn is_cluster(&self) -> bool {
        self.pool
            .as_ref()
            .is_some_and(|pool| pool.mode() == RedisMode::Cluster)
    }

    /// `items` in one group, or in a cluster one group per slot of `key(item)`.
    fn by_slot<'i, I>(&self, items: &'i [I], key: impl Fn(&I) -> &str) -> Vec<Vec<&'i I>> {
        if !self.is_cluster() {
            return vec![items.iter().collect()];
        }
        let mut groups: HashMap<Slot, Vec<&I>> = HashMap::new();
        for item in items {
            groups
                .entry(Slot::for_key(key(item)))
                .or_default()
                .push(item);
        }
        groups.into_values().collect()
    }

    /// Deletes `keys` (one `UNLINK`, acknowledged as [`RedisPool::write`] acknowledges
    /// a write); returns how many existed.
    pub async fn del(&self, keys: &[&str]) -> Result<u64, RedisError> {
        if keys.is_empty() {
            return Ok(0);
        }
        let deleted: u64 = self.write(redis::cmd("UNLINK").arg(keys), || 0).await?;
        add(&self.counters.deletes, deleted);
        Ok(deleted)
    }

    /// Deletes every key matching the glob `pattern` (such as `products:*`), found with
    /// `SCAN` (never `KEYS`, which blocks the server) on every primary of a cluster, or
    /// on the one server; returns how many were deleted. On a cluster with a primary
    /// down whose slots no replica has taken over yet, it fails there rather than
    /// report the keys out of reach as gone (the primaries before it done).
    pub async fn delete_pattern(&self, pattern: &str) -> Result<u64, RedisError> {
        let nodes = match &self.pool {
            Some(pool) if pool.mode() == RedisMode::Cluster => {
                self.run_with(|| "CLUSTER", |pool| pool.primaries(), Vec::new)
                    .await?
            }
            _ => vec![RedisPrimary::Server],
        };
        let mut deleted = 0;
        for node in &nodes {
            let mut cursor: u64 = 0;
            loop {
                let scan = redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("MATCH")
                    .arg(pattern)
                    .arg("COUNT")
                    .arg(SCAN_BATCH)
                    .to_owned();
                let (next, keys): (u64, Vec<String>) = self
                    .run_with(
                        || "SCAN",
                        |pool| pool.command_on(node, &scan),
                        || (0, Vec::new()),
                    )
                    .await?;
                if !keys.is_empty() {
                    let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
                    deleted += self.del(&refs).await?;
                }
                if next == 0 {
                    break;
                }
                cursor = next;
            }
        }
        Ok(deleted)
    }

    /// Makes `key` expire after `ttl`; false when there is no such key.
    pub async fn expire(&self, key: &str, ttl: Duration) -> Result<bool, RedisError> {
        self.write(redis::cmd("PEXPIRE").arg(key).arg(ttl_millis(ttl)?), || {
            false
        })
        .await
    }

    /// How long `key` has left.
    pub async fn ttl(&self, key: &str) -> Result<KeyTtl, RedisError> {
        let millis: i64 = self.run(redis::cmd("PTTL").arg(key), || -2).await?;
        Ok(match millis {
            -2 => KeyTtl::Missing,
            -1 => KeyTtl::Persistent,
            ms => KeyTtl::ExpiresIn(Duration::from_millis(ms.max(0) as u64)),
        })
    }

    /// Adds `by` (negative to subtract) to the integer at `key` (0 when missing);
    /// returns the new value.
    pub async fn incr(&self, key: &str, by: i64) -> Result<i64, RedisError> {
        self.counter(redis::cmd("INCRBY").arg(key).arg(by)).await
    }

    async fn counter(&self, cmd: &redis::Cmd) -> Result<i64, RedisError> {
        // A counter has no meaningful stand-in value: unavailability is an error here.
        let result = match &self.pool {
            Some(pool) => pool.write(cmd).await,
            None => Err(not_configured()),
        };
        if result.is_err() {
            add(&self.counters.errors, 1);
        }
        result
    }
}

/// No Redis is configured.
fn not_configured() -> RedisError {
    RedisError::new(
        ErrorKind::Unavailable,
        "no Redis is configured: set REDIS_URL (or redis.url) to use the cache",
    )
}
