//! Eight pos-service processes, each with its own pool, on the one real PgBouncer:
//! together they may open more client connections than the server's
//! `max_connections` (300), driven at once over HTTP. Nothing fails with a connection
//! limit, PgBouncer keeps the server connections at its pool size, and each
//! instance's connection budget (`postgres.expected_instances = 8`) fits; the same
//! sizing straight to the server is warned about.

use std::thread;

use poolside_tests::http::{Client, ServiceProcess};
use poolside_tests::required_env;
use serde_json::json;

const PROGRAM: &str = env!("CARGO_BIN_EXE_poolside-example-pos-service");
const INSTANCES: usize = 8;
/// 8 x 38 = 304 client connections: more than the server's 300.
const MAX_SIZE: &str = "38";
/// Requests each client thread sends; 6 threads per instance.
const REQUESTS: usize = 60;
const THREADS: usize = 6;

fn start(url_var: &str) -> ServiceProcess {
    ServiceProcess::start(
        PROGRAM,
        &[
            ("DATABASE_URL", required_env(url_var)),
            ("DATABASE_URL_DIRECT", required_env("DATABASE_URL")),
            ("POOLSIDE_PROFILE", "production".into()),
            ("POOLSIDE_POSTGRES__MAX_SIZE", MAX_SIZE.into()),
            ("POOLSIDE_POSTGRES__MIN_IDLE", "1".into()),
            (
                "POOLSIDE_POSTGRES__EXPECTED_INSTANCES",
                INSTANCES.to_string(),
            ),
        ],
        &["REDIS_URL"],
    )
}

#[test]
fn eight_instances_share_one_pgbouncer_within_the_budget() {
    let instances: Vec<ServiceProcess> = (0..INSTANCES).map(|_| start("PGBOUNCER_URL")).collect();
    let (status, product) = instances[0].post(
        "/products",
        &json!({ "name": "Flat white", "price_cents": 350, "stock": 1_000_000 }),
    );
    assert_eq!(status, 201, "{product}");
    let id = product["id"].as_i64().expect("an id");

    let failures: Vec<String> = thread::scope(|scope| {
        let threads: Vec<_> = instances
            .iter()
            .flat_map(|instance| (0..THREADS).map(move |t| (instance, t)))
            .map(|(instance, t)| {
                scope.spawn(move || {
                    let client = Client::new();
                    let mut failures = Vec::new();
                    for i in 0..REQUESTS {
                        let answer = if (i + t) % 10 == 0 {
                            let sale = json!({ "items": [{ "product_id": id, "quantity": 1 }] });
                            client.send(
                                "POST",
                                &format!("{}/sales", instance.base),
                                Some(&sale.to_string()),
                            )
                        } else {
                            client.send("GET", &format!("{}/products/{id}", instance.base), None)
                        };
                        match answer {
                            Ok(a) if matches!(a.status, 200 | 201) => {}
                            Ok(a) => failures.push(format!("HTTP {}: {}", a.status, a.body)),
                            Err(e) => failures.push(e),
                        }
                    }
                    failures
                })
            })
            .collect();
        threads
            .into_iter()
            .flat_map(|t| t.join().expect("a client thread"))
            .collect()
    });
    assert!(
        failures.is_empty(),
        "{} failed, first: {:?}",
        failures.len(),
        failures.first()
    );

    for (n, instance) in instances.iter().enumerate() {
        let (status, detailed) = instance.call("GET", "/health/detailed", None);
        assert_eq!(status, 200, "{detailed}");
        let budget = &detailed["postgres"]["budget"];
        assert_eq!(budget["expected_instances"], 8, "{budget}");
        assert_eq!(budget["needed"], 304, "{budget}");
        assert_eq!(budget["problems"], json!([]), "instance {n}: {budget}");
        assert_eq!(budget["unread"], json!([]), "instance {n}: {budget}");
        // PgBouncer lent at most its pool (default_pool_size 20) of server
        // connections to all eight instances.
        let server: u64 = budget["pgbouncer"]["pools"]
            .as_array()
            .expect("SHOW POOLS")
            .iter()
            .filter(|row| row["database"] == "poolside")
            .map(|row| {
                ["sv_active", "sv_idle", "sv_used", "sv_tested", "sv_login"]
                    .iter()
                    .map(|c| {
                        row[c]
                            .as_str()
                            .and_then(|v| v.parse::<u64>().ok())
                            .unwrap_or(0)
                    })
                    .sum::<u64>()
            })
            .sum();
        assert!(
            (1..=20).contains(&server),
            "{server} server connections: {budget}"
        );
    }

    // The same sizing straight to the server would not fit, and the budget says so.
    let direct = start("DATABASE_URL");
    let (_, detailed) = direct.call("GET", "/health/detailed", None);
    let problems = detailed["postgres"]["budget"]["problems"].to_string();
    assert!(
        problems.contains("8 x postgres.max_size 38 = 304 connections")
            && problems.contains("lower postgres.max_size"),
        "{problems}"
    );
}
