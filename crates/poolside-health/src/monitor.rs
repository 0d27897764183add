//! The checks: [`Health::check_now`] runs a round, [`Health::spawn_monitor`] runs them
//! every `health.check_interval`, and every second while a required dependency fails.

use std::sync::atomic::Ordering;
use std::time::Duration;

use poolside_metrics::names;

#[cfg(not(feature = "redis"))]
use crate::checks::CheckResult;
use crate::checks::check_postgres;
use crate::component::Component;
use crate::health::Health;
use crate::model::Status;

/// The longest time between two rounds of checks until startup is complete, and
/// while a required dependency fails.
const FAILING_CHECK_INTERVAL: Duration = Duration::from_secs(1);

impl Health {
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
        let mut results = inner.results.write();
        for (component, result) in [(Component::Postgres, postgres), (Component::Redis, redis)] {
            let Some(result) = result else { continue };
            let now = result.status;
            // As the reports show it: an optional dependency's failure is a warning,
            // which the shipped alert on a failing check does not page for.
            let level = match self.reported_status(component, now) {
                Status::Pass => 0.0,
                Status::Warn => 1.0,
                Status::Fail => 2.0,
            };
            metrics::gauge!(names::HEALTH_STATUS, "component" => component.as_str()).set(level);
            let before = results.insert(component, result).map(|r| r.status);
            inner.recoveries.record(component, before, now);
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
}
