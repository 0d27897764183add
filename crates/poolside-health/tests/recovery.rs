//! `Health::recovered` over a real pool, its PostgreSQL behind a proxy: it resolves when
//! a check passes after one failed, and not while checks keep passing or failing.

use std::future::Future;
use std::time::Duration;

use poolside_core::PgPool;
use poolside_health::{Component, Health, Status};
use poolside_tests::fault_proxy::{FaultProxy, Mode};
use poolside_tests::services_config;

/// Whether `recovered` has resolved, given a moment to.
async fn resolved(recovered: &mut (impl Future<Output = ()> + Unpin)) -> bool {
    tokio::time::timeout(Duration::from_millis(20), recovered)
        .await
        .is_ok()
}

#[tokio::test]
async fn a_check_passing_after_a_failure_wakes_the_waiters_and_one_passing_again_does_not() {
    let (proxy, proxied) = FaultProxy::in_front_of_postgres().await;
    let config = services_config(&[
        ("DATABASE_URL", &proxied),
        ("POOLSIDE_HEALTH__CHECK_TIMEOUT", "1s"),
    ]);
    let pool = PgPool::connect(&config.postgres).await.expect("connects");
    let health = Health::builder(config.health.clone())
        .postgres(pool)
        .build();
    let postgres = || health.last_result(Component::Postgres).map(|r| r.status);

    // The first check: a turn from "not checked yet", seen by a waiter from before it,
    // though that waiter is polled only afterwards.
    let mut before_the_first_check = Box::pin(health.recovered(Component::Postgres));
    health.check_now().await;
    assert_eq!(postgres(), Some(Status::Pass));
    assert!(resolved(&mut before_the_first_check).await);

    // Passing again is no recovery.
    let mut recovered = Box::pin(health.recovered(Component::Postgres));
    health.check_now().await;
    assert_eq!(postgres(), Some(Status::Pass));
    assert!(
        !resolved(&mut recovered).await,
        "woken by a check that kept passing"
    );

    // Nor is failing, twice.
    proxy.set_mode(Mode::Refuse);
    proxy.drop_connections();
    for _ in 0..2 {
        health.check_now().await;
        assert_eq!(postgres(), Some(Status::Fail));
        assert!(!resolved(&mut recovered).await, "woken by a failing check");
    }
    // A Redis recovery would not wake a PostgreSQL waiter either: none is configured.
    let mut redis = Box::pin(health.recovered(Component::Redis));

    proxy.set_mode(Mode::Pass);
    // The pool spaces its connects while they fail: the next may come a moment later.
    for _ in 0..100 {
        health.check_now().await;
        if postgres() == Some(Status::Pass) {
            break;
        }
        assert!(!resolved(&mut recovered).await, "woken by a failing check");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        postgres(),
        Some(Status::Pass),
        "still failing 10 s after the proxy passed"
    );
    assert!(
        resolved(&mut recovered).await,
        "not woken when the check passed again"
    );
    assert!(
        !resolved(&mut redis).await,
        "a Redis waiter woken by PostgreSQL"
    );

    // A waiter from after the recovery waits for the next one.
    let mut next = Box::pin(health.recovered(Component::Postgres));
    health.check_now().await;
    assert!(!resolved(&mut next).await);
}
