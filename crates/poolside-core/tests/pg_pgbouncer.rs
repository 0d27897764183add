//! `PgPool` through the real PgBouncer in transaction mode.

use poolside_core::tokio_postgres::types::Type;
use poolside_core::{PgPool, TransactionOptions};
use poolside_tests::{pg_pool, required_env};

/// A pool through PgBouncer (`?pgbouncer=true` in `PGBOUNCER_URL`).
async fn pool() -> PgPool {
    let pool = pg_pool(&[("DATABASE_URL", &required_env("PGBOUNCER_URL"))]).await;
    assert!(pool.config().pgbouncer, "pgbouncer=true in the URL");
    pool
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
                    poolside_tests::named_statements(conn.client()).await,
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

/// Statements with untyped parameters learn their types in a transaction of their own;
/// many at once, over few server connections, never meet a statement another client
/// left behind (`42P05 prepared statement already exists`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parameterised_statements_leave_no_named_statement_behind() {
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
    let insert_one = format!("INSERT INTO {table} VALUES ($1)");
    let seen: i64 = pool
        .transaction(TransactionOptions::default(), async |tx| {
            tx.execute(&insert, &[]).await?;
            // Runs as `execute` does here (unnamed, its types learnt first), awaited.
            tx.execute_pipelined(&insert_one, &[&4_i32]).await?;
            // Same server connection for the whole transaction: the rows are seen.
            Ok(tx.query_typed(&count, &[]).await?[0].get(0))
        })
        .await
        .expect("commits");
    assert_eq!(seen, 4);
    let mut conn = pool.get().await.expect("get");
    conn.batch_execute(&format!("DROP TABLE {table}"))
        .await
        .expect("drop");
}

/// The parameter types of a statement are learnt once for the whole pool, on the
/// pipelined and the exclusive path alike; after that every run is one round trip.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parameter_types_are_learnt_once_per_pool() {
    let pool = pool().await;
    assert_eq!(pool.stats().param_types_learnt, 0);
    let tasks: Vec<_> = (0..200i32)
        .map(|i| {
            let pool = pool.clone();
            tokio::spawn(async move {
                let row = if i % 2 == 0 {
                    pool.query_one("SELECT $1::int4 * 3", &[&i]).await?
                } else {
                    let mut conn = pool.get().await?;
                    conn.query_one("SELECT $1::int4 * 3", &[&i]).await?
                };
                Ok::<_, poolside_core::PgError>(row.get::<_, i32>(0))
            })
        })
        .collect();
    for (i, task) in tasks.into_iter().enumerate() {
        assert_eq!(task.await.expect("task").expect("query"), i as i32 * 3);
    }
    assert_eq!(
        pool.stats().param_types_learnt,
        1,
        "200 callers on both paths learnt the types once"
    );
    pool.execute("SELECT $1::int8", &[&5i64])
        .await
        .expect("runs");
    pool.query("SELECT 1", &[]).await.expect("runs");
    assert_eq!(
        pool.stats().param_types_learnt,
        2,
        "a second statement learns its own; one without parameters learns nothing"
    );
}

/// A migration that changes a parameter's type: the cached types are refused (by the
/// driver, or by the server as a type error), learnt again once, and the statement
/// sent again; inside a transaction the server's refusal runs the transaction again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_migration_that_changes_parameter_types_is_learnt_again() {
    let pool = pool().await;
    let table = format!("pgb_types_{}", std::process::id());
    let migrate = |sql: String| {
        let pool = pool.clone();
        async move {
            let mut conn = pool.get().await.expect("get");
            conn.batch_execute(&sql).await.expect("migration");
        }
    };
    migrate(format!(
        "DROP TABLE IF EXISTS {table}; CREATE TABLE {table} (id int4, v int4)"
    ))
    .await;
    let insert = format!("INSERT INTO {table} VALUES ($1, $2)");
    let select = format!("SELECT id FROM {table} WHERE v = $1");
    let learnt = || pool.stats().param_types_learnt;

    pool.execute(&insert, &[&1i32, &10i32])
        .await
        .expect("insert");
    let id: i32 = pool
        .query_one(&select, &[&10i32])
        .await
        .expect("select")
        .get(0);
    assert_eq!((id, learnt()), (1, 2));

    migrate(format!("ALTER TABLE {table} ALTER COLUMN v TYPE int8")).await;
    // The driver refuses an i64 for the cached int4: learnt again, sent again.
    pool.execute(&insert, &[&2i32, &20i64])
        .await
        .expect("pipelined insert after the migration");
    let mut conn = pool.get().await.expect("get");
    let id: i32 = conn
        .query_one(&select, &[&20i64])
        .await
        .expect("exclusive select")
        .get(0);
    drop(conn);
    assert_eq!((id, learnt()), (2, 4));

    migrate(format!("ALTER TABLE {table} ALTER COLUMN v TYPE text")).await;
    // Inside a transaction, the driver's refusal sent nothing: learnt again in place.
    let id: i32 = pool
        .transaction(TransactionOptions::default(), async |tx| {
            Ok(tx.query_one(&select, &[&"20"]).await?.get(0))
        })
        .await
        .expect("transaction after the migration");
    assert_eq!((id, learnt()), (2, 5));
    assert_eq!(pool.stats().transaction_retries, 0);

    migrate(format!(
        "ALTER TABLE {table} ALTER COLUMN v TYPE int8 USING v::int8"
    ))
    .await;
    // A &str fits the cached text, and the server refuses `bigint = text` (42883),
    // which aborts the transaction: it runs again, learns int8, and the caller's &str
    // is then refused as the caller's own mistake, naming the type.
    let error = pool
        .transaction(TransactionOptions::default(), async |tx| {
            Ok(tx.query_one(&select, &[&"20"]).await?.get::<_, i32>(0))
        })
        .await
        .expect_err("a &str for an int8");
    assert!(error.to_string().contains("int8"), "{error}");
    assert_eq!((learnt(), pool.stats().transaction_retries), (6, 1));
    let id: i32 = pool
        .query_one(&select, &[&20i64])
        .await
        .expect("select")
        .get(0);
    assert_eq!((id, learnt()), (2, 6));

    // In autocommit the server's refusal is learnt again and sent again at once.
    migrate(format!(
        "ALTER TABLE {table} ALTER COLUMN v TYPE text USING v::text"
    ))
    .await;
    let error = pool
        .query_one(&select, &[&20i64])
        .await
        .expect_err("an i64 for text");
    assert!(error.to_string().contains("text"), "{error}");
    assert_eq!(
        learnt(),
        7,
        "the server's 42883 made the pool learn the types again"
    );
    let id: i32 = pool
        .query_one(&select, &[&"20"])
        .await
        .expect("select")
        .get(0);
    assert_eq!((id, learnt()), (2, 7));
    migrate(format!("DROP TABLE {table}")).await;
}
