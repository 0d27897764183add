//! The health+json reports of a [`Health`]: liveness, readiness, startup and the
//! summary, built from the last check results.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::SystemTime;

use serde_json::json;

use crate::component::Component;
use crate::health::Health;
use crate::model::{Check, HealthReport, Status};
use crate::utilization::Utilization;

impl Health {
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

    pub(crate) fn dependency_checks(&self) -> BTreeMap<String, Vec<Check>> {
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
