//! A migration under a running pool: statements cached before a table changed shape
//! (`SELECT *` after `ADD COLUMN`) fail on the server with "cached plan must not change
//! result type" (0A000). The pool prepares them again instead of passing that on, on
//! every path, so a deploy's migration does not become a burst of errors.

use poolside_core::{PgPool, PooledPgConnection, TransactionOptions};
use poolside_tests::{PATIENT_CHECKOUT, pg_pool};

/// A fresh table `name` with one row of one column.
/// Six connections, all warmed, so that every statement meets a cached one.
async fn pool() -> PgPool {
    pg_pool(&[
        ("POOLSIDE_POSTGRES__MAX_SIZE", "6"),
        ("POOLSIDE_POSTGRES__MIN_IDLE", "6"),
        PATIENT_CHECKOUT,
    ])
    .await
}

async fn table(pool: &PgPool, name: &str) {
    let mut conn = pool.get().await.expect("a connection");
    conn.batch_execute(&format!(
        "DROP TABLE IF EXISTS {name}; CREATE TABLE {name} (id int4); INSERT INTO {name} VALUES (1)"
    ))
    .await
    .expect("creates the table");
}

async fn add_column(pool: &PgPool, name: &str) {
    let mut conn = pool.get().await.expect("a connection");
    conn.batch_execute(&format!(
        "ALTER TABLE {name} ADD COLUMN note text DEFAULT 'new'"
    ))
    .await
    .expect("alters the table");
}

/// A connection that cached `SELECT *` from a fresh table `name`, which then gained a
/// column; and that statement's SQL.
async fn cached_then_changed(pool: &PgPool, name: &str) -> (PooledPgConnection, String) {
    table(pool, name).await;
    let sql = format!("SELECT * FROM {name}");
    let mut conn = pool.get().await.expect("a connection");
    conn.query_one(&sql, &[]).await.expect("before");
    add_column(pool, name).await;
    (conn, sql)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_statements_cached_before_a_migration_are_prepared_again() {
    let pool = pool().await;
    let name = "schema_change_pipelined";
    table(&pool, name).await;
    let sql = format!("SELECT * FROM {name}");
    // Cached on every shared connection.
    for _ in 0..10 {
        assert_eq!(pool.query_one(&sql, &[]).await.expect("before").len(), 1);
    }

    add_column(&pool, name).await;

    let callers: Vec<_> = (0..50)
        .map(|_| {
            let (pool, sql) = (pool.clone(), sql.clone());
            tokio::spawn(async move { pool.query_one(&sql, &[]).await })
        })
        .collect();
    for caller in callers {
        let row = caller.await.expect("task").expect("after the migration");
        assert_eq!(row.len(), 2, "the new column is there");
        assert_eq!(row.get::<_, &str>(1), "new");
    }
}

#[tokio::test]
async fn an_exclusive_connection_prepares_a_stale_statement_again() {
    let pool = pool().await;
    let (mut conn, sql) = cached_then_changed(&pool, "schema_change_exclusive").await;

    let row = conn
        .query_one(&sql, &[])
        .await
        .expect("after the migration");
    assert_eq!(row.len(), 2);
    assert_eq!(
        poolside_tests::named_statements(conn.client()).await,
        1,
        "the stale statement was replaced"
    );
}

#[tokio::test]
async fn a_transaction_that_meets_a_stale_statement_runs_again_and_no_other_does() {
    let pool = pool().await;
    let name = "schema_change_transaction";
    table(&pool, name).await;
    let sql = format!("SELECT * FROM {name}");
    let insert = format!("INSERT INTO {name} (id) VALUES (2)");
    // Cache the statement on every connection of the pool.
    let mut held = Vec::new();
    for _ in 0..6 {
        let mut conn = pool.get().await.expect("a connection");
        conn.query_one(&sql, &[]).await.expect("before");
        held.push(conn);
    }
    drop(held);

    add_column(&pool, name).await;

    // bb8 hands idle connections out in turn, so six transactions in a row meet all
    // six caches: only the first meets the stale statement, and the change it found
    // empties every cache of the pool.
    let retries_before = pool.stats().transaction_retries;
    for _ in 0..6 {
        let columns = pool
            .transaction(TransactionOptions::default(), async |tx| {
                tx.execute(&insert, &[]).await?;
                Ok(tx.query(&sql, &[]).await?[0].len())
            })
            .await
            .expect("commits");
        assert_eq!(columns, 2);
    }
    assert_eq!(pool.stats().transaction_retries, retries_before + 1);
    let inserted: i64 = pool
        .query_one(&format!("SELECT count(*) FROM {name} WHERE id = 2"), &[])
        .await
        .expect("counts")
        .get(0);
    assert_eq!(inserted, 6, "each insert committed once, not once per run");
}

#[tokio::test]
async fn inside_a_transaction_of_the_callers_own_the_servers_error_is_kept() {
    let pool = pool().await;
    let (mut conn, sql) = cached_then_changed(&pool, "schema_change_manual_transaction").await;

    conn.batch_execute("BEGIN").await.expect("begins");
    let error = conn
        .query_one(&sql, &[])
        .await
        .expect_err("the transaction is aborted by the stale plan");
    assert_eq!(
        error.code().map(|c| c.code()),
        Some("0A000"),
        "the server's own error, not 25P02 from a retry: {error}"
    );
    conn.batch_execute("ROLLBACK").await.expect("rolls back");
    assert_eq!(conn.query_one(&sql, &[]).await.expect("after").len(), 2);
}
