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
    /// Connections open now (in use or idle).
    pub(crate) open: u32,
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
        AcquireError::TimedOut(waited, None) | AcquireError::Unanswered(waited)
            if terms.open == 0 =>
        {
            E::with_kind(
                ErrorKind::Connect,
                format!(
                    "no {server} connection to {target} could be opened within {waited:?}: {}",
                    terms.unreachable_fix
                ),
            )
        }
        AcquireError::TimedOut(waited, None) => busy(waited, terms),
        AcquireError::Unanswered(waited) => E::with_kind(
            // The pool had room: raising max_size would not help.
            ErrorKind::PoolTimeout,
            format!(
                "no {server} connection ready within {waited:?}: {server} at {target} \
                 answered neither the check of an idle connection nor the opening of a new \
                 one in time; check that it is not paused (PgBouncer's PAUSE, Redis's CLIENT \
                 PAUSE), stalled or overloaded"
            ),
        ),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PgError;

    fn error(error: AcquireError<PgError>, open: u32) -> PgError {
        let terms = PoolTerms {
            server: "PostgreSQL",
            section: "postgres",
            target: "127.0.0.1:5432",
            max_size: 4,
            open,
            unreachable_fix: "check the server",
        };
        pool_error(error, &terms)
    }

    const WAITED: Duration = Duration::from_secs(3);

    #[test]
    fn a_checkout_that_never_had_its_turn_says_to_raise_max_size() {
        let error = error(AcquireError::TimedOut(WAITED, None), 4);
        assert_eq!(error.kind(), ErrorKind::PoolTimeout);
        assert!(
            error
                .to_string()
                .contains("(all 4 in use): raise postgres.max_size"),
            "{error}"
        );
    }

    #[test]
    fn a_checkout_the_server_did_not_answer_names_the_server_not_max_size() {
        // Its turn came, but the ping of an idle connection or a new connection went
        // unanswered (a paused PgBouncer or Redis): raising max_size would not help.
        let error = error(AcquireError::Unanswered(WAITED), 2);
        assert_eq!(error.kind(), ErrorKind::PoolTimeout);
        let message = error.to_string();
        for part in ["answered neither", "127.0.0.1:5432", "paused"] {
            assert!(message.contains(part), "{part:?} in: {message}");
        }
        assert!(!message.contains("max_size"), "{message}");
    }

    #[test]
    fn a_timed_out_checkout_with_nothing_open_is_a_connect_failure() {
        for timed_out in [
            AcquireError::TimedOut(WAITED, None),
            AcquireError::Unanswered(WAITED),
        ] {
            let error = error(timed_out, 0);
            assert_eq!(error.kind(), ErrorKind::Connect);
            assert!(error.to_string().contains("could be opened"), "{error}");
        }
    }
}
