//! Ten times the pool's capacity for 60 s: 100 clients selling through the in-process
//! pos-service over a pool of 10 connections that lets 20 more requests wait. The queue
//! stays bounded (memory flat), requests past the wait limit get a 503 at once with the
//! reason, the rest succeed with a bounded p99, and the pool serves normally the moment
//! the load drops. Run alone by `cargo xtask test` (its `faults` check): it takes both
//! cores for a minute.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use poolside_test_suite::PosService;
use poolside_tests::http::Client;
use poolside_tests::required_env;

const CLIENTS: usize = 100;
const POOL_SIZE: u32 = 10;
const MAX_WAITING: u32 = 20;
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(1);
const LOAD_FOR: Duration = Duration::from_secs(60);
/// A refused client pauses this long before its next request, as a client's retry
/// delay would (without it, 90 clients spinning on instant 503s measure the HTTP
/// stack, not the pool).
const PAUSE_AFTER_503: Duration = Duration::from_millis(50);
const STOCK: i64 = 100_000_000;

/// One sale request as its client saw it, kept small: a 100,000 of them are recorded
/// in this process, whose memory the test watches.
struct Call {
    took: Duration,
    status: u16,
    sale_id: Option<i64>,
    /// The answer's reason names a `postgres.*` setting.
    names_setting: bool,
    /// The reason is `postgres.max_waiting`: refused without waiting.
    past_max_waiting: bool,
}

/// The resident memory of this process (the service and its clients), in KiB.
fn resident_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmRSS:"))
                .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        })
        .expect("VmRSS in /proc/self/status")
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn median(values: &[u64]) -> u64 {
    let mut values = values.to_vec();
    values.sort_unstable();
    values[values.len() / 2]
}

fn sell(client: &Client, base: &str, product: i64, quantity: i64) -> Call {
    let sale = serde_json::json!({ "items": [{ "product_id": product, "quantity": quantity }] });
    let started = Instant::now();
    let answer = client.send("POST", &format!("{base}/sales"), Some(&sale.to_string()));
    let took = started.elapsed();
    match answer {
        Ok(answer) => {
            let json = answer.json();
            let reason = json["error"].as_str().unwrap_or_default();
            Call {
                took,
                status: answer.status,
                sale_id: (answer.status == 201)
                    .then(|| json["id"].as_i64())
                    .flatten(),
                names_setting: reason.contains("postgres."),
                past_max_waiting: reason.contains("postgres.max_waiting"),
            }
        }
        Err(_) => Call {
            took,
            status: 0,
            sale_id: None,
            names_setting: false,
            past_max_waiting: false,
        },
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "takes both cores for a minute: run by `cargo xtask test` in its faults phase"]
async fn ten_times_the_pool_for_a_minute_stays_bounded_and_recovers_at_once() {
    let database_url = required_env("DATABASE_URL");
    let (pool_size, max_waiting) = (POOL_SIZE.to_string(), MAX_WAITING.to_string());
    let service = PosService::start(
        &[
            ("DATABASE_URL", &database_url),
            ("POOLSIDE_PROFILE", "test"),
            ("POOLSIDE_POSTGRES__MAX_SIZE", &pool_size),
            ("POOLSIDE_POSTGRES__MIN_IDLE", &pool_size),
            ("POOLSIDE_POSTGRES__MAX_WAITING", &max_waiting),
            ("POOLSIDE_POSTGRES__CONNECTION_TIMEOUT", "1s"),
        ],
        &database_url,
    )
    .await;
    let (db, base) = (service.db.clone(), service.base());
    let product = {
        let base = base.clone();
        tokio::task::spawn_blocking(move || {
            let body = serde_json::json!({ "name": "Pretzel", "price_cents": 90, "stock": STOCK });
            let answer = Client::new()
                .send("POST", &format!("{base}/products"), Some(&body.to_string()))
                .expect("creates a product");
            assert_eq!(answer.status, 201, "{}", answer.body);
            answer.json()["id"].as_i64().expect("an id")
        })
        .await
        .expect("runs")
    };

    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut samples = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                samples.push(resident_kib());
                std::thread::sleep(Duration::from_secs(1));
            }
            samples
        })
    };
    let clients: Vec<_> = (0..CLIENTS)
        .map(|n| {
            let (base, stop) = (base.clone(), Arc::clone(&stop));
            std::thread::spawn(move || {
                let client = Client::new();
                let mut calls = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let call = sell(&client, &base, product, 1 + (n % 3) as i64);
                    if call.status == 503 {
                        std::thread::sleep(PAUSE_AFTER_503);
                    }
                    calls.push(call);
                }
                calls
            })
        })
        .collect();
    tokio::time::sleep(LOAD_FOR).await;
    stop.store(true, Ordering::Relaxed);
    let calls: Vec<Call> = clients
        .into_iter()
        .flat_map(|c| c.join().expect("no client panicked"))
        .collect();
    let memory = sampler.join().expect("the sampler");
    assert!(service.is_serving(), "the service kept running");

    // The load drops: the next sales are served at once.
    let waiting_after = db.pool().stats().waiting;
    let recovery: Vec<Call> = {
        let base = base.clone();
        tokio::task::spawn_blocking(move || {
            let client = Client::new();
            (0..20).map(|_| sell(&client, &base, product, 1)).collect()
        })
        .await
        .expect("runs")
    };

    let mut statuses = std::collections::BTreeMap::new();
    for call in &calls {
        *statuses.entry(call.status).or_insert(0usize) += 1;
    }
    let mut ok: Vec<Duration> = calls
        .iter()
        .filter(|c| c.status == 201)
        .map(|c| c.took)
        .collect();
    let mut refused: Vec<Duration> = calls
        .iter()
        .filter(|c| c.status == 503)
        .map(|c| c.took)
        .collect();
    ok.sort_unstable();
    refused.sort_unstable();
    let at_once = calls.iter().filter(|c| c.past_max_waiting).count();
    let early = median(&memory[5..15]);
    let late = median(&memory[memory.len() - 10..]);
    let peak = memory.iter().copied().max().unwrap_or_default();
    let acknowledged: Vec<i64> = calls
        .iter()
        .chain(&recovery)
        .filter_map(|c| c.sale_id)
        .collect();
    let found = service.sales_found(&acknowledged).await;
    let stock_matches = service.stock_out_of_step(&[product], STOCK).await == 0;
    let recovery_max = recovery.iter().map(|c| c.took).max().unwrap_or_default();
    println!(
        "overload: {CLIENTS} clients on a pool of {POOL_SIZE} (max_waiting {MAX_WAITING}) for \
         {LOAD_FOR:?}: {} requests {statuses:?}; {} sales acknowledged, {found} of them in the \
         database; 201 p50 {:?} p99 {:?} max {:?}; 503 p50 {:?} p99 {:?} max {:?}, {at_once} \
         refused at once past max_waiting; resident memory {} MiB at 5-15 s, {} MiB in the last \
         10 s, peak {} MiB; after the load: {waiting_after} waiting, 20 sales in a row all \
         {:?}, slowest {recovery_max:?}",
        calls.len(),
        acknowledged.len(),
        percentile(&ok, 50.0),
        percentile(&ok, 99.0),
        ok.last().copied().unwrap_or_default(),
        percentile(&refused, 50.0),
        percentile(&refused, 99.0),
        refused.last().copied().unwrap_or_default(),
        early / 1024,
        late / 1024,
        peak / 1024,
        recovery
            .iter()
            .map(|c| c.status)
            .collect::<std::collections::BTreeSet<_>>(),
    );

    assert!(
        calls.iter().all(|c| matches!(c.status, 201 | 503)),
        "only sales and refusals: {statuses:?}"
    );
    assert!(ok.len() > 1000, "the pool kept selling: {statuses:?}");
    assert!(
        refused.len() > 100,
        "ten times the capacity was refused in part: {statuses:?}"
    );
    assert!(at_once > 0, "refusals past max_waiting say so");
    assert!(
        calls
            .iter()
            .filter(|c| c.status == 503)
            .all(|c| c.names_setting),
        "every 503 names the setting behind it"
    );
    assert!(
        percentile(&refused, 50.0) < Duration::from_millis(100),
        "refusals are fast: p50 {:?}",
        percentile(&refused, 50.0)
    );
    assert!(
        percentile(&refused, 99.0) <= CONNECTION_TIMEOUT + Duration::from_millis(500),
        "no refusal waits past the connection timeout: p99 {:?}",
        percentile(&refused, 99.0)
    );
    assert!(
        percentile(&ok, 99.0) <= CONNECTION_TIMEOUT + Duration::from_millis(500),
        "the successful ones' p99 stays bounded by the wait limit: {:?}",
        percentile(&ok, 99.0)
    );
    assert!(
        late <= early + early / 5 + 8 * 1024,
        "memory grew from {early} KiB to {late} KiB under steady overload"
    );
    assert_eq!(
        found,
        acknowledged.len() as i64,
        "an acknowledged sale was lost"
    );
    assert!(
        stock_matches,
        "stock does not equal initial stock minus sold quantities"
    );
    assert!(
        recovery.iter().all(|c| c.status == 201),
        "after the load every sale succeeds"
    );
    assert!(
        recovery_max < Duration::from_millis(250),
        "after the load sales take no longer than usual: {recovery_max:?}"
    );
    service.stop().await;
}
