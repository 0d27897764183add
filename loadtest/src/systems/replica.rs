//! poolside with a read replica: the select, marked read-only, through
//! `ReplicaService` over the primary and the streaming standby (the `replicas`
//! scenario), with the reads the replica ran in its counts.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use poolside_core::tokio_postgres::types::ToSql;
use poolside_core::{PgRequest, ReplicaLayer, Replicas};
use tower::{Layer, ServiceExt};

use super::{PoolCounts, Prepared, Target, postgres};
use crate::measure::{Operation, Outcome, per_call};
use crate::workload::Workload;
use crate::workload::select::{self, SELECT};

/// How long the standby may take to be sampled fit before the run gives up.
const FIT_WITHIN: Duration = Duration::from_secs(20);

/// The select, read-only, on the primary and one replica.
pub(super) async fn poolside_replica(workload: Workload, target: &Target) -> Result<Prepared> {
    if workload != Workload::Select {
        return Err(anyhow!("poolside-replica runs the select workload only"));
    }
    let standby = target
        .standby_url
        .as_deref()
        .context("no standby to run against (the replicas scenario starts one)")?;
    let mut config = postgres::poolside_config(target)?.postgres;
    config.replicas = vec![poolside_config::SecretUrl::new(standby)];
    let primary = poolside_core::PgPool::connect(&config).await?;
    let replicas = Replicas::connect_lazy(&config)?;
    let monitor = tokio::spawn(replicas.clone().monitor(primary.clone()));
    let began = Instant::now();
    while !replicas.stats().replicas.iter().all(|r| r.fit) {
        if began.elapsed() > FIT_WITHIN {
            monitor.abort();
            bail!(
                "the standby was not fit within {FIT_WITHIN:?}: {:?}",
                replicas.stats()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let service = ReplicaLayer::new(replicas.clone()).layer(primary.clone());
    let accounts = target.data.accounts;
    let operation: Operation = per_call(service, move |service| async move {
        let account = select::account(accounts);
        let params: [&(dyn ToSql + Sync); 1] = [&account];
        let request = PgRequest::query("select", SELECT, &params).read_only();
        Outcome::of(service.oneshot(request).await.map(drop))
    });
    let counted = (primary.clone(), replicas.clone());
    Ok(Prepared {
        operation,
        runtimes: None,
        counts: Box::new(move || {
            let stats = counted.0.stats();
            PoolCounts {
                created: Some(stats.created),
                open: Some(u64::from(stats.total)),
                retries: None,
                replica_reads: Some(counted.1.stats().replicas.iter().map(|r| r.reads).sum()),
            }
        }),
        close: Box::new(move || {
            Box::pin(async move {
                monitor.abort();
                replicas.close(Duration::from_secs(5)).await;
                primary.close(Duration::from_secs(5)).await;
            })
        }),
    })
}
