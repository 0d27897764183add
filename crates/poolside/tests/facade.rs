//! The facade against the real services: every call a service makes, on the
//! standard stack, with its figures in the metrics and its health in the router.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use poolside::{ErrorKind, Poolside, Status};
use poolside_tests::{required_env, services_config};
use tower::ServiceExt;

/// poolside on the services' database with `overrides`.
async fn db_with(overrides: &[(&str, &str)]) -> Poolside {
    Poolside::builder()
        .config(services_config(overrides))
        .build()
        .await
        .expect("starts")
}

/// poolside on the services' database and Redis.
async fn db() -> Poolside {
    db_with(&[("REDIS_URL", &required_env("REDIS_URL"))]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_calls_run_on_the_stack_and_show_in_metrics_and_health() {
    let db = db().await;
    db.execute(
        "CREATE TABLE IF NOT EXISTS facade_items (id bigint PRIMARY KEY, name text NOT NULL)",
        &[],
    )
    .await
    .expect("creates the table");
    db.execute("DELETE FROM facade_items", &[])
        .await
        .expect("empties it");

    let inserted = db
        .op("insert_item")
        .execute(
            "INSERT INTO facade_items (id, name) VALUES ($1, $2)",
            &[&1_i64, &"widget".to_owned()],
        )
        .await
        .expect("inserts");
    assert_eq!(inserted, 1);
    let row = db
        .op("get_item")
        .idempotent()
        .query_one("SELECT name FROM facade_items WHERE id = $1", &[&1_i64])
        .await
        .expect("reads");
    assert_eq!(row.get::<_, String>(0), "widget");
    let none = db
        .query_opt("SELECT name FROM facade_items WHERE id = $1", &[&2_i64])
        .await
        .expect("reads");
    assert!(none.is_none());
    let duplicate = db
        .op("insert_item")
        .execute(
            "INSERT INTO facade_items (id, name) VALUES ($1, $2)",
            &[&1_i64, &"again".to_owned()],
        )
        .await
        .expect_err("a duplicate key");
    assert_eq!(duplicate.kind(), ErrorKind::UniqueViolation);

    let renamed = db
        .transaction("rename_item", async |tx| {
            tx.execute(
                "UPDATE facade_items SET name = $1 WHERE id = $2",
                &[&"gadget", &1_i64],
            )
            .await
        })
        .await
        .expect("commits");
    assert_eq!(renamed, 1);

    let runs = Arc::new(AtomicU32::new(0));
    let value = db
        .execute_with_retry("flaky", {
            let (pool, runs) = (db.pool().clone(), Arc::clone(&runs));
            move || {
                let (pool, runs) = (pool.clone(), Arc::clone(&runs));
                async move {
                    if runs.fetch_add(1, Ordering::SeqCst) == 0 {
                        pool.execute(
                            "DO $$ BEGIN RAISE EXCEPTION 'once' USING ERRCODE = '40001'; END $$",
                            &[],
                        )
                        .await?;
                    }
                    Ok::<_, poolside::PgError>(7)
                }
            }
        })
        .await
        .expect("the second run succeeds");
    assert_eq!((value, runs.load(Ordering::SeqCst)), (7, 2));

    let sums = db
        .batch(
            (1..=5_i32).map(|n| {
                let db = db.clone();
                move || async move {
                    db.query_one("SELECT $1::int4 * 2", &[&n])
                        .await
                        .map(|row| row.get::<_, i32>(0))
                }
            }),
            2,
        )
        .await;
    let sums: Vec<i32> = sums.into_iter().map(|r| r.expect("runs")).collect();
    assert_eq!(sums, [2, 4, 6, 8, 10]);

    db.cache()
        .set("facade:item:1", &"gadget", Some(Duration::from_secs(30)))
        .await
        .expect("caches");
    let cached: Option<String> = db.cache().get("facade:item:1").await.expect("reads");
    assert_eq!(cached.as_deref(), Some("gadget"));

    db.warm_up().await.expect("warms up");
    assert_eq!(db.health().status, Status::Pass, "{:?}", db.health());
    let live = db
        .router()
        .oneshot(
            Request::get("/health/live")
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("answers");
    assert_eq!(live.status(), 200);

    let metrics = db.metrics_text().expect("poolside's recorder is installed");
    for expected in [
        r#"operation="get_item",outcome="ok""#,
        r#"operation="insert_item",outcome="unique_violation""#,
        r#"operation="rename_item",outcome="ok""#,
        r#"operation="flaky",outcome="ok""#,
        "poolside_connections_active{",
        "poolside_cache_hits_total{",
        "poolside_redis_unreplicated_writes_total{",
        "poolside_breaker_state{",
    ] {
        assert!(
            metrics.contains(expected),
            "missing {expected} in:\n{metrics}"
        );
    }
    let stats = db.stats();
    assert!(stats.operations.operations >= 10, "{:?}", stats.operations);
    assert!(db.status().contains("postgres"));

    assert_eq!(db.shutdown(Duration::from_secs(5)).await, 0);
    let refused = db.query_one("SELECT 1", &[]).await.expect_err("closed");
    assert_eq!(refused.kind(), ErrorKind::PoolClosed, "{refused}");
}

#[tokio::test]
async fn a_bad_configuration_names_its_key_and_an_unreachable_database_its_host() {
    let bad = poolside::config::ConfigLoader::from_env(
        [
            ("DATABASE_URL", "postgres://app@127.0.0.1:1/app"),
            ("DB_POOL_MAX", "zero"),
        ]
        .into_iter()
        .collect(),
    )
    .load()
    .expect_err("DB_POOL_MAX is not a number");
    assert!(bad.to_string().contains("DB_POOL_MAX"), "{bad}");

    let error = Poolside::builder()
        .config(services_config(&[(
            "DATABASE_URL",
            "postgres://app:pw@127.0.0.1:1/app",
        )]))
        .build()
        .await
        .expect_err("nothing listens on port 1");
    let message = error.to_string();
    assert!(message.contains("127.0.0.1:1"), "{message}");
    assert!(!message.contains(":pw@"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_exporter_addr_serves_metrics_on_a_listener_of_its_own() {
    let token = "a-token-for-the-scraper-only";
    let config = services_config(&[
        ("POOLSIDE_METRICS__EXPORTER_ADDR", "127.0.0.1:0"),
        ("POOLSIDE_HEALTH__ADMIN_TOKEN", token),
    ]);
    let db = Poolside::builder()
        .config(config.clone())
        .build()
        .await
        .expect("starts");
    let addr = db.exporter_addr().expect("a listener runs");
    assert_ne!(addr.port(), 0, "the port the system chose");
    db.query_one("SELECT 1", &[]).await.expect("runs");

    let url = format!("http://{addr}/metrics");
    let scrape = |headers: Vec<(&'static str, String)>| {
        let url = url.clone();
        tokio::task::spawn_blocking(move || {
            let headers: Vec<(&str, &str)> =
                headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            poolside_tests::http::send_with_headers("GET", &url, None, &headers)
        })
    };
    let refused = scrape(Vec::new()).await.expect("runs").expect("answers");
    assert_eq!(refused.status, 401, "behind health.admin_token");
    let scraped = scrape(vec![("authorization", format!("Bearer {token}"))])
        .await
        .expect("runs")
        .expect("answers");
    assert_eq!(scraped.status, 200, "{}", scraped.body);
    assert!(
        scraped
            .body
            .contains("poolside_connections_idle{pool=\"postgres\"}"),
        "the pool gauges, sampled for the scrape: {}",
        scraped.body
    );

    // The address taken: the start fails, naming the key and the address.
    let mut taken = config;
    taken.metrics.exporter_addr = Some(addr);
    let error = Poolside::builder()
        .config(taken)
        .build()
        .await
        .expect_err("the address is in use");
    assert!(
        error
            .to_string()
            .contains(&format!("metrics.exporter_addr {addr}")),
        "{error}"
    );
    db.shutdown(Duration::from_secs(5)).await;
    assert!(
        tokio::task::spawn_blocking(move || poolside_tests::http::send("GET", &url, None))
            .await
            .expect("runs")
            .is_err(),
        "the listener stops with the shutdown"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaving_rotation_fails_readiness_and_serves_for_the_shutdown_delay() {
    const DELAY: Duration = Duration::from_millis(1500);
    let db = db_with(&[("POOLSIDE_HEALTH__SHUTDOWN_DELAY", "1500ms")]).await;
    db.warm_up().await.expect("warms up");
    assert_eq!(db.health_state().readiness().status, Status::Pass);
    let began = std::time::Instant::now();
    let leaving = tokio::spawn({
        let db = db.clone();
        async move { db.leave_rotation().await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(db.health_state().readiness().status, Status::Fail);
    assert_eq!(db.health().status, Status::Fail);
    assert_eq!(db.health_state().liveness().status, Status::Pass);
    let row = db
        .query_one("SELECT $1::int4 + 1", &[&1_i32])
        .await
        .expect("still serves while leaving rotation");
    assert_eq!(row.get::<_, i32>(0), 2);
    assert!(!leaving.is_finished(), "returned before the delay");
    leaving.await.expect("leaves rotation");
    assert!(began.elapsed() >= DELAY, "{:?}", began.elapsed());
    db.shutdown(Duration::from_secs(5)).await;
    assert_eq!(db.health_state().readiness().status, Status::Fail);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactions_pass_the_stacks_circuit_breaker() {
    let db = db_with(&[
        ("POOLSIDE_RETRY__ATTEMPTS", "1"),
        ("POOLSIDE_RETRY__TOTAL_DEADLINE", "300ms"),
        ("POOLSIDE_BREAKER__MIN_CALLS", "2"),
        ("POOLSIDE_BREAKER__FAILURE_RATE_PERCENT", "50"),
        ("POOLSIDE_BREAKER__OPEN_FOR", "30s"),
    ])
    .await;
    let runs = AtomicU32::new(0);
    // Sleeps 2 s, counting its runs. It only borrows, so it is `Copy`.
    let slow = async |tx: &mut poolside::PgConnection| {
        runs.fetch_add(1, Ordering::Relaxed);
        tx.execute("SELECT pg_sleep(2)", &[]).await?;
        Ok(())
    };
    for _ in 0..2 {
        let timed_out = db
            .transaction("slow", slow)
            .await
            .expect_err("past the 300 ms timeout");
        assert_eq!(timed_out.kind(), ErrorKind::Cancelled, "{timed_out}");
    }
    assert_eq!(runs.load(Ordering::Relaxed), 2);

    let refused = db
        .transaction("slow", slow)
        .await
        .expect_err("the breaker opened on two failed transactions");
    assert_eq!(refused.kind(), ErrorKind::Unavailable, "{refused}");
    assert!(refused.to_string().contains("circuit breaker"), "{refused}");
    assert_eq!(runs.load(Ordering::Relaxed), 2, "refused before it ran");
    let query = db
        .query_one("SELECT 1", &[])
        .await
        .expect_err("the stack's statements meet the same breaker");
    assert_eq!(query.kind(), ErrorKind::Unavailable, "{query}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_overflow_pool_has_a_pool_label_of_its_own() {
    let url = required_env("DATABASE_URL");
    let db = db_with(&[
        ("POOLSIDE_OVERFLOW__ENABLED", "true"),
        ("POOLSIDE_OVERFLOW__SECONDARY_URL", &url),
        ("POOLSIDE_OVERFLOW__SECONDARY_MAX_SIZE", "3"),
    ])
    .await;
    let metrics = db.metrics_text().expect("poolside's recorder is installed");
    for line in [
        r#"poolside_connections_max{pool="postgres_secondary"} 3"#,
        r#"poolside_connections_max{pool="postgres"} "#,
    ] {
        assert!(metrics.contains(line), "{line} in:\n{metrics}");
    }
}

#[tokio::test]
async fn batch_keeps_input_order_and_its_concurrency_limit() {
    let db = db().await;
    let pool = db.pool().clone();
    let in_flight = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let ops = (0..40i32).map(|i| {
        let (pool, in_flight, most) = (pool.clone(), Arc::clone(&in_flight), Arc::clone(&most));
        move || async move {
            let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            most.fetch_max(now, Ordering::SeqCst);
            let mut conn = pool.get().await?;
            // Later operations finish sooner, so completion order is not input order.
            let sleep = f64::from(40 - i) / 4000.0;
            let result = if i % 7 == 3 {
                conn.query_one("SELECT 1/0", &[]).await.map(|_| 0)
            } else {
                conn.query_one("SELECT $1::int4, pg_sleep($2)", &[&i, &sleep])
                    .await
                    .map(|r| r.get::<_, i32>(0))
            };
            in_flight.fetch_sub(1, Ordering::SeqCst);
            result
        }
    });
    let results = db.batch(ops, 5).await;
    assert_eq!(results.len(), 40);
    for (i, result) in results.into_iter().enumerate() {
        match result {
            Ok(value) => assert_eq!(value, i as i32),
            Err(e) => assert!(
                i % 7 == 3 && e.code().map(|c| c.code()) == Some("22012"),
                "{i}: {e}"
            ),
        }
    }
    assert!(
        most.load(Ordering::SeqCst) <= 5,
        "concurrency limit exceeded"
    );
}

#[derive(Debug, PartialEq, poolside::FromRow)]
struct Item {
    id: i64,
    label: String,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_built_at_run_time_runs_through_the_stack_labelled_by_its_name() {
    let db = db_with(&[("POOLSIDE_METRICS__SLOW_QUERY_THRESHOLD", "1ms")]).await;
    // The shape varies with the caller's choice; the values stay parameters.
    for order in ["id", "label DESC"] {
        let sql = format!(
            "SELECT n::int8 AS id, 'item ' || n AS label, pg_sleep(0.005) \
             FROM generate_series(1, 3) n WHERE n >= $1 ORDER BY {order}"
        );
        let items: Vec<Item> = db
            .op("list_items_sorted")
            .idempotent()
            .query_as(sql, &[&2_i32])
            .await
            .expect("reads");
        let ids: Vec<i64> = items.iter().map(|item| item.id).collect();
        assert_eq!(ids, if order == "id" { [2, 3] } else { [3, 2] });
    }
    let one: Option<Item> = db
        .op("find_item")
        .query_opt_as(String::from("SELECT 9::int8 AS id, 'nine' AS label"), &[])
        .await
        .expect("reads");
    assert_eq!(one.map(|item| item.label).as_deref(), Some("nine"));

    let metrics = db.metrics_text().expect("poolside's recorder is installed");
    assert!(
        metrics.contains(r#"operation="list_items_sorted",outcome="ok""#),
        "{metrics}"
    );
    assert!(!metrics.contains("generate_series"), "no SQL in labels");
    // The slow list keeps the run-time text it was given.
    let slowest = db.stats().operations.slowest;
    assert!(
        slowest
            .iter()
            .any(|slow| slow.operation == "list_items_sorted"
                && slow
                    .statement
                    .as_deref()
                    .is_some_and(|sql| sql.contains("label DESC"))),
        "{slowest:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_redis_cluster_the_cache_health_and_metrics_work_unchanged() {
    let nodes = required_env("REDIS_CLUSTER_NODES");
    let db = db_with(&[
        ("POOLSIDE_REDIS__MODE", "cluster"),
        ("POOLSIDE_REDIS__CLUSTER_NODES", &nodes),
    ])
    .await;
    let keys: Vec<String> = (0..50).map(|i| format!("facade:cluster:{i}")).collect();
    let items: Vec<(&str, i32)> = keys.iter().map(String::as_str).zip(0..).collect();
    db.cache()
        .mset(&items, Some(Duration::from_secs(30)))
        .await
        .expect("caches across slots");
    let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    let got: Vec<Option<i32>> = db.cache().mget(&refs).await.expect("reads across slots");
    assert_eq!(got, (0..50).map(Some).collect::<Vec<_>>());

    db.warm_up().await.expect("warms up");
    assert_eq!(db.health().status, Status::Pass, "{:?}", db.health());
    let metrics = db.metrics_text().expect("poolside's recorder is installed");
    for expected in [
        r#"poolside_redis_node_up{node="127.0.0.1:"#,
        r#"role="replica"} 1"#,
        "poolside_redis_cluster_ok 1",
    ] {
        assert!(
            metrics.contains(expected),
            "missing {expected} in:\n{metrics}"
        );
    }
}
