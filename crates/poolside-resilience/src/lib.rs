//! **poolside-resilience** owns the generic tower layers: retry with backoff, jitter and
//! a shared retry budget; one deadline per operation; overflow and host failover; the
//! circuit breaker; load shedding.
//!
//! It may import: outside crates only. Its layers take plain settings; the facade
//! builds them from configuration (`poolside::layers`).
//! It must never import: any other poolside crate (`poolside-config` included), or any
//! PostgreSQL or Redis driver. **It knows nothing of PostgreSQL or
//! Redis**: errors are classified through a trait that `poolside-core` implements, so
//! every layer works on any `tower::Service`.
//!
#![doc = include_str!("../README.md")]

pub mod breaker;
mod classify;
pub mod deadline;
pub mod overflow;
pub mod retry;
pub mod shed;

pub use breaker::{CircuitBreaker, CircuitBreakerLayer, CircuitOpen};
pub use classify::{Classify, Failure};
pub use deadline::{DeadlineExceeded, DeadlineLayer};
pub use overflow::{Critical, OverflowLayer};
pub use retry::{Backoff, BudgetError, Jitter, RetryBudget, RetryLayer, RetryPolicy};
pub use shed::{LoadShedLayer, Overloaded};
