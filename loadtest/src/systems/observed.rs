//! poolside's default path under the metrics layer, with the Prometheus recorder
//! installed, the pool's timings observed and its statistics reported at each render
//! (`Exporter::report`, as the facade registers its pools): nothing else differs from
//! `poolside`, so the difference is what recording costs.

use std::sync::Arc;

use anyhow::{Result, anyhow};
use poolside_core::PgError;
use poolside_metrics::{Exporter, MetricsLayer, OperationRecorder, PoolSources, observe_pg_pool};
use tower::{Layer, Service, ServiceExt};

use super::{Prepared, Target, postgres};
use crate::measure::{Operation, Outcome, per_call};
use crate::workload::Workload;
use crate::workload::select::{self, SELECT};

/// The request: an account to read. The select as a tower request, for the systems
/// that measure a layer over it (this one, and `poolside-traced`).
pub(super) struct Select(i32);

impl poolside_metrics::Operation for Select {
    fn operation(&self) -> &'static str {
        "select"
    }

    fn statement(&self) -> Option<std::borrow::Cow<'static, str>> {
        Some(SELECT.into())
    }
}

/// The select, recorded.
pub(super) async fn poolside(workload: Workload, target: &Target) -> Result<Prepared> {
    if workload != Workload::Select {
        return Err(anyhow!("poolside-metrics runs the select workload only"));
    }
    let exporter = Exporter::global()?;
    let config = postgres::poolside_config(target)?;
    let pool = poolside_core::PgPool::connect(&config.postgres).await?;
    observe_pg_pool(poolside_metrics::PoolLabel::Postgres, &pool);
    // Held until the system closes, so that its pool leaves the exporter's figures.
    let reported = exporter.report(PoolSources::new(config.metrics.naming).postgres(pool.clone()));
    let recorder = Arc::new(OperationRecorder::from_config(
        poolside_metrics::PoolLabel::Postgres,
        &config.metrics,
    ));
    let service = MetricsLayer::new(recorder).layer(select_service(&pool));
    let operation = select_operation(service, target.data.accounts);
    let mut prepared = postgres::poolside_prepared(pool, operation, false);
    let close = prepared.close;
    prepared.close = Box::new(move || {
        drop(reported);
        close()
    });
    Ok(prepared)
}

/// The select on `pool`, as a tower service taking [`Select`]s.
pub(super) fn select_service(
    pool: &poolside_core::PgPool,
) -> impl Service<Select, Response = (), Error = PgError, Future: Send> + Clone + Send + Sync + 'static
{
    let pool = pool.clone();
    tower::service_fn(move |request: Select| {
        let pool = pool.clone();
        async move { pool.query_one(SELECT, &[&request.0]).await.map(drop) }
    })
}

/// The load test's operation: one [`Select`] of a random account through `service`.
pub(super) fn select_operation<S>(service: S, accounts: i32) -> Operation
where
    S: Service<Select, Response = (), Error = PgError> + Clone + Send + Sync + 'static,
    S::Future: Send,
{
    per_call(service, move |service| async move {
        Outcome::of(service.oneshot(Select(select::account(accounts))).await)
    })
}
