//! With `postgres.connect_lazy`, the service starts while PostgreSQL is away (behind a
//! proxy that refuses every connection): it answers liveness but not readiness, whose
//! `migration:completed` check says why; once the server answers it migrates, turns
//! ready and sells. Without it, the start fails at once, naming the server.

use std::process::Command;
use std::time::{Duration, Instant};

use poolside_tests::fault_proxy::{FaultProxy, Mode};
use poolside_tests::http::ServiceProcess;
use serde_json::{Value, json};

const PROGRAM: &str = env!("CARGO_BIN_EXE_poolside-example-pos-service");

/// The `migration:completed` check of `/health/ready`, with the status code.
fn migration_check(service: &ServiceProcess) -> (u16, Value) {
    let (status, ready) = service.call("GET", "/health/ready", None);
    (status, ready["checks"]["migration:completed"][0].clone())
}

#[test]
fn with_connect_lazy_it_starts_before_postgresql_and_migrates_once_it_answers() {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let (proxy, proxied) = runtime.block_on(FaultProxy::in_front_of_postgres());
    proxy.set_mode(Mode::Refuse);
    let env = |lazy: &str| {
        vec![
            ("DATABASE_URL", proxied.clone()),
            ("POOLSIDE_PROFILE", "test".to_owned()),
            ("POOLSIDE_POSTGRES__CONNECT_LAZY", lazy.to_owned()),
        ]
    };

    let eager = Command::new(PROGRAM)
        .envs(env("false"))
        .env("POOLSIDE_HTTP_ADDR", "127.0.0.1:0")
        .env_remove("REDIS_URL")
        .output()
        .expect("the service runs");
    let stderr = String::from_utf8_lossy(&eager.stderr);
    assert!(!eager.status.success(), "started without the server");
    assert!(stderr.contains(&proxy.addr().to_string()), "{stderr}");

    let dir = std::env::temp_dir().join(format!("poolside-lazy-pos-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a working directory");
    let mut service =
        ServiceProcess::start_live_logged(PROGRAM, &env("true"), &["REDIS_URL"], &dir);
    let (status, check) = migration_check(&service);
    assert_eq!(status, 503, "{check}");
    let began = Instant::now();
    // The first attempt runs at once; wait for its failure to be reported.
    let output = loop {
        let (_, check) = migration_check(&service);
        let output = check["output"].as_str().unwrap_or_default().to_owned();
        if output.contains("failed") || began.elapsed() > Duration::from_secs(10) {
            break output;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        output.starts_with("migration has not completed (migration on postgres://"),
        "{output}"
    );
    assert!(output.contains(&proxy.addr().to_string()), "{output}");
    assert_eq!(service.call("GET", "/health/startup", None).0, 503);
    assert_eq!(service.call("GET", "/health/live", None).0, 200);
    std::thread::sleep(Duration::from_secs(2));
    let attempts = proxy.accepted();

    proxy.set_mode(Mode::Pass);
    let passed = Instant::now();
    while service.call("GET", "/health/ready", None).0 != 200 {
        assert!(
            passed.elapsed() < Duration::from_secs(20),
            "not ready: {}",
            migration_check(&service).1
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let ready_after = passed.elapsed();
    assert_eq!(migration_check(&service), (200, Value::Null));
    assert_eq!(service.call("GET", "/health/startup", None).0, 200);
    let (status, product) = service.post(
        "/products",
        &json!({ "name": "Espresso", "price_cents": 250, "stock": 3 }),
    );
    assert_eq!(status, 201, "{product}");
    let (status, sale) = service.post(
        "/sales",
        &json!({ "items": [{ "product_id": product["id"], "quantity": 1 }] }),
    );
    assert_eq!(status, 201, "{sale}");
    let exit = service.terminate();
    assert!(exit.success(), "exit after SIGTERM: {exit}");

    let log = service.output();
    let warnings = log
        .lines()
        .filter(|l| l.contains("WARN") && l.contains("the migration failed"))
        .count();
    println!(
        "ready {ready_after:?} after the server answered; {attempts} connections refused \
         in the first {:?}; {warnings} migration warning(s)",
        passed - began
    );
    assert!(warnings >= 1, "{log}");
    assert!(log.contains("startup task completed"), "{log}");
    let _ = std::fs::remove_dir_all(&dir);
}
