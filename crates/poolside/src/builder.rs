//! [`PoolsideBuilder`]: from a validated configuration to a running [`Poolside`].

use std::sync::{Arc, Mutex};

use poolside_config::Config;
use poolside_core::{OnUnavailable, PgPool, RedisCache, RedisPool};
use poolside_health::Health;
use poolside_metrics::{Exporter, OperationRecorder};
use poolside_resilience::overflow::OverflowSwitch;
use poolside_resilience::{CircuitBreaker, RetryBudget};

use crate::poolside::{Inner, Poolside};
use crate::stack::{self, Shared};

/// Builds a [`Poolside`] from code, or from the environment by default.
///
/// # Examples
///
/// ```no_run
/// # async fn run() -> Result<(), poolside::Error> {
/// let config = poolside::config::Config::load()?.config;
/// let db = poolside::Poolside::builder()
///     .config(config)
///     .without_prometheus_recorder() // the application installs its own
///     .build()
///     .await?;
/// # Ok(()) }
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
    /// when `[failover]` names one, Redis when configured (lazily: a Redis that is
    /// down does not stop the start, it is optional), the standard stack, the health
    /// monitor and the periodic status log; installs the Prometheus recorder unless
    /// told not to, or unless the application installed one first.
    ///
    /// Must run inside a Tokio runtime.
    ///
    /// # Errors
    ///
    /// An invalid configuration, or a PostgreSQL server that cannot be reached.
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
        poolside_metrics::observe_pg_pool("postgres", &postgres);
        let secondary = match (&config.failover.enabled, &config.failover.secondary_url) {
            (true, Some(url)) => {
                let mut secondary_config = config.postgres.clone();
                secondary_config.url = url.clone();
                secondary_config.max_size = config.failover.secondary_max_size;
                secondary_config.min_idle =
                    secondary_config.min_idle.min(secondary_config.max_size);
                Some(PgPool::connect(&secondary_config).await?)
            }
            _ => None,
        };
        let redis = match &config.redis {
            Some(redis_config) => Some(RedisPool::build(redis_config)?),
            None => None,
        };
        // Without Redis, or with Redis down, a cache read is a miss.
        let cache = RedisCache::new(redis.clone(), OnUnavailable::Miss);
        let shared = Shared {
            recorder: Arc::new(OperationRecorder::from_config("postgres", &config.metrics)),
            breaker: CircuitBreaker::new(config.breaker.clone()),
            budget: RetryBudget::from_config(&config.retry)?,
            switch: secondary
                .as_ref()
                .map(|_| OverflowSwitch::from_config(&config.failover)),
        };
        let stack = stack::build(&config, &shared, &postgres, secondary.as_ref(), false);
        let idempotent_stack = stack::build(&config, &shared, &postgres, secondary.as_ref(), true);

        let mut health = Health::builder(config.health.clone())
            .postgres(postgres.clone())
            .operations(Arc::clone(&shared.recorder))
            .profile(config.profile.name());
        if let Some(redis) = &redis {
            health = health.redis(redis.clone(), false).cache(cache.clone());
        }
        if let Some(exporter) = &exporter {
            health = health.exporter(exporter.clone());
        }
        let health = health.build();
        if let Some(exporter) = &exporter {
            sample_into(exporter, &postgres, redis.as_ref(), &cache, &shared);
        }
        let monitor = health.spawn_monitor();
        let status_log = poolside_metrics::spawn_periodic_log(config.metrics.log_interval, {
            let health = health.clone();
            move || health.pool_report()
        });
        Ok(Poolside {
            inner: Arc::new(Inner {
                config,
                postgres,
                secondary,
                redis,
                cache,
                shared,
                stack,
                idempotent_stack,
                health,
                tasks: Mutex::new(vec![monitor, status_log]),
            }),
        })
    }
}

/// Samples the pools, the breaker and the switch into the exporter before each render.
fn sample_into(
    exporter: &Exporter,
    postgres: &PgPool,
    redis: Option<&RedisPool>,
    cache: &RedisCache,
    shared: &Shared,
) {
    let (postgres, redis, cache) = (postgres.clone(), redis.cloned(), cache.clone());
    let (breaker, switch) = (shared.breaker.clone(), shared.switch.clone());
    exporter.add_sampler(move || {
        poolside_metrics::record_pg_stats("postgres", &postgres.stats());
        if let Some(redis) = &redis {
            poolside_metrics::record_redis_stats("redis", &redis.stats(), Some(&cache.stats()));
        }
        poolside_metrics::record_breaker("postgres", &breaker);
        if let Some(switch) = &switch {
            poolside_metrics::record_overflow("postgres", switch);
        }
    });
}
