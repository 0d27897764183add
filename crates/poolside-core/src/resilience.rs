//! How the pools' errors meet the resilience layers: [`Classify`] (what a failure may
//! be retried as, from the error's kind, its SQLSTATE, and whether the request had
//! been sent), [`DeadlineExceeded`] and [`CircuitOpen`] for [`PgError`] and
//! [`RedisError`].

use std::time::Duration;

use poolside_resilience::{CircuitOpen, Classify, DeadlineExceeded, Failure};

use crate::{ErrorKind, PgError, RedisError};

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

impl CircuitOpen for PgError {
    fn circuit_open(retry_in: Duration) -> Self {
        PgError::new(ErrorKind::Unavailable, circuit_open(retry_in))
    }
}

impl CircuitOpen for RedisError {
    fn circuit_open(retry_in: Duration) -> Self {
        RedisError::new(ErrorKind::Unavailable, circuit_open(retry_in))
    }
}

impl DeadlineExceeded for PgError {
    fn deadline_exceeded(deadline: Duration) -> Self {
        PgError::new(ErrorKind::Cancelled, past_deadline(deadline))
    }
}

impl DeadlineExceeded for RedisError {
    fn deadline_exceeded(deadline: Duration) -> Self {
        RedisError::new(ErrorKind::Cancelled, past_deadline(deadline))
    }
}

/// The retry class of a failure of `kind`; `sent` says whether the request had left
/// for the server, `sqlstate` is the server's code when it sent one.
fn failure(kind: ErrorKind, sent: bool, sqlstate: Option<&str>) -> Failure {
    match kind {
        ErrorKind::PoolTimeout | ErrorKind::Serialization | ErrorKind::Deadlock => {
            Failure::Retryable
        }
        ErrorKind::Connect => match sqlstate {
            // The server refused the session or shut it down (08xxx, too many
            // connections, admin shutdown, starting up): the request did not run, or
            // was rolled back with its session.
            Some(code) if code.starts_with("08") || matches!(code, "53300" | "57P01" | "57P03") => {
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
}
