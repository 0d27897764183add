//! The operations files on the real tools: a real Prometheus (Debian's `prometheus`)
//! scrapes a running pos-service and evaluates `ops/prometheus/alerts.yml` (a copy
//! with every `for` cut to 2 s, as the shipped file is never changed for a test).
//! PostgreSQL is stopped: `PoolsideBreakerOpen` and `PoolsideHealthFailing` reach
//! `firing`, and resolve once it is back. Then every PromQL expression of every panel
//! of `ops/grafana/poolside.json` returns data through Prometheus's HTTP API.
//!
//! Stops the shared PostgreSQL: ignored by the ordinary test run, run by the faults
//! phase of `cargo xtask test` (or by hand, after `cargo xtask services up`:
//! `POOLSIDE_XTASK=$PWD/target/debug/xtask cargo test -p poolside-test-suite --test
//! prometheus -- --ignored`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use poolside_test_suite::PosService;
use poolside_tests::http::{Client, free_port, send};
use poolside_tests::{required_env, try_xtask_services, xtask_services};
use serde_json::Value;

/// How often Prometheus scrapes and evaluates the rules.
const INTERVAL: &str = "1s";
/// How long an alert may take to fire, or to resolve.
const ALERT_LIMIT: Duration = Duration::from_secs(90);

fn ops(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../ops")
        .join(path)
}

/// A Prometheus server on a free loopback port, killed by its pid when dropped.
struct Prometheus {
    child: Child,
    base: String,
}

impl Prometheus {
    /// Starts Prometheus in `dir`, scraping `target` (`host:port`) and evaluating
    /// `rules`, and waits until it is ready.
    fn start(dir: &Path, target: &str, rules: &Path) -> Self {
        let port = free_port();
        let config = dir.join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: {INTERVAL}\n  evaluation_interval: {INTERVAL}\n\
                 rule_files:\n  - {}\n\
                 scrape_configs:\n  - job_name: pos-service\n    metrics_path: /metrics\n    \
                 static_configs:\n      - targets: ['{target}']\n",
                rules.display()
            ),
        )
        .expect("writes prometheus.yml");
        let log = std::fs::File::create(dir.join("prometheus.log")).expect("a log file");
        let child = Command::new(poolside_tests::tools::prometheus())
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("prometheus starts");
        let prometheus = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        let began = Instant::now();
        while send("GET", &format!("{}/-/ready", prometheus.base), None).map(|a| a.status)
            != Ok(200)
        {
            assert!(
                began.elapsed() < Duration::from_secs(30),
                "prometheus was not ready in 30 s; its log: {}",
                dir.join("prometheus.log").display()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        prometheus
    }

    /// `GET /api/v1/<path>`: the `data` of a successful answer.
    fn api(&self, path: &str) -> Value {
        let answer = send("GET", &format!("{}/api/v1/{path}", self.base), None)
            .unwrap_or_else(|e| panic!("prometheus answers {path}: {e}"));
        let body: Value = serde_json::from_str(&answer.body).expect("JSON");
        assert_eq!(body["status"], "success", "{path}: {body}");
        body["data"].clone()
    }

    /// The result of the instant query `expr`.
    fn query(&self, expr: &str) -> Vec<Value> {
        let encoded: String = url::form_urlencoded::byte_serialize(expr.as_bytes()).collect();
        self.api(&format!("query?query={encoded}"))["result"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// The state of alert `name` (`pending`, `firing`), if it is active.
    fn alert_state(&self, name: &str) -> Option<String> {
        self.api("alerts")["alerts"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|alert| alert["labels"]["alertname"] == name)
            .map(|alert| alert["state"].as_str().unwrap_or_default().to_owned())
            .max_by_key(|state| state == "firing")
    }

    /// Waits until `done(state of name)` holds, calling `poke` between looks.
    fn wait_alert(
        &self,
        name: &str,
        what: &str,
        done: impl Fn(Option<&str>) -> bool,
        poke: &dyn Fn(),
    ) {
        let began = Instant::now();
        loop {
            let state = self.alert_state(name);
            if done(state.as_deref()) {
                eprintln!("{name} {what} after {:?}", began.elapsed());
                return;
            }
            assert!(
                began.elapsed() < ALERT_LIMIT,
                "{name} not {what} within {ALERT_LIMIT:?} (state {state:?})"
            );
            poke();
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The alert rules with every `for:` cut to 2 s.
fn quick_rules(dir: &Path) -> PathBuf {
    let shipped = std::fs::read_to_string(ops("prometheus/alerts.yml")).expect("alerts.yml");
    let quick: String = shipped
        .lines()
        .map(|line| match line.trim_start().strip_prefix("for: ") {
            Some(_) => format!("{}for: 2s", &line[..line.len() - line.trim_start().len()]),
            None => line.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        quick.matches("for: 2s").count() >= 7,
        "every rule has a for"
    );
    let path = dir.join("alerts.quick.yml");
    std::fs::write(&path, quick).expect("writes the rules");
    path
}

/// Every PromQL expression of every panel of the dashboard, with Grafana's
/// `$__rate_interval` as one minute.
fn panel_queries() -> Vec<(String, String)> {
    let dashboard: Value = serde_json::from_str(
        &std::fs::read_to_string(ops("grafana/poolside.json")).expect("the dashboard"),
    )
    .expect("JSON");
    dashboard["panels"]
        .as_array()
        .expect("panels")
        .iter()
        .flat_map(|panel| {
            let title = panel["title"].as_str().unwrap_or_default().to_owned();
            panel["targets"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(move |target| {
                    let expr = target["expr"].as_str()?.replace("$__rate_interval", "1m");
                    Some((title.clone(), expr))
                })
        })
        .collect()
}

/// Starts PostgreSQL again when the test ends, passed or not.
struct PostgresBack;

impl Drop for PostgresBack {
    fn drop(&mut self) {
        if let Err(e) = try_xtask_services(&["up"]) {
            eprintln!("starting PostgreSQL again: {e}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "stops the shared PostgreSQL: run by `cargo xtask test` in its faults phase"]
async fn prometheus_scrapes_the_service_fires_the_alerts_and_draws_every_panel() {
    let database_url = required_env("DATABASE_URL");
    let redis_url = required_env("REDIS_URL");
    let service = PosService::start(
        &[
            ("DATABASE_URL", &database_url),
            ("REDIS_URL", &redis_url),
            ("POOLSIDE_PROFILE", "test"),
            ("POOLSIDE_HEALTH__CHECK_INTERVAL", "1s"),
            ("POOLSIDE_HEALTH__CHECK_TIMEOUT", "1s"),
            ("POOLSIDE_BREAKER__MIN_CALLS", "3"),
            ("POOLSIDE_BREAKER__FAILURE_RATE_PERCENT", "50"),
            ("POOLSIDE_BREAKER__OPEN_FOR", "10s"),
            ("POOLSIDE_RETRY__TOTAL_DEADLINE", "2s"),
            ("POOLSIDE_POSTGRES__CONNECTION_TIMEOUT", "1s"),
            // The overflow pool's switch is what the failover panel counts.
            ("POOLSIDE_OVERFLOW__ENABLED", "true"),
            ("POOLSIDE_OVERFLOW__SECONDARY_URL", &database_url),
        ],
        &database_url,
    )
    .await;
    let (addr, base) = (service.addr, service.base());
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("prometheus-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a directory");

    tokio::task::spawn_blocking(move || {
        let rules = quick_rules(&dir);
        let prometheus = Prometheus::start(&dir, &addr.to_string(), &rules);
        let client = Client::new();
        let call = |method: &str, path: &str, body: Option<&str>| {
            let _ = client.send(method, &format!("{base}{path}"), body);
        };
        // Traffic for every panel: writes (checkouts), reads that miss then hit the
        // cache, a sale refused for want of stock, a product that does not exist.
        let product = client
            .send(
                "POST",
                &format!("{base}/products"),
                Some(r#"{"name":"Pretzel","price_cents":90,"stock":5}"#),
            )
            .expect("creates a product");
        assert_eq!(product.status, 201, "{}", product.body);
        let id = product.json()["id"].as_i64().expect("an id");
        for _ in 0..20 {
            call("GET", "/products", None);
            call("GET", &format!("/products/{id}"), None);
            call(
                "POST",
                "/sales",
                Some(&format!(
                    r#"{{"items":[{{"product_id":{id},"quantity":1}}]}}"#
                )),
            );
            call("GET", "/products/987654321", None);
            std::thread::sleep(Duration::from_millis(100));
        }

        let _back = PostgresBack;
        xtask_services(&["stop", "postgres"]);
        // Calls that reach the database while it is down: products never cached.
        let failing = || {
            for n in 0..5 {
                call("GET", &format!("/products/{}", 2_000_000 + n), None);
            }
        };
        for alert in ["PoolsideBreakerOpen", "PoolsideHealthFailing"] {
            prometheus.wait_alert(alert, "firing", |state| state == Some("firing"), &failing);
        }

        xtask_services(&["up"]);
        // Reads the cache does not answer (no such product: a 404 from the database),
        // so the breaker sees the database answer again.
        let healthy = || call("GET", "/products/987654321", None);
        for alert in ["PoolsideBreakerOpen", "PoolsideHealthFailing"] {
            prometheus.wait_alert(
                alert,
                "resolved",
                |state| state != Some("firing") && state != Some("pending"),
                &healthy,
            );
        }

        let queries = panel_queries();
        assert!(queries.len() >= 15, "the dashboard's queries: {queries:?}");
        let mut empty = Vec::new();
        for (title, expr) in queries {
            if prometheus.query(&expr).is_empty() {
                empty.push(format!("{title}: {expr}"));
            }
        }
        assert!(
            empty.is_empty(),
            "panels without data:\n{}",
            empty.join("\n")
        );
    })
    .await
    .expect("the checks ran");
}
