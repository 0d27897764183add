//! poolside's default path under the resilience layers in the facade's order
//! (deadline, retry, breaker, shedding), configured from the same validated
//! configuration: nothing fails, so the difference to `poolside` is what the layers
//! cost.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Result, anyhow};
use poolside_resilience::{
    CircuitBreaker, CircuitBreakerLayer, DeadlineLayer, LoadShedLayer, RetryBudget, RetryLayer,
    RetryPolicy,
};
use tower::ServiceExt;

use super::{PoolCounts, Prepared, Target};
use crate::loadtest::measure::{Operation, Outcome};
use crate::loadtest::workload::Workload;
use crate::loadtest::workload::select::{self, SELECT};

/// The select under every layer.
pub(super) async fn poolside(workload: Workload, target: &Target) -> Result<Prepared> {
    if workload != Workload::Select {
        return Err(anyhow!("poolside-layered runs the select workload only"));
    }
    let url = target.poolside_database_url()?;
    let size = target.pool_size.to_string();
    let waiting = target.max_tasks.to_string();
    let env: poolside_config::EnvSnapshot = [
        ("DATABASE_URL", url.as_str()),
        ("POOLSIDE_POSTGRES__MAX_SIZE", size.as_str()),
        ("POOLSIDE_POSTGRES__MIN_IDLE", size.as_str()),
        ("POOLSIDE_POSTGRES__CONNECTION_TIMEOUT", "30s"),
        ("POOLSIDE_POSTGRES__MAX_WAITING", waiting.as_str()),
    ]
    .into_iter()
    .collect();
    let config = poolside_config::ConfigLoader::from_env(env)
        .load()
        .map_err(|e| anyhow!("{e}"))?
        .config;
    let pool = poolside_core::PgPool::connect(&config.postgres).await?;
    let budget = RetryBudget::from_config(&config.retry)?;
    let accounts = target.data.accounts;
    let query = tower::service_fn({
        let pool = pool.clone();
        move |account: i32| {
            let pool = pool.clone();
            async move { pool.query_one(SELECT, &[&account]).await.map(drop) }
        }
    });
    let stack = tower::ServiceBuilder::new()
        .layer(DeadlineLayer::new(config.retry.total_deadline))
        .layer(RetryLayer::new(RetryPolicy::from_config(
            &config.retry,
            budget,
        )))
        .layer(CircuitBreakerLayer::new(CircuitBreaker::new(
            config.breaker.clone(),
        )))
        .layer(LoadShedLayer::for_postgres(&config.postgres))
        .service(query);
    let operation: Operation = Arc::new(move || {
        let stack = stack.clone();
        Box::pin(async move { Outcome::of(stack.oneshot(select::account(accounts)).await) })
    });
    let counted = pool.clone();
    Ok(Prepared {
        operation,
        counts: Box::new(move || {
            let stats = counted.stats();
            PoolCounts {
                created: Some(stats.created),
                open: Some(u64::from(stats.total)),
                retries: None,
            }
        }),
        close: Box::new(move || {
            Box::pin(async move {
                pool.close(Duration::from_secs(5)).await;
            })
        }),
    })
}
