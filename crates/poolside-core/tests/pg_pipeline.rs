//! The pipelined path (`PgPool::query` and friends) against the real PostgreSQL.

use std::time::Duration;

use poolside_core::PgPool;
use poolside_tests::{PATIENT_CHECKOUT, pg_pool};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_callers_share_a_few_connections() {
    let pool = pg_pool(&[("POOLSIDE_POSTGRES__MAX_SIZE", "20"), PATIENT_CHECKOUT]).await;
    let tasks: Vec<_> = (0..1000i32)
        .map(|i| {
            let pool = pool.clone();
            tokio::spawn(async move {
                let row = pool.query_one("SELECT $1::int4 + 1", &[&i]).await?;
                Ok::<i32, poolside_core::PgError>(row.get(0))
            })
        })
        .collect();
    for (i, task) in tasks.into_iter().enumerate() {
        assert_eq!(task.await.expect("task").expect("query"), i as i32 + 1);
    }
    let stats = pool.stats();
    assert!(
        stats.pipelined >= 1 && stats.pipelined <= 2,
        "the default shares two: {stats:?}"
    );
    assert!(
        stats.active >= stats.pipelined,
        "leased connections count as active: {stats:?}"
    );
    assert!(stats.total <= 20 && stats.created <= 20, "{stats:?}");
    assert_eq!(stats.total, stats.active + stats.idle);
}

#[tokio::test]
async fn the_pipeline_never_takes_what_get_needs() {
    // max_size 3: the pipeline shares at most two connections; one stays for get().
    let pool = pg_pool(&[("POOLSIDE_POSTGRES__MAX_SIZE", "3"), PATIENT_CHECKOUT]).await;
    for _ in 0..10 {
        pool.execute("SELECT 1", &[]).await.expect("pipelined");
    }
    assert_eq!(pool.stats().pipelined, 2);
    let held: Vec<_> = hold_exclusive(&pool, 1).await;
    assert_eq!(pool.stats().active, 3);
    assert_eq!(
        pool.query_one("SELECT 2::int4", &[])
            .await
            .expect("pipelined")
            .get::<_, i32>(0),
        2
    );
    drop(held);
}

async fn hold_exclusive(pool: &PgPool, n: usize) -> Vec<poolside_core::PooledPgConnection> {
    let mut held = Vec::new();
    for _ in 0..n {
        held.push(pool.get().await.expect("exclusive"));
    }
    held
}

#[tokio::test]
async fn a_repeated_statement_is_prepared_once_on_the_shared_connection() {
    let pool = pg_pool(&[("POOLSIDE_POSTGRES__MAX_SIZE", "4"), PATIENT_CHECKOUT]).await;
    let sql = "SELECT 'prepared-once-check'::text";
    for _ in 0..200 {
        pool.query_one(sql, &[]).await.expect("query");
    }
    let prepared: i64 = pool
        .query_one(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement = $1",
            &[&sql],
        )
        .await
        .expect("pg_prepared_statements")
        .get(0);
    assert_eq!(prepared, 1);
}

#[tokio::test]
async fn close_gives_the_shared_connections_back() {
    let pool = pg_pool(&[("POOLSIDE_POSTGRES__MAX_SIZE", "8"), PATIENT_CHECKOUT]).await;
    pool.query("SELECT 1", &[]).await.expect("query");
    assert!(pool.stats().pipelined >= 1);
    assert_eq!(
        pool.close(Duration::from_secs(2)).await,
        0,
        "nothing left in use"
    );
    assert_eq!((pool.stats().pipelined, pool.stats().total), (0, 0));
    assert!(pool.query("SELECT 1", &[]).await.is_err());
}

#[tokio::test]
async fn a_pool_of_one_serves_both_paths() {
    let pool = pg_pool(&[("POOLSIDE_POSTGRES__MAX_SIZE", "1"), PATIENT_CHECKOUT]).await;
    assert_eq!(
        pool.query_one("SELECT 5::int4", &[])
            .await
            .expect("query")
            .get::<_, i32>(0),
        5
    );
    let mut conn = pool.get().await.expect("get is not starved");
    conn.query_one("SELECT 1", &[]).await.expect("query");
    assert_eq!(pool.stats().pipelined, 0);
}
