//! Leaving rotation to shut down: readiness fails for good, liveness does not change.

use std::collections::BTreeMap;
use std::time::{Instant, SystemTime};

use serde_json::json;

use crate::health::Health;
use crate::model::{Check, Status};

impl Health {
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
    pub(crate) fn add_rotation_check(&self, checks: &mut BTreeMap<String, Vec<Check>>) {
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
}
