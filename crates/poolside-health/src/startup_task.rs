//! [`StartupTask`]: work of the service's own that must finish before it takes
//! traffic (a migration, a cache it fills): readiness and startup fail while it is
//! pending, with a `<name>:completed` check saying what it waits for.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Instant, SystemTime};

use parking_lot::RwLock;
use poolside_config::redact_text;
use serde_json::json;

use crate::health::Health;
use crate::model::{Check, Status};

/// The service's startup tasks that have not completed.
#[derive(Debug, Default)]
pub(crate) struct StartupTasks {
    next_id: AtomicU64,
    pending: RwLock<BTreeMap<u64, Pending>>,
}

#[derive(Debug)]
struct Pending {
    name: String,
    since: Instant,
    /// What it waits for now, from [`StartupTask::report`]; redacted.
    waiting_for: Option<String>,
    /// Its handle was dropped without [`StartupTask::complete`].
    abandoned: bool,
}

impl StartupTasks {
    /// A failing `<name>:completed` check per pending task.
    pub(crate) fn add_checks(&self, checks: &mut BTreeMap<String, Vec<Check>>) {
        for task in self.pending.read().values() {
            let state = if task.abandoned {
                "stopped before it completed: restart the service"
            } else {
                "has not completed"
            };
            let output = match &task.waiting_for {
                Some(why) => format!("{} {state} ({why})", task.name),
                None => format!("{} {state}", task.name),
            };
            checks
                .entry(format!("{}:completed", task.name))
                .or_default()
                .push(Check {
                    component_type: "component",
                    observed_value: Some(json!(crate::process::seconds(task.since.elapsed()))),
                    observed_unit: Some("s"),
                    status: Status::Fail,
                    time: SystemTime::now(),
                    output: Some(output),
                });
        }
    }
}

/// A startup task of the service's own, from [`Health::startup_task`]: until
/// [`complete`](Self::complete) is called, `/health/ready`, `/health` and
/// `/health/startup` fail (503) with a `<name>:completed` check; `/health/live` does
/// not change. Dropped without `complete` (its work failed for good, or panicked),
/// the check stays failing and says so: the instance never takes traffic, and the
/// startup probe's limit restarts it.
///
/// # Examples
///
/// ```
/// use poolside_health::{Health, Status};
///
/// let health = Health::builder(poolside_config::HealthConfig::default()).build();
/// let migration = health.startup_task("migration");
/// migration.report("PostgreSQL does not answer yet");
/// let ready = health.readiness();
/// assert_eq!(ready.status, Status::Fail);
/// let output = ready.checks["migration:completed"][0].output.clone().unwrap();
/// assert_eq!(output, "migration has not completed (PostgreSQL does not answer yet)");
///
/// migration.complete();
/// assert_eq!(health.readiness().status, Status::Pass);
/// ```
#[derive(Debug)]
#[must_use = "the task stays pending until `complete` is called"]
pub struct StartupTask {
    health: Health,
    id: u64,
}

impl StartupTask {
    /// What the task waits for now (the latest error of an attempt, say), shown in
    /// its check's output until the next report. Passwords in it are masked.
    pub fn report(&self, waiting_for: impl Display) {
        let text = redact_text(&waiting_for.to_string());
        if let Some(task) = self
            .health
            .inner
            .startup_tasks
            .pending
            .write()
            .get_mut(&self.id)
        {
            task.waiting_for = Some(text);
        }
    }

    /// The task is done: its check goes, and readiness and startup follow the
    /// dependencies again (once every other task completed too).
    pub fn complete(self) {
        let task = self
            .health
            .inner
            .startup_tasks
            .pending
            .write()
            .remove(&self.id);
        if let Some(task) = task {
            tracing::info!(
                target: "poolside::health",
                task = %task.name,
                after = ?task.since.elapsed(),
                "startup task completed"
            );
        }
    }
}

impl Drop for StartupTask {
    fn drop(&mut self) {
        let mut pending = self.health.inner.startup_tasks.pending.write();
        if let Some(task) = pending.get_mut(&self.id) {
            task.abandoned = true;
            // Also when the runtime shuts down during the task: then nothing is lost.
            tracing::warn!(
                target: "poolside::health",
                task = %task.name,
                "a startup task stopped before it completed: readiness fails until the service restarts"
            );
        }
    }
}

impl Health {
    /// Registers work the service must finish before it takes traffic, such as a
    /// migration run once the database answers: readiness and startup fail until the
    /// returned task [`complete`](StartupTask::complete)s. Liveness does not change.
    /// Several tasks may be pending at once, under one name or several.
    pub fn startup_task(&self, name: impl Into<String>) -> StartupTask {
        let tasks = &self.inner.startup_tasks;
        let id = tasks.next_id.fetch_add(1, Ordering::Relaxed);
        tasks.pending.write().insert(
            id,
            Pending {
                name: name.into(),
                since: Instant::now(),
                waiting_for: None,
                abandoned: false,
            },
        );
        StartupTask {
            health: self.clone(),
            id,
        }
    }
}
