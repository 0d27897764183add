//! The resilience layers built from the validated configuration (`poolside::layers`),
//! and the rules that keep it buildable.

use std::time::Duration;

use poolside::config::{ConfigLoader, EnvSnapshot};
use poolside::layers;
use poolside::resilience::RetryBudget;
use poolside::resilience::breaker::BreakerState;
use poolside::resilience::overflow::PrimaryLoad;

fn load(vars: &[(&str, &str)]) -> Result<poolside::config::Config, String> {
    let mut env: Vec<(&str, &str)> = vec![("DATABASE_URL", "postgres://app@localhost/app")];
    env.extend_from_slice(vars);
    let snapshot: EnvSnapshot = env.into_iter().collect();
    ConfigLoader::from_env(snapshot)
        .load()
        .map(|loaded| loaded.config)
        .map_err(|e| e.to_string())
}

#[test]
fn the_configuration_builds_every_layer() {
    let config = load(&[
        ("POOLSIDE_POSTGRES__MAX_SIZE", "20"),
        ("POOLSIDE_POSTGRES__MAX_WAITING", "80"),
        ("POOLSIDE_OVERFLOW__UTILIZATION_THRESHOLD", "60"),
        ("POOLSIDE_OVERFLOW__HAND_BACK_MARGIN", "20"),
        ("POOLSIDE_BREAKER__MIN_CALLS", "7"),
    ])
    .expect("valid");
    layers::retry_budget(&config.retry).expect("a budget");
    let policy = layers::retry_policy(
        &config.retry,
        layers::retry_budget(&config.retry).expect("a budget"),
    );
    assert_eq!(policy.attempts(), config.retry.attempts);
    assert_eq!(
        layers::backoff(&config.retry).ceiling(1),
        config.retry.base_delay
    );
    let breaker = layers::breaker(&config.breaker);
    assert_eq!(breaker.state(), BreakerState::Closed);
    let switch = layers::overflow_switch(&config.overflow);
    let load = |percent| PrimaryLoad {
        utilization_percent: percent,
        healthy: true,
    };
    assert!(switch.update(load(60.0)));
    assert!(switch.update(load(41.0)), "within the 20-point margin");
    assert!(!switch.update(load(39.0)));
    let shed = layers::load_shed(&config.postgres);
    assert_eq!(shed.limit(), 100, "20 connections and 80 waiting");
}

#[test]
fn settings_no_layer_could_use_are_rejected_naming_their_key() {
    for (vars, key) in [
        (
            &[
                ("POOLSIDE_OVERFLOW__UTILIZATION_THRESHOLD", "50"),
                ("POOLSIDE_OVERFLOW__HAND_BACK_MARGIN", "60"),
            ][..],
            "overflow.hand_back_margin",
        ),
        (
            &[("POOLSIDE_BREAKER__FAILURE_RATE_PERCENT", "0")],
            "breaker.failure_rate_percent",
        ),
        (
            &[("POOLSIDE_BREAKER__FAILURE_RATE_PERCENT", "101")],
            "breaker.failure_rate_percent",
        ),
        (&[("POOLSIDE_BREAKER__PROBES", "0")], "breaker.probes"),
        (&[("POOLSIDE_BREAKER__OPEN_FOR", "0s")], "breaker.open_for"),
    ] {
        let error = load(vars).expect_err("invalid");
        assert!(error.contains(key), "{vars:?}: {error}");
    }
}

/// Budget settings as the configuration takes them: every accepted one builds a
/// budget; every rejected one names its key.
#[test]
fn accepted_budget_settings_build_and_rejected_ones_name_their_key() {
    for (percent, window) in [
        ("0", "1s"),
        ("20", "10s"),
        ("1000", "60s"),
        ("1001", "10s"),
        ("20", "500ms"),
        ("20", "61s"),
    ] {
        let env: EnvSnapshot = [
            ("DATABASE_URL", "postgres://app@localhost/app"),
            ("POOLSIDE_RETRY__BUDGET_PERCENT", percent),
            ("POOLSIDE_RETRY__BUDGET_WINDOW", window),
        ]
        .into_iter()
        .collect();
        match ConfigLoader::from_env(env).load() {
            Ok(loaded) => {
                layers::retry_budget(&loaded.config.retry)
                    .unwrap_or_else(|e| panic!("{percent}% over {window} was accepted: {e}"));
            }
            Err(error) => {
                let text = error.to_string();
                assert!(
                    text.contains("retry.budget_percent") || text.contains("retry.budget_window"),
                    "{percent}% over {window}: {text}"
                );
                assert!(
                    RetryBudget::new(seconds(window), 10, percent.parse().expect("number"))
                        .is_err()
                );
            }
        }
    }
}

/// `"500ms"` or `"10s"` as a duration.
fn seconds(text: &str) -> Duration {
    match text.strip_suffix("ms") {
        Some(ms) => Duration::from_millis(ms.parse().expect("milliseconds")),
        None => Duration::from_secs(text.trim_end_matches('s').parse().expect("seconds")),
    }
}
