//! The servers failed under the point-of-sale service, run in this process and
//! called over HTTP: Redis killed while it sells (the cache steps aside, no request
//! fails), and PostgreSQL restarted three ways under 200 clients (no acknowledged sale
//! lost, the stock in step with the sales).
//!
//! They stop the shared servers, so they are ignored in the ordinary parallel run and
//! run alone, one at a time, by the faults phase of `cargo xtask test` (see
//! `server_faults.rs`). By hand, after `cargo xtask services up`:
//! `POOLSIDE_XTASK=$PWD/target/debug/xtask cargo test -p poolside-test-suite --test pos_service_faults -- --ignored --test-threads=1`

use std::sync::Arc;
use std::time::{Duration, Instant};

use poolside_test_suite::PosService;
use poolside_tests::{required_env, try_xtask_services, xtask_services};

/// Starts whatever a fault test stopped, when the test ends, passed or not.
struct ServicesUp;

impl Drop for ServicesUp {
    fn drop(&mut self) {
        if let Err(e) = try_xtask_services(&["up"]) {
            eprintln!("services up after the fault test: {e}");
        }
    }
}

/// Blocking HTTP calls to the in-process service: (status, JSON body); status 0 when
/// no answer came.
fn http(
    base: &str,
    method: &str,
    path: &str,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    let body = body.map(|b| b.to_string());
    // A transport failure (no answer within 10 s, a reset) is status 0: a failure the
    // caller counts, not a panic of its thread.
    poolside_tests::http::send(method, &format!("{base}{path}"), body.as_deref())
        .map_or((0, serde_json::Value::Null), |answer| {
            (answer.status, answer.json())
        })
}

/// What a run of [`sell_and_read`] saw: the failures (status and route) and the sales
/// acknowledged.
type Traffic = (Vec<(u16, &'static str)>, u64);

/// Sells one unit of `product` and reads it back twice (the sale drops it from the
/// cache; the second read finds it there when the cache works), `rounds` times;
/// returns the failures (status and path) and the sales acknowledged.
fn sell_and_read(base: &str, product: i64, rounds: usize) -> Traffic {
    let (mut failures, mut sold) = (Vec::new(), 0);
    for _ in 0..rounds {
        let sale = serde_json::json!({ "items": [{ "product_id": product, "quantity": 1 }] });
        match http(base, "POST", "/sales", Some(sale)).0 {
            201 => sold += 1,
            status => failures.push((status, "POST /sales")),
        }
        for _ in 0..2 {
            let status = http(base, "GET", &format!("/products/{product}"), None).0;
            if status != 200 {
                failures.push((status, "GET /products/{id}"));
            }
        }
    }
    (failures, sold)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "kills the shared Redis: run by `cargo xtask test` in its faults phase"]
async fn server_fault_redis_killed_while_selling() {
    let database_url = required_env("DATABASE_URL");
    let service = PosService::start(
        &[
            ("DATABASE_URL", &database_url),
            ("REDIS_URL", &required_env("REDIS_URL")),
            ("POOLSIDE_PROFILE", "test"),
            ("POOLSIDE_POSTGRES__MAX_SIZE", "10"),
        ],
        &database_url,
    )
    .await;
    let (db, base) = (service.db.clone(), service.base());

    let created = {
        let base = base.clone();
        tokio::task::spawn_blocking(move || {
            http(
                &base,
                "POST",
                "/products",
                Some(serde_json::json!({ "name": "Cocoa", "price_cents": 300, "stock": 1000 })),
            )
        })
        .await
        .expect("runs")
    };
    assert_eq!(created.0, 201, "{}", created.1);
    let product = created.1["id"].as_i64().expect("an id");
    // `rounds` rounds of `sell_and_read`, off the runtime.
    let sell = |rounds: usize| {
        let base = base.clone();
        tokio::task::spawn_blocking(move || sell_and_read(&base, product, rounds))
    };
    let before = sell(20).await.expect("runs");
    let cache = db.cache().stats();
    assert!(before.0.is_empty(), "{:?}", before.0);
    assert!(
        cache.hits >= 20,
        "the cache works before the fault: {cache:?}"
    );

    let _restart = ServicesUp;
    tokio::task::spawn_blocking(|| xtask_services(&["kill", "redis"]))
        .await
        .expect("killed");
    let during = sell(50).await.expect("runs");
    let cache_down = db.cache().stats();
    tokio::task::spawn_blocking(|| xtask_services(&["up"]))
        .await
        .expect("Redis started again");
    let started = Instant::now();
    let hits_at_restart = db.cache().stats().hits;
    let mut after = (Vec::new(), 0);
    while db.cache().stats().hits <= hits_at_restart + 1 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the cache was not used again within 10 s of Redis's restart"
        );
        let round = sell(1).await.expect("runs");
        after.0.extend(round.0);
        after.1 += round.1;
    }
    let reused_after = started.elapsed();

    let sold = before.1 + during.1 + after.1;
    let stock: i64 = db
        .query_one(
            "SELECT quantity FROM pos.inventory WHERE product_id = $1",
            &[&product],
        )
        .await
        .expect("reads the stock")
        .get(0);
    println!(
        "redis killed while selling: {} sales and reads before, {} during the outage ({} failures; \
         cache misses {} -> {}, errors {} -> {}), cache used again {} ms after the restart; \
         {sold} sold, stock {stock} of 1000",
        before.1,
        during.1,
        during.0.len(),
        cache.misses,
        cache_down.misses,
        cache.errors,
        cache_down.errors,
        reused_after.as_millis()
    );
    assert!(
        during.0.is_empty(),
        "requests failed while Redis was down: {:?}",
        during.0
    );
    assert!(
        after.0.is_empty(),
        "requests failed after Redis came back: {:?}",
        after.0
    );
    assert_eq!(during.1, 50, "every sale went through while Redis was down");
    assert!(
        cache_down.misses >= cache.misses + 100,
        "reads missed the cache instead of failing"
    );
    assert_eq!(
        stock,
        1000 - i64::try_from(sold).expect("small"),
        "stock matches the sales"
    );
    service.stop().await;
}

/// One sale request as a client saw it.
struct SaleCall {
    started: Instant,
    finished: Instant,
    status: u16,
    sale_id: Option<i64>,
}

/// 200 clients selling through the in-process pos-service while PostgreSQL is
/// restarted three ways (`-m fast`, `-m immediate`, `kill -9` of the postmaster).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "restarts the shared PostgreSQL: run by `cargo xtask test` in its faults phase"]
async fn server_fault_postgres_restarted_three_ways_under_the_pos_service() {
    const CLIENTS: usize = 200;
    const PRODUCTS: usize = 5;
    const STOCK: i64 = 1_000_000;
    let database_url = required_env("DATABASE_URL");
    let service = PosService::start(
        &[
            ("DATABASE_URL", &database_url),
            ("POOLSIDE_PROFILE", "test"),
            ("POOLSIDE_POSTGRES__MAX_SIZE", "20"),
            ("POOLSIDE_POSTGRES__CONNECTION_TIMEOUT", "10s"),
        ],
        &database_url,
    )
    .await;
    let base = service.base();
    let mut products = Vec::new();
    for _ in 0..PRODUCTS {
        let base = base.clone();
        let (status, product) = tokio::task::spawn_blocking(move || {
            http(
                &base,
                "POST",
                "/products",
                Some(serde_json::json!({ "name": "Bagel", "price_cents": 120, "stock": STOCK })),
            )
        })
        .await
        .expect("runs");
        assert_eq!(status, 201, "{product}");
        products.push(product["id"].as_i64().expect("an id"));
    }

    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|client| {
            let (base, stop, products) = (base.clone(), Arc::clone(&stop), products.clone());
            std::thread::spawn(move || {
                let mut calls = Vec::new();
                let mut n = client;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    n += 7;
                    let sale = serde_json::json!({ "items": [
                        { "product_id": products[n % PRODUCTS], "quantity": 1 + n % 3 }
                    ] });
                    let started = Instant::now();
                    let (status, body) = http(&base, "POST", "/sales", Some(sale));
                    calls.push(SaleCall {
                        started,
                        finished: Instant::now(),
                        status,
                        sale_id: (status == 201).then(|| body["id"].as_i64()).flatten(),
                    });
                }
                calls
            })
        })
        .collect();

    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut outages = Vec::new();
    for mode in ["fast", "immediate", "kill"] {
        let began = Instant::now();
        let printed =
            tokio::task::spawn_blocking(move || xtask_services(&["restart", "postgres", mode]))
                .await
                .expect("restarted");
        println!("{}", printed.trim());
        outages.push((mode, began, Instant::now()));
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let calls: Vec<SaleCall> = clients
        .into_iter()
        .flat_map(|c| c.join().expect("no client panicked"))
        .collect();
    assert!(service.is_serving(), "the service kept running");

    // In an outage: the call was under way at some time between the fault's start and
    // 2 s after the server was back (the restart command returns once it answers).
    let in_outage = |call: &SaleCall| {
        outages.iter().any(|(_, began, back)| {
            call.finished >= *began && call.started <= *back + Duration::from_secs(2)
        })
    };
    let outside: Vec<&SaleCall> = calls.iter().filter(|c| !in_outage(c)).collect();
    let outside_ok = outside.iter().filter(|c| c.status == 201).count();
    let success_percent = outside_ok as f64 * 100.0 / outside.len().max(1) as f64;
    let acknowledged: Vec<i64> = calls.iter().filter_map(|c| c.sale_id).collect();
    let mut statuses = std::collections::BTreeMap::new();
    for call in &calls {
        *statuses.entry(call.status).or_insert(0) += 1;
    }
    let found = service.sales_found(&acknowledged).await;
    let mismatched = service.stock_out_of_step(&products, STOCK).await;
    println!(
        "postgres restarted 3 ways under {CLIENTS} clients: {} sales requested ({statuses:?}), \
         {} acknowledged, {} of them in the database, {} lost; outside the outages \
         {outside_ok} of {} succeeded ({success_percent:.3}%); products whose stock is not \
         initial minus sold: {mismatched}",
        calls.len(),
        acknowledged.len(),
        found,
        acknowledged.len() as i64 - found,
        outside.len()
    );
    assert_eq!(
        found,
        acknowledged.len() as i64,
        "an acknowledged sale was lost"
    );
    assert_eq!(
        mismatched, 0,
        "stock does not equal initial stock minus sold quantities"
    );
    assert!(
        success_percent >= 99.9,
        "{success_percent:.3}% succeeded outside the outages"
    );
    assert!(
        calls.iter().all(|c| matches!(c.status, 201 | 409 | 503)),
        "an answer other than 201, 409 or 503: {statuses:?}"
    );
    service.stop().await;
}
