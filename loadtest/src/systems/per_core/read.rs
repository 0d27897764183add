//! `poolside-read-per-core`: the batched read path, one pool per core's runtime.
//!
//! The pools divide the load test's pool between them (`Config::per_runtime`),
//! each with one read connection, so the server sees as many connections as from
//! `poolside-read` on two cores.

use std::num::NonZeroU32;
use std::time::Duration;

use anyhow::{Result, anyhow};
use poolside_core::PgPool;

use super::super::postgres::{poolside_config_with, poolside_counts, read_select};
use super::super::{Prepared, Target};
use super::{PerCore, cores};
use crate::workload::Workload;

/// The load test's pool, with one read connection per core (as many in all as
/// `poolside-read` keeps on two cores; each batch is then larger, and no batch waits
/// behind another's on its core), divided between the cores' pools.
pub(super) fn per_core_config(target: &Target) -> Result<poolside_config::Config> {
    let runtimes = NonZeroU32::try_from(cores() as u32)?;
    let read_connections = runtimes.to_string();
    let config = poolside_config_with(
        target,
        &[("POOLSIDE_POSTGRES__READ_CONNECTIONS", &read_connections)],
    )?;
    Ok(config.per_runtime(runtimes))
}

/// One pool per core; the select through the pool of the core its task runs on.
pub(in super::super) async fn poolside(workload: Workload, target: &Target) -> Result<Prepared> {
    if workload != Workload::Select {
        return Err(anyhow!(
            "poolside-read-per-core runs the select workload only"
        ));
    }
    let config = per_core_config(target)?.postgres;
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
