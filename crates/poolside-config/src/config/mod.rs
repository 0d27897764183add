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
    /// The built-in defaults of `profile`. Not valid on its own: `postgres.url` is empty.
    pub fn defaults(profile: Profile) -> Self {
        Self {
            profile,
            postgres: PostgresConfig::defaults(profile),
            redis: None,
            retry: RetryConfig::default(),
            overflow: OverflowConfig::default(),
            breaker: BreakerConfig::default(),
            health: HealthConfig::default(),
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
