//! [`DbTarget`]: an operation's span, named and attributed after the OpenTelemetry
//! database conventions, with what it says about the server it runs against. The
//! layers above the pools make the spans (poolside-metrics' `TraceLayer`, the cache);
//! the pools only record into the current one ([`span_fields`](crate::span_fields)).

use std::sync::Arc;

/// The server and pool an operation's span names (`db.system.name`, `db.namespace`,
/// `server.address`, `server.port`, `poolside.pool`). Cheap to clone.
///
/// # Examples
///
/// ```
/// use poolside_core::DbTarget;
///
/// // From the pool's URL: its host, port and database, never its password.
/// let target = DbTarget::postgres_url("postgres", "postgres://app:secret@db.internal:6432/shop");
/// let span = target.span("nightly_report");
/// span.in_scope(|| { /* the operation */ });
/// ```
#[derive(Debug, Clone)]
pub struct DbTarget(Arc<Target>);

#[derive(Debug, Clone)]
struct Target {
    system: &'static str,
    pool: &'static str,
    namespace: String,
    address: String,
    port: u16,
    /// The share of operations that get a span, in percent.
    sample_percent: u32,
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
        use tokio_postgres::config::{Config, Host};
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

    /// A Redis pool named `pool` on the server of `url` (`redis://` or `rediss://`):
    /// its host, port (default 6379) and database index (default 0), never its
    /// password. An unreadable URL names no server (`unknown`).
    pub fn redis_url(pool: &'static str, url: &str) -> Self {
        let Ok(url) = url::Url::parse(url) else {
            return Self::redis(pool, "0", "unknown", 6379);
        };
        let database = url.path().trim_start_matches('/');
        let database = if database.is_empty() { "0" } else { database };
        Self::redis(
            pool,
            database,
            url.host_str().unwrap_or("unknown"),
            url.port().unwrap_or(6379),
        )
    }

    /// Marks `span` failed: `otel.status_code = ERROR`, `error.type` and, when the
    /// server gave one, `db.response.status_code`.
    pub fn record_failure(span: &tracing::Span, error_type: &str, status_code: Option<&str>) {
        if span.is_disabled() {
            return;
        }
        span.record("otel.status_code", "ERROR");
        span.record("error.type", error_type);
        if let Some(code) = status_code {
            span.record("db.response.status_code", code);
        }
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
            sample_percent: 100,
        }))
    }

    /// Makes a span for `percent` of the operations, chosen at random (head
    /// sampling, `metrics.trace_sample_percent`): [`span`](Self::span) gives the
    /// others `Span::none()`, and the pools make no child span under it. Default: 100.
    pub fn with_sample_percent(mut self, percent: u32) -> Self {
        Arc::make_mut(&mut self.0).sample_percent = percent.min(100);
        self
    }

    /// Whether the next operation gets a span.
    fn sampled(&self) -> bool {
        let percent = self.0.sample_percent;
        percent >= 100 || percent > 0 && fastrand::u32(0..100) < percent
    }

    /// A span for operation `name` against this target, with every field the layers
    /// below may record declared (empty until recorded); `Span::none()` for an
    /// operation the sampling left out.
    pub fn span(&self, name: &str) -> tracing::Span {
        if !self.sampled() {
            return tracing::Span::none();
        }
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
