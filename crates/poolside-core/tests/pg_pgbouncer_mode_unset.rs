//! A pool pointed at PgBouncer's transaction mode without `pgbouncer=true`: its named
//! statements go to whichever server session runs the next transaction, and many fail
//! (26000 or 42P05). Each error says what to set. A test binary of its own: the
//! statements it leaves on PgBouncer's server sessions would clash with the names
//! another pool of the process prepares there, so it ends by having PgBouncer close
//! those sessions.

use poolside_core::PgError;
use poolside_tests::pgbouncer::pgbouncer_admin;
use poolside_tests::{pg_pool, required_env};

/// 800 statements, from 16 tasks at once on both paths; the errors they met.
async fn run_without_pgbouncer_mode() -> Vec<PgError> {
    let url = required_env("PGBOUNCER_URL").replace("pgbouncer=true", "application_name=unset");
    let pool = pg_pool(&[("DATABASE_URL", &url), ("POOLSIDE_POSTGRES__MAX_SIZE", "8")]).await;
    assert!(!pool.config().pgbouncer);
    let tasks: Vec<_> = (0..16)
        .map(|task| {
            let pool = pool.clone();
            tokio::spawn(async move {
                let mut errors = Vec::new();
                for i in 0..50 {
                    let sql = format!("SELECT $1::int + {}", i % 5);
                    let ran = if task % 2 == 0 {
                        pool.query_one(&sql, &[&1_i32]).await.map(drop)
                    } else {
                        let mut conn = pool.get().await.expect("a connection");
                        conn.query_one(&sql, &[&1_i32]).await.map(drop)
                    };
                    errors.extend(ran.err());
                }
                errors
            })
        })
        .collect();
    let mut errors = Vec::new();
    for task in tasks {
        errors.extend(task.await.expect("task"));
    }
    errors
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_pgbouncer_mode_each_failed_statement_names_the_setting() {
    let errors = run_without_pgbouncer_mode().await;
    // Closes the server sessions holding this pool's statements, once released.
    pgbouncer_admin()
        .await
        .simple_query("RECONNECT")
        .await
        .expect("RECONNECT");
    for error in &errors {
        let code = error.code().map(|code| code.code());
        assert!(matches!(code, Some("26000" | "42P05")), "{error}");
        assert!(error.to_string().contains("add pgbouncer=true"), "{error}");
    }
    // Seen here: 349-454 of the 800 failed. None would leave nothing checked.
    assert!(
        !errors.is_empty(),
        "800 named statements through transaction mode all ran"
    );
}
