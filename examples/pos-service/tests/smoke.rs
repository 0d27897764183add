//! Runs the service against the real services, calls every route with a real HTTP
//! client, checks answers and status codes (bad input gets a 4xx with a reason; the
//! last item is never sold twice), then sends SIGTERM and checks a clean exit.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The service, stopped by its pid (SIGKILL) if a test fails before SIGTERM.
struct Service {
    child: Child,
    base: String,
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into()
}

fn start() -> Service {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_poolside-example-pos-service"))
        .env("DATABASE_URL", poolside_tests::required_env("DATABASE_URL"))
        .env("REDIS_URL", poolside_tests::required_env("REDIS_URL"))
        .env("POOLSIDE_PROFILE", "test")
        .env("POOLSIDE_POSTGRES__MAX_SIZE", "10")
        .env("POOLSIDE_HTTP_ADDR", format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the service starts");
    let service = Service {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    let began = Instant::now();
    loop {
        let ready = agent()
            .get(format!("{}/health/ready", service.base))
            .call()
            .is_ok_and(|r| r.status() == 200);
        if ready {
            return service;
        }
        assert!(
            began.elapsed() < Duration::from_secs(30),
            "the service was not ready within 30 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Sends `method path` with an optional raw body; returns the status and the JSON
/// answer (`Null` when the body is not JSON).
fn call(service: &Service, method: &str, path: &str, body: Option<&str>) -> (u16, Value) {
    let url = format!("{}{path}", service.base);
    let agent = agent();
    let response = match (method, body) {
        ("GET", _) => agent.get(&url).call(),
        ("POST", Some(body)) => agent
            .post(&url)
            .header("content-type", "application/json")
            .send(body),
        ("POST", None) => agent.post(&url).send_empty(),
        _ => unreachable!("{method}"),
    };
    let mut response = response.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    let status = response.status().as_u16();
    let text = response
        .body_mut()
        .with_config()
        .limit(1 << 20)
        .read_to_string()
        .unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn post(service: &Service, path: &str, body: &Value) -> (u16, Value) {
    call(service, "POST", path, Some(&body.to_string()))
}

fn new_product(service: &Service, stock: i64) -> i64 {
    let (status, product) = post(
        service,
        "/products",
        &json!({ "name": "Espresso", "price_cents": 250, "stock": stock }),
    );
    assert_eq!(status, 201, "{product}");
    product["id"].as_i64().expect("an id")
}

#[test]
fn every_route_answers_and_sigterm_exits_cleanly() {
    let mut service = start();
    let id = new_product(&service, 5);
    let (status, product) = call(&service, "GET", &format!("/products/{id}"), None);
    assert_eq!(
        (status, product["stock"].as_i64()),
        (200, Some(5)),
        "{product}"
    );
    let (status, list) = call(&service, "GET", "/products", None);
    assert_eq!(status, 200);
    assert!(
        list.as_array()
            .is_some_and(|l| l.iter().any(|p| p["id"] == id))
    );

    let (status, sale) = post(
        &service,
        "/sales",
        &json!({ "items": [{ "product_id": id, "quantity": 2 }] }),
    );
    assert_eq!(status, 201, "{sale}");
    assert_eq!(sale["total_cents"], 500);
    let sale_id = sale["id"].as_i64().expect("a sale id");
    let (status, read) = call(&service, "GET", &format!("/sales/{sale_id}"), None);
    assert_eq!(
        (status, &read["items"][0]["quantity"]),
        (200, &json!(2)),
        "{read}"
    );
    let (_, product) = call(&service, "GET", &format!("/products/{id}"), None);
    assert_eq!(
        product["stock"], 3,
        "the cached product was invalidated: {product}"
    );

    let day = sale["created_at"].as_str().expect("a time")[..10].to_owned();
    let (status, report) = call(
        &service,
        "GET",
        &format!("/sales/report?from={day}&to={day}"),
        None,
    );
    assert_eq!(status, 200, "{report}");
    assert!(report["sales"].as_i64() >= Some(1), "{report}");
    assert!(
        report["products"]
            .as_array()
            .is_some_and(|p| p.iter().any(|row| row["product_id"] == id)),
        "{report}"
    );

    let (status, warm) = call(&service, "POST", "/admin/warmup", None);
    assert_eq!((status, &warm["warmed"]), (200, &json!(true)), "{warm}");
    for path in ["/health", "/health/live", "/health/ready", "/health/pool"] {
        assert_eq!(call(&service, "GET", path, None).0, 200, "{path}");
    }
    let metrics = agent()
        .get(format!("{}/metrics", service.base))
        .call()
        .expect("metrics")
        .body_mut()
        .read_to_string()
        .expect("text");
    assert!(
        metrics.contains(r#"operation="create_sale",outcome="ok""#),
        "{metrics}"
    );

    Command::new("kill")
        .args(["-TERM", &service.child.id().to_string()])
        .status()
        .expect("kill runs");
    let began = Instant::now();
    let status = loop {
        if let Some(status) = service.child.try_wait().expect("waits") {
            break status;
        }
        assert!(
            began.elapsed() < Duration::from_secs(15),
            "no exit within 15 s of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "exit after SIGTERM: {status}");
}

#[test]
fn bad_input_gets_a_4xx_with_a_reason_and_the_last_item_is_sold_once() {
    let service = start();
    let id = new_product(&service, 1);
    let bad: [(&str, &str, Option<&str>, u16); 12] = [
        ("POST", "/sales", Some("{not json"), 400),
        ("POST", "/sales", Some(r#"{"items": "many"}"#), 422),
        ("POST", "/sales", Some(r#"{"items": []}"#), 422),
        (
            "POST",
            "/sales",
            Some(r#"{"items": [{"product_id": 1, "quantity": -3}]}"#),
            422,
        ),
        (
            "POST",
            "/sales",
            Some(r#"{"items": [{"product_id": 9999999999, "quantity": 1}]}"#),
            404,
        ),
        (
            "POST",
            "/products",
            Some(r#"{"name": "", "price_cents": 1}"#),
            422,
        ),
        (
            "POST",
            "/products",
            Some(r#"{"name": "x", "price_cents": -1}"#),
            422,
        ),
        (
            "POST",
            "/products",
            Some(r#"{"name": "x", "price_cents": 1, "colour": "red"}"#),
            422,
        ),
        ("GET", "/products/not-a-number", None, 400),
        ("GET", "/sales/424242424242", None, 404),
        (
            "GET",
            "/sales/report?from=2026-02-30&to=2026-03-01",
            None,
            400,
        ),
        ("GET", "/sales/report?from=yesterday", None, 400),
    ];
    for (method, path, body, expected) in bad {
        let (status, answer) = call(&service, method, path, body);
        assert_eq!(status, expected, "{method} {path} {body:?}: {answer}");
        assert!(
            answer["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{method} {path}: no reason in {answer}"
        );
    }
    // Over the 64 KiB limit, yet small enough to be written whole before the server
    // answers: a client still writing a huge body sees the connection closed instead.
    let huge = format!(r#"{{"items": [], "pad": "{}"}}"#, "x".repeat(100 * 1024));
    let (status, answer) = call(&service, "POST", "/sales", Some(&huge));
    assert_eq!(status, 413, "{answer}");
    let (status, answer) = post(
        &service,
        "/sales",
        &json!({ "items": [{ "product_id": id, "quantity": 2 }] }),
    );
    assert_eq!(status, 409, "{answer}");

    let results: Vec<u16> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..10)
            .map(|_| {
                scope.spawn(|| {
                    post(
                        &service,
                        "/sales",
                        &json!({ "items": [{ "product_id": id, "quantity": 1 }] }),
                    )
                    .0
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("no panic"))
            .collect()
    });
    assert_eq!(
        results.iter().filter(|&&s| s == 201).count(),
        1,
        "{results:?}"
    );
    assert_eq!(
        results.iter().filter(|&&s| s == 409).count(),
        9,
        "{results:?}"
    );
    let (_, product) = call(&service, "GET", &format!("/products/{id}"), None);
    assert_eq!(product["stock"], 0, "{product}");
}
