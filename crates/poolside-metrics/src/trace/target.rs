//! [`DbTarget`]: what an operation's span says about the server it runs against.

use std::sync::Arc;

/// The server and pool an operation's span names (`db.system.name`, `db.namespace`,
/// `server.address`, `server.port`, `poolside.pool`). Cheap to clone.
///
/// # Examples
///
/// ```
/// use poolside_metrics::DbTarget;
///
/// // From the pool's URL: its host, port and database, never its password.
/// let target = DbTarget::postgres_url("postgres", "postgres://app:secret@db.internal:6432/shop");
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// // Any future in an operation's span, as the facade runs a transaction.
/// let answer = target.trace("nightly_report", async { Ok::<_, poolside_core::PgError>(42) }).await;
/// assert_eq!(answer.unwrap(), 42);
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct DbTarget(Arc<Target>);

#[derive(Debug)]
struct Target {
    system: &'static str,
    pool: &'static str,
    namespace: String,
    address: String,
    port: u16,
}

impl DbTarget {
    /// A PostgreSQL pool named `pool`, on database `namespace` at `address:port`.
    pub fn postgres(pool: &'static str, namespace: &str, address: &str, port: u16) -> Self {
        Self::new("postgresql", pool, namespace, address, port)
    }

    /// A PostgreSQL pool named `pool` on the first host of `url` (a libpq URL or
    /// key-value string): its database, host and port (default 5432), never its
    /// password. An unreadable URL names no server (`unknown`).
    pub fn postgres_url(pool: &'static str, url: &str) -> Self {
        use poolside_core::tokio_postgres::config::{Config, Host};
        let Ok(config) = url.parse::<Config>() else {
            return Self::postgres(pool, "", "unknown", 5432);
        };
        let address = match config.get_hosts().first() {
            Some(Host::Tcp(host)) => host.clone(),
            Some(Host::Unix(path)) => path.display().to_string(),
            None => "localhost".to_owned(),
        };
        let port = config.get_ports().first().copied().unwrap_or(5432);
        let user = config.get_user().unwrap_or_default();
        // PostgreSQL's own default: the database named after the user.
        let namespace = config.get_dbname().unwrap_or(user);
        Self::postgres(pool, namespace, &address, port)
    }

    /// A Redis pool named `pool`, on database `namespace` (its index) at `address:port`.
    pub fn redis(pool: &'static str, namespace: &str, address: &str, port: u16) -> Self {
        Self::new("redis", pool, namespace, address, port)
    }

    fn new(
        system: &'static str,
        pool: &'static str,
        namespace: &str,
        address: &str,
        port: u16,
    ) -> Self {
        Self(Arc::new(Target {
            system,
            pool,
            namespace: namespace.to_owned(),
            address: address.to_owned(),
            port,
        }))
    }

    /// Runs `future`, operation `name`, in its span against this target (what
    /// [`Traced`](super::Traced) does for a service's calls), for an operation that
    /// is not a request through a stack, such as a transaction.
    pub fn trace<F>(&self, name: &'static str, future: F) -> super::TraceFuture<F> {
        super::TraceFuture::new(future, self.span(name))
    }

    /// A span for operation `name` against this target, with every field the layers
    /// below may record declared (empty until recorded).
    pub(crate) fn span(&self, name: &'static str) -> tracing::Span {
        let target = &*self.0;
        tracing::info_span!(
            target: "poolside::db",
            "db.operation",
            otel.name = name,
            otel.kind = "client",
            otel.status_code = tracing::field::Empty,
            db.system.name = target.system,
            db.operation.name = name,
            db.namespace = target.namespace.as_str(),
            db.query.text = tracing::field::Empty,
            db.response.status_code = tracing::field::Empty,
            error.type = tracing::field::Empty,
            server.address = target.address.as_str(),
            server.port = i64::from(target.port),
            poolside.pool = target.pool,
            poolside.path = tracing::field::Empty,
            poolside.replica = tracing::field::Empty,
            poolside.retry.attempt = tracing::field::Empty,
            poolside.overflow = tracing::field::Empty,
        )
    }
}
