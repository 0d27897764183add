//! Statement texts the protocol cannot carry, refused before anything is sent, on
//! every path, while other callers' statements go on: one that refers to `$65536`
//! (the protocol counts parameters in 16 bits; sent, the server described it with the
//! count wrapped, the driver misread the answer and the connection was lost, with every
//! caller's read batched on it), and one that holds a NUL byte (a read connection
//! closed on it; the driver's refusal to encode it read as the server's failure).

use poolside_core::tokio_postgres::types::ToSql;
use poolside_core::{ErrorKind, PgError, PgPool};
use poolside_tests::{PATIENT_CHECKOUT, pg_pool, required_env};

/// A pool with both the pipelined and the batched read path on.
async fn pool() -> PgPool {
    pg_pool(&[
        ("POOLSIDE_POSTGRES__MAX_SIZE", "3"),
        ("POOLSIDE_POSTGRES__PIPELINE_CONNECTIONS", "1"),
        ("POOLSIDE_POSTGRES__READ_CONNECTIONS", "1"),
        PATIENT_CHECKOUT,
    ])
    .await
}

/// `SELECT` of the length of an array of `count` parameters, and their values.
fn array_of(count: i32) -> (String, Vec<i32>) {
    let placeholders: Vec<String> = (1..=count).map(|n| format!("${n}::int")).collect();
    let sql = format!("SELECT array_length(ARRAY[{}], 1)", placeholders.join(","));
    (sql, (1..=count).collect())
}

fn params(values: &[i32]) -> Vec<&(dyn ToSql + Sync)> {
    values.iter().map(|v| v as &(dyn ToSql + Sync)).collect()
}

fn assert_refused<T: std::fmt::Debug>(result: Result<T, PgError>, path: &str, why: &str) {
    let error = result.expect_err(path);
    assert_eq!(error.kind(), ErrorKind::Query, "{path}: {error}");
    assert!(error.to_string().contains(why), "{path}: {error}");
}

/// 20 callers' reads on the batched read path and the pipelined one, at once.
fn other_callers(pool: &PgPool) -> Vec<tokio::task::JoinHandle<Result<(), PgError>>> {
    (0..20)
        .map(|_| {
            let pool = pool.clone();
            tokio::spawn(async move {
                pool.read_query_one("SELECT 1", &[]).await?;
                pool.query_one("SELECT 1", &[]).await.map(drop)
            })
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_past_the_parameter_limit_is_refused_and_no_other_caller_fails() {
    let pool = pool().await;
    let (sql, values) = array_of(65_536);
    let params = params(&values);
    let broken = pool.stats().closed.broken;
    let others = other_callers(&pool);
    let past = "past the 65535";
    assert_refused(pool.read_query(&sql, &params).await, "read_query", past);
    assert_refused(pool.query(&sql, &params).await, "query", past);
    let mut conn = pool.get().await.expect("a connection");
    assert_refused(conn.query(&sql, &params).await, "PgConnection::query", past);
    assert_refused(conn.prepare_cached(&sql).await, "prepare_cached", past);
    drop(conn);
    for other in others {
        other.await.expect("task").expect("another caller's reads");
    }
    assert_eq!(pool.stats().closed.broken, broken, "no connection was lost");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_at_the_parameter_limit_runs_on_every_path() {
    let pool = pool().await;
    let (sql, values) = array_of(65_535);
    let params = params(&values);
    let read = pool
        .read_query_one(&sql, &params)
        .await
        .expect("batched read");
    assert_eq!(read.get::<_, i32>(0), 65_535);
    let pipelined = pool.query_one(&sql, &params).await.expect("pipelined");
    assert_eq!(pipelined.get::<_, i32>(0), 65_535);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_holding_a_nul_byte_is_refused_and_no_other_caller_fails() {
    let pool = pool().await;
    let through_pgbouncer = pg_pool(&[("DATABASE_URL", &required_env("PGBOUNCER_URL"))]).await;
    let sql = "SELECT 1\0";
    let broken = pool.stats().closed.broken;
    let others = other_callers(&pool);
    let nul = "NUL byte";
    assert_refused(pool.read_query(sql, &[]).await, "read_query", nul);
    assert_refused(pool.query(sql, &[]).await, "query", nul);
    let mut conn = pool.get().await.expect("a connection");
    assert_refused(conn.execute(sql, &[]).await, "PgConnection::execute", nul);
    assert_refused(conn.batch_execute(sql).await, "batch_execute", nul);
    assert_refused(conn.query_typed(sql, &[]).await, "query_typed", nul);
    drop(conn);
    assert_refused(
        through_pgbouncer.query(sql, &[]).await,
        "PgBouncer mode",
        nul,
    );
    for other in others {
        other.await.expect("task").expect("another caller's reads");
    }
    assert_eq!(pool.stats().closed.broken, broken, "no connection was lost");
}
