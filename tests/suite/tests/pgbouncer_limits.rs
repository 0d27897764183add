//! PgBouncer's own limits and its operators' commands met by the pool:
//! `query_wait_timeout` (a client waited too long for a PostgreSQL connection) and
//! `client_idle_timeout` (PgBouncer closes a client connection idle too long); `PAUSE`
//! and `RESUME` (maintenance), and `KILL` of the database. The first must reach the
//! caller named, with what to do, and as safe to retry (the statement never ran);
//! the second and a pause must fail no statement; a KILL must be named.
//!
//! They change the shared PgBouncer's settings or state over its admin console (and
//! set them back), and hold or end the connections of every other client, so they
//! are ignored in the ordinary parallel run and run alone by the faults phase of
//! `cargo xtask test`. By hand, after `cargo xtask services up`:
//! `cargo test -p poolside-test-suite --test pgbouncer_limits -- --ignored --test-threads=1`

use std::time::{Duration, Instant};

use poolside_core::{ErrorKind, PgPool, TransactionOptions};
use poolside_resilience::{Classify, Failure};
use poolside_tests::pgbouncer::{pgbouncer_admin, pgbouncer_setting, pgbouncer_url};
use poolside_tests::{required_env, services_config};

async fn pool() -> PgPool {
    let url = required_env("PGBOUNCER_URL");
    let config = services_config(&[
        ("DATABASE_URL", url.as_str()),
        ("POOLSIDE_POSTGRES__MAX_SIZE", "4"),
        ("POOLSIDE_POSTGRES__MIN_IDLE", "2"),
    ]);
    PgPool::connect(&config.postgres)
        .await
        .expect("connects through PgBouncer")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "holds every server connection of the shared PgBouncer: run by `cargo xtask test` in its faults phase"]
async fn pgbouncer_query_wait_timeout_is_named_and_safe_to_retry() {
    let admin = pgbouncer_admin().await;
    let pool = pool().await;
    let pool_size: usize = pgbouncer_setting(&admin, "default_pool_size")
        .await
        .parse()
        .expect("a number");
    let wait_before = pgbouncer_setting(&admin, "query_wait_timeout").await;
    admin
        .simple_query("SET query_wait_timeout = 1")
        .await
        .expect("sets it");

    // Other clients, connected first, then hold every server connection of the pool
    // for 5 s at once: well past a wait of one query_wait_timeout and PgBouncer's
    // next check of it, a second later.
    let mut clients = Vec::new();
    for _ in 0..pool_size {
        let config: tokio_postgres::Config = pgbouncer_url().expose().parse().expect("parses");
        let (client, connection) = config
            .connect(tokio_postgres::NoTls)
            .await
            .expect("a client connects");
        tokio::spawn(connection);
        clients.push(client);
    }
    let holders: Vec<_> = clients
        .into_iter()
        .map(|client| {
            tokio::spawn(async move { client.simple_query("SELECT pg_sleep(5)").await.map(drop) })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let waited = pool.query_one("SELECT 1::int4", &[]).await;
    for holder in holders {
        let _ = holder.await;
    }
    let after = pool.query_one("SELECT 1::int4", &[]).await;
    admin
        .simple_query(&format!("SET query_wait_timeout = {wait_before}"))
        .await
        .expect("sets it back");

    let error = waited.expect_err("no server connection within query_wait_timeout");
    assert_eq!(error.kind(), ErrorKind::Connect, "{error}");
    for part in ["query_wait_timeout", "did not run", "SHOW POOLS"] {
        assert!(error.to_string().contains(part), "{part:?} in: {error}");
    }
    assert_eq!(error.failure(), Failure::Retryable, "{error}");
    assert_eq!(
        after
            .expect("served once the server connections are free")
            .get::<_, i32>(0),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "makes the shared PgBouncer close idle clients: run by `cargo xtask test` in its faults phase"]
async fn pgbouncer_client_idle_timeout_fails_no_statement() {
    let admin = pgbouncer_admin().await;
    let pool = pool().await;
    let idle_before = pgbouncer_setting(&admin, "client_idle_timeout").await;
    admin
        .simple_query("SET client_idle_timeout = 1")
        .await
        .expect("sets it");
    let mut rounds = Vec::new();
    for _ in 0..3 {
        let created = pool.stats().created;
        // PgBouncer closes every client connection idle past a second meanwhile.
        tokio::time::sleep(Duration::from_millis(2500)).await;
        let pipelined = pool
            .query_one("SELECT 1::int4", &[])
            .await
            .map(|row| row.get::<_, i32>(0));
        let exclusive = async {
            let mut conn = pool.get().await?;
            conn.query_one("SELECT 2::int4", &[]).await
        }
        .await
        .map(|row| row.get::<_, i32>(0));
        let transaction = pool
            .transaction(TransactionOptions::default(), async |tx| {
                tx.query_one("SELECT 3::int4", &[])
                    .await
                    .map(|row| row.get::<_, i32>(0))
            })
            .await;
        rounds.push((
            pipelined.ok(),
            exclusive.ok(),
            transaction.ok(),
            pool.stats().created - created,
        ));
    }
    admin
        .simple_query(&format!("SET client_idle_timeout = {idle_before}"))
        .await
        .expect("sets it back");
    for (round, (pipelined, exclusive, transaction, opened)) in rounds.into_iter().enumerate() {
        println!("round {round}: {opened} connections opened anew");
        assert_eq!(
            (pipelined, exclusive, transaction),
            (Some(1), Some(2), Some(3)),
            "round {round}"
        );
        // PgBouncer really closed them: the statements ran on connections opened since.
        assert!(opened >= 2, "round {round}: only {opened} opened anew");
    }
}

/// The database the pool reaches through PgBouncer, as PgBouncer's console names it.
fn pgbouncer_database() -> String {
    let config: tokio_postgres::Config = pgbouncer_url().expose().parse().expect("parses");
    config
        .get_dbname()
        .expect("the URL names a database")
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "pauses the shared PgBouncer: run by `cargo xtask test` in its faults phase"]
async fn pgbouncer_pause_holds_statements_until_resume_and_fails_none() {
    let admin = pgbouncer_admin().await;
    let pool = pool().await;
    pool.query_one("SELECT 1::int4", &[]).await.expect("warm");

    admin.simple_query("PAUSE").await.expect("pauses");
    let paused = Instant::now();
    let statements = async {
        let pipelined = pool.query_one("SELECT 1::int4", &[]);
        let exclusive = async {
            let mut conn = pool.get().await?;
            conn.query_one("SELECT 2::int4", &[]).await
        };
        let transaction = pool.transaction(TransactionOptions::default(), async |tx| {
            tx.query_one("SELECT 3::int4", &[]).await
        });
        let read = pool.read_query_one("SELECT 4::int4", &[]);
        let (a, b, c, d) = tokio::join!(pipelined, exclusive, transaction, read);
        (paused.elapsed(), [a, b, c, d])
    };
    let resume = async {
        tokio::time::sleep(Duration::from_secs(1)).await;
        admin.simple_query("RESUME").await.map(drop)
    };
    let ((done_after, results), resumed) = tokio::join!(statements, resume);
    resumed.expect("resumes");

    for (path, result) in results.into_iter().enumerate() {
        let row = result.unwrap_or_else(|e| panic!("statement {path} across the pause: {e}"));
        assert_eq!(row.get::<_, i32>(0), path as i32 + 1);
    }
    // PgBouncer held them until RESUME.
    assert!(done_after >= Duration::from_millis(900), "{done_after:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "ends every connection of the shared PgBouncer: run by `cargo xtask test` in its faults phase"]
async fn pgbouncer_kill_of_the_database_is_named_and_the_pool_serves_after_resume() {
    let admin = pgbouncer_admin().await;
    let pool = pool().await;
    let database = pgbouncer_database();
    let mut conn = pool.get().await.expect("a connection");
    let running =
        tokio::spawn(async move { conn.query_one("SELECT pg_sleep(3)", &[]).await.map(drop) });
    tokio::time::sleep(Duration::from_millis(300)).await;

    admin
        .simple_query(&format!("KILL {database}"))
        .await
        .expect("kills the database");
    let killed = running.await.expect("joins");
    // Until RESUME, PgBouncer holds new connections to the killed database: a pool
    // starting now fails, saying where to look.
    let url = required_env("PGBOUNCER_URL");
    let starting = PgPool::connect(
        &services_config(&[
            ("DATABASE_URL", url.as_str()),
            ("POOLSIDE_POSTGRES__CONNECTION_TIMEOUT", "1s"),
        ])
        .postgres,
    )
    .await
    .map(drop);
    admin
        .simple_query(&format!("RESUME {database}"))
        .await
        .expect("resumes the database");

    let error = killed.expect_err("PgBouncer ended the statement's connection");
    assert_eq!(error.kind(), ErrorKind::Connect, "{error}");
    for part in ["database removed", "KILL", "RESUME"] {
        assert!(error.to_string().contains(part), "{part:?} in: {error}");
    }
    let error = starting.expect_err("no login while the database is killed");
    assert_eq!(error.kind(), ErrorKind::Connect, "{error}");
    assert!(error.to_string().contains("RESUME <database>"), "{error}");
    // The pool lets the closed connections go and opens new ones.
    assert_eq!(
        pool.query_one("SELECT 1::int4", &[])
            .await
            .expect("served after RESUME")
            .get::<_, i32>(0),
        1
    );
}
