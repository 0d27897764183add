//! [`Config`]: the whole validated configuration, one struct per section.

mod breaker;
mod health;
mod metrics;
mod overflow;
mod postgres;
mod redis;
mod retry;

pub use breaker::BreakerConfig;
pub use health::HealthConfig;
pub use metrics::{MetricNaming, MetricsConfig};
pub use overflow::OverflowConfig;
pub use postgres::PostgresConfig;
pub use redis::{RedisConfig, RedisMode};
pub use retry::{Jitter, RetryConfig};

use std::num::NonZeroU32;

use crate::Profile;

/// The complete configuration, as [`ConfigLoader`](crate::ConfigLoader) returns it once
/// every value has parsed and every rule holds.
///
/// `Debug` masks passwords, so a `Config` may be logged whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The profile whose defaults were the base layer.
    pub profile: Profile,
    /// The PostgreSQL pool.
    pub postgres: PostgresConfig,
    /// The Redis pool, when one is configured.
    pub redis: Option<RedisConfig>,
    /// Retry policy.
    pub retry: RetryConfig,
    /// The overflow pool.
    pub overflow: OverflowConfig,
    /// The circuit breaker.
    pub breaker: BreakerConfig,
    /// The health monitor.
    pub health: HealthConfig,
    /// Metrics export and logging.
    pub metrics: MetricsConfig,
}

impl Config {
    /// This configuration's share for one of `runtimes` services in one process that
    /// together stand in for it, one per core's single-threaded runtime: the PostgreSQL
    /// pool ([`PostgresConfig::per_runtime`]), the Redis pool
    /// ([`RedisConfig::per_runtime`]) and the overflow pool's `secondary_max_size`
    /// divided between them, rounded up, so the servers see about as many connections
    /// as from one. Everything else is kept, `metrics.exporter_addr` included: only
    /// one of the services can listen there.
    ///
    /// ```
    /// use std::num::NonZeroU32;
    ///
    /// let whole = poolside_config::Config::defaults(poolside_config::Profile::Production);
    /// let share = whole.per_runtime(NonZeroU32::new(2).unwrap());
    /// assert_eq!(share.postgres.max_size, whole.postgres.max_size / 2);
    /// assert_eq!(share.overflow.secondary_max_size, 3);
    /// ```
    #[must_use]
    pub fn per_runtime(&self, runtimes: NonZeroU32) -> Self {
        let mut share = self.clone();
        share.postgres = self.postgres.per_runtime(runtimes);
        share.redis = self.redis.as_ref().map(|redis| redis.per_runtime(runtimes));
        share.overflow.secondary_max_size =
            self.overflow.secondary_max_size.div_ceil(runtimes.get());
        share
    }

    /// The built-in defaults of `profile`. Not valid on its own: `postgres.url` is empty.
    pub fn defaults(profile: Profile) -> Self {
        Self {
            profile,
            postgres: PostgresConfig::defaults(profile),
            redis: None,
            retry: RetryConfig::default(),
            overflow: OverflowConfig::default(),
            breaker: BreakerConfig::default(),
            health: HealthConfig::defaults(profile),
            metrics: MetricsConfig::default(),
        }
    }

    /// The Redis section, created with its defaults when a key of it is first set.
    pub(crate) fn redis_mut(&mut self) -> &mut RedisConfig {
        let profile = self.profile;
        self.redis
            .get_or_insert_with(|| RedisConfig::defaults(profile))
    }
}
