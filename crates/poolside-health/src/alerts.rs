//! `/health/alerts`: human-readable lines for what an operator should look at, with
//! these rules: pool utilization over the warning threshold, p99 over its limit,
//! error rate over its limit, cache hit rate under its floor, failing checks.

use crate::component::Component;
use crate::health::Health;
use crate::model::Status;
use crate::utilization::Utilization;

/// Fewest operations (or cache reads) in the window before rates raise alerts: two
/// failures of three calls are not an error rate.
const MIN_SAMPLE: u64 = 20;

impl Health {
    /// The alerts that hold now, one line each; empty when all is well.
    ///
    /// # Examples
    ///
    /// ```
    /// let health = poolside_health::Health::builder(Default::default()).build();
    /// assert!(health.alerts().is_empty());
    /// ```
    pub fn alerts(&self) -> Vec<String> {
        let config = &self.inner.config;
        let mut alerts = Vec::new();
        for component in Component::ALL {
            if let Some(result) = self.last_result(component)
                && result.status == Status::Fail
            {
                alerts.push(format!(
                    "{} check failing: {}",
                    component.as_str(),
                    result.output.unwrap_or_default()
                ));
            }
        }
        if let Some((check, level)) = self.pool_check()
            && level != Utilization::Normal
        {
            let threshold = if level == Utilization::Critical {
                config.critical_utilization
            } else {
                config.warning_utilization
            };
            alerts.push(format!(
                "postgres pool utilization {:.0}% is at or over the {} threshold of {threshold}%",
                check.observed_value.and_then(|v| v.as_f64()).unwrap_or(0.0),
                if level == Utilization::Critical {
                    "critical"
                } else {
                    "warning"
                },
            ));
        }
        if let Some(recorder) = &self.inner.operations {
            let ops = recorder.snapshot();
            let p99_limit_ms = config.p99_limit.as_secs_f64() * 1000.0;
            if ops.operations >= MIN_SAMPLE && ops.p99_ms > p99_limit_ms {
                alerts.push(format!(
                    "p99 latency {:.1} ms over the last {:.0} s is over the limit of {p99_limit_ms:.0} ms",
                    ops.p99_ms, ops.window_seconds
                ));
            }
            if ops.operations >= MIN_SAMPLE
                && ops.error_percent > f64::from(config.error_rate_percent)
            {
                alerts.push(format!(
                    "error rate {:.1}% over the last {:.0} s is over the limit of {}%",
                    ops.error_percent, ops.window_seconds, config.error_rate_percent
                ));
            }
        }
        #[cfg(feature = "redis")]
        if let Some(cache) = &self.inner.cache {
            let stats = cache.stats();
            let rate = stats.hit_rate_percent();
            if stats.hits + stats.misses >= MIN_SAMPLE
                && rate < f64::from(config.cache_hit_rate_percent)
            {
                alerts.push(format!(
                    "cache hit rate {rate:.1}% is under the floor of {}%",
                    config.cache_hit_rate_percent
                ));
            }
        }
        alerts
    }
}
