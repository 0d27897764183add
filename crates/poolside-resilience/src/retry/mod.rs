//! Retry: [`RetryLayer`] tries a failed request again when its error says that is
//! safe ([`Classify`](crate::Classify)), with exponential backoff and jitter
//! ([`Backoff`]), within a total deadline, and only as far as a budget shared by every
//! caller allows ([`RetryBudget`]), so that an outage never multiplies the load on the
//! database. Every decision and its attempt number go to an observer, for metrics.
//!
//! The deadline bounds when a retry may start; a try in flight is bounded by the
//! deadline layer, not here.

mod backoff;
mod budget;
mod future;
mod layer;
mod policy;
mod service;

pub use backoff::{Backoff, Jitter};
pub use budget::{BudgetError, RetryBudget};
pub use future::ResponseFuture;
pub use layer::RetryLayer;
pub use policy::{Decision, GiveUp, RetryEvent, RetryPolicy};
pub use service::Retry;
