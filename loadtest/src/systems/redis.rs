//! The Redis systems: poolside's `RedisPool` (commands on a shared multiplexed
//! connection, on one server or a cluster), deadpool-redis (one connection checked out
//! per command), and the redis crate's multiplexed and cluster connections alone.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Result, anyhow};

use super::{CONNECTION_TIMEOUT, PoolCounts, Prepared, Target, checkout_then, deadpool_prepared};
use crate::measure::{Operation, Outcome, per_call};
use crate::workload::{Workload, redis as data};

/// Every command of `workload`, one per key, built before measuring so that the
/// operations measure the pools, not the building of commands.
pub(super) fn commands(workload: Workload) -> Result<Arc<Vec<redis::Cmd>>> {
    let name = match workload {
        Workload::RedisGet => "GET",
        Workload::RedisSet => "SET",
        other => return Err(anyhow!("{} is not a Redis workload", other.name())),
    };
    let commands = (0..data::KEYS)
        .map(|n| {
            let mut cmd = redis::cmd(name);
            cmd.arg(data::key_name(n));
            if workload == Workload::RedisSet {
                cmd.arg(data::value());
            }
            cmd
        })
        .collect();
    Ok(Arc::new(commands))
}

/// A random command of `commands`.
fn pick(commands: &[redis::Cmd]) -> &redis::Cmd {
    &commands[fastrand::usize(..commands.len())]
}

/// poolside's `RedisPool::command`, on one server or (`poolside-cluster`) a cluster.
pub(super) async fn poolside(workload: Workload, target: &Target) -> Result<Prepared> {
    let commands = commands(workload)?;
    let pool = poolside_pool(target).await?;
    let operation: Operation = per_call((pool.clone(), commands), |(pool, commands)| {
        run_command(pool, commands)
    });
    let counted = pool.clone();
    Ok(Prepared {
        operation,
        runtimes: None,
        counts: Box::new(move || poolside_counts(&counted)),
        close: Box::new(move || {
            Box::pin(async move {
                pool.close(Duration::from_secs(5)).await;
            })
        }),
    })
}

/// A `RedisPool` on the target's server or cluster, in its Redis mode.
pub(super) async fn poolside_pool(target: &Target) -> Result<poolside_core::RedisPool> {
    // Built directly rather than through the loader, which would also want PostgreSQL.
    let url = target.redis_url()?;
    let (url, cluster_nodes) = match target.redis_mode {
        poolside_config::RedisMode::Cluster => (
            poolside_config::SecretUrl::default(),
            url.split(',')
                .map(|node| poolside_config::SecretUrl::new(node.trim()))
                .collect(),
        ),
        _ => (poolside_config::SecretUrl::new(url), Vec::new()),
    };
    let config = poolside_config::RedisConfig {
        mode: target.redis_mode,
        url,
        cluster_nodes,
        max_size: target.pool_size,
        connection_timeout: CONNECTION_TIMEOUT,
        max_queued_commands: u32::try_from(target.max_tasks * 2).unwrap_or(u32::MAX),
        ..poolside_config::RedisConfig::defaults(poolside_config::Profile::Production)
    };
    Ok(poolside_core::RedisPool::connect(&config).await?)
}

/// One of `commands`, picked at random, through `pool`.
pub(super) async fn run_command(
    pool: poolside_core::RedisPool,
    commands: Arc<Vec<redis::Cmd>>,
) -> Outcome {
    Outcome::of(
        pool.command::<redis::Value>(pick(&commands))
            .await
            .map(drop),
    )
}

/// What a `RedisPool` reports of itself: its open connections.
pub(super) fn poolside_counts(pool: &poolside_core::RedisPool) -> PoolCounts {
    PoolCounts {
        open: Some(u64::from(pool.stats().total)),
        ..PoolCounts::default()
    }
}

/// deadpool-redis, the pool Rust services most often use for Redis.
pub(super) async fn deadpool(workload: Workload, target: &Target) -> Result<Prepared> {
    let commands = commands(workload)?;
    let mut config = deadpool_redis::Config::from_url(target.redis_url()?);
    let mut pool_config = deadpool_redis::PoolConfig::new(target.pool_size as usize);
    pool_config.timeouts.wait = Some(CONNECTION_TIMEOUT);
    config.pool = Some(pool_config);
    let pool = config.create_pool(Some(deadpool_redis::Runtime::Tokio1))?;
    // Open every connection before measuring.
    let mut warm = Vec::new();
    for _ in 0..target.pool_size {
        warm.push(
            pool.get()
                .await
                .map_err(|e| anyhow!("connecting deadpool-redis: {e}"))?,
        );
    }
    drop(warm);
    let operation: Operation = per_call((pool.clone(), commands), |(pool, commands)| async move {
        checkout_then(pool.get(), |mut conn| async move {
            pick(&commands)
                .query_async::<redis::Value>(&mut *conn)
                .await
                .map(drop)
        })
        .await
    });
    Ok(deadpool_prepared(pool, operation))
}

/// The redis crate alone: one multiplexed connection shared by every task, no pool.
/// The ceiling of the driver poolside's Redis path runs on.
pub(super) async fn raw_multiplexed(workload: Workload, target: &Target) -> Result<Prepared> {
    let conn = redis::Client::open(target.redis_url()?)?
        .get_multiplexed_async_connection()
        .await?;
    shared_by_every_task(conn, workload)
}

/// The redis crate's cluster connection alone, no pool: one `ClusterConnection` shared
/// by every task. The ceiling of the driver poolside's cluster mode runs on.
pub(super) async fn raw_cluster(workload: Workload, target: &Target) -> Result<Prepared> {
    let nodes: Vec<&str> = target.redis_url()?.split(',').map(str::trim).collect();
    let conn = redis::cluster::ClusterClient::new(nodes)?
        .get_async_connection()
        .await?;
    shared_by_every_task(conn, workload)
}

/// `workload`'s commands on clones of `conn`, one connection for every task.
fn shared_by_every_task<C>(conn: C, workload: Workload) -> Result<Prepared>
where
    C: redis::aio::ConnectionLike + Clone + Send + Sync + 'static,
{
    let commands = commands(workload)?;
    let operation: Operation = per_call((conn, commands), |(mut conn, commands)| async move {
        Outcome::of(
            pick(&commands)
                .query_async::<redis::Value>(&mut conn)
                .await
                .map(drop),
        )
    });
    Ok(Prepared {
        operation,
        runtimes: None,
        counts: Box::new(|| PoolCounts {
            open: Some(1),
            ..PoolCounts::default()
        }),
        close: super::nothing_to_close(),
    })
}
