//! Runs the service through the real PgBouncer (transaction mode), migrations on the
//! direct URL: products, a sale, the oversell refusal, PgBouncer's pools in the
//! detailed health view, then SIGTERM and a clean exit. Without the direct URL it
//! refuses to start and says why.

use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use poolside_tests::required_env;
use serde_json::{Value, json};

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into()
}

fn post(base: &str, path: &str, body: &Value) -> (u16, Value) {
    let mut response = agent()
        .post(format!("{base}{path}"))
        .header("content-type", "application/json")
        .send(body.to_string())
        .expect("answers");
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn get(base: &str, path: &str) -> (u16, Value) {
    let mut response = agent()
        .get(format!("{base}{path}"))
        .call()
        .expect("answers");
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[test]
fn the_service_sells_through_pgbouncer_and_exits_cleanly() {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_poolside-example-pgbouncer"))
        .env("DATABASE_URL", required_env("PGBOUNCER_URL"))
        .env("DATABASE_URL_DIRECT", required_env("DATABASE_URL"))
        .env_remove("REDIS_URL")
        .env("POOLSIDE_PROFILE", "test")
        .env("POOLSIDE_HTTP_ADDR", format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starts");
    let base = format!("http://127.0.0.1:{port}");
    let began = Instant::now();
    while agent()
        .get(format!("{base}/health/ready"))
        .call()
        .map_or(true, |r| r.status() != 200)
    {
        if began.elapsed() > Duration::from_secs(30) || child.try_wait().ok().flatten().is_some() {
            let _ = child.kill();
            panic!("the service was not ready within 30 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }

    let (status, product) = post(
        &base,
        "/products",
        &json!({ "name": "Tea", "price_cents": 180, "stock": 3 }),
    );
    assert_eq!(status, 201, "{product}");
    let id = product["id"].as_i64().expect("an id");
    let (status, sale) = post(
        &base,
        "/sales",
        &json!({ "items": [{ "product_id": id, "quantity": 2 }] }),
    );
    assert_eq!(status, 201, "{sale}");
    let (status, _) = post(
        &base,
        "/sales",
        &json!({ "items": [{ "product_id": id, "quantity": 2 }] }),
    );
    assert_eq!(status, 409, "only one left");
    let (status, product) = get(&base, &format!("/products/{id}"));
    assert_eq!((status, &product["stock"]), (200, &json!(1)), "{product}");
    let (status, detailed) = get(&base, "/health/detailed");
    assert_eq!(status, 200, "{detailed}");
    assert!(
        detailed["postgres"]["pgbouncer_pools"].is_array(),
        "PgBouncer's SHOW POOLS in {detailed}"
    );

    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    let began = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("waits") {
            break status;
        }
        assert!(
            began.elapsed() < Duration::from_secs(15),
            "no exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
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
