//! The standard tower stack over the PostgreSQL pool, outermost first: the operation's
//! span (OpenTelemetry database conventions) -> metrics ->
//! deadline -> read replicas (read-only statements to a fit replica, when replicas are
//! configured) -> retry -> circuit breaker -> overflow (to the secondary pool,
//! when one is configured) -> pool. Replica reads pass neither the retry layer nor the
//! primary's breaker: a replica's failure sends the read down to them instead. Wiring
//! only: each layer is its own crate's.

use std::sync::Arc;

use poolside_config::Config;
use poolside_core::{PgPool, ReplicaLayer, ReplicaService, Replicas};
use poolside_metrics::Metrics;
use poolside_metrics::{
    DbTarget, MetricsLayer, OperationRecorder, TraceLayer, Traced, retry_observer,
};
use poolside_resilience::breaker::CircuitBreakerService;
use poolside_resilience::deadline::Deadline;
use poolside_resilience::overflow::Overflow;
use poolside_resilience::overflow::{OverflowSwitch, PrimaryLoad};
use poolside_resilience::retry::Retry;
use poolside_resilience::{
    CircuitBreaker, CircuitBreakerLayer, DeadlineLayer, OverflowLayer, RetryBudget, RetryLayer,
};
use tower::ServiceBuilder;
use tower::util::Either;

/// What the retry layer wraps: the breaker, over the pool or the overflow pair.
type Guarded = Retry<CircuitBreakerService<Either<Overflow<PgPool, PgPool>, PgPool>>>;

/// The stack's type, named rather than boxed: it serves every `PgRequest<'a>`, whose
/// parameters the caller lends for the call, and a call costs no allocation for it.
pub(crate) type Stack = Traced<Metrics<Deadline<Either<ReplicaService<Guarded>, Guarded>>>>;

/// What the stacks share: one recorder, one breaker, one retry budget, one switch.
pub(crate) struct Shared {
    pub(crate) recorder: Arc<OperationRecorder>,
    pub(crate) breaker: CircuitBreaker,
    pub(crate) budget: RetryBudget,
    pub(crate) switch: Option<OverflowSwitch>,
    /// What operation spans say about the primary.
    pub(crate) target: DbTarget,
}

/// The pools a stack runs on.
pub(crate) struct Pools<'a> {
    pub(crate) primary: &'a PgPool,
    pub(crate) secondary: Option<&'a PgPool>,
    pub(crate) replicas: Option<&'a Replicas>,
}

/// The stack over `pools`, retrying unknown outcomes only when `idempotent`.
pub(crate) fn build(
    config: &Config,
    shared: &Shared,
    pools: &Pools<'_>,
    idempotent: bool,
) -> Stack {
    let Pools {
        primary,
        secondary,
        replicas,
    } = *pools;
    let policy = crate::layers::retry_policy(&config.retry, shared.budget.clone())
        .idempotent(idempotent)
        .observe(retry_observer(poolside_metrics::PoolLabel::Postgres));
    let overflow = match (secondary, &shared.switch) {
        (Some(secondary), Some(switch)) => {
            let primary = primary.clone();
            Some(OverflowLayer::new(
                secondary.clone(),
                move || {
                    let stats = primary.stats();
                    PrimaryLoad {
                        utilization_percent: stats.utilization_percent,
                        healthy: !primary.is_closed(),
                    }
                },
                switch.clone(),
            ))
        }
        _ => None,
    };
    ServiceBuilder::new()
        .layer(
            TraceLayer::new(shared.target.clone()).with_query_text(config.metrics.trace_query_text),
        )
        .layer(MetricsLayer::new(Arc::clone(&shared.recorder)))
        .layer(DeadlineLayer::new(config.retry.total_deadline))
        .option_layer(replicas.cloned().map(ReplicaLayer::new))
        .layer(RetryLayer::new(policy))
        .layer(CircuitBreakerLayer::new(shared.breaker.clone()))
        .option_layer(overflow)
        .service(primary.clone())
}
