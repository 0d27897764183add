//! One mapping from a failed checkout ([`AcquireError`]) to a pool's own error, for
//! both pools: the same cases, worded with the pool's name, server and keys.

use std::fmt::Display;
use std::time::Duration;

use crate::ErrorKind;
use crate::fair_pool::AcquireError;

/// What a pool's error type offers for a failed checkout to become one.
pub(crate) trait PoolError: Sized + Display {
    /// A failure of `kind`, saying `message`.
    fn with_kind(kind: ErrorKind, message: String) -> Self;
    /// Its kind.
    fn kind(&self) -> ErrorKind;
    /// The same failure again, for another waiter.
    fn duplicate(&self) -> Self;
}

/// [`PoolError`] for each pool's error type, from its own constructor, kind and
/// duplicate (as `layer_errors!` in `resilience.rs` does for the layers' traits).
macro_rules! pool_errors {
    ($($error:ty),*) => {$(
        impl PoolError for $error {
            fn with_kind(kind: ErrorKind, message: String) -> Self {
                <$error>::new(kind, message)
            }

            fn kind(&self) -> ErrorKind {
                <$error>::kind(self)
            }

            fn duplicate(&self) -> Self {
                <$error>::duplicate(self)
            }
        }
    )*};
}

pool_errors!(crate::PgError);
#[cfg(feature = "redis")]
pool_errors!(crate::RedisError);

/// The words a pool's checkout errors name it with.
#[derive(Debug)]
pub(crate) struct PoolTerms<'a> {
    /// The server's name for people: `PostgreSQL`, `Redis`.
    pub(crate) server: &'static str,
    /// The configuration section: `postgres`, `redis`.
    pub(crate) section: &'static str,
    /// `host:port`, no credentials.
    pub(crate) target: &'a str,
    pub(crate) max_size: u32,
    /// Whether the pool holds no connection at all.
    pub(crate) none_open: bool,
    /// What to check when no connection could be opened.
    pub(crate) unreachable_fix: &'static str,
}

/// `error` as the pool's own error, worded with `terms`.
pub(crate) fn pool_error<E: PoolError>(error: AcquireError<E>, terms: &PoolTerms<'_>) -> E {
    let PoolTerms {
        server,
        section,
        target,
        ..
    } = *terms;
    match error {
        AcquireError::Closed => E::with_kind(
            ErrorKind::PoolClosed,
            format!("the {server} pool is closed (shutting down): no new work is accepted"),
        ),
        AcquireError::TimedOut(waited, Some(failure)) => E::with_kind(
            failure.kind(),
            format!("no {server} connection within {waited:?}; last connect error: {failure}"),
        ),
        AcquireError::TimedOut(waited, None) if terms.none_open => E::with_kind(
            ErrorKind::Connect,
            format!(
                "no {server} connection to {target} could be opened within {waited:?}: {}",
                terms.unreachable_fix
            ),
        ),
        AcquireError::TimedOut(waited, None) => busy(waited, terms),
        AcquireError::Failed(failure) => failure.duplicate(),
        AcquireError::Backend(error) => error,
        AcquireError::Overloaded(waiting) => E::with_kind(
            ErrorKind::Overloaded,
            format!(
                "every {server} connection is in use and {waiting} requests are waiting for one \
                 already ({section}.max_waiting): refused rather than queued; retry later"
            ),
        ),
    }
}

/// No connection free within `waited`: every one of `max_size` in use.
pub(crate) fn busy<E: PoolError>(waited: Duration, terms: &PoolTerms<'_>) -> E {
    let (server, section, max_size) = (terms.server, terms.section, terms.max_size);
    E::with_kind(
        ErrorKind::PoolTimeout,
        format!(
            "no {server} connection free within {waited:?} (all {max_size} in use): raise \
             {section}.max_size or {section}.connection_timeout, or shorten what holds \
             connections"
        ),
    )
}
