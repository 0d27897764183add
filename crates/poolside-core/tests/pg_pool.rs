//! `PgPool` against the real PostgreSQL that `cargo xtask services up` starts.

use std::time::{Duration, Instant};

use poolside_core::{ErrorKind, PgPool};
use poolside_resilience::{Classify, Failure};
use poolside_tests::{LogCapture, PATIENT_CHECKOUT, pg_pool, required_env, statements_running};

/// Pool settings as `POOLSIDE_POSTGRES__*` variables over the services' URL.
fn config(extra: &[(&str, &str)]) -> poolside_config::PostgresConfig {
    poolside_tests::services_config(extra).postgres
}

async fn pool(max_size: &str) -> PgPool {
    pg_pool(&[("POOLSIDE_POSTGRES__MAX_SIZE", max_size), PATIENT_CHECKOUT]).await
}

#[tokio::test]
async fn connects_warms_min_idle_and_is_seen_by_the_server() {
    let cfg = config(&[
        ("POOLSIDE_POSTGRES__MIN_IDLE", "3"),
        ("POOLSIDE_POSTGRES__MAX_SIZE", "5"),
        (
            "DATABASE_URL",
            &format!(
                "{}?application_name=poolside-warm",
                required_env("DATABASE_URL")
            ),
        ),
    ]);
    let pool = PgPool::connect(&cfg).await.expect("connects");
    let stats = pool.stats();
    assert!(stats.idle >= 3 && stats.total <= 5, "{stats:?}");
    let view = pool.server_view().await.expect("server view");
    assert_eq!(view.application_name, "poolside-warm");
    assert!(view.connections >= 3 && view.connections <= 5, "{view:?}");
    assert!(view.max_connections >= 100, "{view:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_queries_succeed_and_stats_hold_their_invariant() {
    let pool = pool("20").await;
    for concurrency in [50u32, 100, 200] {
        let sampler = {
            let pool = pool.clone();
            tokio::spawn(async move {
                for _ in 0..200 {
                    let s = pool.stats();
                    assert_eq!(s.total, s.active + s.idle, "{s:?}");
                    assert!(s.total <= s.max_size, "{s:?}");
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            })
        };
        let tasks: Vec<_> = (0..concurrency)
            .map(|i| {
                let pool = pool.clone();
                tokio::spawn(async move {
                    let mut conn = pool.get().await?;
                    let row = conn
                        .query_one("SELECT $1::int4 * 2", &[&(i as i32)])
                        .await?;
                    Ok::<i32, poolside_core::PgError>(row.get(0))
                })
            })
            .collect();
        for (i, task) in tasks.into_iter().enumerate() {
            assert_eq!(task.await.expect("task").expect("query"), i as i32 * 2);
        }
        sampler.await.expect("stats invariant held");
    }
    let stats = pool.stats();
    assert!(stats.created <= 20 && stats.timed_out == 0, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_tasks_on_twenty_connections_all_finish_without_timeouts() {
    let pool = pool("20").await;
    let tasks: Vec<_> = (0..1000)
        .map(|_| {
            let pool = pool.clone();
            tokio::spawn(async move {
                let asked = Instant::now();
                let mut conn = pool.get().await.expect("no timeouts");
                let waited = asked.elapsed();
                conn.query_one("SELECT 1", &[]).await.expect("query");
                waited
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("task");
    }
    let stats = pool.stats();
    // 1000 tasks, the warm-up and the start-up budget read.
    assert_eq!((stats.acquired, stats.timed_out), (1002, 0), "{stats:?}");
    assert!(stats.total <= 20, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiters_are_served_first_come_first_served_under_a_closed_loop() {
    // 200 tasks each acquire 25 times in a row on 20 connections: a task that just gave
    // a connection back asks again at once. An unfair pool lets it barge ahead of
    // sleeping waiters (bb8 alone starves some for seconds); a FIFO pool makes every
    // waiter wait about as long as the others. Compared as a ratio, not a time. All
    // 20 connections are opened first, so that opening them is not what is measured.
    let cfg = config(&[
        ("POOLSIDE_POSTGRES__MAX_SIZE", "20"),
        ("POOLSIDE_POSTGRES__MIN_IDLE", "20"),
    ]);
    let pool = PgPool::connect(&cfg).await.expect("pool connects");
    let tasks: Vec<_> = (0..200)
        .map(|_| {
            let pool = pool.clone();
            tokio::spawn(async move {
                let mut waits = Vec::with_capacity(25);
                for _ in 0..25 {
                    let asked = Instant::now();
                    let mut conn = pool.get().await.expect("no timeouts");
                    waits.push(asked.elapsed());
                    conn.query_one("SELECT 1", &[]).await.expect("query");
                }
                waits
            })
        })
        .collect();
    let mut waits = Vec::new();
    for task in tasks {
        waits.extend(task.await.expect("task"));
    }
    waits.sort();
    let p50 = waits[waits.len() / 2];
    let p99 = waits[waits.len() * 99 / 100];
    let max = waits[waits.len() - 1];
    eprintln!(
        "closed loop, 200 tasks / 20 conns: acquire wait p50 {p50:?}, p99 {p99:?}, max {max:?}"
    );
    assert!(
        max < p50 * 10,
        "a waiter waited {max:?}, {}x the median {p50:?}",
        max.as_secs_f64() / p50.as_secs_f64()
    );
}

#[tokio::test]
async fn sequential_queries_reuse_connections_and_prepare_once() {
    let pool = pool("5").await;
    for n in [500, 1000] {
        for i in 0..n {
            let mut conn = pool.get().await.expect("get");
            let row = conn
                .query_one("SELECT $1::int8", &[&(i as i64)])
                .await
                .expect("query");
            assert_eq!(row.get::<_, i64>(0), i as i64);
        }
    }
    let stats = pool.stats();
    assert!(stats.created <= 5, "connections are reused: {stats:?}");
    // 1500 queries, the warm-up and the start-up budget read.
    assert_eq!(stats.acquired, 1500 + 2, "{stats:?}");

    let mut conn = pool.get().await.expect("get");
    for _ in 0..10 {
        conn.query_one("SELECT 42::int4", &[]).await.expect("query");
    }
    let prepared: i64 = conn
        .query_one(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement = 'SELECT 42::int4'",
            &[],
        )
        .await
        .expect("pg_prepared_statements")
        .get(0);
    assert_eq!(
        prepared, 1,
        "a repeated query is prepared once on the connection"
    );
}

/// The caches allocate as they fill: a capacity of 2^32 - 1 statements (the most the
/// key takes) once asked every connection for a table of 146 GB up front, and the
/// process aborted.
#[tokio::test]
async fn a_statement_cache_of_the_largest_size_allocates_only_what_it_holds() {
    let pool = pg_pool(&[
        ("POOLSIDE_POSTGRES__STATEMENT_CACHE_SIZE", "4294967295"),
        ("POOLSIDE_POSTGRES__MAX_SIZE", "4"),
        ("POOLSIDE_POSTGRES__READ_CONNECTIONS", "1"),
        PATIENT_CHECKOUT,
    ])
    .await;
    let row = pool
        .query_one("SELECT $1::int8 AS n", &[&7i64])
        .await
        .expect("pipelined");
    assert_eq!(row.get::<_, i64>("n"), 7);
    let row = pool
        .read_query_one("SELECT $1::int8 AS n", &[&8i64])
        .await
        .expect("batched read");
    assert_eq!(row.get::<_, i64>("n"), 8);
    let mut conn = pool.get().await.expect("get");
    let row = conn
        .query_one("SELECT $1::int8 AS n", &[&9i64])
        .await
        .expect("exclusive");
    assert_eq!(row.get::<_, i64>("n"), 9);
}

#[tokio::test]
async fn a_full_pool_queues_requests_until_a_connection_returns() {
    let cfg = config(&[
        ("POOLSIDE_POSTGRES__MAX_SIZE", "2"),
        ("POOLSIDE_POSTGRES__CONNECTION_TIMEOUT", "1s"),
    ]);
    let pool = PgPool::connect(&cfg).await.expect("connects");
    let a = pool.get().await.expect("first");
    let b = pool.get().await.expect("second");
    assert_eq!(pool.stats().active, 2);

    let waiter = {
        let pool = pool.clone();
        tokio::spawn(async move { pool.get().await.map(drop) })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(pool.stats().waiting, 1, "the third request queues");
    drop(a);
    waiter
        .await
        .expect("task")
        .expect("served once a connection returns");
    drop(b);
    let stats = pool.stats();
    assert_eq!(
        (stats.waiting, stats.timed_out, stats.waited),
        (0, 0, 1),
        "{stats:?}"
    );
}

#[tokio::test]
async fn when_every_connection_is_held_a_request_times_out_as_such() {
    let cfg = config(&[
        ("POOLSIDE_POSTGRES__MAX_SIZE", "1"),
        ("POOLSIDE_POSTGRES__CONNECTION_TIMEOUT", "1s"),
    ]);
    let pool = PgPool::connect(&cfg).await.expect("connects");
    let _held = pool.get().await.expect("first");
    let started = Instant::now();
    let err = pool.get().await.expect_err("no connection free");
    assert_eq!(err.kind(), ErrorKind::PoolTimeout, "{err}");
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "waited the timeout"
    );
    assert!(
        err.to_string().contains("max_size"),
        "says what to do: {err}"
    );
    assert_eq!(pool.stats().timed_out, 1);
}

#[tokio::test]
async fn bad_credentials_database_or_port_fail_at_once_with_the_real_error() {
    let url = required_env("DATABASE_URL");
    let cases = [
        (
            url.replacen(":poolside@", ":wrong-password@", 1),
            ErrorKind::Auth,
            "28P01",
            Failure::Permanent,
        ),
        (
            format!("{}/no_such_db", url.rsplit_once('/').expect("db").0),
            ErrorKind::Auth,
            "3D000",
            Failure::Permanent,
        ),
        (
            "postgres://poolside:poolside@127.0.0.1:1/poolside".to_owned(),
            ErrorKind::Connect,
            "127.0.0.1:1",
            // Refused before anything was sent: safe to retry.
            Failure::Retryable,
        ),
    ];
    for (bad_url, kind, expected, failure) in cases {
        let cfg = config(&[
            ("DATABASE_URL", &bad_url),
            ("POOLSIDE_POSTGRES__CONNECTION_TIMEOUT", "10s"),
        ]);
        let started = Instant::now();
        let err = PgPool::connect(&cfg).await.expect_err("must fail");
        assert_eq!(err.kind(), kind, "{err}");
        assert_eq!(err.failure(), failure, "{err}");
        assert!(err.to_string().contains(expected), "{err}");
        assert!(
            !err.to_string().contains("wrong-password"),
            "no secret in: {err}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "took {:?} for {expected}",
            started.elapsed()
        );
    }
}

#[tokio::test]
async fn a_connection_held_past_the_threshold_is_reported_as_a_leak() {
    // The test runs on one thread (the default test runtime), so the pool's sweeper logs
    // to the subscriber installed here.
    let (log, _subscriber) = LogCapture::install();
    let cfg = config(&[("POOLSIDE_POSTGRES__LEAK_DETECTION_THRESHOLD", "2s")]);
    let pool = PgPool::connect(&cfg).await.expect("connects");
    let held = pool.get().await.expect("get");
    let acquired_at = held
        .acquired_at()
        .expect("a caller's checkout has a location");
    let line = acquired_at.line();
    assert!(acquired_at.file().ends_with("pg_pool.rs"), "{acquired_at}");
    tokio::time::sleep(Duration::from_millis(2800)).await;
    assert_eq!(pool.stats().leaks, 1);
    let logged = log.text();
    assert!(
        logged.contains("WARN") && logged.contains(&format!("pg_pool.rs:{line}")),
        "the warning names where the connection was acquired:\n{logged}"
    );
    drop(held);
    let quick = pool.get().await.expect("get");
    drop(quick);
    tokio::time::sleep(Duration::from_millis(2800)).await;
    assert_eq!(
        pool.stats().leaks,
        1,
        "a connection returned in time is no leak"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_cancelled_queries_leave_the_pool_healthy_and_the_server_idle() {
    let pool = pool("20").await;
    let marker = "poolside_cancel_test";
    let sql = format!("SELECT pg_sleep(5), '{marker}'");
    let tasks: Vec<_> = (0..1000u64)
        .map(|i| {
            let (pool, sql) = (pool.clone(), sql.clone());
            tokio::spawn(async move {
                // Dropped mid-flight: the caller gave up (a client disconnect).
                let _ = tokio::time::timeout(Duration::from_millis(20 + i % 50), async {
                    let mut conn = pool.get().await?;
                    conn.query(&sql, &[]).await
                })
                .await;
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("task");
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        statements_running(marker).await,
        0,
        "a cancelled statement is still running"
    );
    let stats = pool.stats();
    assert!(stats.closed.interrupted >= 1, "{stats:?}");
    assert_eq!(stats.total, stats.active + stats.idle);
    // The pool serves again, on connections that are in step with the server.
    for i in 0..50i32 {
        let mut conn = pool.get().await.expect("get");
        let row = conn
            .query_one("SELECT $1::int4", &[&i])
            .await
            .expect("query");
        assert_eq!(row.get::<_, i32>(0), i);
    }
}

/// This application's connections on the server, counted from another pool.
async fn server_connections(application_name: &str) -> i64 {
    let observer = pool("2").await;
    let mut conn = observer.get().await.expect("get");
    conn.query_one(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1",
        &[&application_name],
    )
    .await
    .expect("pg_stat_activity")
    .get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_refuses_new_work_drains_in_flight_work_and_closes_every_connection() {
    let name = "poolside-close-test";
    let cfg = config(&[
        (
            "DATABASE_URL",
            &format!("{}?application_name={name}", required_env("DATABASE_URL")),
        ),
        ("POOLSIDE_POSTGRES__MIN_IDLE", "3"),
        ("POOLSIDE_POSTGRES__MAX_SIZE", "5"),
    ]);
    let pool = PgPool::connect(&cfg).await.expect("connects");
    let in_flight = {
        let pool = pool.clone();
        tokio::spawn(async move {
            let mut conn = pool.get().await?;
            conn.query_one("SELECT pg_sleep(0.3)::text", &[])
                .await
                .map(drop)
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    let closing = {
        let pool = pool.clone();
        tokio::spawn(async move { pool.close(Duration::from_secs(5)).await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    let started = Instant::now();
    let refused = pool.get().await.expect_err("closed");
    assert_eq!(refused.kind(), ErrorKind::PoolClosed, "{refused}");
    assert!(
        started.elapsed() < Duration::from_millis(100),
        "refused at once"
    );
    in_flight
        .await
        .expect("task")
        .expect("in-flight work finishes");
    assert_eq!(closing.await.expect("task"), 0, "nothing was left in use");
    assert!(pool.is_closed());
    assert_eq!(pool.stats().total, 0);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        server_connections(name).await,
        0,
        "every connection is closed on the server"
    );
}

#[tokio::test]
async fn close_reports_connections_still_in_use_at_the_deadline() {
    let pool = pool("2").await;
    let held = pool.get().await.expect("get");
    assert_eq!(pool.close(Duration::from_millis(100)).await, 1);
    drop(held);
    assert!(pool.get().await.is_err());
}

#[tokio::test]
async fn a_pool_of_fixed_size_keeps_its_idle_connections_past_the_idle_timeout() {
    // bb8 alone closes idle connections past idle_timeout even below min_idle, then
    // reopens them: a fixed-size pool would reconnect every reaper cycle.
    let cfg = config(&[
        ("POOLSIDE_POSTGRES__MIN_IDLE", "3"),
        ("POOLSIDE_POSTGRES__MAX_SIZE", "3"),
        ("POOLSIDE_POSTGRES__IDLE_TIMEOUT", "1s"),
    ]);
    let pool = PgPool::connect(&cfg).await.expect("connects");
    let opened = pool.stats().created;
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let stats = pool.stats();
    assert_eq!(
        stats.created, opened,
        "no connection reopened after three idle timeouts: {stats:?}"
    );
    assert_eq!(
        (stats.total, stats.closed.idle_timeout),
        (3, 0),
        "{stats:?}"
    );
}

#[tokio::test]
async fn a_parameter_of_the_wrong_type_or_count_is_a_query_error_not_a_connect_error() {
    let pool = pool("2").await;
    let wrong_type = pool
        .query_one("SELECT $1::int4", &[&"seven"])
        .await
        .expect_err("a string for an int4");
    let wrong_count = pool
        .query_one("SELECT $1::int4 + $2::int4", &[&1i32])
        .await
        .expect_err("one parameter of two");
    for error in [wrong_type, wrong_count] {
        assert_eq!(error.kind(), ErrorKind::Query, "{error}");
        assert_eq!(error.failure(), Failure::Permanent, "{error}");
        assert!(
            !error.to_string().contains("check that the server runs"),
            "{error}"
        );
    }
    pool.query_one("SELECT 1", &[])
        .await
        .expect("the pool still serves");
}

#[tokio::test]
async fn reconnect_retires_every_open_connection() {
    let pool = pool("3").await;
    let backend = |pool: PgPool| async move {
        let mut conn = pool.get().await.expect("a connection");
        conn.query_one("SELECT pg_backend_pid()", &[])
            .await
            .expect("pid")
            .get::<_, i32>(0)
    };
    let before = backend(pool.clone()).await;
    pool.reconnect();
    let after = backend(pool.clone()).await;
    assert_ne!(
        before, after,
        "a connection opened before reconnect() was handed out"
    );
    assert!(pool.stats().closed.retired >= 1, "{:?}", pool.stats());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_past_the_query_timeout_is_cancelled_on_the_server_on_both_paths() {
    let cfg = config(&[
        ("POOLSIDE_POSTGRES__MAX_SIZE", "4"),
        ("POOLSIDE_POSTGRES__QUERY_TIMEOUT", "300ms"),
    ]);
    let pool = PgPool::connect(&cfg).await.expect("connects");
    let marker = "poolside_query_timeout_test";
    let sql = format!("SELECT pg_sleep(5), '{marker}'");
    let started = Instant::now();
    let (pipelined, exclusive) = tokio::join!(pool.query(&sql, &[]), async {
        let mut conn = pool.get().await?;
        let result = conn.query(&sql, &[]).await;
        // The connection refuses anything more: it may be out of step.
        let after = conn.query_one("SELECT 1", &[]).await;
        assert_eq!(
            after.map(drop).map_err(|e| e.kind()),
            Err(ErrorKind::Cancelled)
        );
        result
    });
    let took = started.elapsed();
    for result in [pipelined.map(drop), exclusive.map(drop)] {
        let error = result.expect_err("5 s of sleep with a 300 ms timeout");
        assert_eq!(error.kind(), ErrorKind::Cancelled, "{error}");
        assert!(
            error.to_string().contains("postgres.query_timeout"),
            "{error}"
        );
    }
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_millis(1500),
        "{took:?}"
    );
    // The pipelined connection goes back once its callers are gone; both are then
    // cancelled on the server and discarded.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(statements_running(marker).await, 0, "still running");
    let stats = pool.stats();
    assert!(stats.closed.interrupted >= 2, "{stats:?}");
    let row = pool
        .query_one("SELECT 41 + 1", &[])
        .await
        .expect("serves again");
    assert_eq!(row.get::<_, i32>(0), 42);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkouts_past_max_waiting_are_refused_at_once_and_the_queue_stays_bounded() {
    let cfg = config(&[
        ("POOLSIDE_POSTGRES__MAX_SIZE", "2"),
        ("POOLSIDE_POSTGRES__MIN_IDLE", "2"),
        ("POOLSIDE_POSTGRES__PIPELINE_CONNECTIONS", "0"),
        ("POOLSIDE_POSTGRES__MAX_WAITING", "3"),
        ("POOLSIDE_POSTGRES__CONNECTION_TIMEOUT", "5s"),
    ]);
    let pool = PgPool::connect(&cfg).await.expect("connects");
    let held = (
        pool.get().await.expect("first"),
        pool.get().await.expect("second"),
    );
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let pool = pool.clone();
            tokio::spawn(async move {
                let started = Instant::now();
                let result = pool.get().await.map(drop);
                (
                    result.map_err(|e| (e.kind(), e.to_string())),
                    started.elapsed(),
                )
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(pool.stats().waiting, 3, "{:?}", pool.stats());
    drop(held);
    let (mut served, mut refused) = (0, 0);
    for task in tasks {
        match task.await.expect("task") {
            (Ok(()), _) => served += 1,
            (Err((kind, message)), took) => {
                assert_eq!(kind, ErrorKind::Overloaded, "{message}");
                assert!(message.contains("postgres.max_waiting"), "{message}");
                assert!(
                    took < Duration::from_millis(250),
                    "refused at once: {took:?}"
                );
                refused += 1;
            }
        }
    }
    assert_eq!((served, refused), (3, 7));
    assert_eq!(pool.stats().rejected, 7);
}
