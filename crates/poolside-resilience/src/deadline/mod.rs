//! Deadline: [`DeadlineLayer`] gives each operation one deadline covering everything
//! below it (waiting for a connection, retries, the statement). On expiry the inner
//! future is dropped; poolside's pools cancel a statement dropped mid-flight on the
//! server and discard its connection, so the work stops there too, not only here.

mod future;
mod layer;
mod service;

pub use future::ResponseFuture;
pub use layer::DeadlineLayer;
pub use service::Deadline;

use std::time::Duration;

/// An error that can say "the deadline passed". `poolside-core` implements it for
/// its errors (kind `Cancelled`).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use poolside_resilience::DeadlineExceeded;
///
/// #[derive(Debug)]
/// struct Timeout(Duration);
///
/// impl DeadlineExceeded for Timeout {
///     fn deadline_exceeded(deadline: Duration) -> Self {
///         Timeout(deadline)
///     }
/// }
/// # let _ = Timeout::deadline_exceeded(Duration::from_secs(1));
/// ```
pub trait DeadlineExceeded {
    /// The error for an operation that ran past `deadline`.
    fn deadline_exceeded(deadline: Duration) -> Self;
}
