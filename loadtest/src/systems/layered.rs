//! poolside's default path under the resilience layers in the facade's order
//! (deadline, retry, breaker, shedding), configured from the same validated
//! configuration: nothing fails, so the difference to `poolside` is what the layers
//! cost.

use anyhow::{Result, anyhow};
use poolside::layers;
use poolside_resilience::{CircuitBreakerLayer, DeadlineLayer, RetryLayer};
use tower::ServiceExt;

use super::{Prepared, Target, postgres};
use crate::measure::{Operation, Outcome, per_call};
use crate::workload::Workload;
use crate::workload::select::{self, SELECT};

/// The select under every layer.
pub(super) async fn poolside(workload: Workload, target: &Target) -> Result<Prepared> {
    if workload != Workload::Select {
        return Err(anyhow!("poolside-layered runs the select workload only"));
    }
    let config = postgres::poolside_config(target)?;
    let pool = poolside_core::PgPool::connect(&config.postgres).await?;
    let budget = layers::retry_budget(&config.retry)?;
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
        .layer(RetryLayer::new(layers::retry_policy(&config.retry, budget)))
        .layer(CircuitBreakerLayer::new(layers::breaker(&config.breaker)))
        .layer(layers::load_shed(&config.postgres))
        .service(query);
    let operation: Operation = per_call(stack, move |stack| async move {
        Outcome::of(stack.oneshot(select::account(accounts)).await)
    });
    Ok(postgres::poolside_prepared(pool, operation, false))
}
