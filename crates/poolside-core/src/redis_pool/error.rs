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
    /// The server answered, refusing for now (LOADING, BUSY, OOM, ...): the
    /// connection itself is sound.
    refused_for_now: bool,
    #[source]
    source: Option<redis::RedisError>,
}

impl RedisError {
    /// Classifies a driver error; `context` says what was being done.
    pub(crate) fn from_driver(error: redis::RedisError, context: &str) -> Self {
        Self::classify(error, context, false)
    }

    /// Classifies a driver error met while opening a connection: nothing was sent, so
    /// retrying is safe, and a driver timeout here means no connection (`Connect`),
    /// not a cancelled command.
    pub(crate) fn from_driver_connecting(error: redis::RedisError, context: &str) -> Self {
        let mut this = Self::classify(error, context, true);
        this.sent = false;
        if this.kind == ErrorKind::Cancelled {
            this.kind = ErrorKind::Connect;
        }
        this
    }

    fn classify(error: redis::RedisError, context: &str, connecting: bool) -> Self {
        // NOAUTH: a password is required and none was given; WRONGPASS: the user or
        // password is wrong (the driver reports only the latter at connect).
        let auth_refused = error.kind() == redis::ErrorKind::AuthenticationFailed
            || matches!(error.code(), Some("NOAUTH" | "WRONGPASS"));
        // READONLY: the server is a replica now (a Sentinel failover demoted it); it
        // refused the command without running it.
        let demoted = error.code() == Some("READONLY");
        // The server is up but cannot serve for now, and refused the command without
        // running it: loading its dataset after a restart, a script past
        // busy-reply-threshold, a replica cut off from its primary, a cluster with
        // slots unserved or in the middle of moving them.
        let not_serving_now = matches!(
            error.code(),
            Some("LOADING" | "BUSY" | "MASTERDOWN" | "CLUSTERDOWN" | "TRYAGAIN")
        );
        // At maxmemory with no eviction: it refuses writes (and runs nothing).
        let full = error.code() == Some("OOM");
        // No server to send to: the cluster client holds no connection to the node
        // serving the slot, or the sentinels named no primary. Nothing was sent.
        let no_cluster_node = error.kind() == redis::ErrorKind::ClusterConnectionNotFound;
        // The cluster client split a command by slot and left out a node it held no
        // connection to; the parts it sent may have run.
        let left_out = left_out_of(&error);
        let no_primary = matches!(
            error.kind(),
            redis::ErrorKind::MasterNameNotFoundBySentinel
                | redis::ErrorKind::NoValidReplicasFoundBySentinel
                | redis::ErrorKind::EmptySentinelList
        );
        let refused_for_now = not_serving_now || full;
        let kind = if auth_refused {
            ErrorKind::Auth
        } else if demoted || not_serving_now || no_cluster_node || no_primary {
            ErrorKind::Connect
        } else if full {
            ErrorKind::Overloaded
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
        // Redis accepted the connection, then closed it before answering: at
        // maxclients it writes its refusal and closes at once, and the reply is lost
        // to the reset that the client's first command meets.
        // The cluster client reports its nodes' refusals as text.
        let text = error.to_string();
        let refusal = error.is_connection_refusal() || text.contains("Connection refused");
        let closed_on_accept = connecting && error.is_connection_dropped() && !refusal;
        let tls_refused = connecting && super::tls::is_handshake_failure(&text);
        let advice = match kind {
            // The server ended the handshake with an alert: most often, it asks for a
            // client certificate and refused the one presented (or none).
            _ if tls_refused && text.contains("received fatal alert") => {
                ": Redis refused the TLS handshake; when it asks for a client certificate \
                 (tls-auth-clients), give sslcert and sslkey in the URL, a certificate that \
                 a CA of its tls-ca-cert-file signed, in its validity period"
            }
            _ if tls_refused => {
                ": check that the URL's sslrootcert names the CA that signed the server's \
                 certificate (the system's CAs without it), that the certificate is for the \
                 host connected to (in a cluster, the address each node announces; in a \
                 Sentinel group, the address the sentinels name), and that the port speaks \
                 TLS"
            }
            _ if closed_on_accept => {
                ": Redis accepted the connection and closed it before answering; it does \
                 so at maxclients (compare connected_clients in INFO with CONFIG GET \
                 maxclients), and a proxy in front of it may refuse this client"
            }
            _ if no_cluster_node => {
                ": the cluster client has no connection to the node serving the key's slot \
                 (the node is down, or refuses this client: a wrong password does so); the \
                 command was not sent"
            }
            _ if left_out => {
                ": the cluster client held no connection to the node of some of the \
                 command's slots and left their part out; nothing is wrong with the \
                 command, and a read can go again"
            }
            _ if no_primary => {
                ": the sentinels named no primary for redis.master_name: check the name, \
                 and that they monitor it (SENTINEL MASTERS)"
            }
            _ if demoted => {
                ": the server is no longer the primary and did not run the command; the \
                 pool connects to the primary the sentinels name"
            }
            _ if not_serving_now => {
                ": the server cannot serve for now and did not run the command; send it \
                 again shortly"
            }
            _ if full => {
                ": Redis is at maxmemory and refuses writes; raise maxmemory, or give a \
                 cache an eviction policy (maxmemory-policy allkeys-lru)"
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
            message: redact_text(&format!("{context}: {text}{advice}")),
            // A refused connection never carried a command, and a replica refuses a
            // write before running it, as a server refuses what it cannot serve now.
            sent: !error.is_connection_refusal()
                && !demoted
                && !refused_for_now
                && !no_cluster_node
                && !no_primary,
            refused_for_now,
            source: Some(error),
        }
    }

    /// The same error, with `note` (what else to check) after its message.
    pub(crate) fn noting(mut self, note: &str) -> Self {
        self.message.push_str("; ");
        self.message.push_str(&redact_text(note));
        self
    }

    /// Marks it as the error of a command the server received (and may have run).
    pub(crate) fn after_sending(mut self) -> Self {
        self.sent = true;
        self
    }

    pub(crate) fn was_sent(&self) -> bool {
        self.sent
    }

    /// Whether the redis crate's cluster client failed a multi-slot command because it
    /// left out a node it held no connection to (the answers it put together came up
    /// short): nothing is wrong with the command, and a read can go again.
    pub(crate) fn node_left_out(&self) -> bool {
        self.source.as_ref().is_some_and(left_out_of)
    }

    /// Whether the server answered on a sound connection, refusing for now (loading
    /// its dataset, busy with a script, full, ...): keep the connection, and do not
    /// send the command again at once.
    pub(crate) fn refused_for_now(&self) -> bool {
        self.refused_for_now
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
            refused_for_now: false,
            source: None,
        }
    }

    /// The same failure, for a second waiter (the driver's error stays with the first).
    pub(crate) fn duplicate(&self) -> Self {
        Self {
            sent: self.sent,
            refused_for_now: self.refused_for_now,
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

/// Whether `error` is the cluster client's for a command it split by slot and left a
/// node out of (its answers' count came up short).
fn left_out_of(error: &redis::RedisError) -> bool {
    error.kind() == redis::ErrorKind::Client
        && error.to_string().contains("number of multi-slot results")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The driver's error for the error reply `line`, as Redis sends it.
    fn server_error(line: &str) -> redis::RedisError {
        let reply = format!("-{line}\r\n");
        match redis::parse_redis_value(reply.as_bytes()).and_then(redis::Value::extract_error) {
            Err(error) => error,
            Ok(value) => panic!("{line:?} parsed as {value:?}, not an error"),
        }
    }

    #[test]
    fn a_server_that_cannot_serve_now_is_unavailable_and_safe_to_retry() {
        for line in [
            "LOADING Redis is loading the dataset in memory",
            "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.",
            "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.",
            "CLUSTERDOWN The cluster is down",
            "TRYAGAIN Multiple keys request during rehashing of slot",
        ] {
            let error = RedisError::from_driver(server_error(line), "GET");
            assert_eq!(error.kind(), ErrorKind::Connect, "{line}");
            assert!(!error.was_sent(), "{line}: refused before it ran");
            assert!(error.refused_for_now(), "{line}: on a sound connection");
            assert!(
                error.is_unavailable(),
                "{line}: a cache carries on without it"
            );
            assert!(
                error.to_string().contains("send it again shortly"),
                "{error}"
            );
        }
    }

    #[test]
    fn no_node_or_no_primary_to_send_to_is_a_connect_failure_with_nothing_sent() {
        let no_node = RedisError::from_driver(
            redis::RedisError::from((
                redis::ErrorKind::ClusterConnectionNotFound,
                "No connections found",
            )),
            "running a Redis command",
        );
        assert_eq!(no_node.kind(), ErrorKind::Connect, "{no_node}");
        assert!(!no_node.was_sent());
        assert!(no_node.to_string().contains("was not sent"), "{no_node}");
        let no_primary = RedisError::from_driver_connecting(
            redis::RedisError::from((
                redis::ErrorKind::MasterNameNotFoundBySentinel,
                "Master with given name not found in sentinel",
            )),
            "connecting to the primary of \"nosuch\"",
        );
        assert_eq!(no_primary.kind(), ErrorKind::Connect, "{no_primary}");
        assert!(
            no_primary.to_string().contains("check the name"),
            "{no_primary}"
        );
    }

    #[test]
    fn a_full_server_refuses_writes_and_says_what_to_change() {
        let error = RedisError::from_driver(
            server_error("OOM command not allowed when used memory > 'maxmemory'."),
            "SET",
        );
        assert_eq!(error.kind(), ErrorKind::Overloaded);
        assert!(!error.was_sent());
        assert!(
            error.is_unavailable(),
            "a cache carries on without its write"
        );
        assert!(error.to_string().contains("maxmemory-policy"), "{error}");
    }

    #[test]
    fn a_connection_closed_while_opening_names_maxclients_and_a_refused_one_does_not() {
        let closed = RedisError::from_driver_connecting(
            std::io::Error::from(std::io::ErrorKind::BrokenPipe).into(),
            "connecting to 127.0.0.1:6379",
        );
        assert_eq!(closed.kind(), ErrorKind::Connect);
        assert!(!closed.was_sent());
        assert!(closed.to_string().contains("maxclients"), "{closed}");

        let refused = RedisError::from_driver_connecting(
            std::io::Error::from(std::io::ErrorKind::ConnectionRefused).into(),
            "connecting to 127.0.0.1:6379",
        );
        assert!(
            refused.to_string().contains("check that Redis runs"),
            "{refused}"
        );
        // The cluster client's words when no node accepts a connection.
        let no_node = RedisError::from_driver_connecting(
            redis::RedisError::from((
                redis::ErrorKind::Io,
                "Failed to create initial connections",
                "Io: Connection refused (os error 111)".to_owned(),
            )),
            "connecting to the cluster at 127.0.0.1:7000",
        );
        assert!(
            no_node.to_string().contains("check that Redis runs")
                && !no_node.to_string().contains("maxclients"),
            "{no_node}"
        );
        // On an open connection, a broken pipe is the connection lost, not a refusal.
        let lost = RedisError::from_driver(
            std::io::Error::from(std::io::ErrorKind::BrokenPipe).into(),
            "running a Redis command",
        );
        assert!(!lost.to_string().contains("maxclients"), "{lost}");
    }

    #[test]
    fn a_node_the_cluster_client_left_out_is_told_apart() {
        let left_out = RedisError::from_driver(
            redis::RedisError::from((
                redis::ErrorKind::Client,
                "Mismatch in the number of multi-slot results compared to the expected result count.",
                "Expected: 10, Found: 16".to_owned(),
            )),
            "running a Redis command",
        );
        assert!(left_out.node_left_out(), "{left_out}");
        assert!(
            left_out.to_string().contains("left their part out"),
            "{left_out}"
        );
        let other = RedisError::from_driver(
            redis::RedisError::from((redis::ErrorKind::Client, "some other client failure")),
            "running a Redis command",
        );
        assert!(!other.node_left_out(), "{other}");
    }

    #[test]
    fn other_server_errors_stay_query_errors() {
        let error = RedisError::from_driver(
            server_error("WRONGTYPE Operation against a key holding the wrong kind of value"),
            "GET",
        );
        assert_eq!(error.kind(), ErrorKind::Query);
        assert!(error.was_sent());
        assert!(!error.is_unavailable());
    }
}
