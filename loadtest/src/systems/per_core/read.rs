//! `poolside-read-per-core`: the batched read path, one pool per core's runtime.
//!
//! The pools split the load test's pool size between them, and each keeps one read
//! connection ([`READ_CONNECTIONS_PER_CORE`]), so the server sees as many connections
//! as from `poolside-read` on two cores.

use std::time::Duration;

use anyhow::{Result, anyhow};
use poolside_core::PgPool;

use super::super::postgres::{
    poolside_config, poolside_config_sized, poolside_counts, read_select,
};
use super::super::{Prepared, Target};
use super::{PerCore, cores};
use crate::workload::Workload;

/// Read connections of each core's pool. One per core, as many in all as
/// `poolside-read` keeps on two cores; each batch is then larger, and no batch waits
/// behind another's on its core.
const READ_CONNECTIONS_PER_CORE: &str = "1";

/// One pool per core; the select through the pool of the core its task runs on.
pub(in super::super) async fn poolside(workload: Workload, target: &Target) -> Result<Prepared> {
    if workload != Workload::Select {
        return Err(anyhow!(
            "poolside-read-per-core runs the select workload only"
        ));
    }
    // At least the pipelined path's connections, the read connection and one for
    // transactions: the least a pool with a read path may have.
    let least = poolside_config(target)?.postgres.pipeline_connections + 2;
    let size = target.pool_size.div_ceil(cores() as u32).max(least);
    let config = poolside_config_sized(
        target,
        size,
        &[(
            "POOLSIDE_POSTGRES__READ_CONNECTIONS",
            READ_CONNECTIONS_PER_CORE,
        )],
    )?
    .postgres;
    let pools = PerCore::open(|| {
        let config = config.clone();
        async move { Ok(PgPool::connect(&config).await?) }
    })
    .await?;
    let accounts = target.data.accounts;
    let operation = pools.operation(move |pool| read_select(pool, accounts));
    Ok(pools.prepared(
        operation,
        |pool| poolside_counts(pool, false),
        |pool| async move {
            pool.close(Duration::from_secs(5)).await;
        },
    ))
}
