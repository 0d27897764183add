//! [`HealthBuilder`]: the dependencies a [`Health`] covers.

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use parking_lot::RwLock;
#[cfg(feature = "redis")]
use poolside_cache::RedisCache;
use poolside_config::HealthConfig;
#[cfg(feature = "redis")]
use poolside_core::RedisPool;
use poolside_core::{PgPool, Replicas};
use poolside_metrics::{Exporter, OperationRecorder};

use crate::health::{Health, Inner};
use crate::recovery::Recoveries;
use crate::startup_task::StartupTasks;

/// Builds a [`Health`].
#[derive(Debug)]
pub struct HealthBuilder {
    config: HealthConfig,
    profile: String,
    postgres: Option<PgPool>,
    replicas: Option<Replicas>,
    #[cfg(feature = "redis")]
    redis: Option<(RedisPool, bool)>,
    #[cfg(feature = "redis")]
    cache: Option<RedisCache>,
    operations: Option<Arc<OperationRecorder>>,
    exporter: Option<Exporter>,
}

impl HealthBuilder {
    /// The PostgreSQL pool: always a required dependency.
    pub fn postgres(mut self, pool: PgPool) -> Self {
        self.postgres = Some(pool);
        self
    }

    /// The read replicas, shown in the detailed view. They are no dependency of
    /// readiness: reads go to the primary while none is fit.
    pub fn replicas(mut self, replicas: Option<Replicas>) -> Self {
        self.replicas = replicas;
        self
    }

    #[cfg(feature = "redis")]
    /// The Redis pool; `required: false` makes its failure a warning, not a failure,
    /// of readiness (the service runs without its cache).
    pub fn redis(mut self, pool: RedisPool, required: bool) -> Self {
        self.redis = Some((pool, required));
        self
    }

    #[cfg(feature = "redis")]
    /// The cache, for its hit rate.
    pub fn cache(mut self, cache: RedisCache) -> Self {
        self.cache = Some(cache);
        self
    }

    /// The recorder of the operations, for latency and error figures and alerts.
    pub fn operations(mut self, recorder: Arc<OperationRecorder>) -> Self {
        self.operations = Some(recorder);
        self
    }

    /// The exporter `/metrics` renders.
    pub fn exporter(mut self, exporter: Exporter) -> Self {
        self.exporter = Some(exporter);
        self
    }

    /// The configuration profile's name, shown in the detailed view.
    pub fn profile(mut self, profile: impl Into<String>) -> Self {
        self.profile = profile.into();
        self
    }

    /// The health state; nothing is checked until [`Health::check_now`] or the
    /// monitor runs.
    pub fn build(self) -> Health {
        #[cfg(feature = "redis")]
        let (redis, redis_required) = match self.redis {
            Some((pool, required)) => (Some(pool), required),
            None => (None, false),
        };
        Health {
            inner: Arc::new(Inner {
                config: self.config,
                profile: self.profile,
                postgres: self.postgres,
                replicas: self.replicas,
                #[cfg(feature = "redis")]
                redis,
                #[cfg(feature = "redis")]
                redis_required,
                #[cfg(feature = "redis")]
                cache: self.cache,
                operations: self.operations,
                exporter: self.exporter,
                started_at: Instant::now(),
                results: RwLock::default(),
                started: AtomicBool::new(false),
                left_rotation: OnceLock::new(),
                startup_tasks: StartupTasks::default(),
                recoveries: Recoveries::default(),
            }),
        }
    }
}

impl Health {
    /// A builder with the `[health]` settings (interval, timeout, thresholds).
    pub fn builder(config: HealthConfig) -> HealthBuilder {
        HealthBuilder {
            config,
            profile: String::new(),
            postgres: None,
            replicas: None,
            #[cfg(feature = "redis")]
            redis: None,
            #[cfg(feature = "redis")]
            cache: None,
            operations: None,
            exporter: None,
        }
    }
}
