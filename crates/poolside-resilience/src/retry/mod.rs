//! Retry: exponential backoff with jitter ([`Backoff`]) within a total deadline, and a
//! retry budget shared by every caller of a pool ([`RetryBudget`]), so that an outage
//! never multiplies the load on the database.
//!
//! The `RetryLayer` that applies them to a `tower::Service` is the next step of the
//! resilience issue; these are its policy parts, usable and tested alone.

mod backoff;
mod budget;

pub use backoff::Backoff;
pub use budget::{BudgetError, RetryBudget};
