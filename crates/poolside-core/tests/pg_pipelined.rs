//! `PgConnection::execute_pipelined` (statements of a transaction sent without waiting
//! for their answers) against the real PostgreSQL.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use poolside_core::{ErrorKind, PgPool, TransactionOptions};
use poolside_tests::fault_proxy::Mode;
use poolside_tests::pg_table::TestTable;
use poolside_tests::round_trips::{assert_round_trips, one_connection_through_proxy};
use poolside_tests::{pg_pool, required_env};

/// A pool of `size` connections whose connections carry `application_name`.
async fn pool(application_name: &str, size: &str) -> PgPool {
    let url = format!(
        "{}?application_name={application_name}",
        required_env("DATABASE_URL")
    );
    pg_pool(&[
        ("DATABASE_URL", &url),
        ("POOLSIDE_POSTGRES__MAX_SIZE", size),
    ])
    .await
}

/// Connections of `application_name` the server sees inside a transaction or running
/// a statement.
async fn busy_sessions(pool: &PgPool, application_name: &str) -> i64 {
    let mut conn = pool.get().await.expect("get");
    conn.query_one(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 \
         AND pid <> pg_backend_pid() AND state <> 'idle'",
        &[&application_name],
    )
    .await
    .expect("pg_stat_activity")
    .get(0)
}

#[tokio::test]
async fn pipelined_statements_commit_with_the_transaction() {
    let pool = pool("poolside-pipelined-commit", "2").await;
    let table = TestTable::create(&pool, "pipelined_commit", "id int PRIMARY KEY, note text").await;
    let insert = format!("INSERT INTO {} VALUES ($1, $2)", table.name);
    let changed = pool
        .transaction(TransactionOptions::default(), async |tx| {
            tx.execute_pipelined(&insert, &[&1_i32, &"one"]).await?;
            tx.execute_pipelined(&insert, &[&2_i32, &None::<String>])
                .await?;
            // A statement awaited after pipelined ones sees what they wrote.
            let seen: i64 = tx
                .query_one(&format!("SELECT count(*) FROM {}", table.name), &[])
                .await?
                .get(0);
            tx.execute_pipelined(&insert, &[&3_i32, &"three"]).await?;
            let changed = tx
                .execute(&format!("UPDATE {} SET note = 'x'", table.name), &[])
                .await?;
            tx.execute_pipelined(&insert, &[&4_i32, &"four"]).await?;
            Ok((seen, changed))
        })
        .await
        .expect("commits");
    assert_eq!(changed, (2, 3));
    assert_eq!(
        table.count().await,
        4,
        "every pipelined statement committed"
    );
    let mut conn = pool.get().await.expect("get");
    let note: Option<String> = conn
        .query_one(
            &format!("SELECT note FROM {} WHERE id = 4", table.name),
            &[],
        )
        .await
        .expect("row")
        .get(0);
    assert_eq!(note.as_deref(), Some("four"));
    drop(conn);
    table.drop_table().await;
}

#[tokio::test]
async fn a_failed_pipelined_statement_fails_the_transaction_with_its_own_error() {
    let name = "poolside-pipelined-fails";
    let pool = pool(name, "1").await;
    let table = TestTable::create(&pool, "pipelined_fails", "id int PRIMARY KEY").await;
    let insert = format!("INSERT INTO {} VALUES ($1)", table.name);
    let runs = AtomicU32::new(0);

    // Found at COMMIT: the duplicate key, not the "transaction is aborted" the server
    // gave the statements after it, and nothing is written.
    let err = pool
        .transaction(TransactionOptions::default(), async |tx| {
            runs.fetch_add(1, Ordering::SeqCst);
            for id in [1_i32, 2, 1, 3] {
                tx.execute_pipelined(&insert, &[&id]).await?;
            }
            Ok(())
        })
        .await
        .expect_err("duplicate key");
    assert_eq!(err.kind(), ErrorKind::UniqueViolation, "{err}");
    assert_eq!(err.code().map(|c| c.code()), Some("23505"), "{err}");
    assert!(err.to_string().contains("pipelined"), "{err}");
    assert_eq!(
        runs.load(Ordering::SeqCst),
        1,
        "a unique violation is not re-run"
    );
    assert_eq!(
        table.count().await,
        0,
        "the rows before it were rolled back"
    );

    // Found by the next awaited statement: its error is the pipelined one's.
    let err = pool
        .transaction(TransactionOptions::default(), async |tx| {
            tx.execute_pipelined("SELECT 1 / $1", &[&0_i32]).await?;
            tx.execute(&insert, &[&7_i32]).await?;
            Ok(())
        })
        .await
        .expect_err("division by zero");
    assert_eq!(err.code().map(|c| c.code()), Some("22012"), "{err}");
    assert_eq!(table.count().await, 0);

    // The pool's one connection is whole: idle, outside a transaction, and usable.
    assert_eq!(busy_sessions(&pool, name).await, 0);
    pool.transaction(TransactionOptions::default(), async |tx| {
        tx.execute_pipelined(&insert, &[&1_i32]).await
    })
    .await
    .expect("the next transaction commits");
    assert_eq!(table.count().await, 1);
    assert_eq!(
        pool.stats().closed.interrupted,
        0,
        "no connection was discarded"
    );
    table.drop_table().await;
}

#[tokio::test]
async fn it_fails_at_once_outside_a_transaction_and_on_parameters_that_do_not_fit() {
    let pool = pool("poolside-pipelined-refused", "1").await;
    let table = TestTable::create(&pool, "pipelined_refused", "id int").await;
    let insert = format!("INSERT INTO {} VALUES ($1)", table.name);

    let mut conn = pool.get().await.expect("get");
    let err = conn
        .execute_pipelined(&insert, &[&1_i32])
        .await
        .expect_err("not in a transaction");
    assert_eq!(err.kind(), ErrorKind::Query);
    assert!(
        err.to_string().contains("only inside PgPool::transaction"),
        "{err}"
    );
    drop(conn);

    let wrong_type = pool
        .transaction(TransactionOptions::default(), async |tx| {
            tx.execute_pipelined(&insert, &[&"one"]).await
        })
        .await
        .expect_err("text for an int");
    assert!(
        wrong_type
            .to_string()
            .contains("parameter $1 does not convert"),
        "{wrong_type}"
    );
    let wrong_count = pool
        .transaction(TransactionOptions::default(), async |tx| {
            tx.execute_pipelined(&insert, &[&1_i32, &2_i32]).await
        })
        .await
        .expect_err("two for one");
    assert!(
        wrong_count
            .to_string()
            .contains("takes 1 parameters and 2 were given"),
        "{wrong_count}"
    );
    assert_eq!(table.count().await, 0, "nothing was written");
    table.drop_table().await;
}

/// The driver stops reading the connection while a request's answer is unread: a
/// pipelined statement with many rows must be read while later ones run, or COMMIT
/// would wait for it until the query timeout.
#[tokio::test]
async fn a_pipelined_statement_returning_many_rows_does_not_stall_the_connection() {
    let pool = pg_pool(&[
        ("DATABASE_URL", &required_env("DATABASE_URL")),
        ("POOLSIDE_POSTGRES__MAX_SIZE", "1"),
        ("POOLSIDE_POSTGRES__QUERY_TIMEOUT", "5s"),
    ])
    .await;
    let table = TestTable::create(&pool, "pipelined_rows", "id int, value int").await;
    pool.get()
        .await
        .expect("get")
        .batch_execute(&format!(
            "INSERT INTO {} SELECT id, 0 FROM generate_series(1, 50000) AS id",
            table.name
        ))
        .await
        .expect("fill");
    let update = format!("UPDATE {} SET value = value + 1 RETURNING *", table.name);
    let started = Instant::now();
    pool.transaction(TransactionOptions::default(), async |tx| {
        tx.execute_pipelined(&update, &[]).await?;
        tx.execute_pipelined(&update, &[]).await
    })
    .await
    .expect("commits");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "took {:?}: the answers were not read while COMMIT waited",
        started.elapsed()
    );
    let mut conn = pool.get().await.expect("get");
    let sum: i64 = conn
        .query_one(&format!("SELECT sum(value)::int8 FROM {}", table.name), &[])
        .await
        .expect("sum")
        .get(0);
    assert_eq!(sum, 100_000, "both updates committed");
    drop(conn);
    table.drop_table().await;
}

#[tokio::test]
async fn a_dropped_transaction_with_pipelined_statements_is_cancelled_and_discarded() {
    // Its own name: sessions of another run of this test are not counted.
    let name = &format!("poolside-pipelined-dropped-{}", std::process::id());
    let pool = pool(name, "2").await;
    let table = TestTable::create(&pool, "pipelined_dropped", "id int").await;
    let insert = format!("INSERT INTO {} VALUES (1)", table.name);
    let _ = tokio::time::timeout(
        Duration::from_millis(300),
        pool.transaction(TransactionOptions::default(), async |tx| {
            tx.execute_pipelined(&insert, &[]).await?;
            tx.execute_pipelined("SELECT pg_sleep(30)", &[]).await?;
            // The caller gives up while the server runs the sleep.
            tokio::time::sleep(Duration::from_secs(30)).await;
            Ok(())
        }),
    )
    .await
    .expect_err("the caller gave up");
    // The cancel goes out at once and again a moment later.
    let deadline = Instant::now() + Duration::from_secs(5);
    while busy_sessions(&pool, name).await > 0 {
        assert!(
            Instant::now() < deadline,
            "the pipelined sleep still runs, or a connection was left in a transaction"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(table.count().await, 0, "the server rolled it back");
    assert!(pool.stats().closed.interrupted >= 1);
    table.drop_table().await;
}

#[tokio::test]
async fn a_pipelined_statement_made_stale_by_a_migration_reruns_the_transaction() {
    let pool = pool("poolside-pipelined-stale", "1").await;
    let table = TestTable::create(&pool, "pipelined_stale", "id int").await;
    let select = format!("SELECT * FROM {}", table.name);
    // Prepared and cached on the pool's one connection.
    pool.get()
        .await
        .expect("get")
        .query(&select, &[])
        .await
        .expect("select");
    let migrate = pg_pool(&[("DATABASE_URL", &required_env("DATABASE_URL"))]).await;
    migrate
        .get()
        .await
        .expect("get")
        .batch_execute(&format!("ALTER TABLE {} ADD COLUMN note text", table.name))
        .await
        .expect("migrate");
    let runs = AtomicU32::new(0);
    pool.transaction(TransactionOptions::default(), async |tx| {
        runs.fetch_add(1, Ordering::SeqCst);
        tx.execute_pipelined(&select, &[]).await
    })
    .await
    .expect("commits on the second run");
    assert_eq!(
        runs.load(Ordering::SeqCst),
        2,
        "the stale statement re-ran the whole transaction"
    );
    assert_eq!(pool.stats().transaction_retries, 1);
    table.drop_table().await;
}

/// Round trips, counted on a slow network: every chunk the proxy forwards waits
/// `DELAY`, so one round trip costs two of them. A statement whose answer is needed,
/// then three pipelined ones and COMMIT: two round trips, not five.
#[tokio::test]
async fn pipelined_statements_share_commits_round_trip() {
    const DELAY: Duration = Duration::from_millis(100);
    let (proxy, pool) = one_connection_through_proxy().await;
    let once = || {
        pool.transaction(TransactionOptions::default(), async |tx| {
            let one: i32 = tx.query_one("SELECT 1", &[]).await?.get(0);
            for n in [1_i32, 2, 3] {
                tx.execute_pipelined("SELECT $1::int + $2", &[&one, &n])
                    .await?;
            }
            Ok(())
        })
    };
    // Untimed: prepares the statements on the connection.
    once().await.expect("runs");
    proxy.set_mode(Mode::Delay(DELAY));
    let started = Instant::now();
    once().await.expect("runs");
    assert_round_trips(started.elapsed(), DELAY, 2);
}
