//! [`Health`]: the dependencies and their last check results. Cloning is cheap: clones
//! share one state. Built by `builder.rs`, checked by `monitor.rs`, reported by
//! `reports.rs`, taken out of rotation by `rotation.rs`.

use std::collections::BTreeMap;
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

use crate::checks::CheckResult;
use crate::component::Component;
use crate::model::Status;
use crate::recovery::Recoveries;
use crate::startup_task::StartupTasks;

/// The dependencies a service's health covers, with their last check results.
///
/// # Examples
///
/// ```
/// use poolside_health::{Health, Status};
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let health = Health::builder(poolside_config::HealthConfig::default()).build();
/// health.check_now().await;
/// assert_eq!(health.readiness().status, Status::Pass); // no dependency, nothing to fail
/// assert_eq!(health.liveness().status, Status::Pass);
/// # });
/// ```
#[derive(Clone)]
pub struct Health {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) config: HealthConfig,
    pub(crate) profile: String,
    pub(crate) postgres: Option<PgPool>,
    pub(crate) replicas: Option<Replicas>,
    #[cfg(feature = "redis")]
    pub(crate) redis: Option<RedisPool>,
    #[cfg(feature = "redis")]
    pub(crate) redis_required: bool,
    #[cfg(feature = "redis")]
    pub(crate) cache: Option<RedisCache>,
    pub(crate) operations: Option<Arc<OperationRecorder>>,
    pub(crate) exporter: Option<Exporter>,
    pub(crate) started_at: Instant,
    pub(crate) results: RwLock<BTreeMap<Component, CheckResult>>,
    pub(crate) started: AtomicBool,
    /// When the service left rotation to shut down.
    pub(crate) left_rotation: OnceLock<Instant>,
    /// The service's own startup work that has not completed.
    pub(crate) startup_tasks: StartupTasks,
    /// Each check's turns from failing to passing.
    pub(crate) recoveries: Recoveries,
}

impl std::fmt::Debug for Health {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Health")
            .field("postgres", &self.inner.postgres.is_some())
            .finish_non_exhaustive()
    }
}

impl Health {
    pub(crate) fn is_required(&self, component: Component) -> bool {
        match component {
            Component::Postgres => true,
            #[cfg(feature = "redis")]
            Component::Redis => self.inner.redis_required,
            #[cfg(not(feature = "redis"))]
            Component::Redis => false,
        }
    }

    /// Resolves the next time the check of `component` passes after it failed (or
    /// before it was ever checked): for work that waits on a dependency, such as a
    /// migration retrying while the database is away, to try again as soon as the
    /// monitor sees it back, rather than at its next backoff. Counted from this call,
    /// not from the future's first poll; a check that keeps passing wakes nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use poolside_health::{Component, Health};
    ///
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let health = Health::builder(poolside_config::HealthConfig::default()).build();
    /// let retry_in = Duration::from_millis(50); // a backoff's next delay
    /// tokio::select! {
    ///     () = tokio::time::sleep(retry_in) => {} // no PostgreSQL here: never recovers
    ///     () = health.recovered(Component::Postgres) => unreachable!(),
    /// }
    /// # });
    /// ```
    pub fn recovered(
        &self,
        component: Component,
    ) -> impl std::future::Future<Output = ()> + Send + 'static {
        self.inner.recoveries.next(component)
    }

    /// The last check result of `component`.
    pub fn last_result(&self, component: Component) -> Option<CheckResult> {
        self.inner.results.read().get(&component).cloned()
    }

    /// A check's status as the reports and `poolside_health_status` give it: an
    /// optional dependency's failure is a warning.
    pub(crate) fn reported_status(&self, component: Component, checked: Status) -> Status {
        if checked == Status::Fail && !self.is_required(component) {
            Status::Warn
        } else {
            checked
        }
    }
}
