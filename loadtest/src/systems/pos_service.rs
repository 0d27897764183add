//! The example pos-service as a system under test: N release-built processes, each
//! with its own pool, all through one PgBouncer, driven over HTTP (the `instances`
//! scenario).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result, bail};
use poolside_tests::http::{Client, ServiceProcess};
use serde_json::{Value, json};

use crate::measure::{Operation, Outcome};

/// The pos-service's binary name.
const BINARY: &str = "poolside-example-pos-service";
/// Products the operations read and sell.
const PRODUCTS: usize = 100;
/// One operation in this many is a sale; the others read a product.
const SALE_EVERY: u64 = 10;

/// Builds the pos-service in release mode and returns its binary.
pub(crate) fn build() -> Result<PathBuf> {
    let status = crate::workspace::cargo()
        .args(["build", "--quiet", "--release", "--package", BINARY])
        .current_dir(crate::workspace::root())
        .status()
        .context("running cargo build for the pos-service")?;
    if !status.success() {
        bail!("building the pos-service failed ({status})");
    }
    Ok(crate::workspace::target_dir().join("release").join(BINARY))
}

/// Running pos-service processes, stopped by their pids when dropped.
#[derive(Debug)]
pub(crate) struct Instances {
    processes: Vec<ServiceProcess>,
    /// The products the operations use, created through the first instance.
    products: Arc<Vec<i64>>,
}

/// How the instances are started.
#[derive(Debug)]
pub(crate) struct Launch<'a> {
    pub(crate) binary: &'a Path,
    pub(crate) count: usize,
    /// Each instance's `postgres.max_size`.
    pub(crate) max_size: u32,
    /// PgBouncer's URL (`pgbouncer=true`): every instance's `DATABASE_URL`.
    pub(crate) pgbouncer_url: &'a str,
    /// The server itself, for migrations (`DATABASE_URL_DIRECT`).
    pub(crate) direct_url: &'a str,
    /// Each instance writes its output to `logs/<n>/output.log`.
    pub(crate) logs: &'a Path,
}

impl Instances {
    /// Starts `launch.count` instances one after another (each migrates at start; the
    /// migrations are idempotent), each ready before the next starts, without Redis so
    /// that every read reaches PostgreSQL; then creates the products.
    pub(crate) fn start(launch: &Launch<'_>) -> Result<Self> {
        let mut processes = Vec::with_capacity(launch.count);
        for n in 1..=launch.count {
            let dir = launch.logs.join(n.to_string());
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            let env = [
                ("DATABASE_URL", launch.pgbouncer_url.to_owned()),
                ("DATABASE_URL_DIRECT", launch.direct_url.to_owned()),
                ("POOLSIDE_PROFILE", "production".to_owned()),
                ("POOLSIDE_POSTGRES__MAX_SIZE", launch.max_size.to_string()),
                ("POOLSIDE_POSTGRES__MIN_IDLE", "1".to_owned()),
                (
                    "POOLSIDE_POSTGRES__EXPECTED_INSTANCES",
                    launch.count.to_string(),
                ),
                ("RUST_LOG", "warn".to_owned()),
            ];
            let program = launch.binary.to_string_lossy().into_owned();
            let removed = ["REDIS_URL", "POOLSIDE_REDIS__URL"];
            // ServiceProcess panics when the service does not come up; here that is
            // an error of this run, with the instance's own output.
            let started = std::panic::catch_unwind(|| {
                ServiceProcess::start_logged(&program, &env, &removed, &dir)
            });
            match started {
                Ok(process) => processes.push(process),
                Err(panic) => {
                    let why = panic
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                        .unwrap_or_default();
                    let output =
                        std::fs::read_to_string(dir.join("output.log")).unwrap_or_default();
                    bail!("pos-service instance {n} did not start: {why}\n{output}");
                }
            }
        }
        let first = &processes[0];
        let mut products = Vec::with_capacity(PRODUCTS);
        for i in 0..PRODUCTS {
            let body = json!({ "name": format!("loadtest {i}"), "price_cents": 100, "stock": 1_000_000_000i64 });
            let answer = first
                .answer("POST", "/products", Some(&body.to_string()))
                .map_err(anyhow::Error::msg)?;
            let id = answer.json()["id"].as_i64();
            match (answer.status, id) {
                (201, Some(id)) => products.push(id),
                _ => bail!(
                    "creating a product answered {}: {}",
                    answer.status,
                    answer.body
                ),
            }
        }
        Ok(Self {
            processes,
            products: Arc::new(products),
        })
    }

    /// How many are running.
    pub(crate) fn len(&self) -> usize {
        self.processes.len()
    }

    /// The HTTP operation on instance `n` (from 0): nine product reads to one sale of
    /// one item, over kept-alive connections. A status other than 200 or 201 is an
    /// error, with the service's answer.
    pub(crate) fn operation(&self, n: usize) -> Operation {
        let base = self.processes[n].base.clone();
        let products = Arc::clone(&self.products);
        let client = Client::new();
        let counter = Arc::new(AtomicU64::new(n as u64));
        Arc::new(move || {
            let (base, products, client) = (base.clone(), Arc::clone(&products), client.clone());
            let i = counter.fetch_add(1, Ordering::Relaxed);
            Box::pin(async move {
                let id = products[fastrand::usize(..products.len())];
                let call = move || {
                    if i.is_multiple_of(SALE_EVERY) {
                        let sale = json!({ "items": [{ "product_id": id, "quantity": 1 }] });
                        client.send("POST", &format!("{base}/sales"), Some(&sale.to_string()))
                    } else {
                        client.send("GET", &format!("{base}/products/{id}"), None)
                    }
                };
                // ureq blocks: each request on Tokio's blocking threads.
                let answer = tokio::task::spawn_blocking(call).await;
                let result = match answer {
                    Ok(Ok(answer)) if matches!(answer.status, 200 | 201) => Ok(()),
                    Ok(Ok(answer)) => Err(format!(
                        "HTTP {}: {}",
                        answer.status,
                        error_text(&answer.json(), &answer.body)
                    )),
                    Ok(Err(error)) => Err(error),
                    Err(panic) => Err(format!("the request's thread failed: {panic}")),
                };
                Outcome::of(result)
            })
        })
    }

    /// Each instance's `/health/detailed` budget problems and what it could not read.
    pub(crate) fn budget_findings(&self) -> Vec<String> {
        let mut found = Vec::new();
        for (n, process) in self.processes.iter().enumerate() {
            match process.answer("GET", "/health/detailed", None) {
                Ok(answer) => {
                    let budget = &answer.json()["postgres"]["budget"];
                    for key in ["problems", "unread"] {
                        for line in budget[key].as_array().into_iter().flatten() {
                            found.push(format!(
                                "instance {}: {}",
                                n + 1,
                                line.as_str().unwrap_or_default()
                            ));
                        }
                    }
                    if budget.get("error").is_some() {
                        found.push(format!(
                            "instance {}: budget unread: {}",
                            n + 1,
                            budget["error"]
                        ));
                    }
                }
                Err(error) => found.push(format!("instance {}: /health/detailed: {error}", n + 1)),
            }
        }
        found
    }

    /// Everything the instances wrote to stdout and stderr.
    pub(crate) fn output(&self) -> String {
        self.processes.iter().map(ServiceProcess::output).collect()
    }
}

/// The reason in a service's JSON error answer, or its body.
fn error_text(json: &Value, body: &str) -> String {
    json["error"]
        .as_str()
        .or_else(|| json["message"].as_str())
        .map_or_else(|| body.chars().take(300).collect(), str::to_owned)
}
