//! Runs the service against the real services, calls every route with a real HTTP
//! client, checks answers and status codes (bad input gets a 4xx with a reason; the
//! last item is never sold twice), then sends SIGTERM and checks a clean exit (after
//! the shutdown delay, or at once on a second SIGTERM).

use std::time::{Duration, Instant};

use poolside_tests::http::{ServiceProcess, free_port, send_with_headers};
use poolside_tests::required_env;
use serde_json::json;

fn start() -> ServiceProcess {
    ServiceProcess::start(
        env!("CARGO_BIN_EXE_poolside-example-pos-service"),
        &[
            ("DATABASE_URL", required_env("DATABASE_URL")),
            ("REDIS_URL", required_env("REDIS_URL")),
            ("POOLSIDE_PROFILE", "test".into()),
            ("POOLSIDE_POSTGRES__MAX_SIZE", "10".into()),
        ],
        &[],
    )
}

/// The service without Redis, serving for `delay` after it leaves rotation.
fn start_with_shutdown_delay(delay: Duration) -> ServiceProcess {
    ServiceProcess::start(
        env!("CARGO_BIN_EXE_poolside-example-pos-service"),
        &[
            ("DATABASE_URL", required_env("DATABASE_URL")),
            ("POOLSIDE_PROFILE", "test".into()),
            (
                "POOLSIDE_HEALTH__SHUTDOWN_DELAY",
                format!("{}s", delay.as_secs()),
            ),
        ],
        &["REDIS_URL"],
    )
}

fn new_product(service: &ServiceProcess, stock: i64) -> i64 {
    let (status, product) = service.post(
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
    let (status, product) = service.call("GET", &format!("/products/{id}"), None);
    assert_eq!(
        (status, product["stock"].as_i64()),
        (200, Some(5)),
        "{product}"
    );
    let (status, list) = service.call("GET", "/products", None);
    assert_eq!(status, 200);
    assert!(
        list.as_array()
            .is_some_and(|l| l.iter().any(|p| p["id"] == id))
    );

    let (status, sale) = service.post(
        "/sales",
        &json!({ "items": [{ "product_id": id, "quantity": 2 }] }),
    );
    assert_eq!(status, 201, "{sale}");
    assert_eq!(sale["total_cents"], 500);
    let sale_id = sale["id"].as_i64().expect("a sale id");
    let (status, read) = service.call("GET", &format!("/sales/{sale_id}"), None);
    assert_eq!(
        (status, &read["items"][0]["quantity"]),
        (200, &json!(2)),
        "{read}"
    );
    let (_, product) = service.call("GET", &format!("/products/{id}"), None);
    assert_eq!(
        product["stock"], 3,
        "the cached product was invalidated: {product}"
    );

    let day = sale["created_at"].as_str().expect("a time")[..10].to_owned();
    let (status, report) = service.call("GET", &format!("/sales/report?from={day}&to={day}"), None);
    assert_eq!(status, 200, "{report}");
    assert!(report["sales"].as_i64() >= Some(1), "{report}");
    assert!(
        report["products"]
            .as_array()
            .is_some_and(|p| p.iter().any(|row| row["product_id"] == id)),
        "{report}"
    );

    let (status, warm) = service.call("POST", "/admin/warmup", None);
    assert_eq!((status, &warm["warmed"]), (200, &json!(true)), "{warm}");
    for path in [
        "/health",
        "/health/live",
        "/health/ready",
        "/health/pool",
        "/health/detailed",
    ] {
        assert_eq!(service.call("GET", path, None).0, 200, "{path}");
    }
    let metrics = service
        .answer("GET", "/metrics", None)
        .expect("metrics")
        .body;
    assert!(
        metrics.contains(r#"operation="create_sale",outcome="ok""#),
        "{metrics}"
    );
    // One Redis server: the detailed view read its topology, but the node figures
    // are for Sentinel and Cluster only.
    assert!(!metrics.contains("poolside_redis_node_up{"), "{metrics}");

    let status = service.terminate();
    assert!(status.success(), "exit after SIGTERM: {status}");
}

#[test]
fn bad_input_gets_a_4xx_with_a_reason_and_the_last_item_is_sold_once() {
    let service = start();
    let id = new_product(&service, 1);
    let bad: [(&str, &str, Option<&str>, u16); 17] = [
        ("POST", "/sales", Some("{not json"), 400),
        ("POST", "/sales", None, 415),
        (
            "POST",
            "/sales",
            Some(r#"{"items": [{"product_id": 1, "quantity": 0}]}"#),
            422,
        ),
        (
            "POST",
            "/sales",
            Some(r#"{"items": [{"product_id": 1, "quantity": 9223372036854775807}]}"#),
            422,
        ),
        (
            "POST",
            "/sales",
            Some(r#"{"items": [{"product_id": "one", "quantity": 1}]}"#),
            422,
        ),
        (
            "POST",
            "/sales",
            Some(
                r#"{"items": [{"product_id": 1, "quantity": 1}, {"product_id": 1, "quantity": 1}]}"#,
            ),
            422,
        ),
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
        let (status, answer) = service.call(method, path, body);
        assert_eq!(status, expected, "{method} {path} {body:?}: {answer}");
        assert!(
            answer["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{method} {path}: no reason in {answer}"
        );
    }
    // Over the 64 KiB limit, yet small enough to be written whole before the server
    // answers: a client still writing a huge body sees the connection closed instead.
    let huge = format!(r#"{{"items": [], "pad": "{}"}}"#, "x".repeat(100 * 1024));
    let (status, answer) = service.call("POST", "/sales", Some(&huge));
    assert_eq!(status, 413, "{answer}");
    let (status, answer) = service.post(
        "/sales",
        &json!({ "items": [{ "product_id": id, "quantity": 2 }] }),
    );
    assert_eq!(status, 409, "{answer}");
    // A price within bounds times a quantity within bounds: a total past i64 is
    // refused, and the stock stays.
    let (status, dear) = service.post(
        "/products",
        &json!({ "name": "Yacht", "price_cents": i64::MAX / 2, "stock": 5 }),
    );
    assert_eq!(status, 201, "{dear}");
    let dear = dear["id"].as_i64().expect("an id");
    let (status, answer) = service.post(
        "/sales",
        &json!({ "items": [{ "product_id": dear, "quantity": 3 }] }),
    );
    assert_eq!(status, 422, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .is_some_and(|e| e.contains("total")),
        "{answer}"
    );
    let (_, product) = service.call("GET", &format!("/products/{dear}"), None);
    assert_eq!(product["stock"], 5, "{product}");

    let results: Vec<u16> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..10)
            .map(|_| {
                scope.spawn(|| {
                    service
                        .post(
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
    let (_, product) = service.call("GET", &format!("/products/{id}"), None);
    assert_eq!(product["stock"], 0, "{product}");
}

/// SIGTERM takes the service out of rotation first: `/health/ready` answers 503 at
/// once, while new connections are still accepted and served for the shutdown delay,
/// so that a load balancer that has not yet seen the 503 loses no request; it exits
/// cleanly after the delay.
#[test]
fn sigterm_leaves_rotation_and_serves_through_the_shutdown_delay() {
    const DELAY: Duration = Duration::from_secs(4);
    let mut service = start_with_shutdown_delay(DELAY);
    let id = new_product(&service, 5);
    service.send_sigterm();
    let sent = Instant::now();
    loop {
        let ready = service
            .answer("GET", "/health/ready", None)
            .expect("an answer");
        if ready.status == 503 {
            assert!(ready.body.contains("out of rotation"), "{}", ready.body);
            break;
        }
        assert!(sent.elapsed() < DELAY / 2, "still ready: {}", ready.body);
        std::thread::sleep(Duration::from_millis(20));
    }
    // Each call on a new connection: the listener still accepts.
    let (status, product) = service.call("GET", &format!("/products/{id}"), None);
    assert_eq!((status, &product["stock"]), (200, &json!(5)), "{product}");
    let (status, sale) = service.post(
        "/sales",
        &json!({ "items": [{ "product_id": id, "quantity": 1 }] }),
    );
    assert_eq!(status, 201, "a sale during the delay: {sale}");
    assert_eq!(service.call("GET", "/health/live", None).0, 200);
    assert!(sent.elapsed() < DELAY, "the calls outlasted the delay");

    let exit = service.wait_for_exit();
    assert!(exit.success(), "exit after SIGTERM: {exit}");
    assert!(
        sent.elapsed() >= DELAY,
        "exited {:?} after SIGTERM, before the delay",
        sent.elapsed()
    );
}

/// A second SIGTERM (or Ctrl-C) during the shutdown delay stops the service at once: it
/// leaves rotation on the first, exits 0 on the second, long before the delay ends.
#[test]
fn a_second_sigterm_cuts_the_shutdown_delay_short() {
    const DELAY: Duration = Duration::from_secs(60);
    let mut service = start_with_shutdown_delay(DELAY);
    service.send_sigterm();
    let first = Instant::now();
    while service.call("GET", "/health/ready", None).0 != 503 {
        assert!(first.elapsed() < Duration::from_secs(5), "still ready");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(service.call("GET", "/health/live", None).0, 200);
    let out_of_rotation = first.elapsed();
    let (exit, took) = service.signal_and_wait("TERM");
    assert!(exit.success(), "exit after a second SIGTERM: {exit}");
    println!(
        "out of rotation {out_of_rotation:?} after the first SIGTERM; exit 0 {took:?} after \
         the second (shutdown delay {DELAY:?})"
    );
    assert!(took < Duration::from_secs(10), "{took:?}");
}

/// With `health.admin_addr` and `health.admin_token`, the detailed endpoints and the
/// operator route leave the service's port for their own, and answer 401 there
/// without the token; the probes stay on the service's port, open.
#[test]
fn detailed_endpoints_move_to_the_admin_address_behind_the_token() {
    const TOKEN: &str = "ops-only-token-7f3a9c";
    let admin_port = free_port();
    let service = ServiceProcess::start(
        env!("CARGO_BIN_EXE_poolside-example-pos-service"),
        &[
            ("DATABASE_URL", required_env("DATABASE_URL")),
            ("POOLSIDE_PROFILE", "test".into()),
            (
                "POOLSIDE_HEALTH__ADMIN_ADDR",
                format!("127.0.0.1:{admin_port}"),
            ),
            ("POOLSIDE_HEALTH__ADMIN_TOKEN", TOKEN.into()),
        ],
        &["REDIS_URL"],
    );
    let admin = format!("http://127.0.0.1:{admin_port}");
    let bearer = format!("Bearer {TOKEN}");
    for probe in [
        "/health",
        "/health/live",
        "/health/ready",
        "/health/startup",
    ] {
        assert_eq!(service.call("GET", probe, None).0, 200, "{probe}");
    }
    for (method, path) in [
        ("GET", "/metrics"),
        ("GET", "/health/detailed"),
        ("GET", "/health/db"),
        ("GET", "/health/pool"),
        ("GET", "/health/alerts"),
        ("POST", "/admin/warmup"),
    ] {
        assert_eq!(
            service.call(method, path, None).0,
            404,
            "{path} is not on the service's port"
        );
        let get = |headers: &[(&str, &str)]| {
            send_with_headers(method, &format!("{admin}{path}"), None, headers)
                .unwrap_or_else(|e| panic!("{e}"))
        };
        let refused = get(&[]);
        assert_eq!(refused.status, 401, "{path} without the token");
        assert!(
            refused.body.contains("health.admin_token"),
            "{}",
            refused.body
        );
        assert!(!refused.body.contains(TOKEN));
        assert_eq!(
            get(&[("authorization", "Bearer ops-only-token-7f3a9X")]).status,
            401,
            "{path} with a wrong token"
        );
        let answered = get(&[("authorization", &bearer)]);
        assert_eq!(
            answered.status, 200,
            "{path} with the token: {}",
            answered.body
        );
        assert!(!answered.body.contains(TOKEN), "{path} shows the token");
    }
}

#[test]
fn with_the_standby_as_replica_a_receipt_read_right_after_its_sale_never_misses_it() {
    let service = ServiceProcess::start(
        env!("CARGO_BIN_EXE_poolside-example-pos-service"),
        &[
            ("DATABASE_URL", required_env("DATABASE_URL")),
            (
                "POOLSIDE_POSTGRES__REPLICAS",
                required_env("DATABASE_STANDBY_URL"),
            ),
            ("POOLSIDE_PROFILE", "test".into()),
        ],
        &["REDIS_URL"],
    );
    let id = new_product(&service, 1000);
    for _ in 0..20 {
        let (status, sale) = service.post(
            "/sales",
            &json!({ "items": [{ "product_id": id, "quantity": 1 }] }),
        );
        assert_eq!(status, 201, "{sale}");
        let token = sale["read_after"].as_str().expect("a read_after token");
        let (status, receipt) =
            service.call("GET", &format!("/sales/{}?after={token}", sale["id"]), None);
        assert_eq!((status, &receipt["id"]), (200, &sale["id"]), "{receipt}");
    }
    let (status, error) = service.call("GET", "/sales/1?after=yesterday", None);
    assert_eq!(status, 422, "{error}");
    assert!(
        error["error"]
            .as_str()
            .is_some_and(|e| e.contains("WAL position")),
        "{error}"
    );
    let (_, detailed) = service.call("GET", "/health/detailed", None);
    let replica = &detailed["postgres"]["replicas"]["replicas"][0];
    assert_eq!(replica["name"], "127.0.0.1:15433", "{detailed}");
    assert!(
        replica["reads"].as_u64() > Some(0),
        "receipts read there: {detailed}"
    );
}
