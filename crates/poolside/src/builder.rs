//! [`PoolsideBuilder`]: from a validated configuration to a running [`Poolside`].

use std::sync::Arc;

#[cfg(feature = "redis")]
use poolside_cache::{OnUnavailable, RedisCache};
use poolside_config::{Config, PostgresConfig};
#[cfg(feature = "redis")]
use poolside_core::RedisPool;
use poolside_core::{PgError, PgPool, Replicas};
use poolside_health::Health;
use poolside_metrics::{
    Exporter, OperationRecorder, PoolFigures, PoolLabel, PoolSources, Reported,
};

use crate::poolside::{Connected, Poolside, Running, Wiring};
use crate::stack::{self, Shared};

/// Builds a [`Poolside`] from code, or from the environment by default.
///
/// # Examples
///
/// With `DATABASE_URL` naming a PostgreSQL (as `cargo xtask test` sets it):
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let config = poolside::config::Config::load().expect("a valid configuration").config;
/// let db = poolside::Poolside::builder()
///     .config(config)
///     .without_prometheus_recorder() // the application installs its own
///     .build()
///     .await
///     .expect("PostgreSQL answers");
/// assert!(db.metrics_text().is_none());
/// db.shutdown(std::time::Duration::from_secs(5)).await;
/// # });
/// ```
#[derive(Debug, Default)]
pub struct PoolsideBuilder {
    config: Option<Config>,
    no_recorder: bool,
}

impl PoolsideBuilder {
    /// Uses `config` instead of loading the layered configuration from the
    /// environment. It should come from `ConfigLoader` (which validates).
    pub fn config(mut self, config: Config) -> Self {
        self.config = Some(config);
        self
    }

    /// Does not install poolside's Prometheus recorder: the application has its own
    /// `metrics` recorder, which then receives poolside's figures.
    pub fn without_prometheus_recorder(mut self) -> Self {
        self.no_recorder = true;
        self
    }

    /// Validates, builds the PostgreSQL pool (warming `min_idle`; with
    /// `postgres.connect_lazy`, in the background once the server answers, the start
    /// not waiting for it), the secondary pool when `[overflow]` names one, Redis
    /// when configured (lazily: a Redis that is down does not stop the start, it is
    /// optional), the standard stack, the health monitor and the periodic status log;
    /// installs the Prometheus recorder unless told not to, or unless the application
    /// installed one first; with `metrics.exporter_addr`, serves `/metrics` there
    /// (feature `http`).
    ///
    /// Must run inside a Tokio runtime.
    ///
    /// # Errors
    ///
    /// An invalid configuration, a PostgreSQL server that cannot be reached (unless
    /// `postgres.connect_lazy`), or a `metrics.exporter_addr` that cannot be listened
    /// on.
    pub async fn build(self) -> Result<Poolside, crate::Error> {
        let config = match self.config {
            Some(config) => config,
            None => Config::load()?.config,
        };
        let exporter = (!self.no_recorder).then(recorder).flatten();
        let pools = connect(&config).await?;
        let wiring = wire(&config, &pools)?;
        let health = health(&config, &pools, &wiring.shared, exporter.as_ref());
        let reported = exporter
            .as_ref()
            .map(|exporter| exporter.report(sources(&config, &pools, &wiring.shared)));
        let running = start(&config, &pools, health, reported).await?;
        Ok(Poolside::new(config, pools, wiring, running))
    }
}

impl Poolside {
    /// A builder, for code-first setups.
    pub fn builder() -> PoolsideBuilder {
        PoolsideBuilder::default()
    }
}

/// poolside's Prometheus recorder, installed now; `None` when the application
/// installed a recorder of its own first (which then receives poolside's figures).
fn recorder() -> Option<Exporter> {
    match Exporter::global() {
        Ok(exporter) => Some(exporter),
        Err(e) => {
            tracing::info!(target: "poolside", reason = %e, "using the application's metrics recorder");
            None
        }
    }
}

/// Connects the PostgreSQL pool (warming `min_idle`; with `postgres.connect_lazy`,
/// later, [`start`] warms it) and the overflow pool when `[overflow]` names one;
/// builds the replicas' pools and Redis's lazily (a Redis that is down does not stop
/// the start: it is optional).
async fn connect(config: &Config) -> Result<Connected, crate::Error> {
    let postgres = connect_pg(&config.postgres).await?;
    let naming = config.metrics.naming;
    PoolFigures::new(PoolLabel::Postgres, naming).observe_pg_pool(&postgres);
    let secondary = match (&config.overflow.enabled, &config.overflow.secondary_url) {
        (true, Some(url)) => {
            let mut secondary_config = config.postgres.clone();
            secondary_config.url = url.clone();
            secondary_config.max_size = config.overflow.secondary_max_size;
            secondary_config.min_idle = secondary_config.min_idle.min(secondary_config.max_size);
            let secondary = connect_pg(&secondary_config).await?;
            PoolFigures::new(PoolLabel::Secondary, naming).observe_pg_pool(&secondary);
            Some(secondary)
        }
        _ => None,
    };
    let replicas = match config.postgres.replicas.is_empty() {
        true => None,
        false => Some(Replicas::connect_lazy(&config.postgres)?),
    };
    #[cfg(feature = "redis")]
    let redis = match &config.redis {
        Some(redis_config) => Some(RedisPool::connect_lazy(redis_config)?),
        None => None,
    };
    Ok(Connected {
        postgres,
        secondary,
        replicas,
        // Without Redis, or with Redis down, a cache read is a miss.
        #[cfg(feature = "redis")]
        cache: {
            let cache = RedisCache::new(redis.clone(), OnUnavailable::Miss);
            match &config.redis {
                Some(redis) => cache.with_spans(
                    poolside_core::DbTarget::redis_url(
                        PoolLabel::Redis.as_str(),
                        redis.url.expose(),
                    )
                    .with_sample_percent(config.metrics.trace_sample_percent),
                ),
                None => cache,
            }
        },
        #[cfg(feature = "redis")]
        redis,
    })
}

/// A PostgreSQL pool of `config`: connected and warmed, or built without a connection
/// with `postgres.connect_lazy`.
async fn connect_pg(config: &PostgresConfig) -> Result<PgPool, PgError> {
    if config.connect_lazy {
        PgPool::connect_lazy(config)
    } else {
        PgPool::connect(config).await
    }
}

/// The standard stacks over `pools`, with the recorder, breaker, retry budget and
/// overflow switch they share.
fn wire(config: &Config, pools: &Connected) -> Result<Wiring, crate::Error> {
    let shared = Shared {
        recorder: Arc::new(OperationRecorder::from_config(
            PoolLabel::Postgres,
            &config.metrics,
        )),
        breaker: crate::layers::breaker(&config.breaker),
        budget: crate::layers::retry_budget(&config.retry)?,
        switch: pools
            .secondary
            .as_ref()
            .map(|_| crate::layers::overflow_switch(&config.overflow)),
        target: poolside_metrics::DbTarget::postgres_url(
            PoolLabel::Postgres.as_str(),
            config.postgres.url.expose(),
        )
        .with_sample_percent(config.metrics.trace_sample_percent),
    };
    let stack_pools = pools.stack_pools();
    Ok(Wiring {
        stack: stack::build(config, &shared, &stack_pools, false),
        idempotent_stack: stack::build(config, &shared, &stack_pools, true),
        shared,
    })
}

/// The health state over `pools`, with the recorder's operations and the exporter's
/// text.
fn health(
    config: &Config,
    pools: &Connected,
    shared: &Shared,
    exporter: Option<&Exporter>,
) -> Health {
    let mut health = Health::builder(config.health.clone())
        .postgres(pools.postgres.clone())
        .replicas(pools.replicas.clone())
        .operations(Arc::clone(&shared.recorder))
        .profile(config.profile.name());
    #[cfg(feature = "redis")]
    if let Some(redis) = &pools.redis {
        health = health
            .redis(redis.clone(), false)
            .cache(pools.cache.clone());
    }
    if let Some(exporter) = exporter {
        health = health.exporter(exporter.clone());
    }
    health.build()
}

/// Starts the background tasks: the `/metrics` listener (with
/// `metrics.exporter_addr`), the health monitor, the replicas' monitor, the periodic
/// status log, and with `postgres.connect_lazy` the pools' warm-up.
async fn start(
    config: &Config,
    pools: &Connected,
    health: Health,
    reported: Option<Reported>,
) -> Result<Running, crate::Error> {
    let mut tasks = Vec::new();
    let exporter_addr = match config.metrics.exporter_addr {
        Some(addr) => {
            let (listener, local) = serve_metrics(&health, addr).await?;
            tasks.push(listener);
            Some(local)
        }
        None => None,
    };
    tasks.push(health.spawn_monitor());
    if config.postgres.connect_lazy {
        tasks.push(pools.postgres.spawn_warm_up());
        tasks.extend(pools.secondary.as_ref().map(PgPool::spawn_warm_up));
    }
    if let Some(replicas) = &pools.replicas {
        tasks.push(tokio::spawn(
            replicas.clone().monitor(pools.postgres.clone()),
        ));
    }
    tasks.push(poolside_metrics::spawn_periodic_log(
        config.metrics.log_interval,
        {
            let health = health.clone();
            move || health.pool_report()
        },
    ));
    Ok(Running {
        health,
        tasks,
        exporter_addr,
        reported,
    })
}

/// Serves `health`'s `/metrics` on `addr` until aborted: the listener task, and the
/// address it listens on.
#[cfg(feature = "http")]
async fn serve_metrics(
    health: &Health,
    addr: std::net::SocketAddr,
) -> Result<(tokio::task::JoinHandle<()>, std::net::SocketAddr), crate::Error> {
    let bind_error = |source| crate::Error::Exporter { addr, source };
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(bind_error)?;
    let local = listener.local_addr().map_err(bind_error)?;
    tracing::info!(target: "poolside", %local, "serving /metrics (metrics.exporter_addr)");
    let router = health.metrics_router();
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            tracing::error!(target: "poolside", error = %e, "the /metrics listener stopped");
        }
    });
    Ok((task, local))
}

/// Without the `http` feature there is no listener to serve `metrics.exporter_addr`:
/// says so, and starts nothing.
#[cfg(not(feature = "http"))]
async fn serve_metrics(
    _health: &Health,
    addr: std::net::SocketAddr,
) -> Result<(tokio::task::JoinHandle<()>, std::net::SocketAddr), crate::Error> {
    Err(crate::Error::Exporter {
        addr,
        source: std::io::Error::new(
            std::io::ErrorKind::Unsupported,
            "poolside was built without its `http` feature, which serves it",
        ),
    })
}

/// What the Prometheus exporter reports for this service, summed with any other
/// `Poolside` of the process: the PostgreSQL pools (the secondary under a label of its
/// own), the breaker, the switch, the replicas, and Redis with the cache.
fn sources(config: &Config, pools: &Connected, shared: &Shared) -> PoolSources {
    let mut sources = PoolSources::new(config.metrics.naming)
        .postgres(pools.postgres.clone())
        .breaker(shared.breaker.clone());
    if let Some(secondary) = &pools.secondary {
        sources = sources.secondary(secondary.clone());
    }
    if let Some(replicas) = &pools.replicas {
        sources = sources.replicas(replicas.clone());
    }
    if let Some(switch) = &shared.switch {
        sources = sources.overflow(switch.clone());
    }
    #[cfg(feature = "redis")]
    if let Some(redis) = &pools.redis {
        sources = sources.redis(redis.clone(), Some(pools.cache.clone()));
    }
    sources
}
