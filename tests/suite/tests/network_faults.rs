//! Network faults between the pool and PostgreSQL, through a TCP proxy the test
//! controls (`poolside_tests::fault_proxy`): every connection dropped, the network
//! stalled without closing anything, every chunk slowed, on each of the pool's paths
//! (pipelined, exclusive, batched reads). Timeouts fire as configured
//! (`postgres.query_timeout`, the connect and connection timeouts), stalled
//! connections are discarded, no call outlives its deadline, and the pool recovers by
//! itself when the network does.

use std::time::{Duration, Instant};

use poolside_core::{ErrorKind, PgError, PgPool};
use poolside_tests::fault_proxy::{FaultProxy, Mode};
use poolside_tests::{load_config, required_env};

const QUERY_TIMEOUT: Duration = Duration::from_millis(500);
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(2);
/// What a call may take beyond its own deadline (scheduling on a busy machine).
const SLACK: Duration = Duration::from_millis(400);

/// A proxy to the server and a pool of 4 connecting through it: one pipelined
/// connection, one batched-read connection, exclusive ones.
async fn proxied_pool(name: &str) -> (FaultProxy, PgPool) {
    let (proxy, proxied) = FaultProxy::in_front_of(&required_env("DATABASE_URL")).await;
    let separator = if proxied.contains('?') { '&' } else { '?' };
    let proxied = format!("{proxied}{separator}application_name=poolside-netfault-{name}");
    let config = load_config(&[
        ("DATABASE_URL", &proxied),
        ("POOLSIDE_POSTGRES__MAX_SIZE", "4"),
        ("POOLSIDE_POSTGRES__MIN_IDLE", "2"),
        ("POOLSIDE_POSTGRES__PIPELINE_CONNECTIONS", "1"),
        ("POOLSIDE_POSTGRES__READ_CONNECTIONS", "1"),
        ("POOLSIDE_POSTGRES__QUERY_TIMEOUT", "500ms"),
        ("POOLSIDE_POSTGRES__CONNECT_TIMEOUT", "1s"),
        ("POOLSIDE_POSTGRES__CONNECTION_TIMEOUT", "2s"),
    ])
    .config;
    let pool = PgPool::connect(&config.postgres)
        .await
        .expect("connects through the proxy");
    (proxy, pool)
}

/// How long `call` took, and how it ended.
async fn timed<T>(
    call: impl Future<Output = Result<T, PgError>>,
) -> (Duration, Result<(), ErrorKind>) {
    let started = Instant::now();
    let result = call.await.map(drop).map_err(|e| e.kind());
    (started.elapsed(), result)
}

/// One pipelined, one exclusive and one batched-read statement at once: how long
/// each took and how it ended.
async fn every_path(pool: &PgPool, sql: &'static str) -> Vec<(Duration, Result<(), ErrorKind>)> {
    let exclusive = async {
        let mut conn = pool.get().await?;
        conn.query_one(sql, &[]).await
    };
    let (a, b, c) = tokio::join!(
        timed(pool.query_one(sql, &[])),
        timed(exclusive),
        timed(pool.read_query_one(sql, &[])),
    );
    vec![a, b, c]
}

/// Runs every path until they succeed, for up to `within`; returns how long it took.
async fn recovery(pool: &PgPool, within: Duration) -> Duration {
    let started = Instant::now();
    loop {
        if every_path(pool, "SELECT 1")
            .await
            .iter()
            .all(|(_, r)| r.is_ok())
        {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < within,
            "no recovery within {within:?}: {:?}",
            every_path(pool, "SELECT 1").await
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Connections the server has for `name`'s pool.
async fn server_connections(name: &str) -> i64 {
    let (client, connection) =
        tokio_postgres::connect(&required_env("DATABASE_URL"), tokio_postgres::NoTls)
            .await
            .expect("a direct connection");
    let driver = tokio::spawn(connection);
    let count: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1",
            &[&format!("poolside-netfault-{name}")],
        )
        .await
        .expect("pg_stat_activity")
        .get(0);
    drop(client);
    let _ = driver.await;
    count
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_network_times_out_and_its_connections_are_discarded() {
    let (proxy, pool) = proxied_pool("stall").await;
    for (took, result) in every_path(&pool, "SELECT 1").await {
        assert!(result.is_ok(), "{result:?} after {took:?}");
    }
    let interrupted_before = pool.stats().closed.interrupted;

    proxy.set_mode(Mode::Stall);
    let mut calls = Vec::new();
    for _ in 0..3 {
        calls.extend(every_path(&pool, "SELECT 1").await);
    }
    let mut kinds = Vec::new();
    for (took, result) in &calls {
        let kind = result.expect_err("nothing passes a stalled network");
        kinds.push(kind);
        // A statement on an open connection ends at the query timeout; a checkout
        // that has to open one through the stall ends at the connection timeout.
        let deadline = if kind == ErrorKind::Cancelled {
            QUERY_TIMEOUT
        } else {
            CONNECTION_TIMEOUT
        };
        assert!(
            *took <= deadline + SLACK,
            "{kind:?} after {took:?}: past its deadline {deadline:?}"
        );
        assert!(
            matches!(
                kind,
                ErrorKind::Cancelled | ErrorKind::Connect | ErrorKind::PoolTimeout
            ),
            "{kind:?}"
        );
    }
    assert!(
        kinds.contains(&ErrorKind::Cancelled),
        "the open connections' statements time out: {kinds:?}"
    );
    let discarded = pool.stats().closed.interrupted - interrupted_before;
    assert!(
        discarded >= 3,
        "the stalled connections (pipelined, exclusive, batched reads) are discarded: \
         {discarded}"
    );

    proxy.set_mode(Mode::Pass);
    let recovered = recovery(&pool, Duration::from_secs(3)).await;
    let stats = pool.stats();
    assert!(stats.total <= 4, "{stats:?}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let on_server = server_connections("stall").await;
    assert!(
        on_server <= 4,
        "{on_server} connections on the server for a pool of 4"
    );
    println!(
        "stalled network: {} calls, every one ended within its deadline (longest {:?}); \
         {discarded} connections discarded; recovered {recovered:?} after the network \
         did; {on_server} connections on the server",
        calls.len(),
        calls.iter().map(|(t, _)| *t).max().unwrap_or_default()
    );
    pool.close(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_connections_are_replaced_at_once() {
    let (proxy, pool) = proxied_pool("drop").await;
    for (took, result) in every_path(&pool, "SELECT 1").await {
        assert!(result.is_ok(), "{result:?} after {took:?}");
    }
    let created_before = pool.stats().created;
    let dropped = proxy.drop_connections();
    assert!(dropped >= 3, "the pool had connections open: {dropped}");
    let mut failed = 0;
    let started = Instant::now();
    let mut calls = 0;
    // Each call either fails at once on a dead connection or succeeds on a new one.
    while started.elapsed() < Duration::from_millis(500) {
        for (took, result) in every_path(&pool, "SELECT 1").await {
            calls += 1;
            assert!(took <= CONNECTION_TIMEOUT + SLACK, "{took:?}");
            if let Err(kind) = result {
                assert_eq!(kind, ErrorKind::Connect, "a dropped connection");
                failed += 1;
            }
        }
    }
    let recovered = recovery(&pool, Duration::from_secs(2)).await;
    let created = pool.stats().created - created_before;
    assert!(created >= 1, "new connections replace the dropped ones");
    assert!(pool.stats().total <= 4);
    println!(
        "connections dropped: {dropped}; {calls} calls in the next 500 ms, {failed} failed \
         (kind connect); {created} connections opened anew; all succeeding {recovered:?} later"
    );
    pool.close(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_network_is_waited_for_up_to_the_query_timeout_and_no_longer() {
    let (proxy, pool) = proxied_pool("slow").await;
    // 50 ms each way: slower, within the timeout.
    proxy.set_mode(Mode::Delay(Duration::from_millis(50)));
    for (took, result) in every_path(&pool, "SELECT 1").await {
        assert!(result.is_ok(), "{result:?} after {took:?}");
        assert!(
            took >= Duration::from_millis(100),
            "the delay applies: {took:?}"
        );
    }
    // 400 ms each way: past the 500 ms query timeout.
    proxy.set_mode(Mode::Delay(Duration::from_millis(400)));
    let slow = every_path(&pool, "SELECT 1").await;
    for (took, result) in &slow {
        assert_eq!(*result, Err(ErrorKind::Cancelled), "after {took:?}");
        assert!(
            *took >= QUERY_TIMEOUT && *took <= QUERY_TIMEOUT + SLACK,
            "ended at the query timeout: {took:?}"
        );
    }
    proxy.set_mode(Mode::Pass);
    let recovered = recovery(&pool, Duration::from_secs(3)).await;
    println!(
        "slow network: 100 ms round trips succeeded; 800 ms ones ended at {:?} \
         (pipelined, exclusive, batched reads; query timeout {QUERY_TIMEOUT:?}); \
         recovered {recovered:?} after",
        slow.iter().map(|(took, _)| *took).collect::<Vec<_>>()
    );
    pool.close(Duration::from_secs(1)).await;
}
