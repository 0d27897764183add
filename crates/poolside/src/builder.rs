//! [`PoolsideBuilder`]: from a validated configuration to a running [`Poolside`].

use std::sync::{Arc, Mutex};

use poolside_config::Config;
#[cfg(feature = "redis")]
use poolside_core::{OnUnavailable, RedisCache, RedisPool};
use poolside_core::{PgPool, Replicas};
use poolside_health::Health;
use poolside_metrics::{Exporter, OperationRecorder};

use crate::poolside::{Inner, Poolside};
use crate::stack::{self, Pools, Shared};

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

    /// Validates, builds the PostgreSQL pool (warming `min_idle`), the secondary pool
    /// when `[overflow]` names one, Redis when configured (lazily: a Redis that is
    /// down does not stop the start, it is optional), the standard stack, the health
    /// monitor and the periodic status log; installs the Prometheus recorder unless
    /// told not to, or unless the application installed one first; with
    /// `metrics.exporter_addr`, serves `/metrics` there (feature `http`).
    ///
    /// Must run inside a Tokio runtime.
    ///
    /// # Errors
    ///
    /// An invalid configuration, a PostgreSQL server that cannot be reached, or a
    /// `metrics.exporter_addr` that cannot be listened on.
    pub async fn build(self) -> Result<Poolside, crate::Error> {
        let config = match self.config {
            Some(config) => config,
            None => Config::load()?.config,
        };
        let exporter = if self.no_recorder {
            None
        } else {
            match Exporter::global() {
                Ok(exporter) => Some(exporter),
                Err(e) => {
                    tracing::info!(target: "poolside", reason = %e, "using the application's metrics recorder");
                    None
                }
            }
        };
        let postgres = PgPool::connect(&config.postgres).await?;
        poolside_metrics::observe_pg_pool(poolside_metrics::PoolLabel::Postgres, &postgres);
        let secondary = match (&config.overflow.enabled, &config.overflow.secondary_url) {
            (true, Some(url)) => {
                let mut secondary_config = config.postgres.clone();
                secondary_config.url = url.clone();
                secondary_config.max_size = config.overflow.secondary_max_size;
                secondary_config.min_idle =
                    secondary_config.min_idle.min(secondary_config.max_size);
                let secondary = PgPool::connect(&secondary_config).await?;
                poolside_metrics::observe_pg_pool(
                    poolside_metrics::PoolLabel::Secondary,
                    &secondary,
                );
                Some(secondary)
            }
            _ => None,
        };
        #[cfg(feature = "redis")]
        let redis = match &config.redis {
            Some(redis_config) => Some(RedisPool::connect_lazy(redis_config)?),
            None => None,
        };
        // Without Redis, or with Redis down, a cache read is a miss.
        #[cfg(feature = "redis")]
        let cache = RedisCache::new(redis.clone(), OnUnavailable::Miss);
        let shared = Shared {
            recorder: Arc::new(OperationRecorder::from_config(
                poolside_metrics::PoolLabel::Postgres,
                &config.metrics,
            )),
            breaker: crate::layers::breaker(&config.breaker),
            budget: crate::layers::retry_budget(&config.retry)?,
            switch: secondary
                .as_ref()
                .map(|_| crate::layers::overflow_switch(&config.overflow)),
        };
        let replicas = match config.postgres.replicas.is_empty() {
            true => None,
            false => Some(Replicas::connect_lazy(&config.postgres)?),
        };
        let pools = stack::Pools {
            primary: &postgres,
            secondary: secondary.as_ref(),
            replicas: replicas.as_ref(),
        };
        let stack = stack::build(&config, &shared, &pools, false);
        let idempotent_stack = stack::build(&config, &shared, &pools, true);

        let mut health = Health::builder(config.health.clone())
            .postgres(postgres.clone())
            .replicas(replicas.clone())
            .operations(Arc::clone(&shared.recorder))
            .profile(config.profile.name());
        #[cfg(feature = "redis")]
        if let Some(redis) = &redis {
            health = health.redis(redis.clone(), false).cache(cache.clone());
        }
        if let Some(exporter) = &exporter {
            health = health.exporter(exporter.clone());
        }
        let health = health.build();
        if let Some(exporter) = &exporter {
            sample_into(exporter, &pools, &shared);
            #[cfg(feature = "redis")]
            sample_redis_into(exporter, redis.as_ref(), &cache);
        }
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
        if let Some(replicas) = &replicas {
            tasks.push(tokio::spawn(replicas.clone().monitor(postgres.clone())));
        }
        tasks.push(poolside_metrics::spawn_periodic_log(
            config.metrics.log_interval,
            {
                let health = health.clone();
                move || health.pool_report()
            },
        ));
        Ok(Poolside {
            inner: Arc::new(Inner {
                config,
                postgres,
                secondary,
                replicas,
                #[cfg(feature = "redis")]
                redis,
                #[cfg(feature = "redis")]
                cache,
                shared,
                stack,
                idempotent_stack,
                health,
                exporter_addr,
                tasks: Mutex::new(tasks),
            }),
        })
    }
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

/// Samples the PostgreSQL pools (the secondary under a label of its own), the breaker,
/// the switch and the replicas into the exporter before each render.
fn sample_into(exporter: &Exporter, pools: &Pools<'_>, shared: &Shared) {
    let postgres = pools.primary.clone();
    let secondary = pools.secondary.cloned();
    let (breaker, switch) = (shared.breaker.clone(), shared.switch.clone());
    let replicas = pools.replicas.cloned();
    exporter.add_sampler(move || {
        if let Some(replicas) = &replicas {
            poolside_metrics::record_replica_stats(&replicas.stats());
        }
        poolside_metrics::record_pg_stats(poolside_metrics::PoolLabel::Postgres, &postgres.stats());
        if let Some(secondary) = &secondary {
            let stats = secondary.stats();
            poolside_metrics::record_pg_stats(poolside_metrics::PoolLabel::Secondary, &stats);
        }
        poolside_metrics::record_breaker(poolside_metrics::PoolLabel::Postgres, &breaker);
        if let Some(switch) = &switch {
            poolside_metrics::record_overflow(poolside_metrics::PoolLabel::Postgres, switch);
        }
    });
}

/// Samples the Redis pool and the cache into the exporter before each render.
#[cfg(feature = "redis")]
fn sample_redis_into(exporter: &Exporter, redis: Option<&RedisPool>, cache: &RedisCache) {
    let (Some(redis), cache) = (redis.cloned(), cache.clone()) else {
        return;
    };
    exporter.add_sampler(move || {
        poolside_metrics::record_redis_stats(
            poolside_metrics::PoolLabel::Redis,
            &redis.stats(),
            Some(&cache.stats()),
        );
    });
}
