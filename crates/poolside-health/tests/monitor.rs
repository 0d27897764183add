//! The monitor over a real pool, its PostgreSQL behind a proxy: once a check fails, it
//! checks again every second, so readiness follows the server back within a second
//! of it answering, not a `health.check_interval` later.

use std::time::Duration;

use poolside_core::PgPool;
use poolside_health::{Component, Health, Status};
use poolside_tests::fault_proxy::{FaultProxy, Mode};
use poolside_tests::polling::until;
use poolside_tests::services_config;

#[tokio::test]
async fn after_a_failed_check_readiness_follows_the_server_back_within_a_second() {
    const INTERVAL: Duration = Duration::from_secs(6);
    let (proxy, proxied) = FaultProxy::in_front_of_postgres().await;
    let config = services_config(&[
        ("DATABASE_URL", &proxied),
        ("POOLSIDE_HEALTH__CHECK_INTERVAL", "6s"),
        ("POOLSIDE_HEALTH__CHECK_TIMEOUT", "1s"),
    ]);
    let pool = PgPool::connect(&config.postgres).await.expect("connects");
    let health = Health::builder(config.health.clone())
        .postgres(pool)
        .build();
    let monitor = health.spawn_monitor();
    let postgres_is = |status| {
        let health = health.clone();
        move || {
            health
                .last_result(Component::Postgres)
                .is_some_and(|r| r.status == status)
        }
    };
    until("a first passing check", INTERVAL, postgres_is(Status::Pass)).await;
    assert_eq!(health.readiness().status, Status::Pass);

    proxy.set_mode(Mode::Refuse);
    proxy.drop_connections();
    // The next round, up to an interval later, fails.
    until("a failed check", INTERVAL * 2, postgres_is(Status::Fail)).await;
    assert_eq!(health.readiness().status, Status::Fail);
    proxy.set_mode(Mode::Pass);
    let back = until("ready again", INTERVAL * 2, || {
        health.readiness().status == Status::Pass
    })
    .await;
    println!("ready {back:?} after the server answered again (check_interval {INTERVAL:?})");
    assert!(
        back < Duration::from_millis(2500),
        "ready {back:?} after the server answered: the monitor waited for its interval"
    );
    monitor.abort();
}
