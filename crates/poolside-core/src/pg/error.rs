//! [`PgError`]: every failure of the PostgreSQL pool, with its kind and SQLSTATE.

use std::fmt;

use poolside_config::redact_text;
use tokio_postgres::error::SqlState;

use super::schema_epoch::is_stale_plan;
use crate::ErrorKind;

/// An error of the PostgreSQL pool or of a statement run through it.
///
/// [`kind`](PgError::kind) is stable; [`code`](PgError::code) is the server's SQLSTATE
/// when the server sent one. Messages never hold a password.
#[derive(Debug, thiserror::Error)]
pub struct PgError {
    kind: ErrorKind,
    code: Option<SqlState>,
    message: String,
    /// Whether the request had left for the server when this failed.
    sent: bool,
    /// Whether the server refused a cached statement whose result changed shape, or
    /// cached parameter types that changed (a migration): running it again, prepared
    /// or learnt anew, may succeed.
    stale_plan: bool,
    #[source]
    source: Option<tokio_postgres::Error>,
}

/// The driver's message and its causes (`error connecting to server: Connection
/// refused (os error 111)`): tokio-postgres keeps the cause out of its own text.
fn with_causes(error: &tokio_postgres::Error) -> String {
    let mut text = error.to_string();
    let mut cause = std::error::Error::source(error);
    while let Some(inner) = cause {
        let part = inner.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        cause = inner.source();
    }
    text
}

/// The kind of a driver error that carries no SQLSTATE, from what the driver exposes
/// of its own error kinds (the enum itself is private): a closed connection, or an I/O
/// cause (a socket, TLS, a message that would not encode or parse), is the
/// connection's failure. Anything else the driver refused on this side, before the
/// server saw it (a parameter that does not serialise, a wrong parameter count), is the
/// statement's own: a query error, not a reason to distrust the server.
fn kind_without_sqlstate(error: &tokio_postgres::Error) -> ErrorKind {
    let io_cause =
        std::error::Error::source(error).is_some_and(|cause| cause.is::<std::io::Error>());
    if error.is_closed() || io_cause {
        ErrorKind::Connect
    } else {
        ErrorKind::Query
    }
}

impl PgError {
    /// Classifies a driver error of a statement or a check on an open connection, by
    /// its SQLSTATE, or else by its kind. `context` says what was being done, such as
    /// `running a query`.
    pub(crate) fn from_driver(error: tokio_postgres::Error, context: &str) -> Self {
        let kind = error
            .code()
            .map_or_else(|| kind_without_sqlstate(&error), classify);
        Self::classified(error, kind, context)
    }

    /// Classifies a driver error while connecting, such as `connecting to
    /// 127.0.0.1:5432`: by its SQLSTATE (bad credentials, an unknown database, too many
    /// connections), or else a connection failure. It is marked unsent: nothing ran.
    pub(crate) fn connecting(error: tokio_postgres::Error, context: &str) -> Self {
        let kind = error.code().map_or(ErrorKind::Connect, classify);
        Self::classified(error, kind, context).unsent()
    }

    fn classified(error: tokio_postgres::Error, kind: ErrorKind, context: &str) -> Self {
        let code = error.code().cloned();
        let detail = match error.as_db_error() {
            Some(db) => format!("{} ({})", db.message(), db.code().code()),
            None => with_causes(&error),
        };
        let stale_plan = is_stale_plan(&error);
        // PgBouncer ends a client that waited past its query_wait_timeout for a server
        // connection: its statement never reached PostgreSQL.
        let waited_for_a_server = kind == ErrorKind::Connect && waited_for_a_server(&detail);
        Self {
            kind,
            code,
            message: redact_text(&format!(
                "{context}: {detail}{}",
                advice(kind, stale_plan, &detail)
            )),
            sent: !waited_for_a_server,
            stale_plan,
            source: Some(error),
        }
    }

    /// An error the server sent on a connection poolside reads itself (the batched
    /// read path): its SQLSTATE `code` and `message`, classified as the driver's are.
    /// `stale_plan` says the server refused a cached statement whose result changed
    /// shape.
    pub(crate) fn from_server(
        code: SqlState,
        message: &str,
        stale_plan: bool,
        context: &str,
    ) -> Self {
        let kind = classify(&code);
        let advice = match code.code() {
            "25006" => {
                ": the statement writes, and the batched read path runs on read-only \
                 connections; send it without read_only()"
            }
            _ => advice(kind, stale_plan, message),
        };
        Self {
            kind,
            message: redact_text(&format!("{context}: {message} ({}){advice}", code.code())),
            code: Some(code),
            sent: true,
            stale_plan,
            source: None,
        }
    }

    /// The same error, marked as failing before any request was sent (while
    /// connecting), so that retrying is safe.
    pub(crate) fn unsent(mut self) -> Self {
        self.sent = false;
        self
    }

    /// The same error, marked as caused by a statement or its parameter types cached
    /// before a migration: the pool has forgotten them, and running the transaction
    /// again may succeed.
    pub(crate) fn stale(mut self) -> Self {
        self.stale_plan = true;
        self
    }

    /// The same error, for a cached statement the session no longer had (a `DEALLOCATE`
    /// or `DISCARD ALL` ran on the connection, or a pooler in transaction mode hands
    /// the connection's statements to other server sessions): the pool has forgotten
    /// its statements, and running the statement (or the transaction) again prepares it
    /// anew.
    pub(crate) fn lost_statement(mut self) -> Self {
        self.message.push_str(
            ": the server session no longer has the statement poolside prepared on this \
             connection. Either a DEALLOCATE or DISCARD ALL ran on it (the pool prepares \
             the statement anew: run it again, after a ROLLBACK inside a transaction), or \
             a pooler in transaction mode sits between the pool and the server: for \
             PgBouncer, add pgbouncer=true to postgres.url",
        );
        self.stale()
    }

    /// The same error, for the pool's own prepare of a statement. Its names are unique
    /// in the process, so one the server session already has (42P05) says another
    /// client's session is underneath: a pooler in transaction mode.
    pub(crate) fn of_prepare(mut self) -> Self {
        if self.code == Some(SqlState::DUPLICATE_PSTATEMENT) {
            self.message.push_str(
                ": the server session already has a statement of the name poolside gave \
                 this one, so it is not this connection's own: a pooler in transaction mode \
                 sits between the pool and the server (for PgBouncer, add pgbouncer=true \
                 to postgres.url), or a PREPARE of the application's used the name",
            );
        }
        self
    }

    /// Whether the server refused a statement cached before a migration changed it.
    pub(crate) fn is_stale(&self) -> bool {
        self.stale_plan
    }

    /// Whether the request had left for the server when this failed; `false` for
    /// failures while getting or opening a connection.
    pub(crate) fn was_sent(&self) -> bool {
        self.sent
    }

    /// A failure with no driver error behind it.
    pub(crate) fn new(kind: ErrorKind, message: impl AsRef<str>) -> Self {
        Self {
            kind,
            code: None,
            message: redact_text(message.as_ref()),
            sent: false,
            stale_plan: false,
            source: None,
        }
    }

    /// The same failure, its message followed by `note` (more of what to check).
    pub(crate) fn noting(mut self, note: &str) -> Self {
        self.message.push_str("; ");
        self.message.push_str(&redact_text(note));
        self
    }

    /// The same failure, for a second waiter: driver errors cannot be cloned, so the
    /// copy keeps the kind, code and message but not the source.
    pub(crate) fn duplicate(&self) -> Self {
        Self {
            kind: self.kind,
            code: self.code.clone(),
            message: self.message.clone(),
            sent: self.sent,
            stale_plan: self.stale_plan,
            source: None,
        }
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The server's SQLSTATE, when it sent one.
    pub fn code(&self) -> Option<&SqlState> {
        self.code.as_ref()
    }

    /// Whether waiting for a connection will not cure this connect failure (bad
    /// credentials, unknown database).
    pub(crate) fn is_permanent(&self) -> bool {
        self.kind == ErrorKind::Auth
    }

    /// Whether re-running the whole transaction may succeed: a serialization failure
    /// (40001), a deadlock (40P01), a cached statement a migration made stale (0A000
    /// "cached plan must not change result type"; the pool prepares it again) or the
    /// session lost (26000 naming it; the same), or, in
    /// PgBouncer mode, cached parameter types it changed (the pool learns them again).
    pub(crate) fn is_transaction_retryable(&self) -> bool {
        matches!(self.kind, ErrorKind::Serialization | ErrorKind::Deadlock) || self.stale_plan
    }
}

impl fmt::Display for PgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Whether `detail` is PgBouncer's for a client that waited past its
/// `query_wait_timeout` for a server connection (08P01): the statement never ran.
fn waited_for_a_server(detail: &str) -> bool {
    detail.starts_with("query_wait_timeout")
}

/// What to do about an error of `kind` that says `detail`.
fn advice(kind: ErrorKind, stale_plan: bool, detail: &str) -> &'static str {
    match kind {
        // PgBouncer's refusal while its `server_login_retry` runs (08P01).
        ErrorKind::Connect if detail.contains("(server_login_retry)") => {
            ": PgBouncer could not log in to PostgreSQL and refuses clients until its \
             server_login_retry has passed; check that PostgreSQL runs, and set \
             server_login_retry = 1 in pgbouncer.ini so that it tries again within a \
             second (its default is 15 s)"
        }
        ErrorKind::Connect if waited_for_a_server(detail) => {
            ": PgBouncer found no free PostgreSQL connection for this client within its \
             query_wait_timeout, and the statement did not run; its pool for the database \
             (default_pool_size) is held by other clients: look for long transactions \
             (SHOW POOLS: cl_waiting, maxwait), raise the pool size, or lower the \
             instances' postgres.max_size"
        }
        // PgBouncer refuses a client past max_client_conn (08P01).
        ErrorKind::Connect if detail.contains("(max_client_conn)") => {
            ": PgBouncer is at max_client_conn; raise it in pgbouncer.ini above the sum \
             of postgres.max_size over every instance behind it, or lower max_size"
        }
        // PgBouncer ends a database's clients on its admin console's KILL, or when a
        // RELOAD drops the database from pgbouncer.ini (08P01).
        ErrorKind::Connect if detail.starts_with("database removed") => {
            ": PgBouncer closed every connection to this database (KILL on its admin \
             console, or the database dropped from pgbouncer.ini); after a KILL, new \
             connections wait until RESUME <database> is run there"
        }
        // rustls refused the server's certificate.
        ErrorKind::Connect if detail.contains("invalid peer certificate") => {
            ": the server's certificate did not pass the check sslmode asks for: check that \
             sslrootcert names the CA that signed it (the system's CAs without it) and, \
             with verify-full, that it is for the host postgres.url names"
        }
        // The server ended the handshake with an alert: most often, it asks for a client
        // certificate and refused the one presented (or none).
        ErrorKind::Connect if detail.contains("received fatal alert") => {
            ": the server refused the TLS handshake; when it asks for a client \
             certificate, give sslcert and sslkey in postgres.url, a certificate that a CA \
             of its ssl_ca_file signed, in its validity period"
        }
        _ if stale_plan => {
            ": a migration changed this statement's result since it was prepared; run it \
             again (roll back first inside a transaction): the pool prepares it anew"
        }
        // `cert` authentication (28000): no certificate, or one for another user.
        ErrorKind::Auth
            if detail.contains("valid client certificate")
                || detail.contains("certificate authentication failed") =>
        {
            ": the server lets this user in by client certificate only: give sslcert and \
             sslkey in postgres.url, a certificate for the user's name (its CN) signed by \
             a CA of the server's ssl_ca_file"
        }
        ErrorKind::Auth => ": check the user, password and database in postgres.url",
        ErrorKind::Connect => ": check that the server runs and postgres.url names it",
        ErrorKind::Serialization | ErrorKind::Deadlock => ": re-run the transaction",
        _ => "",
    }
}

/// The kind of a SQLSTATE.
fn classify(code: &SqlState) -> ErrorKind {
    match code.code() {
        "40001" => ErrorKind::Serialization,
        "40P01" => ErrorKind::Deadlock,
        "23505" => ErrorKind::UniqueViolation,
        "57014" => ErrorKind::Cancelled,
        // invalid_authorization_specification, invalid_password, invalid_catalog_name
        // (unknown database), insufficient privilege to connect.
        "28000" | "28P01" | "3D000" | "42501" => ErrorKind::Auth,
        // too_many_connections, admin_shutdown, crash_shutdown, cannot_connect_now,
        // idle_session_timeout (the server ended a session idle too long).
        c if c.starts_with("08")
            || matches!(c, "53300" | "57P01" | "57P02" | "57P03" | "57P05") =>
        {
            ErrorKind::Connect
        }
        _ => ErrorKind::Query,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlstates_map_to_kinds() {
        for (code, kind) in [
            ("40001", ErrorKind::Serialization),
            ("40P01", ErrorKind::Deadlock),
            ("23505", ErrorKind::UniqueViolation),
            ("23503", ErrorKind::Query),
            ("28P01", ErrorKind::Auth),
            ("3D000", ErrorKind::Auth),
            ("08006", ErrorKind::Connect),
            ("57P01", ErrorKind::Connect),
            ("57P05", ErrorKind::Connect),
            ("53300", ErrorKind::Connect),
            ("57014", ErrorKind::Cancelled),
            ("42601", ErrorKind::Query),
        ] {
            assert_eq!(classify(&SqlState::from_code(code)), kind, "{code}");
        }
    }

    #[test]
    fn pgbouncers_refusals_say_what_to_set() {
        // PgBouncer 1.18's words, as the driver renders them.
        let refused = "server login has been failing, try again later (server_login_retry) (08P01)";
        let refusal = advice(ErrorKind::Connect, false, refused);
        assert!(
            refusal.contains("set server_login_retry = 1 in pgbouncer.ini"),
            "{refusal}"
        );
        let waited = advice(ErrorKind::Connect, false, "query_wait_timeout (08P01)");
        assert!(waited.contains("did not run"), "{waited}");
        let full = advice(
            ErrorKind::Connect,
            false,
            "no more connections allowed (max_client_conn) (08P01)",
        );
        assert!(full.contains("raise it in pgbouncer.ini"), "{full}");
        let killed = advice(ErrorKind::Connect, false, "database removed (08P01)");
        assert!(killed.contains("RESUME <database>"), "{killed}");
        let closed = advice(ErrorKind::Connect, false, "connection closed");
        assert!(closed.contains("postgres.url names it"), "{closed}");
    }
}
