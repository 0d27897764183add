//! Circuit breaking: [`CircuitBreakerLayer`] fails calls at once while the backend is
//! down, instead of letting each one queue behind connection timeouts, and lets a few
//! probes decide when it is back. One [`CircuitBreaker`] per pool is shared by every
//! service the layer wraps, so a down database costs one probe, not one timeout per
//! request.
//!
//! What counts as a failure: a call whose error is not [`Failure::Permanent`]
//! (unreachable, timed out, shut down). A permanent error (a constraint violation, bad
//! input) is the backend answering, and counts as healthy.
//!
//! [`Failure::Permanent`]: crate::Failure::Permanent

mod future;
mod layer;
mod service;
mod settings;
mod state;

pub use future::ResponseFuture;
pub use layer::CircuitBreakerLayer;
pub use service::CircuitBreakerService;
pub use settings::BreakerSettings;
pub use state::{BreakerState, CallOutcome, CircuitBreaker, Permit};

use std::time::Duration;

/// An error that can say "the breaker is open". `poolside-core` implements it for its
/// errors (kind `Unavailable`).
pub trait CircuitOpen {
    /// The error for a call refused because the breaker is open; it probes again in
    /// `retry_in`.
    fn circuit_open(retry_in: Duration) -> Self;
}
