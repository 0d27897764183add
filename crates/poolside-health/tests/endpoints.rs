//! The health endpoints over real pools: Kubernetes semantics (liveness never depends
//! on a database; readiness and startup do; an optional Redis only warns; leaving
//! rotation to shut down fails readiness; so does a pending startup task), status
//! codes, health+json bodies, utilization levels and alerts, PgBouncer's pools, and no
//! password in any response or log line.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use poolside_core::{PgPool, RedisPool};
use poolside_health::{HEALTH_JSON, Health};
use poolside_metrics::{Exporter, OperationRecorder};
use poolside_tests::{LogCapture, load_config, required_env};
use tower::ServiceExt;

const ENDPOINTS: [&str; 10] = [
    "/health",
    "/health/live",
    "/health/ready",
    "/health/startup",
    "/health/db",
    "/health/redis",
    "/health/pool",
    "/health/detailed",
    "/health/alerts",
    "/metrics",
];

/// The distinctive password of the services' `poolside_secret` role.
fn secret_password() -> String {
    let url = required_env("DATABASE_SECRET_URL");
    let credentials = &url[url.find("://").expect("a URL") + 3..url.rfind('@').expect("a user")];
    credentials
        .split_once(':')
        .expect("user:password")
        .1
        .to_owned()
}

fn config(vars: &[(&str, &str)]) -> poolside_config::Config {
    let mut all = vec![("POOLSIDE_PROFILE", "test")];
    all.extend_from_slice(vars);
    load_config(&all).config
}

async fn get(health: &Health, path: &str) -> (StatusCode, String, String) {
    let response = health
        .router()
        .oneshot(Request::get(path).body(Body::empty()).expect("a request"))
        .await
        .expect("the router answers");
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap_or_default().to_owned())
        .unwrap_or_default();
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .expect("a body");
    (
        status,
        content_type,
        String::from_utf8_lossy(&body).into_owned(),
    )
}

/// Every endpoint, with no password in any body; returns the status of each.
async fn all_endpoints(health: &Health, password: &str) -> Vec<(&'static str, StatusCode)> {
    let mut statuses = Vec::new();
    for path in ENDPOINTS {
        let (status, content_type, body) = get(health, path).await;
        assert!(
            !body.contains(password),
            "{path} printed the password: {body}"
        );
        if path.starts_with("/health") && status != StatusCode::NOT_FOUND {
            assert_eq!(content_type, HEALTH_JSON, "{path}");
            let json: serde_json::Value = serde_json::from_str(&body).expect("JSON");
            assert!(json["status"].is_string(), "{path}: {body}");
        }
        statuses.push((path, status));
    }
    statuses
}

fn status_of(statuses: &[(&str, StatusCode)], path: &str) -> u16 {
    statuses
        .iter()
        .find(|(p, _)| *p == path)
        .map(|(_, s)| s.as_u16())
        .expect("every endpoint was called")
}

#[tokio::test]
async fn healthy_dependencies_answer_200_and_no_output_holds_the_password() {
    let (log, _subscriber) = LogCapture::install();
    let password = secret_password();
    let secret_url = required_env("DATABASE_SECRET_URL");
    let redis_url = required_env("REDIS_URL");
    let config = config(&[("DATABASE_URL", &secret_url), ("REDIS_URL", &redis_url)]);
    let exporter = Exporter::global().expect("no other recorder");
    let pool = PgPool::connect(&config.postgres).await.expect("connects");
    let redis = RedisPool::connect(config.redis.as_ref().expect("redis configured"))
        .await
        .expect("connects");
    let recorder = Arc::new(OperationRecorder::from_config(
        poolside_metrics::PoolLabel::Postgres,
        &config.metrics,
    ));
    recorder.record(
        "get_product",
        Some("SELECT $1"),
        Duration::from_millis(3),
        poolside_metrics::Outcome::Ok,
    );
    let health = Health::builder(config.health.clone())
        .postgres(pool)
        .redis(redis, false)
        .operations(recorder)
        .exporter(exporter)
        .profile("test")
        .build();

    let before = all_endpoints(&health, &password).await;
    assert_eq!(
        status_of(&before, "/health/live"),
        200,
        "liveness needs no check"
    );
    assert_eq!(
        status_of(&before, "/health/ready"),
        503,
        "nothing checked yet"
    );
    assert_eq!(
        status_of(&before, "/health/startup"),
        503,
        "nothing checked yet"
    );

    health.check_now().await;
    let after = all_endpoints(&health, &password).await;
    for (path, status) in &after {
        assert_eq!(status.as_u16(), 200, "{path}");
    }
    let (_, _, detailed) = get(&health, "/health/detailed").await;
    let detailed: serde_json::Value = serde_json::from_str(&detailed).expect("JSON");
    assert!(
        detailed["postgres"]["url"]
            .as_str()
            .expect("url")
            .contains("****")
    );
    assert!(detailed["postgres"]["server"]["max_connections"].as_u64() > Some(0));
    assert!(detailed["redis"]["server"]["version"].as_str() > Some("7"));
    assert!(detailed["process"]["resident_memory_bytes"].as_u64() > Some(0));
    assert_eq!(detailed["profile"], "test");
    let (_, _, ready) = get(&health, "/health/ready").await;
    let ready: serde_json::Value = serde_json::from_str(&ready).expect("JSON");
    assert_eq!(
        ready["checks"]["postgres:responseTime"][0]["observedUnit"],
        "ms"
    );
    assert!(
        !log.text().contains(&password),
        "a log line holds the password"
    );
}

#[tokio::test]
async fn a_database_outage_fails_readiness_and_startup_but_never_liveness() {
    let (log, _subscriber) = LogCapture::install();
    let password = secret_password();
    let down = required_env("DATABASE_SECRET_URL").replace(":15432/", ":1/");
    assert!(down.contains(":1/"), "the URL names port 15432: {down}");
    let config = config(&[
        ("DATABASE_URL", &down),
        ("POOLSIDE_HEALTH__CHECK_TIMEOUT", "2s"),
    ]);
    let pool = PgPool::connect_lazy(&config.postgres).expect("a valid URL");
    let health = Health::builder(config.health.clone())
        .postgres(pool)
        .build();
    health.check_now().await;

    let statuses = all_endpoints(&health, &password).await;
    assert_eq!(status_of(&statuses, "/health/live"), 200);
    for path in ["/health", "/health/ready", "/health/startup", "/health/db"] {
        assert_eq!(status_of(&statuses, path), 503, "{path}");
    }
    let (_, _, ready) = get(&health, "/health/ready").await;
    assert!(
        ready.contains("refused"),
        "the server's error is shown: {ready}"
    );
    let alerts = health.alerts();
    assert!(
        alerts
            .iter()
            .any(|a| a.starts_with("postgres check failing")),
        "{alerts:?}"
    );
    assert!(
        !log.text().contains(&password),
        "a log line holds the password"
    );
}

#[tokio::test]
async fn leaving_rotation_fails_readiness_and_the_summary_but_not_liveness_or_startup() {
    let config = config(&[("DATABASE_URL", &required_env("DATABASE_URL"))]);
    let pool = PgPool::connect(&config.postgres).await.expect("connects");
    let health = Health::builder(config.health.clone())
        .postgres(pool)
        .build();
    health.check_now().await;
    let paths = [
        "/health",
        "/health/ready",
        "/health/live",
        "/health/startup",
    ];
    for path in paths {
        assert_eq!(get(&health, path).await.0.as_u16(), 200, "{path} before");
    }
    assert!(health.in_rotation());

    health.leave_rotation();
    health.leave_rotation();
    assert!(!health.in_rotation());
    for (path, expected) in paths.into_iter().zip([503, 503, 200, 200]) {
        assert_eq!(
            get(&health, path).await.0.as_u16(),
            expected,
            "{path} after"
        );
    }
    let (_, _, ready) = get(&health, "/health/ready").await;
    let json: serde_json::Value = serde_json::from_str(&ready).expect("JSON");
    let check = &json["checks"]["process:shutdown"][0];
    assert_eq!(check["status"], "fail", "{ready}");
    assert!(
        check["output"]
            .as_str()
            .is_some_and(|o| o.contains("out of rotation")),
        "{ready}"
    );
    assert_eq!(
        json["checks"]["postgres:responseTime"][0]["status"], "pass",
        "the database is still fine: {ready}"
    );
    // A later check round does not put it back.
    health.check_now().await;
    assert_eq!(get(&health, "/health/ready").await.0.as_u16(), 503);
}

/// The `<name>:completed` check of `path`'s answer, with its status code.
async fn task_check(health: &Health, path: &str, name: &str) -> (u16, serde_json::Value) {
    let (status, _, body) = get(health, path).await;
    let json: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    (
        status.as_u16(),
        json["checks"][format!("{name}:completed")][0].clone(),
    )
}

#[tokio::test]
async fn a_pending_startup_task_fails_readiness_and_startup_until_it_completes() {
    let config = config(&[("DATABASE_URL", &required_env("DATABASE_URL"))]);
    let pool = PgPool::connect(&config.postgres).await.expect("connects");
    let health = Health::builder(config.health.clone())
        .postgres(pool)
        .build();
    let migration = health.startup_task("migration");
    let cache = health.startup_task("cache");
    health.check_now().await;
    migration.report("connecting to postgres://app:hunter2secret@db/app: refused");
    for path in [
        "/health",
        "/health/ready",
        "/health/startup",
        "/health/detailed",
    ] {
        let (status, check) = task_check(&health, path, "migration").await;
        assert_eq!(status, 503, "{path}: {check}");
        assert_eq!(check["status"], "fail", "{path}: {check}");
        let output = check["output"].as_str().expect("an output");
        assert!(
            output.starts_with("migration has not completed (connecting to postgres://app:"),
            "{path}: {output}"
        );
        assert!(!output.contains("hunter2secret"), "{path}: {output}");
    }
    assert_eq!(get(&health, "/health/live").await.0.as_u16(), 200);

    migration.complete();
    for path in ["/health/ready", "/health/startup"] {
        let (status, check) = task_check(&health, path, "migration").await;
        assert_eq!(
            (status, check),
            (503, serde_json::Value::Null),
            "{path}: cache pends"
        );
    }
    cache.complete();
    for path in ["/health", "/health/ready", "/health/startup"] {
        assert_eq!(get(&health, path).await.0.as_u16(), 200, "{path} after");
    }

    // A task whose work stopped for good keeps the service out of rotation.
    drop(health.startup_task("warm cache"));
    health.check_now().await;
    let (status, check) = task_check(&health, "/health/ready", "warm cache").await;
    assert_eq!(status, 503, "{check}");
    assert!(
        check["output"]
            .as_str()
            .is_some_and(|o| o.contains("stopped before it completed")),
        "{check}"
    );
}

#[tokio::test]
async fn an_optional_redis_that_is_down_warns_and_a_required_one_fails() {
    let database_url = required_env("DATABASE_URL");
    for (required, expected) in [(false, 200), (true, 503)] {
        let config = config(&[
            ("DATABASE_URL", &database_url),
            ("REDIS_URL", "redis://127.0.0.1:1/0"),
        ]);
        let pool = PgPool::connect(&config.postgres).await.expect("connects");
        let redis = RedisPool::connect_lazy(config.redis.as_ref().expect("redis")).expect("valid");
        let health = Health::builder(config.health.clone())
            .postgres(pool)
            .redis(redis, required)
            .build();
        health.check_now().await;
        let (status, _, body) = get(&health, "/health/ready").await;
        assert_eq!(status.as_u16(), expected, "required {required}: {body}");
        let json: serde_json::Value = serde_json::from_str(&body).expect("JSON");
        let redis_status = &json["checks"]["redis:responseTime"][0]["status"];
        assert_eq!(redis_status, if required { "fail" } else { "warn" });
        assert_eq!(get(&health, "/health/live").await.0.as_u16(), 200);
    }
}

#[tokio::test]
async fn a_busy_pool_warns_and_raises_an_alert_but_stays_ready() {
    let config = config(&[
        ("DATABASE_URL", &required_env("DATABASE_URL")),
        ("POOLSIDE_POSTGRES__MAX_SIZE", "4"),
        ("POOLSIDE_POSTGRES__MIN_IDLE", "1"),
    ]);
    let pool = PgPool::connect(&config.postgres).await.expect("connects");
    let health = Health::builder(config.health.clone())
        .postgres(pool.clone())
        .build();
    health.check_now().await;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(pool.get().await.expect("a connection"));
    }
    let (status, _, body) = get(&health, "/health/pool").await;
    assert_eq!(status.as_u16(), 200, "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(json["status"], "warn", "{body}");
    assert!(
        matches!(json["utilization"].as_str(), Some("warning" | "critical")),
        "{body}"
    );
    assert_eq!(json["pool_size"], 4);
    let alerts = health.alerts();
    assert!(
        alerts.iter().any(|a| a.contains("pool utilization")),
        "{alerts:?}"
    );
    assert_eq!(get(&health, "/health/ready").await.0.as_u16(), 200);
    drop(held);
}

#[tokio::test]
async fn behind_pgbouncer_the_detailed_view_shows_its_pools_and_the_budget() {
    let config = config(&[("DATABASE_URL", &required_env("PGBOUNCER_URL"))]);
    let pool = PgPool::connect(&config.postgres).await.expect("connects");
    let health = Health::builder(config.health.clone())
        .postgres(pool)
        .build();
    let detailed = health.detailed().await;
    let budget = &detailed["postgres"]["budget"];
    let pools = budget["pgbouncer"]["pools"]
        .as_array()
        .unwrap_or_else(|| panic!("SHOW POOLS rows: {detailed}"));
    assert!(
        pools.iter().any(|row| row["database"] == "poolside"),
        "{pools:?}"
    );
    // The services' PgBouncer: max_client_conn 2000, default_pool_size 20; the
    // server's max_connections 300.
    assert_eq!(budget["pgbouncer"]["max_client_conn"], 2000, "{budget}");
    assert_eq!(budget["pgbouncer"]["default_pool_size"], 20, "{budget}");
    assert_eq!(budget["max_connections"], 300, "{budget}");
    assert_eq!(budget["problems"], serde_json::json!([]), "{budget}");
}

#[tokio::test]
async fn past_one_redis_server_the_detailed_view_shows_every_node() {
    let database_url = required_env("DATABASE_URL");
    let sentinels = required_env("REDIS_SENTINELS");
    let master = required_env("REDIS_MASTER_NAME");
    let nodes = required_env("REDIS_CLUSTER_NODES");
    let modes = [
        vec![
            ("POOLSIDE_REDIS__MODE", "sentinel"),
            ("POOLSIDE_REDIS__SENTINELS", sentinels.as_str()),
            ("POOLSIDE_REDIS__MASTER_NAME", master.as_str()),
        ],
        vec![
            ("POOLSIDE_REDIS__MODE", "cluster"),
            ("POOLSIDE_REDIS__CLUSTER_NODES", nodes.as_str()),
        ],
    ];
    for vars in modes {
        let mut all = vec![("DATABASE_URL", database_url.as_str())];
        all.extend(vars);
        let config = config(&all);
        let redis_config = config.redis.as_ref().expect("redis");
        let mode = redis_config.mode;
        let redis = RedisPool::connect(redis_config).await.expect("connects");
        let pool = PgPool::connect(&config.postgres).await.expect("connects");
        let health = Health::builder(config.health.clone())
            .postgres(pool)
            .redis(redis.clone(), true)
            .build();
        health.check_now().await;
        let (status, _, body) = get(&health, "/health/ready").await;
        assert_eq!(status.as_u16(), 200, "{mode}: {body}");

        let (_, _, body) = get(&health, "/health/detailed").await;
        let detailed: serde_json::Value = serde_json::from_str(&body).expect("JSON");
        let topology = &detailed["redis"]["topology"];
        assert_eq!(detailed["redis"]["mode"], mode.name(), "{topology}");
        let roles: Vec<(&str, bool)> = topology["nodes"]
            .as_array()
            .expect("nodes")
            .iter()
            .map(|n| (n["role"].as_str().unwrap_or(""), n["up"] == true))
            .collect();
        let (primaries, replicas) = match mode {
            poolside_config::RedisMode::Cluster => (3, 3),
            _ => (1, 1),
        };
        assert_eq!(
            roles
                .iter()
                .filter(|(r, up)| *r == "primary" && *up)
                .count(),
            primaries,
            "{mode}: {topology}"
        );
        assert_eq!(
            roles
                .iter()
                .filter(|(r, up)| *r == "replica" && *up)
                .count(),
            replicas,
            "{mode}: {topology}"
        );
        if mode == poolside_config::RedisMode::Cluster {
            assert_eq!(topology["cluster_state"], "ok", "{topology}");
        }
        // The health check read the topology too; the metrics sampler uses it.
        assert!(redis.last_topology().is_some_and(|t| t.is_healthy()));
    }
}
