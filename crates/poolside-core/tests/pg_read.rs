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
                    .read_query_one(
                        "SELECT $1::int4 + 1 AS n, $2::text AS label",
                        &[&i, &format!("#{i}")],
                    )
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
    assert!(
        error.to_string().contains("read_only()"),
        "says what to do: {error}"
    );
    let count: i64 = pool
        .query_one("SELECT count(*) FROM read_path_writes", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(count, 0, "nothing was written");
    // The connection serves the next caller.
    let row = pool
        .read_query_one("SELECT 5::int4", &[])
        .await
        .expect("read");
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
    let row = pool
        .read_query_one("SELECT 1::int4", &[])
        .await
        .expect("read");
    assert_eq!(row.get::<_, i32>(0), 1);
    let closed = pool.stats().closed;
    assert_eq!(closed.interrupted, 1, "counted as interrupted: {closed:?}");
}

/// A table of `rows` rows whose `v` is `id * 7`, for checking that every answer is its
/// own caller's.
async fn sevens(pool: &PgPool, table: &str, rows: i64) {
    pool.execute(&format!("DROP TABLE IF EXISTS {table}"), &[])
        .await
        .expect("drop");
    pool.execute(
        &format!("CREATE TABLE {table} (id int8 PRIMARY KEY, v int8 NOT NULL)"),
        &[],
    )
    .await
    .expect("create");
    pool.execute(
        &format!("INSERT INTO {table} SELECT i, i * 7 FROM generate_series(1, $1::int8) i"),
        &[&rows],
    )
    .await
    .expect("fill");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_callers_dropped_at_random_leave_every_other_answer_right() {
    let pool = read_pool(&[]).await;
    sevens(&pool, "read_path_dropped", 1000).await;
    let sql = "SELECT v FROM read_path_dropped WHERE id = $1";
    // Described and the read connections open first: on a slow machine (a debug
    // build beside other tests) connecting took longer than any caller's patience,
    // and none finished.
    let pool_ref = &pool;
    let warm = (1..=16i64).map(|id| async move { pool_ref.read_query_one(sql, &[&id]).await });
    for row in futures_util::future::join_all(warm).await {
        row.expect("read");
    }
    let dropped: Vec<_> = (0..10_000i64)
        .map(|i| {
            let pool = pool.clone();
            tokio::spawn(async move {
                // Gone before queuing, while queued, on the wire, or never.
                let patience = std::time::Duration::from_micros(fastrand::u64(0..400_000));
                let id = i % 1000 + 1;
                match tokio::time::timeout(patience, pool.read_query_one(sql, &[&id])).await {
                    Ok(answer) => Some((id, answer.expect("read").get::<_, i64>(0))),
                    Err(_) => None,
                }
            })
        })
        .collect();
    let checked: Vec<_> = (0..2_000i64)
        .map(|i| {
            let pool = pool.clone();
            tokio::spawn(async move {
                let id = i % 1000 + 1;
                let row = pool.read_query_one(sql, &[&id]).await.expect("read");
                (id, row.get::<_, i64>(0))
            })
        })
        .collect();
    let mut finished = 0;
    for task in dropped {
        if let Some((id, v)) = task.await.expect("task") {
            assert_eq!(v, id * 7, "a caller got another's row");
            finished += 1;
        }
    }
    for task in checked {
        let (id, v) = task.await.expect("task");
        assert_eq!(v, id * 7, "a caller got another's row");
    }
    println!("of 10,000 impatient callers, {finished} finished");
    assert!(
        finished > 0 && finished < 10_000,
        "callers went at every stage, some finished"
    );
    // Nothing left out of step: every connection answers right.
    for id in 1..=200i64 {
        let row = pool.read_query_one(sql, &[&id]).await.expect("read");
        assert_eq!(row.get::<_, i64>(0), id * 7);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminated_backends_mid_batch_end_in_errors_never_a_wrong_row() {
    let pool = read_pool(&[]).await;
    sevens(&pool, "read_path_terminated", 500).await;
    let sql = "SELECT v, pg_backend_pid() FROM read_path_terminated WHERE id = $1";
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let readers: Vec<_> = (0..16i64)
        .map(|t| {
            let (pool, stop) = (pool.clone(), stop.clone());
            tokio::spawn(async move {
                let (mut answered, mut failed) = (0u32, 0u32);
                let mut i = t;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    i += 16;
                    let id = i % 500 + 1;
                    match pool.read_query_one(sql, &[&id]).await {
                        Ok(row) => {
                            assert_eq!(row.get::<_, i64>(0), id * 7, "a wrong row");
                            answered += 1;
                        }
                        Err(e) => {
                            assert!(
                                matches!(e.kind(), ErrorKind::Connect),
                                "a lost connection is a connection error: {e}"
                            );
                            failed += 1;
                        }
                    }
                }
                (answered, failed)
            })
        })
        .collect();
    // Terminate the read connections' backends three times under the load.
    let killer = pool_for_killing().await;
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        killer
            .execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE query LIKE '%read_path_terminated%' AND pid <> pg_backend_pid() \
                 AND backend_type = 'client backend'",
                &[],
            )
            .await
            .expect("terminate");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (mut answered, mut failed) = (0, 0);
    for reader in readers {
        let (a, f) = reader.await.expect("no reader panicked");
        answered += a;
        failed += f;
    }
    println!("answered {answered}, failed {failed}");
    assert!(answered > 100, "reads went on around the terminations");
    let row = pool
        .read_query_one(sql, &[&9i64])
        .await
        .expect("the path recovers");
    assert_eq!(row.get::<_, i64>(0), 63);
}

/// A pool without the read path, to terminate the read path's backends from.
async fn pool_for_killing() -> PgPool {
    pg_pool(&[PATIENT_CHECKOUT]).await
}

#[tokio::test]
async fn a_migration_that_changes_a_result_is_described_again() {
    let pool = read_pool(&[]).await;
    pool.execute("DROP TABLE IF EXISTS read_path_migrated", &[])
        .await
        .expect("drop");
    pool.execute("CREATE TABLE read_path_migrated (id int8, name text)", &[])
        .await
        .expect("create");
    pool.execute("INSERT INTO read_path_migrated VALUES (1, 'tea')", &[])
        .await
        .expect("insert");
    let sql = "SELECT * FROM read_path_migrated WHERE id = $1";
    let before = pool.read_query_one(sql, &[&1i64]).await.expect("read");
    assert_eq!(before.len(), 2);
    pool.execute(
        "ALTER TABLE read_path_migrated ADD COLUMN price int4 DEFAULT 3",
        &[],
    )
    .await
    .expect("migrate");
    let after = pool
        .read_query_one(sql, &[&1i64])
        .await
        .expect("the stale statement is described again and sent once more");
    assert_eq!(after.len(), 3);
    assert_eq!(after.get::<_, i32>("price"), 3);
}

#[tokio::test]
async fn statements_of_types_the_path_does_not_know_run_on_the_pipelined_path() {
    let pool = read_pool(&[]).await;
    pool.execute("DROP TYPE IF EXISTS read_path_mood CASCADE", &[])
        .await
        .expect("drop");
    pool.execute("CREATE TYPE read_path_mood AS ENUM ('calm', 'busy')", &[])
        .await
        .expect("create");
    let row = pool
        .read_query_one(
            "SELECT 'busy'::read_path_mood::text AS mood, 'calm'::read_path_mood AS raw",
            &[],
        )
        .await
        .expect("an enum column falls back");
    assert_eq!(row.get::<_, &str>("mood"), "busy");
}

#[tokio::test]
async fn a_lone_caller_goes_out_at_once_and_nothing_leaks_between_callers() {
    let pool = read_pool(&[]).await;
    for i in 0..50i32 {
        let row = pool
            .read_query_one("SELECT $1::int4", &[&i])
            .await
            .expect("read");
        assert_eq!(row.get::<_, i32>(0), i);
    }
    let stats = pool.stats();
    assert!(stats.read_batches >= 50, "one batch each: {stats:?}");
    assert_eq!(stats.read_statements, stats.read_batches, "{stats:?}");
    let wrong = pool.read_query("SELECT $1::int4", &[&"text"]).await;
    assert!(
        wrong.is_err(),
        "a parameter of the wrong type fails before it is sent"
    );
    let count = pool.read_query("SELECT $1::int4", &[]).await;
    assert!(count.is_err(), "so does a wrong count");
}

#[tokio::test]
async fn an_idle_read_connection_the_server_ended_is_replaced_before_a_caller_meets_it() {
    let pool = read_pool(&[("POOLSIDE_POSTGRES__READ_CONNECTIONS", "1")]).await;
    let sql = "SELECT pg_backend_pid(), 'read_path_idle_end'";
    let first: i32 = pool.read_query_one(sql, &[]).await.expect("read").get(0);
    let killer = pool_for_killing().await;
    killer
        .execute("SELECT pg_terminate_backend($1)", &[&first])
        .await
        .expect("terminate");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let second: i32 = pool
        .read_query_one(sql, &[])
        .await
        .expect("no caller meets the ended connection")
        .get(0);
    assert_ne!(first, second, "a new connection serves");
    let closed = pool.stats().closed;
    assert_eq!(closed.broken, 1, "counted as broken: {closed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_connections_retire_after_their_lifetime_and_are_counted() {
    // Lazy, with no idle connections: every connection opened is the read path's.
    let config = poolside_tests::services_config(&[
        ("POOLSIDE_POSTGRES__MAX_SIZE", "8"),
        ("POOLSIDE_POSTGRES__READ_CONNECTIONS", "2"),
        ("POOLSIDE_POSTGRES__MIN_IDLE", "0"),
        ("POOLSIDE_POSTGRES__MAX_LIFETIME", "400ms"),
        ("POOLSIDE_POSTGRES__IDLE_TIMEOUT", "300ms"),
        ("POOLSIDE_POSTGRES__LEAK_DETECTION_THRESHOLD", "off"),
    ]);
    let pool = PgPool::connect_lazy(&config.postgres).expect("the URL parses");
    let readers: Vec<_> = (0..8)
        .map(|_| {
            let pool = pool.clone();
            tokio::spawn(async move {
                let started = std::time::Instant::now();
                let mut backends = std::collections::BTreeSet::new();
                while started.elapsed() < Duration::from_millis(1_500) {
                    let row = pool
                        .read_query_one("SELECT pg_backend_pid(), 'read_path_lifetime'::text", &[])
                        .await
                        .expect("no caller meets a retiring connection");
                    backends.insert(row.get::<_, i32>(0));
                }
                backends
            })
        })
        .collect();
    let mut backends = std::collections::BTreeSet::new();
    for reader in readers {
        backends.extend(reader.await.expect("reader"));
    }
    let stats = pool.stats();
    assert!(
        backends.len() >= 5,
        "two connections of 360-400 ms over 1.5 s are replaced: {backends:?}"
    );
    assert_eq!(stats.created, backends.len() as u64, "{stats:?}");
    assert_eq!(
        stats.closed.max_lifetime,
        stats.created - u64::from(stats.read_connections),
        "every connection out of its slot counted as past its lifetime: {stats:?}"
    );
    assert_eq!(
        (
            stats.closed.broken,
            stats.closed.interrupted,
            stats.closed.retired
        ),
        (0, 0, 0),
        "{stats:?}"
    );
}

#[tokio::test]
async fn a_batch_that_does_not_encode_leaves_its_connection_serving() {
    // A NUL byte cannot go into a protocol string: the batch describing this fails to
    // encode, and nothing of it is sent.
    let pool = read_pool(&[("POOLSIDE_POSTGRES__QUERY_TIMEOUT", "5s")]).await;
    pool.read_query("SELECT 1 AS n -- \0", &[])
        .await
        .expect_err("a statement with a NUL byte does not encode");
    // Enough calls to meet both read connections, each within the query timeout.
    for i in 0..8i32 {
        let row = tokio::time::timeout(
            Duration::from_secs(5),
            pool.read_query_one("SELECT $1::int4 AS n", &[&i]),
        )
        .await
        .expect("answered within the query timeout")
        .expect("read");
        assert_eq!(row.get::<_, i32>("n"), i);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_half_of_a_large_batch_is_answered_before_the_server_runs_the_rest() {
    use std::time::Instant;

    const FAST: &str = "SELECT 1::int4";
    const SLOW: &str = "SELECT 1::int4 FROM pg_sleep(0.4)";
    let pool = read_pool(&[("POOLSIDE_POSTGRES__READ_CONNECTIONS", "1")]).await;
    for sql in [FAST, SLOW] {
        pool.read_query_one(sql, &[]).await.expect("prepared");
    }
    let before = pool.stats();
    // While one slow statement is on the wire, four fast and four slow queue: they go
    // as one batch of eight, the fast ones first.
    let blocker = pool.read_query_one(SLOW, &[]);
    let queued = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let pool = &pool;
        let timed = |sql| async move {
            pool.read_query_one(sql, &[]).await.expect("read");
            Instant::now()
        };
        futures_util::future::join_all([FAST, FAST, FAST, FAST, SLOW, SLOW, SLOW, SLOW].map(timed))
            .await
    };
    let (blocker, done) = tokio::join!(blocker, queued);
    blocker.expect("read");
    let fast_done = done[..4].iter().max().expect("four");
    let slow_done = done[4..].iter().min().expect("four");
    // Without the Flush every answer would come at the batch's Sync, 1.6 s of sleep
    // after the fast ones ran.
    assert!(
        slow_done.duration_since(*fast_done) >= Duration::from_secs(1),
        "the fast half answered {:?} before the slow half",
        slow_done.duration_since(*fast_done)
    );
    let after = pool.stats();
    assert_eq!(
        (
            after.read_batches - before.read_batches,
            after.read_statements - before.read_statements
        ),
        (2, 9),
        "the blocker alone, then one batch of eight: {after:?}"
    );
}

#[tokio::test]
async fn reconnect_retires_the_read_connections_and_counts_them() {
    let pool = read_pool(&[("POOLSIDE_POSTGRES__READ_CONNECTIONS", "1")]).await;
    let sql = "SELECT pg_backend_pid(), 'read_path_reconnect'::text";
    let before: i32 = pool.read_query_one(sql, &[]).await.expect("read").get(0);
    let retired_before = pool.stats().closed.retired;
    pool.reconnect();
    let after: i32 = pool.read_query_one(sql, &[]).await.expect("read").get(0);
    assert_ne!(
        before, after,
        "a connection opened before reconnect() served"
    );
    let stats = pool.stats();
    assert_eq!(
        stats.closed.retired,
        retired_before + 1,
        "the read connection counted as retired: {stats:?}"
    );
    assert_eq!(stats.read_connections, 1, "{stats:?}");
}
