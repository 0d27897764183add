//! `PgPool` through the real PgBouncer in transaction mode.

use poolside_core::tokio_postgres::types::Type;
use poolside_core::{ErrorKind, PgPool, TransactionOptions};
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

#[tokio::test]
async fn untyped_parameters_are_refused_with_what_to_do() {
    let pool = pool().await;
    let mut conn = pool.get().await.expect("get");
    let err = conn
        .query("SELECT $1::int4", &[&1i32])
        .await
        .expect_err("needs types");
    assert_eq!(err.kind(), ErrorKind::Query);
    assert!(err.to_string().contains("query_typed"), "{err}");
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
