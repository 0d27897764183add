//! A distinctive password, set in every configuration source the service reads (the
//! `poolside.toml` file, `POOLSIDE_*` variables, the legacy `DATABASE_URL` family, the
//! Redis URL), and a distinctive admin token, never appear in anything the service
//! writes at any log level, in any HTTP answer (probes, detailed health, metrics,
//! errors), in its start-up errors, or in the panic a caller's `.expect()` makes of
//! poolside's errors. The password is the services' `poolside_secret` role's.

use std::path::PathBuf;
use std::process::Command;

use poolside_tests::http::{ServiceProcess, send_with_headers};
use poolside_tests::{required_env, split_password};
use serde_json::json;

const PROGRAM: &str = env!("CARGO_BIN_EXE_poolside-example-pos-service");
const ADMIN_TOKEN: &str = "Tk-4d1b9e-admin-token-never-shown";

/// The secret role's URL and its password.
fn secret() -> (String, String) {
    let url = required_env("DATABASE_SECRET_URL");
    let (_, password) = split_password(&url);
    assert!(password.len() >= 12, "a distinctive password: {password}");
    (url, password)
}

/// A fresh working directory for one run, with `poolside.toml` holding `toml`.
fn workdir(name: &str, toml: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("poolside-secrets-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a temp dir");
    std::fs::write(dir.join("poolside.toml"), toml).expect("poolside.toml written");
    dir
}

fn assert_clean(what: &str, text: &str, secrets: &[&str]) {
    for secret in secrets {
        assert!(
            !text.contains(secret),
            "{what} holds a secret:\n{}",
            text.lines()
                .filter(|line| line.contains(secret))
                .take(5)
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}

#[test]
fn a_running_service_never_shows_the_password_or_the_token() {
    let (url, password) = secret();
    // Redis's user with the secret password, which Redis refuses: every connect fails,
    // and says so, masked.
    let redis_with_password = required_env("REDIS_URL")
        .split_once('@')
        .map(|(_, host)| format!("redis://default:{password}@{host}"))
        .expect("REDIS_URL names user and host");
    let dir = workdir(
        "running",
        &format!("[postgres]\nurl = \"{url}\"\n\n[overflow]\nsecondary_url = \"{url}\"\n"),
    );
    let mut service = ServiceProcess::start_logged(
        PROGRAM,
        &[
            ("RUST_LOG", "trace".into()),
            ("DATABASE_URL", url.clone()),
            ("DATABASE_URL_DIRECT", url.clone()),
            ("POOLSIDE_POSTGRES__URL", url.clone()),
            ("REDIS_URL", redis_with_password),
            ("POOLSIDE_PROFILE", "test".into()),
            ("POOLSIDE_HEALTH__ADMIN_TOKEN", ADMIN_TOKEN.into()),
        ],
        &["POOLSIDE_CONFIG"],
        &dir,
    );
    let bearer = format!("Bearer {ADMIN_TOKEN}");
    let mut answers = Vec::new();
    let (status, product) = service.post(
        "/products",
        &json!({ "name": "Secret tea", "price_cents": 300, "stock": 3 }),
    );
    assert_eq!(status, 201, "{product}");
    let id = product["id"].as_i64().expect("an id");
    answers.push(product.to_string());
    for body in [
        json!({ "items": [{ "product_id": id, "quantity": 1 }] }),
        json!({ "items": [{ "product_id": id, "quantity": 99 }] }),
        json!({ "items": [{ "product_id": 123_456_789, "quantity": 1 }] }),
    ] {
        answers.push(service.post("/sales", &body).1.to_string());
    }
    for path in [
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
        &format!("/products/{id}"),
        "/no/such/route",
    ] {
        for headers in [vec![], vec![("authorization", bearer.as_str())]] {
            let answer =
                send_with_headers("GET", &format!("{}{path}", service.base), None, &headers)
                    .unwrap_or_else(|e| panic!("{e}"));
            answers.push(format!("GET {path} -> {}: {}", answer.status, answer.body));
        }
    }
    // The operator route is guarded by the same token, on the service's own port.
    let warm_up = |headers: &[(&str, &str)]| {
        send_with_headers(
            "POST",
            &format!("{}/admin/warmup", service.base),
            None,
            headers,
        )
        .unwrap_or_else(|e| panic!("{e}"))
    };
    assert_eq!(warm_up(&[]).status, 401, "a warm-up without the token");
    let warmed = warm_up(&[("authorization", bearer.as_str())]);
    assert_eq!(warmed.status, 200, "{}", warmed.body);
    answers.push(warmed.body);
    let detailed = answers
        .iter()
        .find(|a| a.starts_with("GET /health/detailed -> 200"))
        .expect("the detailed report with the token");
    assert!(
        detailed.contains("****"),
        "URLs are shown masked: {detailed}"
    );
    assert!(service.terminate().success());
    let output = service.output();
    assert!(
        output.contains("TRACE"),
        "trace logging was on: {} bytes of output",
        output.len()
    );
    assert_clean("the service's output", &output, &[&password, ADMIN_TOKEN]);
    assert_clean(
        "an HTTP answer",
        &answers.join("\n"),
        &[&password, ADMIN_TOKEN],
    );
    println!(
        "secrets: {} bytes of trace output and {} HTTP answers searched, password and token found 0 times",
        output.len(),
        answers.len()
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_service_with_its_password_in_a_file_migrates_serves_and_never_shows_it() {
    let (url, password) = secret();
    let dir = workdir("password-file", "");
    let file = dir.join("db-password");
    std::fs::write(&file, format!("{password}\n")).expect("the password file written");
    let mut service = ServiceProcess::start_logged(
        PROGRAM,
        &[
            ("RUST_LOG", "trace".into()),
            ("DATABASE_URL", split_password(&url).0),
            (
                "POOLSIDE_POSTGRES__PASSWORD_FILE",
                file.display().to_string(),
            ),
            ("POOLSIDE_PROFILE", "test".into()),
        ],
        &["POOLSIDE_CONFIG", "REDIS_URL"],
        &dir,
    );
    // The migration and the pool both read the file: a sale needs the schema.
    let (status, product) = service.post(
        "/products",
        &json!({ "name": "Filed tea", "price_cents": 300, "stock": 3 }),
    );
    assert_eq!(status, 201, "{product}");
    let id = product["id"].as_i64().expect("an id");
    let (status, sale) = service.post(
        "/sales",
        &json!({ "items": [{ "product_id": id, "quantity": 1 }] }),
    );
    assert_eq!(status, 201, "{sale}");
    assert!(service.terminate().success());
    assert_clean("the service's output", &service.output(), &[&password]);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_service_that_cannot_start_never_shows_the_password() {
    let (url, password) = secret();
    let wrong_password = url.replace(&password, &format!("{password}-but-wrong"));
    let unreachable = url.replace(":15432/", ":1/");
    assert_ne!(unreachable, url, "the URL names port 15432: {url}");
    // (name, poolside.toml, environment, what the error must say)
    let stale_file = std::env::temp_dir().join(format!("poolside-stale-pw-{}", std::process::id()));
    std::fs::write(&stale_file, format!("{password}-but-wrong\n")).expect("written");
    type Case<'a> = (&'a str, String, Vec<(&'a str, String)>, &'a str);
    let cases: [Case<'_>; 5] = [
        (
            "wrong-password",
            format!("[postgres]\nurl = \"{wrong_password}\"\n"),
            vec![],
            "password authentication failed",
        ),
        (
            "wrong-password-file",
            String::new(),
            vec![
                ("DATABASE_URL", split_password(&url).0),
                (
                    "POOLSIDE_POSTGRES__PASSWORD_FILE",
                    stale_file.display().to_string(),
                ),
            ],
            "the password was read from postgres.password_file",
        ),
        (
            "unreachable",
            String::new(),
            vec![("DATABASE_URL", unreachable)],
            "refused",
        ),
        (
            "invalid-config",
            String::new(),
            vec![
                ("POOLSIDE_POSTGRES__URL", url.clone()),
                ("POOLSIDE_POSTGRES__MIN_IDLE", "50".into()),
                ("POOLSIDE_POSTGRES__MAX_SIZE", "5".into()),
            ],
            "postgres.min_idle",
        ),
        (
            "malformed-url",
            String::new(),
            vec![("DATABASE_URL", url.replace(":15432/", ":notaport/"))],
            "postgres.url",
        ),
    ];
    for (name, toml, env, expected) in cases {
        let dir = workdir(name, &toml);
        let output = Command::new(PROGRAM)
            .current_dir(&dir)
            .env_remove("DATABASE_URL")
            .env_remove("POOLSIDE_CONFIG")
            .env_remove("REDIS_URL")
            .envs(env)
            .env("RUST_LOG", "trace")
            .env("POOLSIDE_HTTP_ADDR", "127.0.0.1:0")
            .env("POOLSIDE_POSTGRES__CONNECTION_TIMEOUT", "3s")
            .output()
            .expect("the service runs");
        assert!(!output.status.success(), "{name}: it must not start");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            text.contains(expected),
            "{name}: expected {expected:?} in\n{text}"
        );
        assert_clean(name, &text, &[&password]);
        let _ = std::fs::remove_dir_all(dir);
    }
    let _ = std::fs::remove_file(stale_file);
}

/// What a caller sees when it `.expect()`s poolside's errors: the panic message holds
/// the error's `Debug`, which must be as clean as its `Display`.
#[tokio::test]
async fn a_panic_on_poolside_errors_never_shows_the_password() {
    let (url, password) = secret();
    let wrong_password = url.replace(&password, &format!("{password}-but-wrong"));
    let mut errors: Vec<String> = Vec::new();
    let env = |url: &str| -> poolside::config::EnvSnapshot {
        [
            ("DATABASE_URL", url),
            ("POOLSIDE_PROFILE", "test"),
            ("POOLSIDE_POSTGRES__CONNECTION_TIMEOUT", "3s"),
        ]
        .into_iter()
        .collect()
    };
    let loaded = poolside::config::ConfigLoader::from_env(env(&wrong_password))
        .load()
        .expect("a valid configuration");
    let failed = poolside::Poolside::builder()
        .config(loaded.config.clone())
        .without_prometheus_recorder()
        .build()
        .await
        .expect_err("a wrong password");
    errors.push(panic_message(failed));
    let pool_error = poolside::core::PgPool::connect(&loaded.config.postgres)
        .await
        .expect_err("a wrong password");
    errors.push(panic_message(pool_error));
    let config_error =
        poolside::config::ConfigLoader::from_env(env(&url.replace(":15432/", ":notaport/")))
            .load()
            .expect_err("a malformed URL");
    errors.push(panic_message(config_error));
    for message in &errors {
        assert!(message.contains("start"), "the panic message: {message}");
        assert_clean("a panic message", message, &[&password]);
    }
}

/// The message of the panic `Err(error).expect("start")` makes.
fn panic_message<E: std::fmt::Debug>(error: E) -> String {
    let quiet = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let payload = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let started: Result<(), E> = std::hint::black_box(Err(error));
        started.expect("start");
    }))
    .expect_err("expect panics on Err");
    std::panic::set_hook(quiet);
    payload
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_else(|| "a panic without a message".to_owned())
}
