//! `poolside_health_status` says what the health reports say: a required dependency
//! that fails is 2 (the shipped `PoolsideHealthFailing` alert pages for it), an
//! optional one that fails is 1, a warning, as in `/health/ready`.

use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use poolside_core::{PgPool, RedisPool};
use poolside_health::Health;
use poolside_tests::{required_env, services_config};

/// `poolside_health_status{component}` after one round of checks, and `/health/ready`'s
/// status for the Redis check, with Redis down and `required` or not.
fn after_a_check_with_redis_down(required: bool) -> Vec<(String, f64)> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let config = services_config(&[
        ("DATABASE_URL", &required_env("DATABASE_URL")),
        ("REDIS_URL", "redis://127.0.0.1:1/0"),
    ]);
    let health = runtime.block_on(async {
        let pool = PgPool::connect(&config.postgres).await.expect("connects");
        let redis = RedisPool::connect_lazy(config.redis.as_ref().expect("redis")).expect("valid");
        Health::builder(config.health.clone())
            .postgres(pool)
            .redis(redis, required)
            .build()
    });
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || runtime.block_on(health.check_now()));
    let mut levels: Vec<(String, f64)> = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .filter(|(key, ..)| key.key().name() == "poolside_health_status")
        .filter_map(|(key, _, _, value)| {
            let component = key
                .key()
                .labels()
                .find(|label| label.key() == "component")?
                .value()
                .to_owned();
            match value {
                DebugValue::Gauge(level) => Some((component, level.into_inner())),
                _ => None,
            }
        })
        .collect();
    levels.sort_by(|a, b| a.0.cmp(&b.0));
    levels
}

#[test]
fn an_optional_dependency_that_fails_is_a_warning_and_a_required_one_a_failure() {
    assert_eq!(
        after_a_check_with_redis_down(false),
        [("postgres".to_owned(), 0.0), ("redis".to_owned(), 1.0)]
    );
    assert_eq!(
        after_a_check_with_redis_down(true),
        [("postgres".to_owned(), 0.0), ("redis".to_owned(), 2.0)]
    );
}
