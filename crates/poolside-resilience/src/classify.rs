//! [`Classify`]: how the layers learn what a failure means, without knowing the
//! backend. `poolside-core` implements it for its PostgreSQL and Redis errors.

/// What a failed request may be retried as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Failure {
    /// Safe to try again: the request never reached the server (no connection free,
    /// connection refused), or the server undid it (serialization failure, deadlock,
    /// shutdown of the backend).
    Retryable,
    /// The outcome is unknown (the connection broke mid-request, a timeout fired):
    /// tried again only when the caller marked the operation idempotent.
    Unknown,
    /// Trying again cannot help, or could do harm: a constraint violation, bad input,
    /// a closed pool, a refused password, shed load.
    Permanent,
}

/// An error that knows what kind of [`Failure`] it is.
///
/// # Examples
///
/// ```
/// use poolside_resilience::{Classify, Failure};
///
/// #[derive(Debug)]
/// enum MyError {
///     Busy,
///     Invalid,
/// }
///
/// impl Classify for MyError {
///     fn failure(&self) -> Failure {
///         match self {
///             MyError::Busy => Failure::Retryable,
///             MyError::Invalid => Failure::Permanent,
///         }
///     }
/// }
///
/// assert_eq!(MyError::Busy.failure(), Failure::Retryable);
/// ```
pub trait Classify {
    /// What this failure may be retried as.
    fn failure(&self) -> Failure;

    /// Whether a request that failed so may be tried again; `idempotent` says that
    /// running it twice does no harm.
    fn may_retry(&self, idempotent: bool) -> bool {
        match self.failure() {
            Failure::Retryable => true,
            Failure::Unknown => idempotent,
            Failure::Permanent => false,
        }
    }
}
