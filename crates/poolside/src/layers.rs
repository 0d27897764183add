//! The resilience layers built from their configuration sections. poolside-resilience
//! knows nothing of configuration: its layers take plain settings, and these
//! functions read them from a validated [`Config`](poolside_config::Config).
//!
//! # Examples
//!
//! ```
//! use poolside::layers;
//! use tower::Layer;
//!
//! let config = poolside::config::ConfigLoader::from_env(
//!     [("DATABASE_URL", "postgres://app@localhost/app")].into_iter().collect(),
//! )
//! .load()?
//! .config;
//! let budget = layers::retry_budget(&config.retry)?;
//! let retry = poolside::resilience::RetryLayer::new(layers::retry_policy(&config.retry, budget));
//! let breaker = layers::breaker(&config.breaker);
//! let shed = layers::load_shed(&config.postgres);
//! # let _ = (retry, breaker, shed);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use poolside_config::{BreakerConfig, OverflowConfig, PostgresConfig, RetryConfig};
use poolside_resilience::breaker::BreakerSettings;
use poolside_resilience::overflow::OverflowSwitch;
use poolside_resilience::{
    Backoff, BudgetError, CircuitBreaker, Jitter, LoadShedLayer, RetryBudget, RetryPolicy,
};

/// The backoff between retries of `[retry]`.
pub fn backoff(config: &RetryConfig) -> Backoff {
    let jitter = match config.jitter {
        poolside_config::Jitter::Full => Jitter::Full,
        poolside_config::Jitter::Equal => Jitter::Equal,
        poolside_config::Jitter::None => Jitter::None,
    };
    Backoff::new(config.base_delay, config.max_delay, jitter)
}

/// The retry policy of `[retry]` (attempts, backoff, total deadline), drawing on
/// `budget`.
pub fn retry_policy(config: &RetryConfig, budget: RetryBudget) -> RetryPolicy {
    RetryPolicy::new(
        config.attempts,
        backoff(config),
        config.total_deadline,
        budget,
    )
}

/// The retry budget of `[retry]` (`budget_window`, `budget_min_per_sec`,
/// `budget_percent`); validated configuration always builds one.
///
/// # Errors
///
/// Settings the budget cannot hold (validation refuses them first).
pub fn retry_budget(config: &RetryConfig) -> Result<RetryBudget, BudgetError> {
    RetryBudget::new(
        config.budget_window,
        config.budget_min_per_sec,
        f64::from(config.budget_percent),
    )
}

/// A closed circuit breaker with the thresholds of `[breaker]`.
pub fn breaker(config: &BreakerConfig) -> CircuitBreaker {
    CircuitBreaker::new(breaker_settings(config))
}

/// The breaker's settings from `[breaker]`.
fn breaker_settings(config: &BreakerConfig) -> BreakerSettings {
    BreakerSettings {
        failure_rate_percent: config.failure_rate_percent,
        min_calls: config.min_calls,
        window: config.window,
        open_for: config.open_for,
        probes: config.probes,
    }
}

/// The overflow switch of `[overflow]` (`utilization_threshold`, `hand_back_margin`).
pub fn overflow_switch(config: &OverflowConfig) -> OverflowSwitch {
    OverflowSwitch::new(config.utilization_threshold, config.hand_back_margin)
}

/// Load shedding for a PostgreSQL pool: its `max_size` connections plus the
/// `max_waiting` operations that may wait for one.
pub fn load_shed(config: &PostgresConfig) -> LoadShedLayer {
    LoadShedLayer::new(config.max_size as usize + config.max_waiting as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// poolside-config and poolside-resilience may not import each other, so each
    /// writes the breaker's defaults: this keeps the two the same.
    #[test]
    fn the_breakers_defaults_agree_in_both_crates() {
        assert_eq!(
            breaker_settings(&BreakerConfig::default()),
            BreakerSettings::default()
        );
    }
}
