//! The rules of the layers' settings: `retry.*`, `breaker.*`, `overflow.*` and
//! `health.*`.

use std::time::Duration;

use crate::parse::show_duration;

use super::checker::Checker;

pub(super) fn check_retry(c: &mut Checker<'_>) {
    let retry = &c.config.retry;
    if retry.budget_percent > 1000 {
        c.error(
            "retry.budget_percent",
            format!("{} is outside 0..=1000 percent", retry.budget_percent),
        );
    }
    if !(Duration::from_secs(1)..=Duration::from_secs(60)).contains(&retry.budget_window) {
        c.error(
            "retry.budget_window",
            format!(
                "{} is outside 1s..=60s: the budget counts requests over a window of 1 to 60 seconds",
                show_duration(&retry.budget_window)
            ),
        );
    }
    if retry.base_delay > retry.max_delay {
        let other = c.named("retry.max_delay", show_duration(&retry.max_delay));
        c.error(
            "retry.base_delay",
            format!(
                "{} is greater than {other}: lower base_delay or raise max_delay",
                show_duration(&retry.base_delay)
            ),
        );
    }
}

pub(super) fn check_breaker(c: &mut Checker<'_>) {
    let breaker = &c.config.breaker;
    if breaker.failure_rate_percent == 0 {
        c.error(
            "breaker.failure_rate_percent",
            "0 would open the breaker on every call: use 1..=100",
        );
    }
}

pub(super) fn check_overflow(c: &mut Checker<'_>) {
    let overflow = &c.config.overflow;
    if overflow.hand_back_margin > overflow.utilization_threshold {
        let other = c.named(
            "overflow.utilization_threshold",
            overflow.utilization_threshold,
        );
        c.error(
            "overflow.hand_back_margin",
            format!(
                "{} is greater than {other}: the primary could never be that far below the threshold",
                overflow.hand_back_margin
            ),
        );
    }
    if let Some(url) = &overflow.secondary_url {
        c.postgres_url("overflow.secondary_url", url);
    }
}

pub(super) fn check_health(c: &mut Checker<'_>) {
    let health = &c.config.health;
    if health.warning_utilization >= health.critical_utilization {
        let other = c.named("health.critical_utilization", health.critical_utilization);
        c.error(
            "health.warning_utilization",
            format!(
                "{} is not below {other}: warning must come before critical",
                health.warning_utilization
            ),
        );
    }
    if health.check_timeout > health.check_interval {
        let other = c.named(
            "health.check_interval",
            show_duration(&health.check_interval),
        );
        c.warn(
            "health.check_timeout",
            format!(
                "{} is longer than {other}: checks would overlap",
                show_duration(&health.check_timeout)
            ),
        );
    }
}
