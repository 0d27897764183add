//! [`RedisError`]: every failure of the Redis pool and cache, with its kind.

use std::fmt;

use poolside_config::redact_text;

use crate::ErrorKind;

/// An error of the Redis pool or of a command run through it. Messages never hold a
/// password.
#[derive(Debug, thiserror::Error)]
pub struct RedisError {
    kind: ErrorKind,
    message: String,
    /// Whether the command had left for Redis when this failed.
    sent: bool,
    #[source]
    source: Option<redis::RedisError>,
}

impl RedisError {
    /// Classifies a driver error; `context` says what was being done.
    pub(crate) fn from_driver(error: redis::RedisError, context: &str) -> Self {
        // NOAUTH: a password is required and none was given; WRONGPASS: the user or
        // password is wrong (the driver reports only the latter at connect).
        let auth_refused = error.kind() == redis::ErrorKind::AuthenticationFailed
            || matches!(error.code(), Some("NOAUTH" | "WRONGPASS"));
        // READONLY: the server is a replica now (a Sentinel failover demoted it); it
        // refused the command without running it.
        let demoted = error.code() == Some("READONLY");
        let kind = if auth_refused {
            ErrorKind::Auth
        } else if demoted {
            ErrorKind::Connect
        } else if error.is_timeout() {
            ErrorKind::Cancelled
        } else if error.is_io_error()
            || error.is_connection_refusal()
            || error.is_connection_dropped()
        {
            ErrorKind::Connect
        } else {
            ErrorKind::Query
        };
        let advice = match kind {
            _ if demoted => {
                ": the server is no longer the primary and did not run the command; the \
                 pool connects to the primary the sentinels name"
            }
            ErrorKind::Auth => ": check the user and password in redis.url",
            ErrorKind::Connect => ": check that Redis runs and redis.url names it",
            _ if error.code() == Some("NOPERM") => {
                ": the ACL of the user in redis.url does not allow this command or key"
            }
            _ => "",
        };
        Self {
            kind,
            message: redact_text(&format!("{context}: {error}{advice}")),
            // A refused connection never carried a command, and a replica refuses a
            // write before running it.
            sent: !error.is_connection_refusal() && !demoted,
            source: Some(error),
        }
    }

    /// The same error as a failure to connect: nothing was sent, so retrying is safe,
    /// and a driver timeout here means no connection (`Connect`), not a cancelled
    /// command.
    pub(crate) fn while_connecting(mut self) -> Self {
        self.sent = false;
        if self.kind == ErrorKind::Cancelled {
            self.kind = ErrorKind::Connect;
        }
        self
    }

    /// Whether the command had left for Redis when this failed.
    /// Marks it as the error of a command the server received (and may have run).
    pub(crate) fn after_sending(mut self) -> Self {
        self.sent = true;
        self
    }

    pub(crate) fn was_sent(&self) -> bool {
        self.sent
    }

    /// A failure with no driver error behind it, for code built over the pool (such
    /// as a cache that cannot decode a value). The message is redacted like every
    /// other.
    ///
    /// # Examples
    ///
    /// ```
    /// use poolside_core::{ErrorKind, RedisError};
    ///
    /// let error = RedisError::new(ErrorKind::Unavailable, "no Redis is configured: set REDIS_URL");
    /// assert_eq!(error.kind(), ErrorKind::Unavailable);
    /// ```
    pub fn new(kind: ErrorKind, message: impl AsRef<str>) -> Self {
        Self {
            kind,
            message: redact_text(message.as_ref()),
            sent: false,
            source: None,
        }
    }

    /// The same failure, for a second waiter (the driver's error stays with the first).
    pub(crate) fn duplicate(&self) -> Self {
        Self {
            sent: self.sent,
            ..Self::new(self.kind, &self.message)
        }
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// Whether Redis itself could not be reached or did not answer in time (as opposed
    /// to refusing a command): what a cache treats as "unavailable".
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::Connect
                | ErrorKind::Auth
                | ErrorKind::PoolTimeout
                | ErrorKind::PoolClosed
                | ErrorKind::Cancelled
                | ErrorKind::Unavailable
                | ErrorKind::Overloaded
        )
    }

    /// Whether waiting for a connection will not cure this connect failure.
    pub(crate) fn is_permanent(&self) -> bool {
        self.kind == ErrorKind::Auth
    }
}

impl fmt::Display for RedisError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}
