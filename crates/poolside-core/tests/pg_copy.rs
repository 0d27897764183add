//! `COPY ... FROM STDIN` and `TO STDOUT` against the real PostgreSQL: refused on every
//! statement call before anything is sent (the driver would lose the connection, and
//! every statement pipelined on it), and carried by `client().copy_in()` and
//! `copy_out()` on a connection of `PgPool::get`, which goes back to the pool whole.

use bytes::Bytes;
use futures_util::{SinkExt as _, TryStreamExt as _};
use poolside_core::{ErrorKind, PgError, PgPool};
use poolside_tests::pg_table::TestTable;
use poolside_tests::{PATIENT_CHECKOUT, pg_pool};

/// A pool with both the pipelined and the batched read path on.
async fn pool() -> PgPool {
    pg_pool(&[
        ("POOLSIDE_POSTGRES__MAX_SIZE", "3"),
        ("POOLSIDE_POSTGRES__MIN_IDLE", "1"),
        ("POOLSIDE_POSTGRES__PIPELINE_CONNECTIONS", "1"),
        ("POOLSIDE_POSTGRES__READ_CONNECTIONS", "1"),
        PATIENT_CHECKOUT,
    ])
    .await
}

fn assert_refused(result: Result<impl std::fmt::Debug, PgError>, call: &str) {
    let error = result.expect_err(call);
    assert_eq!(error.kind(), ErrorKind::Query, "{call}: {error}");
    assert!(error.to_string().contains("copy_in"), "{call}: {error}");
}

#[tokio::test]
async fn a_copy_over_the_connection_is_refused_on_every_statement_call() {
    let pool = pool().await;
    let table = TestTable::create(&pool, "copy_refused", "id int").await;
    let statements = [
        format!("COPY {} FROM STDIN", table.name),
        format!("copy (select id from {}) to stdout", table.name),
        format!("SELECT 1; COPY {} TO STDOUT", table.name),
    ];
    let broken = pool.stats().closed.broken;
    for sql in &statements {
        assert_refused(pool.query(sql, &[]).await, "PgPool::query");
        assert_refused(pool.execute(sql, &[]).await, "PgPool::execute");
        assert_refused(pool.read_query(sql, &[]).await, "PgPool::read_query");
        let mut conn = pool.get().await.expect("a connection");
        assert_refused(conn.query(sql, &[]).await, "PgConnection::query");
        assert_refused(conn.execute(sql, &[]).await, "PgConnection::execute");
        assert_refused(conn.batch_execute(sql).await, "PgConnection::batch_execute");
        assert_refused(
            conn.query_typed(sql, &[]).await,
            "PgConnection::query_typed",
        );
        let row = conn
            .query_one("SELECT 1", &[])
            .await
            .expect("the same connection");
        assert_eq!(row.get::<_, i32>(0), 1);
    }
    for _ in 0..3 {
        pool.query_one("SELECT 1", &[]).await.expect("pipelined");
        pool.read_query_one("SELECT 1", &[])
            .await
            .expect("batched read");
    }
    assert_eq!(pool.stats().closed.broken, broken, "no connection was lost");
}

#[tokio::test]
async fn copy_in_and_copy_out_on_an_exclusive_connection_carry_the_rows() {
    let pool = pool().await;
    let table = TestTable::create(&pool, "copy_rows", "id int, name text").await;
    let rows: String = (1..=1000).map(|id| format!("{id}\tname {id}\n")).collect();
    {
        let conn = pool.get().await.expect("a connection");
        let sink = conn
            .client()
            .copy_in(&format!("COPY {} FROM STDIN", table.name))
            .await
            .expect("COPY FROM STDIN");
        let mut sink = std::pin::pin!(sink);
        sink.send(Bytes::from(rows.clone()))
            .await
            .expect("rows sent");
        assert_eq!(sink.finish().await.expect("COPY ends"), 1000);
    }
    let copied: Vec<Bytes> = {
        let conn = pool.get().await.expect("a connection");
        let sql = format!("COPY (SELECT * FROM {} ORDER BY id) TO STDOUT", table.name);
        let stream = conn.client().copy_out(&sql).await.expect("COPY TO STDOUT");
        stream.try_collect().await.expect("rows read")
    };
    assert_eq!(
        copied.concat(),
        rows.as_bytes(),
        "the rows read back as written"
    );
    let count = format!("SELECT count(*) FROM {}", table.name);
    let counted: i64 = pool.query_one(&count, &[]).await.expect("count").get(0);
    assert_eq!(counted, 1000);
}
