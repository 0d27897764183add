//! One slow statement on a shared connection (a report, a wait on a row lock), against
//! the real PostgreSQL: the other callers' statements go to the connection that is not
//! held up. A shared connection answers in order, and taken round robin, half the
//! statements sent beside a `pg_sleep(1)` waited for it (50 of 100, up to 970 ms), on
//! the pipelined and the batched read path alike.

use std::time::{Duration, Instant};

use poolside_core::PgPool;
use poolside_tests::{PATIENT_CHECKOUT, pg_pool};

/// How many of 60 `SELECT 1`, sent one every 10 ms beside a `pg_sleep(1.5)` on the
/// path `read` says, took longer than 500 ms.
async fn held_up_beside_a_slow_statement(pool: &PgPool, read: bool) -> usize {
    let run = move |pool: PgPool, sql: &'static str| async move {
        let started = Instant::now();
        let rows = if read {
            pool.read_query(sql, &[]).await
        } else {
            pool.query(sql, &[]).await
        };
        rows.unwrap_or_else(|e| panic!("{sql}: {e}"));
        started.elapsed()
    };
    // Both connections open, so that neither is leased while the slow one runs.
    for _ in 0..4 {
        run(pool.clone(), "SELECT 1").await;
    }
    let slow = tokio::spawn(run(pool.clone(), "SELECT pg_sleep(1.5)"));
    tokio::time::sleep(Duration::from_millis(20)).await;
    let callers: Vec<_> = (0..60u64)
        .map(|i| {
            let pool = pool.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(i * 10)).await;
                run(pool, "SELECT 1").await
            })
        })
        .collect();
    let mut held_up = 0;
    for caller in callers {
        if caller.await.expect("caller") > Duration::from_millis(500) {
            held_up += 1;
        }
    }
    assert!(slow.await.expect("slow") >= Duration::from_millis(1500));
    held_up
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_statement_on_the_pipelined_path_holds_up_no_later_caller() {
    let pool = pg_pool(&[
        ("POOLSIDE_POSTGRES__PIPELINE_CONNECTIONS", "2"),
        PATIENT_CHECKOUT,
    ])
    .await;
    let held_up = held_up_beside_a_slow_statement(&pool, false).await;
    assert!(
        held_up <= 3,
        "{held_up} of 60 waited for the slow statement"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_statement_on_the_read_path_holds_up_no_later_caller() {
    let pool = pg_pool(&[
        ("POOLSIDE_POSTGRES__MAX_SIZE", "8"),
        ("POOLSIDE_POSTGRES__READ_CONNECTIONS", "2"),
        PATIENT_CHECKOUT,
    ])
    .await;
    let held_up = held_up_beside_a_slow_statement(&pool, true).await;
    assert!(
        held_up <= 3,
        "{held_up} of 60 waited for the slow statement"
    );
}
