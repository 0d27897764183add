//! [`HealthConfig`]: the `health` section.

use std::net::SocketAddr;
use std::time::Duration;

use crate::{Profile, SecretToken};

/// The background health monitor (`[health]`, `POOLSIDE_HEALTH__<KEY>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthConfig {
    /// Time between two checks of each dependency. Default: 30 s.
    pub check_interval: Duration,
    /// Longest one check may take before it counts as failed. Default: 5 s.
    pub check_timeout: Duration,
    /// Pool utilisation, in percent, reported as `warning`. Default: 70.
    pub warning_utilization: u32,
    /// Pool utilisation, in percent, reported as `critical`. Default: 90.
    pub critical_utilization: u32,
    /// p99 latency above which `/health/alerts` raises an alert. Default: 500 ms.
    pub p99_limit: Duration,
    /// Error rate, in percent, above which `/health/alerts` raises an alert. Default: 5.
    pub error_rate_percent: u32,
    /// Cache hit rate, in percent, below which `/health/alerts` raises an alert.
    /// Default: 70.
    pub cache_hit_rate_percent: u32,
    /// A bearer token the detailed endpoints (`/health/db`, `/health/redis`,
    /// `/health/pool`, `/health/detailed`, `/health/alerts`, `/metrics`) require:
    /// `Authorization: Bearer <token>`. The probes (`/health`, `/health/live`,
    /// `/health/ready`, `/health/startup`) never need it. Default: none.
    pub admin_token: Option<SecretToken>,
    /// Where a service serves the detailed endpoints instead of on its own port (a
    /// port that only the monitoring network reaches). Default: none, on the
    /// service's port.
    pub admin_addr: Option<SocketAddr>,
    /// How long a service that is shutting down keeps serving after it leaves
    /// rotation (`/health/ready` and `/health` answer 503), so that load balancers and
    /// Kubernetes endpoints stop sending it requests before it stops listening.
    /// Default: 5 s in `staging` and `production`, none in `development` and `test`.
    pub shutdown_delay: Duration,
}

impl HealthConfig {
    /// The built-in defaults of `profile`: [`Default`]'s, with a shutdown delay in
    /// `staging` and `production`, where a load balancer sends the requests.
    pub fn defaults(profile: Profile) -> Self {
        let shutdown_delay = match profile {
            Profile::Development | Profile::Test => Duration::ZERO,
            Profile::Staging | Profile::Production => Duration::from_secs(5),
        };
        Self {
            shutdown_delay,
            ..Self::default()
        }
    }
}

/// The `development` profile's settings: no shutdown delay.
impl Default for HealthConfig {
    fn default() -> Self {
        Self {
            check_interval: Duration::from_secs(30),
            check_timeout: Duration::from_secs(5),
            warning_utilization: 70,
            critical_utilization: 90,
            p99_limit: Duration::from_millis(500),
            error_rate_percent: 5,
            cache_hit_rate_percent: 70,
            admin_token: None,
            admin_addr: None,
            shutdown_delay: Duration::ZERO,
        }
    }
}
