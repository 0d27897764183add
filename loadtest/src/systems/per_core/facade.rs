//! `poolside-facade-per-core`: the facade, one `Poolside` per core's runtime, each
//! built from the core's share of the configuration (as `poolside-read-per-core`'s
//! pools are), the select run as a read-only operation: through the facade's layers
//! (deadline, retry, breaker, metrics, spans) onto the batched read path. What the
//! facade costs on the per-core layout, beside `poolside-read-per-core`.

use std::time::Duration;

use anyhow::{Result, anyhow};
use poolside::Poolside;

use super::super::postgres::poolside_counts;
use super::super::{Prepared, Target};
use super::PerCore;
use super::read::per_core_config;
use crate::measure::Outcome;
use crate::workload::Workload;
use crate::workload::select::{self, SELECT};

/// One `Poolside` per core; the select through the one of the core its task runs on.
pub(in super::super) async fn poolside(workload: Workload, target: &Target) -> Result<Prepared> {
    if workload != Workload::Select {
        return Err(anyhow!(
            "poolside-facade-per-core runs the select workload only"
        ));
    }
    let config = per_core_config(target)?;
    let dbs = PerCore::open(|| {
        let config = config.clone();
        async move { Ok(Poolside::builder().config(config).build().await?) }
    })
    .await?;
    let accounts = target.data.accounts;
    let operation = dbs.operation(move |db: Poolside| async move {
        Outcome::of(
            db.op("loadtest_select")
                .read_only()
                .query_one(SELECT, &[&select::account(accounts)])
                .await
                .map(drop),
        )
    });
    Ok(dbs.prepared(
        operation,
        |db| poolside_counts(db.pool(), false),
        |db| async move {
            db.shutdown(Duration::from_secs(5)).await;
        },
    ))
}
