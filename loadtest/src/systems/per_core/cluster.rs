//! `poolside-cluster-per-core`: `RedisPool` in cluster mode, one pool per core's
//! runtime, as `redis-benchmark --threads` runs its clients. Each pool's commands share
//! its one cluster connection (no command checks one out), so the nodes see one
//! cluster connection per core.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Result, anyhow};

use super::super::redis::{commands, poolside_counts, poolside_pool, run_command};
use super::super::{Prepared, Target};
use super::PerCore;
use crate::workload::Workload;

/// One `RedisPool` per core; each command through the pool of the core its task runs on.
pub(in super::super) async fn poolside(workload: Workload, target: &Target) -> Result<Prepared> {
    if !workload.is_redis() {
        return Err(anyhow!(
            "poolside-cluster-per-core runs the Redis workloads only"
        ));
    }
    let commands = commands(workload)?;
    let pools = PerCore::open(|| {
        let target = target.clone();
        async move { poolside_pool(&target).await }
    })
    .await?;
    let operation = pools.operation(move |pool| run_command(pool, Arc::clone(&commands)));
    Ok(
        pools.prepared(operation, poolside_counts, |pool| async move {
            pool.close(Duration::from_secs(5)).await;
        }),
    )
}
