//! [`Error`]: why `Poolside` could not start.

/// Why [`Poolside`](crate::Poolside) could not be built.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration is invalid: every problem, each naming its key.
    #[error(transparent)]
    Config(#[from] poolside_config::ConfigError),
    /// The PostgreSQL pool could not start (the server's error, naming the host).
    #[error("PostgreSQL: {0}")]
    Postgres(#[from] poolside_core::PgError),
    /// The Redis pool could not be built.
    #[cfg(feature = "redis")]
    #[error("Redis: {0}")]
    Redis(#[from] poolside_core::RedisError),
    /// `metrics.exporter_addr` could not be listened on.
    #[error(
        "cannot listen on metrics.exporter_addr {addr}: {source}: choose a free address (of several `Poolside`s in one process, give it to one), or unset it to serve /metrics on the application's router"
    )]
    Exporter {
        /// The address configured.
        addr: std::net::SocketAddr,
        /// Why binding it failed.
        source: std::io::Error,
    },
    /// A retry budget could not be built from `[retry]`.
    #[error("retry: {0}")]
    Retry(#[from] poolside_resilience::BudgetError),
}
