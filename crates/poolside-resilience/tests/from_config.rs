//! The layers built from the validated configuration, and the rules that keep it
//! buildable.

use poolside_config::{ConfigLoader, EnvSnapshot};
use poolside_resilience::breaker::BreakerState;
use poolside_resilience::overflow::{OverflowSwitch, PrimaryLoad};
use poolside_resilience::{CircuitBreaker, LoadShedLayer, RetryBudget};

fn load(vars: &[(&str, &str)]) -> Result<poolside_config::Config, String> {
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
        ("POOLSIDE_FAILOVER__UTILIZATION_THRESHOLD", "60"),
        ("POOLSIDE_FAILOVER__HAND_BACK_MARGIN", "20"),
        ("POOLSIDE_BREAKER__MIN_CALLS", "7"),
    ])
    .expect("valid");
    RetryBudget::from_config(&config.retry).expect("a budget");
    let breaker = CircuitBreaker::new(config.breaker.clone());
    assert_eq!(breaker.state(), BreakerState::Closed);
    let switch = OverflowSwitch::from_config(&config.failover);
    let load = |percent| PrimaryLoad {
        utilization_percent: percent,
        healthy: true,
    };
    assert!(switch.update(load(60.0)));
    assert!(switch.update(load(41.0)), "within the 20-point margin");
    assert!(!switch.update(load(39.0)));
    let shed = LoadShedLayer::for_postgres(&config.postgres);
    assert_eq!(shed.limit(), 100, "20 connections and 80 waiting");
}

#[test]
fn settings_no_layer_could_use_are_rejected_naming_their_key() {
    for (vars, key) in [
        (
            &[
                ("POOLSIDE_FAILOVER__UTILIZATION_THRESHOLD", "50"),
                ("POOLSIDE_FAILOVER__HAND_BACK_MARGIN", "60"),
            ][..],
            "failover.hand_back_margin",
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
