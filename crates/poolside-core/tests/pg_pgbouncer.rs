//! `PgPool` through the real PgBouncer in transaction mode.

use poolside_core::tokio_postgres::types::Type;
use poolside_core::{PgPool, TransactionOptions};
use poolside_tests::{load_config, required_env};

async fn pool() -> PgPool {
    let url = required_env("PGBOUNCER_URL");
    let config = load_config(&[("DATABASE_URL", &url), ("POOLSIDE_PROFILE", "test")]);
    assert!(
        config.config.postgres.pgbouncer,
        "pgbouncer=true in the URL"
    );
    PgPool::connect(&config.config.postgres)
        .await
        .expect("connects through PgBouncer")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unnamed_statements_work_and_nothing_is_cached() {
    let pool = pool().await;
    let tasks: Vec<_> = (0..100i32)
        .map(|i| {
            let pool = pool.clone();
            tokio::spawn(async move {
                let mut conn = pool.get().await?;
                let typed = conn
                    .query_typed("SELECT $1::int4 + 1", &[(&i, Type::INT4)])
                    .await?;
                let plain = conn.query_one("SELECT 7::int4", &[]).await?;
                assert_eq!(
                    conn.cached_statements(),
                    0,
                    "no statement cache in PgBouncer mode"
                );
                Ok::<_, poolside_core::PgError>((typed[0].get::<_, i32>(0), plain.get::<_, i32>(0)))
            })
        })
        .collect();
    for (i, task) in tasks.into_iter().enumerate() {
        assert_eq!(task.await.expect("task").expect("query"), (i as i32 + 1, 7));
    }
}

/// Statements with untyped parameters run prepared inside a transaction of their own;
/// many at once, over few server connections, never meet a statement another client
/// left behind (`42P05 prepared statement already exists`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untyped_parameters_run_in_a_transaction_of_their_own() {
    let pool = pool().await;
    let tasks: Vec<_> = (0..200i32)
        .map(|i| {
            let pool = pool.clone();
            tokio::spawn(async move {
                let row = pool.query_one("SELECT $1::int4 * 2", &[&i]).await?;
                let changed = pool
                    .execute("SELECT generate_series(1, $1::int4)", &[&(i % 5 + 1)])
                    .await?;
                Ok::<_, poolside_core::PgError>((row.get::<_, i32>(0), changed))
            })
        })
        .collect();
    for (i, task) in tasks.into_iter().enumerate() {
        let i = i as i32;
        assert_eq!(
            task.await.expect("task").expect("runs through PgBouncer"),
            (i * 2, u64::try_from(i % 5 + 1).expect("small"))
        );
    }
    let mut conn = pool.get().await.expect("get");
    let open: i64 = conn
        .query_typed("SELECT count(*) FROM pg_prepared_statements", &[])
        .await
        .expect("reads")[0]
        .get(0);
    assert_eq!(open, 0, "a named statement was left on a server connection");
}

#[tokio::test]
async fn transactions_work_in_transaction_mode() {
    let pool = pool().await;
    let table = format!("pgb_tx_{}", std::process::id());
    let mut conn = pool.get().await.expect("get");
    conn.batch_execute(&format!(
        "DROP TABLE IF EXISTS {table}; CREATE TABLE {table} (id int)"
    ))
    .await
    .expect("create");
    drop(conn);
    let insert = format!("INSERT INTO {table} SELECT generate_series(1, 3)");
    let count = format!("SELECT count(*) FROM {table}");
    let seen: i64 = pool
        .transaction(TransactionOptions::default(), |tx| {
            let (insert, count) = (insert.clone(), count.clone());
            Box::pin(async move {
                tx.execute(&insert, &[]).await?;
                // Same server connection for the whole transaction: the rows are seen.
                Ok(tx.query_typed(&count, &[]).await?[0].get(0))
            })
        })
        .await
        .expect("commits");
    assert_eq!(seen, 3);
    let mut conn = pool.get().await.expect("get");
    conn.batch_execute(&format!("DROP TABLE {table}"))
        .await
        .expect("drop");
}
