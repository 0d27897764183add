//! Connects while PostgreSQL refuses them (behind a proxy that closes every new
//! connection): 50 callers on each path lead to a connect per delay, not one per
//! caller, while each caller still fails at once; one warning for the whole run of
//! failures; the first statement succeeds within 800 ms of the server answering.

use std::time::{Duration, Instant};

use futures_util::future::join_all;
use poolside_core::PgPool;
use poolside_tests::fault_proxy::{FaultProxy, Mode};
use poolside_tests::{LogCapture, services_config};

/// How long each path is driven while the server refuses.
const OUTAGE: Duration = Duration::from_secs(3);

/// 50 callers calling `call` every 10 ms for [`OUTAGE`]: the calls that failed,
/// and the slowest of them.
async fn drive<F, Fut>(pool: &PgPool, call: F) -> (u32, Duration)
where
    F: Fn(PgPool) -> Fut + Copy,
    Fut: Future<Output = bool>,
{
    let began = Instant::now();
    let callers = (0..50).map(|_| async move {
        let (mut failed, mut slowest) = (0, Duration::ZERO);
        while began.elapsed() < OUTAGE {
            let call_began = Instant::now();
            if !call(pool.clone()).await {
                failed += 1;
                slowest = slowest.max(call_began.elapsed());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        (failed, slowest)
    });
    join_all(callers)
        .await
        .into_iter()
        .fold((0, Duration::ZERO), |(failed, slowest), (f, s)| {
            (failed + f, slowest.max(s))
        })
}

#[tokio::test]
async fn while_the_server_refuses_every_path_connects_once_per_delay() {
    let (log, _subscriber) = LogCapture::install();
    let (proxy, proxied) = FaultProxy::in_front_of_postgres().await;
    let config = services_config(&[
        ("DATABASE_URL", &proxied),
        ("POOLSIDE_POSTGRES__MAX_SIZE", "10"),
        ("POOLSIDE_POSTGRES__READ_CONNECTIONS", "2"),
    ]);
    let pool = PgPool::connect(&config.postgres).await.expect("connects");
    // Described, and a read connection opened: in the outage, reads go straight to
    // the read path's own connects.
    pool.read_query_one("SELECT 1", &[])
        .await
        .expect("a batched read");
    proxy.set_mode(Mode::Refuse);
    proxy.drop_connections();

    let pipelined = |pool: PgPool| async move { pool.query_one("SELECT 1", &[]).await.is_ok() };
    let exclusive = |pool: PgPool| async move { pool.get().await.is_ok() };
    let batched_read =
        |pool: PgPool| async move { pool.read_query_one("SELECT 1", &[]).await.is_ok() };
    let mut counted = proxy.accepted();
    let mut outcome = |path: &str, (failed, slowest): (u32, Duration)| {
        let connects = proxy.accepted() - counted;
        counted = proxy.accepted();
        println!("{path}: {connects} connects; {failed} calls failed, the slowest in {slowest:?}");
        assert!(failed > 300, "{path}: only {failed} calls in {OUTAGE:?}");
        assert!(
            slowest < Duration::from_millis(500),
            "{path}: a call failed after {slowest:?}"
        );
        // Spaced 100 ms, 200 ms, then 250 ms, each up to a quarter shorter: at most
        // 3 s / 0.1875 s + 3 = 19 connects in an outage.
        assert!(connects <= 20, "{path}: {connects} connects in {OUTAGE:?}");
    };
    outcome("pipelined", drive(&pool, pipelined).await);
    outcome("exclusive", drive(&pool, exclusive).await);
    outcome("batched read", drive(&pool, batched_read).await);
    let warnings = log
        .text()
        .lines()
        .filter(|l| l.contains("WARN") && l.contains("connect failed"))
        .count();
    assert_eq!(warnings, 1, "one warning for the run of failures");

    proxy.set_mode(Mode::Pass);
    let back = Instant::now();
    while pool.query_one("SELECT 1", &[]).await.is_err() {
        assert!(
            back.elapsed() < Duration::from_millis(800),
            "no success within 800 ms"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    println!(
        "first success {:?} after the server answered",
        back.elapsed()
    );
    assert!(log.text().contains("connected again after failed connects"));
}
