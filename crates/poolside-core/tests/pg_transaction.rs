//! `PgPool::transaction` against the real PostgreSQL.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use poolside_core::{ErrorKind, IsolationLevel, PgPool, TransactionOptions};
use poolside_resilience::{Backoff, Classify, Failure, Jitter};
use poolside_tests::fault_proxy::Mode;
use poolside_tests::pg_table::TestTable;
use poolside_tests::round_trips::{assert_round_trips, one_connection_through_proxy};
use poolside_tests::{pg_pool, required_env};

async fn pool() -> PgPool {
    named_pool("poolside").await
}

/// A pool whose connections carry `application_name`, to tell them apart on the server.
async fn named_pool(application_name: &str) -> PgPool {
    let url = format!(
        "{}?application_name={application_name}",
        required_env("DATABASE_URL")
    );
    pg_pool(&[
        ("DATABASE_URL", &url),
        ("POOLSIDE_POSTGRES__MAX_SIZE", "10"),
    ])
    .await
}

#[tokio::test]
async fn commits_on_ok_and_rolls_back_on_error() {
    let pool = pool().await;
    let table = TestTable::create(&pool, "tx_commit", "id int PRIMARY KEY").await;
    let insert = format!("INSERT INTO {} VALUES ($1)", table.name);
    let n: u64 = pool
        .transaction(TransactionOptions::default(), async |tx| {
            tx.execute(&insert, &[&1i32]).await
        })
        .await
        .expect("commits");
    assert_eq!((n, table.count().await), (1, 1));

    let err = pool
        .transaction(TransactionOptions::default(), async |tx| {
            tx.execute(&insert, &[&2i32]).await?;
            tx.query_one("SELECT 1/0", &[]).await.map(drop)
        })
        .await
        .expect_err("division by zero");
    assert_eq!(err.kind(), ErrorKind::Query);
    assert_eq!(
        err.code().map(|c| c.code()),
        Some("22012"),
        "keeps its SQLSTATE: {err}"
    );
    assert_eq!(
        table.count().await,
        1,
        "the insert before the error was rolled back"
    );
    table.drop_table().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forced_serialization_failure_reruns_the_whole_closure() {
    let pool = pool().await;
    let table = TestTable::create(&pool, "tx_serial", "class int, value int").await;
    // Each transaction reads one class and writes the other: under SERIALIZABLE, when
    // both read before either writes, one must fail with 40001 and run again.
    let both_read = Arc::new(tokio::sync::Barrier::new(2));
    let runs = Arc::new(AtomicU32::new(0));
    // Room for re-runs that collide again: on a loaded machine both can re-run within
    // the same few milliseconds and conflict once more (one CI run saw a third 40001).
    let options = TransactionOptions::default()
        .isolation(IsolationLevel::Serializable)
        .attempts(10);
    let tasks: Vec<_> = [(1, 2), (2, 1)]
        .into_iter()
        .map(|(read, write)| {
            let (pool, options, name) = (pool.clone(), options.clone(), table.name.clone());
            let (both_read, runs) = (Arc::clone(&both_read), Arc::clone(&runs));
            tokio::spawn(async move {
                // State the runs share lives outside the closure, which borrows it.
                let first_run = AtomicBool::new(true);
                pool.transaction(options, async |tx| {
                    let wait = first_run.swap(false, Ordering::SeqCst);
                    runs.fetch_add(1, Ordering::SeqCst);
                    let sum: i64 = tx
                        .query_one(
                            &format!(
                                "SELECT coalesce(sum(value), 0)::int8 FROM {name} WHERE class = $1"
                            ),
                            &[&read],
                        )
                        .await?
                        .get(0);
                    if wait {
                        both_read.wait().await;
                    }
                    tx.execute(
                        &format!("INSERT INTO {name} VALUES ($1, $2)"),
                        &[&write, &(sum as i32 + 1)],
                    )
                    .await
                })
                .await
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("task").expect("both commit in the end");
    }
    // At least one of the two ran again; a re-run can meet the other transaction and
    // fail once more, so the exact count varies. Each re-run is counted.
    let runs = runs.load(Ordering::SeqCst);
    assert!(runs >= 3, "one of the two ran again: {runs} runs");
    assert_eq!(
        pool.stats().transaction_retries,
        u64::from(runs - 2),
        "every re-run is counted"
    );
    assert_eq!(table.count().await, 2);
    table.drop_table().await;
}

#[tokio::test]
async fn a_unique_violation_is_not_retried() {
    let pool = pool().await;
    let table = TestTable::create(&pool, "tx_unique", "id int PRIMARY KEY").await;
    let runs = AtomicU32::new(0);
    let insert = format!("INSERT INTO {} VALUES (1)", table.name);
    let err = pool
        .transaction(TransactionOptions::default(), async |tx| {
            runs.fetch_add(1, Ordering::SeqCst);
            tx.execute(&insert, &[]).await?;
            tx.execute(&insert, &[]).await
        })
        .await
        .expect_err("duplicate key");
    assert_eq!(err.kind(), ErrorKind::UniqueViolation, "{err}");
    assert_eq!(
        err.failure(),
        Failure::Permanent,
        "never retried by the retry layer"
    );
    assert_eq!(err.code().map(|c| c.code()), Some("23505"));
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    assert_eq!(pool.stats().transaction_retries, 0);
    assert_eq!(table.count().await, 0);
    table.drop_table().await;
}

#[tokio::test]
async fn each_run_after_the_first_waits_out_the_backoff() {
    let pool = pool().await;
    let runs = AtomicU32::new(0);
    // The wait is a floor (tokio sleeps at least that long), so the test cannot flake
    // on a slow machine; with the old fixed backoff it waited at most 10 ms.
    let backoff = Backoff::new(
        Duration::from_millis(400),
        Duration::from_millis(400),
        Jitter::None,
    );
    let started = std::time::Instant::now();
    let err = pool
        .transaction(
            TransactionOptions::default().attempts(2).backoff(backoff),
            async |tx| {
                runs.fetch_add(1, Ordering::SeqCst);
                tx.batch_execute(
                    "DO $$ BEGIN RAISE EXCEPTION 'conflict' USING ERRCODE = '40001'; END $$",
                )
                .await
            },
        )
        .await
        .expect_err("both runs fail with 40001");
    assert_eq!(err.kind(), ErrorKind::Serialization, "{err}");
    assert_eq!(runs.load(Ordering::SeqCst), 2);
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "the second run waited the backoff: {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_transaction_past_its_timeout_is_rolled_back() {
    let pool = pool().await;
    let table = TestTable::create(&pool, "tx_timeout", "id int").await;
    let insert = format!("INSERT INTO {} VALUES (1)", table.name);
    let options = TransactionOptions::default().timeout(Duration::from_millis(300));
    for slow in ["SELECT pg_sleep(2)", "client"] {
        let err = pool
            .transaction(options.clone(), async |tx| {
                tx.execute(&insert, &[]).await?;
                if slow == "client" {
                    tokio::time::sleep(Duration::from_secs(2)).await;
                } else {
                    tx.query(slow, &[]).await?;
                }
                Ok(())
            })
            .await
            .expect_err("times out");
        assert_eq!(err.kind(), ErrorKind::Cancelled, "{err}");
        assert_eq!(table.count().await, 0, "rolled back ({slow})");
    }
    table.drop_table().await;
}

#[tokio::test]
async fn a_dropped_transaction_never_returns_its_connection_inside_a_transaction() {
    let name = "poolside-tx-dropped";
    let pool = named_pool(name).await;
    let table = TestTable::create(&pool, "tx_dropped", "id int").await;
    let insert = format!("INSERT INTO {} VALUES (1)", table.name);
    // The caller gives up between two statements (its future is dropped).
    let _ = tokio::time::timeout(
        Duration::from_millis(300),
        pool.transaction(TransactionOptions::default(), async |tx| {
            tx.execute(&insert, &[]).await?;
            tokio::time::sleep(Duration::from_secs(5)).await;
            Ok(())
        }),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut conn = pool.get().await.expect("get");
    let open: i64 = conn
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND state LIKE 'idle in transaction%'",
            &[&name],
        )
        .await
        .expect("pg_stat_activity")
        .get(0);
    assert_eq!(open, 0, "a connection was left inside a transaction");
    drop(conn);
    assert_eq!(table.count().await, 0, "the server rolled it back");
    assert!(pool.stats().closed.interrupted >= 1);
    table.drop_table().await;
}

/// Round trips, counted on a slow network: every chunk the proxy forwards waits
/// `DELAY`, so one round trip costs two of them, and a transaction of one statement
/// costs two round trips (BEGIN with the statement, then COMMIT), not three.
#[tokio::test]
async fn begin_shares_its_round_trip_with_the_first_statement() {
    const DELAY: Duration = Duration::from_millis(100);
    let (proxy, pool) = one_connection_through_proxy().await;
    let once = || {
        pool.transaction(TransactionOptions::default(), async |tx| {
            tx.batch_execute("SELECT 1").await
        })
    };
    // Untimed, fast: the connection is open and used just now (no liveness check).
    once().await.expect("runs");
    proxy.set_mode(Mode::Delay(DELAY));
    let started = Instant::now();
    once().await.expect("runs");
    assert_round_trips(started.elapsed(), DELAY, 2);
}
