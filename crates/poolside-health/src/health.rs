//! [`Health`]: the dependencies, their last check results, and the reports built from
//! them. Cloning is cheap: clones share one state.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use parking_lot::RwLock;
use std::time::{Duration, Instant, SystemTime};

#[cfg(feature = "redis")]
use poolside_cache::RedisCache;
use poolside_config::HealthConfig;
#[cfg(feature = "redis")]
use poolside_core::RedisPool;
use poolside_core::{PgPool, Replicas};
use poolside_metrics::{Exporter, OperationRecorder, names};
use serde_json::json;

use crate::checks::{CheckResult, check_postgres};
use crate::component::Component;
use crate::model::{Check, HealthReport, Status};
use crate::recovery::Recoveries;
use crate::startup_task::StartupTasks;
use crate::utilization::Utilization;

/// The longest time between two rounds of checks until startup is complete, and
/// while a required dependency fails.
const FAILING_CHECK_INTERVAL: Duration = Duration::from_secs(1);

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

    /// Checks every dependency now (concurrently, each within `health.check_timeout`)
    /// and keeps the results. Startup is complete once every required one passed.
    pub async fn check_now(&self) {
        let inner = &*self.inner;
        let timeout = inner.config.check_timeout;
        let postgres_failing = self
            .last_result(Component::Postgres)
            .is_some_and(|last| last.status == Status::Fail);
        let postgres = async {
            match &inner.postgres {
                Some(pool) => Some(check_postgres(pool, timeout, postgres_failing).await),
                None => None,
            }
        };
        #[cfg(feature = "redis")]
        let redis = async {
            match &inner.redis {
                Some(pool) => Some(crate::checks::check_redis(pool, timeout).await),
                None => None,
            }
        };
        #[cfg(not(feature = "redis"))]
        let redis = async { None::<CheckResult> };
        let (postgres, redis) = tokio::join!(postgres, redis);
        for (component, result) in [(Component::Postgres, &postgres), (Component::Redis, &redis)] {
            if let Some(result) = result {
                // As the reports show it: an optional dependency's failure is a warning,
                // which the shipped alert on a failing check does not page for.
                let level = match self.reported_status(component, result.status) {
                    Status::Pass => 0.0,
                    Status::Warn => 1.0,
                    Status::Fail => 2.0,
                };
                metrics::gauge!(names::HEALTH_STATUS, "component" => component.as_str()).set(level);
            }
        }
        let mut results = inner.results.write();
        for (component, result) in [(Component::Postgres, postgres), (Component::Redis, redis)] {
            if let Some(result) = result {
                let now = result.status;
                let before = results.insert(component, result).map(|r| r.status);
                inner.recoveries.record(component, before, now);
            }
        }
        let required_pass = results
            .iter()
            .filter(|(component, _)| self.is_required(**component))
            .all(|(_, r)| r.status == Status::Pass);
        if required_pass {
            inner.started.store(true, Ordering::Relaxed);
        }
    }

    /// Checks every `health.check_interval` until the returned task is aborted; the
    /// first round runs at once. Until startup is complete (every required
    /// dependency passed once), and while a required dependency fails, a round
    /// starts at least every second: a service started before its database turns
    /// ready as soon as the database answers, and one whose database was away, or
    /// whose check failed once, is back in rotation within a second of the database
    /// answering, not a `check_interval` later. Must run inside a Tokio runtime.
    pub fn spawn_monitor(&self) -> tokio::task::JoinHandle<()> {
        let health = self.clone();
        tokio::spawn(async move {
            let interval = health.inner.config.check_interval;
            loop {
                let round = tokio::time::Instant::now();
                health.check_now().await;
                let every =
                    if health.inner.started.load(Ordering::Relaxed) && !health.required_failing() {
                        interval
                    } else {
                        interval.min(FAILING_CHECK_INTERVAL)
                    };
                tokio::time::sleep_until(round + every).await;
            }
        })
    }

    /// Whether the last check of a required dependency failed.
    fn required_failing(&self) -> bool {
        self.inner
            .results
            .read()
            .iter()
            .any(|(component, r)| self.is_required(*component) && r.status == Status::Fail)
    }

    fn is_required(&self, component: Component) -> bool {
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
    fn reported_status(&self, component: Component, checked: Status) -> Status {
        if checked == Status::Fail && !self.is_required(component) {
            Status::Warn
        } else {
            checked
        }
    }

    /// The check entry of `component`: its last result, or `fail` ("not checked yet")
    /// when it has none. An optional dependency's failure is a warning.
    pub(crate) fn dependency_check(&self, component: Component) -> Check {
        let required = self.is_required(component);
        match self.last_result(component) {
            Some(result) => Check {
                component_type: "datastore",
                observed_value: Some(json!(crate::process::seconds(result.latency) * 1000.0)),
                observed_unit: Some("ms"),
                status: self.reported_status(component, result.status),
                time: result.at,
                output: result.output.map(|why| {
                    if required {
                        why
                    } else {
                        format!("{why} (optional: the service runs without it)")
                    }
                }),
            },
            None => Check {
                component_type: "datastore",
                observed_value: None,
                observed_unit: None,
                status: if required { Status::Fail } else { Status::Warn },
                time: SystemTime::now(),
                output: Some("not checked yet".into()),
            },
        }
    }

    fn dependency_checks(&self) -> BTreeMap<String, Vec<Check>> {
        let mut checks = BTreeMap::new();
        if self.inner.postgres.is_some() {
            checks.insert(
                "postgres:responseTime".into(),
                vec![self.dependency_check(Component::Postgres)],
            );
        }
        #[cfg(feature = "redis")]
        if self.inner.redis.is_some() {
            checks.insert(
                "redis:responseTime".into(),
                vec![self.dependency_check(Component::Redis)],
            );
        }
        checks
    }

    /// The PostgreSQL pool's utilization check.
    pub(crate) fn pool_check(&self) -> Option<(Check, Utilization)> {
        let pool = self.inner.postgres.as_ref()?;
        let stats = pool.stats();
        let level = Utilization::of(
            stats.utilization_percent,
            self.inner.config.warning_utilization,
            self.inner.config.critical_utilization,
        );
        Some((
            Check {
                component_type: "component",
                observed_value: Some(json!(stats.utilization_percent)),
                observed_unit: Some("percent"),
                status: level.status(),
                time: SystemTime::now(),
                output: (level != Utilization::Normal).then(|| {
                    format!(
                        "{:.0}% of the pool in use ({level:?}: {} active of {})",
                        stats.utilization_percent, stats.active, stats.max_size
                    )
                }),
            },
            level,
        ))
    }

    /// `/health/live`: the process only. Never depends on a database, so that an
    /// outage cannot make an orchestrator restart every instance at once.
    pub fn liveness(&self) -> HealthReport {
        let mut checks = BTreeMap::new();
        checks.insert(
            "process:uptime".into(),
            vec![Check {
                component_type: "system",
                observed_value: Some(json!(crate::process::seconds(
                    self.inner.started_at.elapsed()
                ))),
                observed_unit: Some("s"),
                status: Status::Pass,
                time: SystemTime::now(),
                output: None,
            }],
        );
        HealthReport::new("liveness: the process answers", checks)
    }

    /// Takes the service out of rotation for good, to shut down: from now on
    /// `/health/ready` and `/health` fail (503) with a `process:shutdown` check, so
    /// that load balancers and Kubernetes endpoints stop sending it requests;
    /// `/health/live` and `/health/startup` do not change. Keep serving for
    /// `health.shutdown_delay` after it before closing the listener (the facade's
    /// `Poolside::leave_rotation` does both). Calling it again changes nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// use poolside_health::{Health, Status};
    ///
    /// let health = Health::builder(poolside_config::HealthConfig::default()).build();
    /// health.leave_rotation();
    /// assert_eq!(health.readiness().status, Status::Fail);
    /// assert_eq!(health.liveness().status, Status::Pass);
    /// assert!(!health.in_rotation());
    /// ```
    pub fn leave_rotation(&self) {
        if self.inner.left_rotation.set(Instant::now()).is_ok() {
            tracing::info!(
                target: "poolside::health",
                delay = ?self.inner.config.shutdown_delay,
                "out of rotation: /health/ready answers 503 from now on"
            );
        }
    }

    /// Whether the service is in rotation: [`leave_rotation`](Self::leave_rotation)
    /// has not been called.
    pub fn in_rotation(&self) -> bool {
        self.inner.left_rotation.get().is_none()
    }

    /// The failing `process:shutdown` check, once the service left rotation.
    fn add_rotation_check(&self, checks: &mut BTreeMap<String, Vec<Check>>) {
        let Some(left) = self.inner.left_rotation.get() else {
            return;
        };
        checks.insert(
            "process:shutdown".into(),
            vec![Check {
                component_type: "system",
                observed_value: Some(json!(crate::process::seconds(left.elapsed()))),
                observed_unit: Some("s"),
                status: Status::Fail,
                time: SystemTime::now(),
                output: Some(
                    "shutting down: out of rotation, still answering the requests it gets".into(),
                ),
            }],
        );
    }

    /// `/health/ready`: the required dependencies' last checks (an optional one that
    /// fails is a warning), failing while a [startup task](Self::startup_task) is
    /// pending and once the service left rotation.
    pub fn readiness(&self) -> HealthReport {
        let mut checks = self.dependency_checks();
        self.inner.startup_tasks.add_checks(&mut checks);
        self.add_rotation_check(&mut checks);
        HealthReport::new("readiness: required dependencies answer", checks)
    }

    /// `/health/startup`: pass once every required dependency passed a check and
    /// every [startup task](Self::startup_task) completed.
    pub fn startup(&self) -> HealthReport {
        let started = self.inner.started.load(Ordering::Relaxed);
        let mut checks = BTreeMap::new();
        checks.insert(
            "startup:completed".into(),
            vec![Check {
                component_type: "system",
                observed_value: Some(json!(started)),
                observed_unit: None,
                status: if started { Status::Pass } else { Status::Fail },
                time: SystemTime::now(),
                output: (!started)
                    .then(|| "required dependencies have not all passed a check yet".into()),
            }],
        );
        self.inner.startup_tasks.add_checks(&mut checks);
        HealthReport::new(
            "startup: required dependencies answered once, startup tasks completed",
            checks,
        )
    }

    /// `/health`: the dependencies and the pool's utilization, failing while a
    /// [startup task](Self::startup_task) is pending and once the service left
    /// rotation.
    pub fn summary(&self) -> HealthReport {
        let mut checks = self.dependency_checks();
        if let Some((check, _)) = self.pool_check() {
            checks.insert("postgres:utilization".into(), vec![check]);
        }
        self.inner.startup_tasks.add_checks(&mut checks);
        self.add_rotation_check(&mut checks);
        HealthReport::new("poolside service health", checks)
    }
}
