//! The connection budget read from the real server and the real PgBouncer: what
//! `expected_instances x max_size` needs against what they leave free, and the
//! start-up warning when it does not fit; and PgBouncer's `server_login_retry`, which
//! decides how long a PostgreSQL restart keeps the service down behind it.

use poolside_core::PgPool;
use poolside_tests::pgbouncer::pgbouncer_admin;
use poolside_tests::{LogCapture, load_config, required_env};

fn config(url_var: &str, instances: &str) -> poolside_config::PostgresConfig {
    let url = required_env(url_var);
    load_config(&[
        ("DATABASE_URL", &url),
        ("POOLSIDE_PROFILE", "test"),
        ("POOLSIDE_POSTGRES__MAX_SIZE", "40"),
        ("POOLSIDE_POSTGRES__EXPECTED_INSTANCES", instances),
    ])
    .config
    .postgres
}

#[tokio::test]
async fn direct_connections_that_cannot_fit_are_warned_about_at_start_up() {
    let (logs, _guard) = LogCapture::install();
    // The services' server: max_connections 300, so one instance of 40 fits (while
    // tests beside this one hold fewer than 257), and 8 x 40 never does.
    let fits = PgPool::connect(&config("DATABASE_URL", "1"))
        .await
        .expect("connects");
    let budget = fits.budget().await.expect("the server's limits");
    assert_eq!(budget.max_connections, 300, "{budget:?}");
    assert!(budget.reserved_connections >= 3, "{budget:?}");
    assert!(budget.held_by_this >= 1, "the warm connection: {budget:?}");
    assert!(
        budget.pgbouncer.is_none() && budget.unread.is_empty(),
        "{budget:?}"
    );
    assert!(budget.problems().is_empty(), "{budget:?}");
    assert!(
        !logs.text().contains("connection budget"),
        "{}",
        logs.text()
    );

    let too_many = PgPool::connect(&config("DATABASE_URL", "8"))
        .await
        .expect("connects: a warning, not a refusal");
    let budget = too_many.budget().await.expect("the server's limits");
    assert_eq!(budget.needed(), 320);
    let problems = budget.problems();
    assert_eq!(problems.len(), 1, "{problems:?}");
    let text = logs.text();
    let warning = text
        .lines()
        .find(|line| line.contains("WARN") && line.contains("connection budget"))
        .unwrap_or_else(|| panic!("no start-up warning in:\n{text}"));
    for part in [
        "postgres.expected_instances 8 x postgres.max_size 40 = 320 connections",
        "max_connections 300",
        "lower postgres.max_size to",
    ] {
        assert!(warning.contains(part), "{part:?} missing from {warning}");
    }
}

#[tokio::test]
async fn behind_pgbouncer_its_limits_are_read_over_the_admin_console() {
    let (logs, _guard) = LogCapture::install();
    // 60 x 40 = 2400 clients, but the services' PgBouncer takes 2000 (max_client_conn).
    let pool = PgPool::connect(&config("PGBOUNCER_URL", "60"))
        .await
        .expect("connects through PgBouncer");
    let budget = pool.budget().await.expect("the limits");
    let bouncer = budget
        .pgbouncer
        .as_ref()
        .unwrap_or_else(|| panic!("PgBouncer's side read: {budget:?}"));
    assert_eq!(
        (bouncer.max_client_conn, bouncer.default_pool_size),
        (2000, 20),
        "{budget:?}"
    );
    // This database and user's own row of SHOW POOLS.
    assert_eq!(
        bouncer.pool_mode.as_deref(),
        Some("transaction"),
        "{budget:?}"
    );
    assert!(
        bouncer
            .pools
            .iter()
            .any(|row| row.get("database").map(String::as_str) == Some("poolside")),
        "{budget:?}"
    );
    assert!(
        budget.held_by_this >= 1,
        "PgBouncer's server connection for the warm client: {budget:?}"
    );
    let problems = budget.problems();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].contains("2400 connections, but PgBouncer's max_client_conn is 2000"),
        "{}",
        problems[0]
    );
    assert!(
        logs.text().contains("max_client_conn is 2000"),
        "{}",
        logs.text()
    );
}

#[tokio::test]
async fn a_slow_server_login_retry_is_warned_about_at_start_up() {
    let admin = pgbouncer_admin().await;
    let read = async || {
        let (logs, _guard) = LogCapture::install();
        let pool = PgPool::connect(&config("PGBOUNCER_URL", "1")).await;
        let budget = match &pool {
            Ok(pool) => Some(pool.budget().await),
            Err(_) => None,
        };
        (pool.map(drop), budget, logs.text())
    };
    // The services' PgBouncer: a second.
    let (pool, budget, logs) = read().await;
    pool.expect("connects through PgBouncer");
    let budget = budget.expect("read").expect("the limits");
    let bouncer = budget.pgbouncer.as_ref().expect("PgBouncer's side read");
    assert_eq!(bouncer.server_login_retry_ms, Some(1_000), "{budget:?}");
    assert_eq!(bouncer.slow_recovery(), None);
    assert!(!logs.contains("server_login_retry"), "{logs}");
    // PgBouncer's default, 15 s, set for this test alone, then set back whatever
    // the outcome.
    admin
        .simple_query("SET server_login_retry = 15")
        .await
        .expect("sets it");
    let (pool, budget, logs) = read().await;
    admin
        .simple_query("SET server_login_retry = 1")
        .await
        .expect("sets it back");
    pool.expect("connects through PgBouncer");
    let budget = budget.expect("read").expect("the limits");
    let bouncer = budget.pgbouncer.as_ref().expect("PgBouncer's side read");
    assert_eq!(bouncer.server_login_retry_ms, Some(15_000), "{budget:?}");
    for part in [
        "server_login_retry is 15.0 s",
        "set server_login_retry = 1 in pgbouncer.ini",
    ] {
        assert!(
            logs.contains(part),
            "{part:?} missing from the logs: {logs}"
        );
    }
}
