//! Runs the service through the real PgBouncer (transaction mode), migrations on the
//! direct URL: products, a sale, the oversell refusal, PgBouncer's pools in the
//! detailed health view, then SIGTERM and a clean exit. Without the direct URL it
//! refuses to start and says why.

use std::process::Command;

use poolside_tests::http::ServiceProcess;
use poolside_tests::required_env;
use serde_json::json;

#[test]
fn the_service_sells_through_pgbouncer_and_exits_cleanly() {
    let mut service = ServiceProcess::start(
        env!("CARGO_BIN_EXE_poolside-example-pgbouncer"),
        &[
            ("DATABASE_URL", required_env("PGBOUNCER_URL")),
            ("DATABASE_URL_DIRECT", required_env("DATABASE_URL")),
            ("POOLSIDE_PROFILE", "test".into()),
        ],
        &["REDIS_URL"],
    );

    let (status, product) = service.post(
        "/products",
        &json!({ "name": "Tea", "price_cents": 180, "stock": 3 }),
    );
    assert_eq!(status, 201, "{product}");
    let id = product["id"].as_i64().expect("an id");
    let (status, sale) = service.post(
        "/sales",
        &json!({ "items": [{ "product_id": id, "quantity": 2 }] }),
    );
    assert_eq!(status, 201, "{sale}");
    let (status, _) = service.post(
        "/sales",
        &json!({ "items": [{ "product_id": id, "quantity": 2 }] }),
    );
    assert_eq!(status, 409, "only one left");
    let (status, product) = service.call("GET", &format!("/products/{id}"), None);
    assert_eq!((status, &product["stock"]), (200, &json!(1)), "{product}");
    let (status, detailed) = service.call("GET", "/health/detailed", None);
    assert_eq!(status, 200, "{detailed}");
    assert!(
        detailed["postgres"]["budget"]["pgbouncer"]["pools"].is_array(),
        "PgBouncer's SHOW POOLS in {detailed}"
    );

    let status = service.terminate();
    assert!(status.success(), "{status}");
}

#[test]
fn without_the_direct_url_it_refuses_to_start_and_says_why() {
    let output = Command::new(env!("CARGO_BIN_EXE_poolside-example-pgbouncer"))
        .env("DATABASE_URL", required_env("PGBOUNCER_URL"))
        .env_remove("DATABASE_URL_DIRECT")
        .env("POOLSIDE_PROFILE", "test")
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("DATABASE_URL_DIRECT"));
}
