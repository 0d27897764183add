//! `postgres.connect_lazy`: a service starts while PostgreSQL is away (behind a proxy
//! that refuses every connection), answers liveness but not readiness, warns once,
//! and turns ready, its pool warmed and its connection budget checked, once the
//! server answers, with no call of its own.

use std::time::Duration;

use poolside::{Poolside, Status};
use poolside_tests::fault_proxy::{FaultProxy, Mode};
use poolside_tests::polling::until;
use poolside_tests::{LogCapture, services_config};

/// The lines of `log` at `level` that hold `text`.
fn lines(log: &LogCapture, level: &str, text: &str) -> usize {
    log.text()
        .lines()
        .filter(|line| line.contains(level) && line.contains(text))
        .count()
}

#[tokio::test]
async fn a_lazy_start_turns_ready_and_warm_once_the_database_answers() {
    let (log, _subscriber) = LogCapture::install();
    let (proxy, proxied) = FaultProxy::in_front_of_postgres().await;
    proxy.set_mode(Mode::Refuse);
    let config = |lazy: &str| {
        services_config(&[
            ("DATABASE_URL", &proxied),
            ("POOLSIDE_POSTGRES__MAX_SIZE", "10"),
            ("POOLSIDE_POSTGRES__MIN_IDLE", "4"),
            ("POOLSIDE_POSTGRES__CONNECT_LAZY", lazy),
            // More than the server takes: the budget check warns.
            ("POOLSIDE_POSTGRES__EXPECTED_INSTANCES", "1000"),
        ])
    };

    let Err(error) = Poolside::builder().config(config("false")).build().await else {
        panic!("started without the server");
    };
    let error = error.to_string();
    assert!(error.contains(&proxy.addr().to_string()), "{error}");

    let db = Poolside::builder()
        .config(config("true"))
        .build()
        .await
        .expect("starts without the server");
    let health = db.health_state();
    until("a first failed check", Duration::from_secs(10), || {
        health
            .last_result(poolside::health::Component::Postgres)
            .is_some()
    })
    .await;
    assert_eq!(health.liveness().status, Status::Pass);
    assert_eq!(health.readiness().status, Status::Fail);
    assert_eq!(health.startup().status, Status::Fail);
    let failed = db.query_one("SELECT 1", &[]).await;
    assert!(failed.is_err(), "a query without the server: {failed:?}");
    // A few more rounds of checks and warm-ups fail; each warns once.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(lines(&log, "WARN", "does not answer yet"), 1);
    assert_eq!(lines(&log, "WARN", "reconnecting the pool"), 1);
    assert!(lines(&log, "DEBUG", "reconnecting the pool") >= 1);
    assert_eq!(lines(&log, "WARN", "connection budget"), 0);

    proxy.set_mode(Mode::Pass);
    // The monitor checks every second until startup, not every `check_interval`.
    let ready = until("ready", Duration::from_secs(10), || {
        health.readiness().status == Status::Pass && health.startup().status == Status::Pass
    })
    .await;
    let warm = until("min_idle open", Duration::from_secs(20), || {
        db.pool().stats().idle >= 4
    })
    .await;
    until("the budget checked", Duration::from_secs(10), || {
        lines(&log, "WARN", "connection budget") > 0
    })
    .await;
    println!("ready {ready:?} and warm {warm:?} after the server answered");
    let row = db
        .query_one("SELECT $1::int4 + 1", &[&1_i32])
        .await
        .expect("serves");
    assert_eq!(row.get::<_, i32>(0), 2);
    db.shutdown(Duration::from_secs(5)).await;
}
