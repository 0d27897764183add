//! How the pools' errors meet the resilience layers: [`Classify`] (what a failure may
//! be retried as, from the error's kind, its SQLSTATE, and whether the request had
//! been sent), [`DeadlineExceeded`], [`CircuitOpen`] and [`Overloaded`] for
//! [`PgError`] and [`RedisError`].

use std::time::Duration;

use poolside_resilience::{CircuitOpen, Classify, DeadlineExceeded, Failure, Overloaded};

#[cfg(feature = "redis")]
use crate::RedisError;
use crate::{ErrorKind, PgError};

fn past_deadline(deadline: Duration) -> String {
    format!(
        "the operation ran past its {deadline:?} deadline and was stopped (a statement in flight on an \
         exclusive connection is cancelled on the server): raise the deadline or make the operation cheaper"
    )
}

fn circuit_open(retry_in: Duration) -> String {
    format!(
        "the circuit breaker is open after repeated failures: refused at once, the next probe in {retry_in:?}; \
         check that the server runs"
    )
}

fn overloaded(limit: usize) -> String {
    format!(
        "{limit} operations are in flight already: refused at once rather than queued; \
         retry later, or raise the limit if the database has room"
    )
}

/// The errors the layers build themselves, for both error types: a kind and a
/// message that says what to do.
macro_rules! layer_errors {
    ($($error:ident),*) => {$(
        impl DeadlineExceeded for $error {
            fn deadline_exceeded(deadline: Duration) -> Self {
                $error::new(ErrorKind::Cancelled, past_deadline(deadline))
            }
        }

        impl CircuitOpen for $error {
            fn circuit_open(retry_in: Duration) -> Self {
                $error::new(ErrorKind::Unavailable, circuit_open(retry_in))
            }
        }

        impl Overloaded for $error {
            fn overloaded(limit: usize) -> Self {
                $error::new(ErrorKind::Overloaded, overloaded(limit))
            }
        }
    )*};
}

layer_errors!(PgError);
#[cfg(feature = "redis")]
layer_errors!(RedisError);

/// The retry class of a failure of `kind`; `sent` says whether the request had left
/// for the server, `sqlstate` is the server's code when it sent one.
fn failure(kind: ErrorKind, sent: bool, sqlstate: Option<&str>) -> Failure {
    match kind {
        ErrorKind::PoolTimeout | ErrorKind::Serialization | ErrorKind::Deadlock => {
            Failure::Retryable
        }
        ErrorKind::Connect => match sqlstate {
            // The server refused the session or shut it down (08xxx, too many
            // connections, admin shutdown, starting up, the session idle too long):
            // the request did not run, or was rolled back with its session.
            Some(code)
                if code.starts_with("08")
                    || matches!(code, "53300" | "57P01" | "57P03" | "57P05") =>
            {
                Failure::Retryable
            }
            // No connection, or it broke before the request went out.
            _ if !sent => Failure::Retryable,
            // It broke with the request on the wire (crash shutdown 57P02 included).
            _ => Failure::Unknown,
        },
        // A timeout fired or a statement was cancelled: it may have run.
        ErrorKind::Cancelled => Failure::Unknown,
        ErrorKind::PoolClosed
        | ErrorKind::Auth
        | ErrorKind::Query
        | ErrorKind::UniqueViolation
        | ErrorKind::Unavailable
        | ErrorKind::Overloaded => Failure::Permanent,
    }
}

impl Classify for PgError {
    fn failure(&self) -> Failure {
        failure(self.kind(), self.was_sent(), self.code().map(|c| c.code()))
    }
}

#[cfg(feature = "redis")]
impl Classify for RedisError {
    fn failure(&self) -> Failure {
        failure(self.kind(), self.was_sent(), None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The classification table by SQLSTATE and kind.
    #[test]
    fn the_retry_table() {
        use ErrorKind::*;
        use Failure::*;
        for (kind, sent, code, expected) in [
            (Serialization, true, Some("40001"), Retryable),
            (Deadlock, true, Some("40P01"), Retryable),
            (Connect, true, Some("53300"), Retryable),
            (Connect, true, Some("57P01"), Retryable),
            (Connect, true, Some("57P03"), Retryable),
            (Connect, true, Some("57P05"), Retryable),
            (Connect, true, Some("08006"), Retryable),
            (Connect, true, Some("08001"), Retryable),
            (Connect, true, Some("57P02"), Unknown),
            (Connect, false, None, Retryable),
            (Connect, true, None, Unknown),
            (PoolTimeout, false, None, Retryable),
            (Cancelled, true, Some("57014"), Unknown),
            (UniqueViolation, true, Some("23505"), Permanent),
            (Query, true, Some("23503"), Permanent),
            (Query, true, Some("23502"), Permanent),
            (Query, true, Some("42601"), Permanent),
            (Auth, false, Some("28P01"), Permanent),
            (PoolClosed, false, None, Permanent),
            (Overloaded, false, None, Permanent),
            (Unavailable, false, None, Permanent),
        ] {
            assert_eq!(
                failure(kind, sent, code),
                expected,
                "{kind:?} sent={sent} {code:?}"
            );
        }
    }

    /// The layers' own errors: a retry layer above never retries an open breaker or
    /// shed load, and treats a passed deadline as an unknown outcome.
    #[test]
    fn the_layers_errors_have_kinds_and_retry_classes() {
        let second = Duration::from_secs(1);
        for (error, kind, class) in [
            (
                PgError::deadline_exceeded(second),
                ErrorKind::Cancelled,
                Failure::Unknown,
            ),
            (
                PgError::circuit_open(second),
                ErrorKind::Unavailable,
                Failure::Permanent,
            ),
            (
                PgError::overloaded(10),
                ErrorKind::Overloaded,
                Failure::Permanent,
            ),
        ] {
            assert_eq!((error.kind(), error.failure()), (kind, class), "{error}");
        }
        #[cfg(feature = "redis")]
        redis_errors(second);
    }

    #[cfg(feature = "redis")]
    fn redis_errors(second: Duration) {
        let redis = RedisError::circuit_open(second);
        assert_eq!(
            (redis.kind(), redis.failure()),
            (ErrorKind::Unavailable, Failure::Permanent)
        );
        assert!(
            RedisError::overloaded(3)
                .to_string()
                .contains("3 operations are in flight")
        );
    }
}
