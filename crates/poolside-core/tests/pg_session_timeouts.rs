//! Sessions the server ends by itself while the pool holds them idle:
//! `idle_session_timeout` (57P05), which PostgreSQL 14 and later enforce and
//! operators set to reclaim forgotten connections. A statement sent after it must
//! not fail on a connection the server already closed, on any path.

use std::time::Duration;

use poolside_core::{PgPool, TransactionOptions};
use poolside_tests::{required_env, services_config};

/// The server ends a session idle for this long.
const IDLE_SESSION_TIMEOUT_MS: u64 = 300;

async fn pool() -> PgPool {
    let url = format!(
        "{}?options=-c%20idle_session_timeout%3D{IDLE_SESSION_TIMEOUT_MS}",
        required_env("DATABASE_URL")
    );
    let config = services_config(&[
        ("DATABASE_URL", url.as_str()),
        ("POOLSIDE_POSTGRES__MAX_SIZE", "4"),
        ("POOLSIDE_POSTGRES__MIN_IDLE", "2"),
        ("POOLSIDE_POSTGRES__READ_CONNECTIONS", "1"),
    ])
    .postgres;
    PgPool::connect(&config).await.expect("connects")
}

/// One statement on each path: pipelined, an exclusive checkout, the batched read
/// path and a transaction.
async fn every_path(pool: &PgPool, round: &str) {
    let pipelined = pool.query_one("SELECT 1::int4", &[]).await;
    assert_eq!(
        pipelined.map(|row| row.get::<_, i32>(0)).ok(),
        Some(1),
        "{round}: the pipelined path"
    );
    let exclusive = async {
        let mut conn = pool.get().await?;
        conn.query_one("SELECT 2::int4", &[]).await
    }
    .await;
    assert_eq!(
        exclusive.map(|row| row.get::<_, i32>(0)).ok(),
        Some(2),
        "{round}: an exclusive checkout"
    );
    let read = pool.read_query_one("SELECT 3::int4", &[]).await;
    assert_eq!(
        read.map(|row| row.get::<_, i32>(0)).ok(),
        Some(3),
        "{round}: the batched read path"
    );
    let transaction = pool
        .transaction(TransactionOptions::default(), async |tx| {
            tx.query_one("SELECT 4::int4", &[])
                .await
                .map(|row| row.get::<_, i32>(0))
        })
        .await;
    assert_eq!(transaction.ok(), Some(4), "{round}: a transaction");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_the_server_ended_while_idle_fail_no_statement() {
    let pool = pool().await;
    every_path(&pool, "before any timeout").await;
    for round in 1..=3 {
        let created = pool.stats().created;
        // Every session the pool holds is ended by the server meanwhile.
        tokio::time::sleep(Duration::from_millis(IDLE_SESSION_TIMEOUT_MS * 3)).await;
        every_path(&pool, &format!("after idle round {round}")).await;
        let stats = pool.stats();
        println!(
            "round {round}: {} connections opened anew",
            stats.created - created
        );
        // The server really ended them: the paths ran on connections opened since.
        assert!(
            stats.created >= created + 2,
            "round {round}: the statements ran on the old sessions, so the server did \
             not end them: {stats:?}"
        );
    }
}
