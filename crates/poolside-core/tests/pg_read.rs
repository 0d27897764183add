//! The batched read path (`PgPool::read_query` and friends) against the real
//! PostgreSQL: the same answers as the pipelined path, writes refused, dropped callers
//! and lost connections leaving every other caller's answer right.

use std::time::Duration;

use poolside_core::{ErrorKind, PgPool};
use poolside_tests::{PATIENT_CHECKOUT, pg_pool};

/// A pool with the read path on: two read connections within max_size 8.
async fn read_pool(extra: &[(&str, &str)]) -> PgPool {
    let mut overrides = vec![
        ("POOLSIDE_POSTGRES__MAX_SIZE", "8"),
        ("POOLSIDE_POSTGRES__READ_CONNECTIONS", "2"),
        PATIENT_CHECKOUT,
    ];
    overrides.extend_from_slice(extra);
    pg_pool(&overrides).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_callers_read_in_batches_on_two_connections() {
    let pool = read_pool(&[]).await;
    let tasks: Vec<_> = (0..1000i32)
        .map(|i| {
            let pool = pool.clone();
            tokio::spawn(async move {
                let row = pool
                    .read_query_one("SELECT $1::int4 + 1 AS n, $2::text AS label", &[&i, &format!("#{i}")])
                    .await?;
                Ok::<_, poolside_core::PgError>((row.get::<_, i32>("n"), row.get::<_, String>(1)))
            })
        })
        .collect();
    for (i, task) in tasks.into_iter().enumerate() {
        let (n, label) = task.await.expect("task").expect("read");
        assert_eq!((n, label), (i as i32 + 1, format!("#{i}")));
    }
    let stats = pool.stats();
    assert_eq!(stats.read_connections, 2, "{stats:?}");
    assert!(stats.total <= 8, "within max_size: {stats:?}");
}

#[tokio::test]
async fn a_write_on_the_read_path_fails_with_25006_and_writes_nothing() {
    let pool = read_pool(&[]).await;
    pool.execute(
        "CREATE TABLE IF NOT EXISTS read_path_writes (id int8 PRIMARY KEY)",
        &[],
    )
    .await
    .expect("table");
    let error = pool
        .read_query("INSERT INTO read_path_writes VALUES (1) RETURNING id", &[])
        .await
        .expect_err("the read path refuses writes");
    assert_eq!(error.code().map(|c| c.code()), Some("25006"), "{error}");
    assert!(error.to_string().contains("read_only()"), "says what to do: {error}");
    let count: i64 = pool
        .query_one("SELECT count(*) FROM read_path_writes", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(count, 0, "nothing was written");
    // The connection serves the next caller.
    let row = pool.read_query_one("SELECT 5::int4", &[]).await.expect("read");
    assert_eq!(row.get::<_, i32>(0), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_mid_batch_is_its_callers_alone() {
    let pool = read_pool(&[("POOLSIDE_POSTGRES__READ_CONNECTIONS", "1")]).await;
    let tasks: Vec<_> = (0..300i32)
        .map(|i| {
            let pool = pool.clone();
            tokio::spawn(async move {
                // Every seventh divides by zero.
                let divisor = if i % 7 == 0 { 0 } else { 1 };
                pool.read_query_one("SELECT $1::int4 / $2::int4", &[&i, &divisor])
                    .await
                    .map(|row| row.get::<_, i32>(0))
            })
        })
        .collect();
    for (i, task) in tasks.into_iter().enumerate() {
        let result = task.await.expect("task");
        if i % 7 == 0 {
            let error = result.expect_err("division by zero");
            assert_eq!(error.code().map(|c| c.code()), Some("22012"), "{error}");
        } else {
            assert_eq!(result.expect("its own answer"), i as i32);
        }
    }
}

#[tokio::test]
async fn a_statement_past_the_query_timeout_fails_and_its_connection_is_replaced() {
    let pool = read_pool(&[("POOLSIDE_POSTGRES__QUERY_TIMEOUT", "300ms")]).await;
    let error = pool
        .read_query("SELECT pg_sleep(5)", &[])
        .await
        .expect_err("past the timeout");
    assert_eq!(error.kind(), ErrorKind::Cancelled, "{error}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        poolside_tests::statements_running("pg_sleep(5)").await,
        0,
        "cancelled on the server"
    );
    let row = pool.read_query_one("SELECT 1::int4", &[]).await.expect("read");
    assert_eq!(row.get::<_, i32>(0), 1);
}
