//! Redis past one server, under a steady stream of cache calls: a Sentinel failover
//! (`SENTINEL FAILOVER`, and the primary killed), a cluster primary killed (its
//! replica promoted) and cluster slots moved. Every write the pool acknowledged must
//! be readable afterwards, the pool must be on the new primary soon after the
//! failover, and PostgreSQL, beside it, must not notice. One more moves slots under a
//! connection whose slot map is then stale: a stalled cluster connection is let go.
//!
//! They change the shared Redis groups, so they are ignored in the ordinary run and
//! run alone by the faults phase of `cargo xtask test`. By hand, after
//! `cargo xtask services up everything`:
//! `POOLSIDE_XTASK=$PWD/target/debug/xtask cargo test -p poolside-test-suite --test redis_failover -- --ignored --test-threads=1 --nocapture`

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use poolside_cache::{OnUnavailable, RedisCache};
use poolside_config::{RedisConfig, RedisMode};
use poolside_core::{ErrorKind, PgPool, RedisPool};
use poolside_tests::{
    redis_cluster_config, redis_sentinel_config, services_config, xtask_services,
};

/// Tasks writing and reading while the fault happens.
const TASKS: usize = 8;
/// The delay before reconnecting after a failed connect, for the cluster's pools.
const CLUSTER_RETRY_DELAY: Duration = Duration::from_millis(500);
/// The same for the Sentinel group's: longer than a failover takes. Connects to the
/// killed primary fail until the sentinels name another, and were those failures to
/// hold off connecting to the new primary, calls would fail seconds past its
/// promotion.
const SENTINEL_RETRY_DELAY: Duration = Duration::from_secs(10);

fn sentinel_config() -> RedisConfig {
    with_settings(redis_sentinel_config, SENTINEL_RETRY_DELAY)
}

fn cluster_config() -> RedisConfig {
    with_settings(redis_cluster_config, CLUSTER_RETRY_DELAY)
}

/// `config` with the pools' settings: `retry_delay`, and a short command timeout.
fn with_settings(
    config: impl FnOnce(&[(&str, &str)]) -> RedisConfig,
    retry_delay: Duration,
) -> RedisConfig {
    let retry_delay = format!("{}ms", retry_delay.as_millis());
    config(&[
        ("POOLSIDE_REDIS__RETRY_DELAY", &retry_delay),
        ("POOLSIDE_REDIS__COMMAND_TIMEOUT", "2s"),
    ])
}

/// What the load saw.
#[derive(Debug, Default)]
struct Seen {
    /// Keys whose SET the pool acknowledged, with their values.
    acknowledged: Vec<(String, u64)>,
    /// When each failed call started, and why it failed.
    failures: Vec<(Instant, String)>,
    calls: u64,
}

/// Cache writes (each to a key of its own) and reads, from `TASKS` tasks, until
/// `stop`, with every fourth write an `MSET` of three keys more (in a cluster, over
/// several slots: sent a part a slot, each acknowledged by its own `WAIT`); and
/// PostgreSQL queries beside them, whose failures are counted apart.
struct Load {
    seen: Arc<Mutex<Seen>>,
    postgres_failures: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    fn start(cache: &RedisCache, pg: &PgPool, prefix: &str) -> Self {
        let seen = Arc::new(Mutex::new(Seen::default()));
        let postgres_failures = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let mut tasks = Vec::new();
        for task in 0..TASKS {
            let (cache, seen, stop) = (cache.clone(), Arc::clone(&seen), Arc::clone(&stop));
            let prefix = format!("{prefix}:{task}");
            tasks.push(tokio::spawn(async move {
                let mut i: u64 = 0;
                while !stop.load(Ordering::Relaxed) {
                    let key = format!("{prefix}:{i}");
                    let wrote_at = Instant::now();
                    let result = cache.set(&key, &i, Some(Duration::from_secs(600))).await;
                    let read_at = Instant::now();
                    let read = match &result {
                        Ok(()) => cache.get::<u64>(&key).await.map(drop),
                        Err(_) => Ok(()),
                    };
                    let many: Vec<String> = (0..3).map(|j| format!("{key}:{j}")).collect();
                    let many_at = Instant::now();
                    let wrote_many = match (i % 4, cache.pool()) {
                        (0, Some(pool)) => {
                            let pairs: Vec<(&str, u64)> =
                                many.iter().map(|k| (k.as_str(), i)).collect();
                            Some(pool.write::<()>(redis::cmd("MSET").arg(&pairs)).await)
                        }
                        _ => None,
                    };
                    {
                        let mut seen = seen.lock();
                        seen.calls += 2;
                        match result {
                            Ok(()) => seen.acknowledged.push((key, i)),
                            Err(e) => seen.failures.push((wrote_at, e.to_string())),
                        }
                        if let Err(e) = read {
                            seen.failures.push((read_at, e.to_string()));
                        }
                        match wrote_many {
                            Some(Ok(())) => {
                                seen.calls += 1;
                                seen.acknowledged.extend(many.into_iter().map(|k| (k, i)));
                            }
                            Some(Err(e)) => {
                                seen.calls += 1;
                                seen.failures.push((many_at, format!("MSET: {e}")));
                            }
                            None => {}
                        }
                    }
                    i += 1;
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            }));
        }
        {
            let (pg, failures, stop) = (
                pg.clone(),
                Arc::clone(&postgres_failures),
                Arc::clone(&stop),
            );
            tasks.push(tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    if let Err(e) = pg.query_one("SELECT 1", &[]).await {
                        failures.lock().push(e.to_string());
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }));
        }
        Self {
            seen,
            postgres_failures,
            stop,
            tasks,
        }
    }

    async fn stop(self) -> (Seen, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        for task in self.tasks {
            task.await.expect("a load task");
        }
        let seen = std::mem::take(&mut *self.seen.lock());
        let pg = std::mem::take(&mut *self.postgres_failures.lock());
        (seen, pg)
    }
}

/// Reads `keys` with one `MGET`. A read that times out is made again, up to twice:
/// after a reshard, a cluster connection whose slot map is stale can stop for good
/// when a burst of redirected requests starts a slot refresh (the redis crate's
/// defect, in ARCHITECTURE.md); the pool lets such a connection go, and the read goes
/// on another. Any other failure, or a third timeout, fails the test, saying whether
/// each key's GET alone answers, to tell a stall from a lasting fault.
async fn read_back(cache: &RedisCache, pool: &RedisPool, keys: &[&str]) -> Vec<Option<u64>> {
    let mut stalls = Vec::new();
    loop {
        let began = Instant::now();
        match cache.mget(keys).await {
            Ok(values) => {
                if !stalls.is_empty() {
                    println!(
                        "read back {} keys after {} stalled connection(s): {stalls:?}",
                        keys.len(),
                        stalls.len()
                    );
                }
                return values;
            }
            Err(e) if e.kind() == ErrorKind::Cancelled && stalls.len() < 2 => {
                stalls.push(format!("{e} after {:?}", began.elapsed()));
            }
            Err(e) => panic!(
                "reads back {} keys: {e} after {:?}, after {stalls:?}; the pool: {:?}; \
                 slow alone: {:?}",
                keys.len(),
                began.elapsed(),
                pool.stats(),
                slow_alone(pool, keys).await
            ),
        }
    }
}

/// The keys among `keys` whose GET alone fails or takes over 300 ms, with their slots
/// and what happened (at most five): to tell a stalled connection from a slot that
/// stays unreadable.
async fn slow_alone(pool: &RedisPool, keys: &[&str]) -> Vec<String> {
    let mut slow = Vec::new();
    for &key in keys {
        let began = Instant::now();
        let got: Result<Option<u64>, _> = pool.command(redis::cmd("GET").arg(key)).await;
        let took = began.elapsed();
        if got.is_err() || took > Duration::from_millis(300) {
            let slot = redis::cluster_routing::Slot::for_key(key);
            slow.push(format!(
                "{key} ({slot:?}): {:?} after {took:?}",
                got.map(|_| ())
            ));
        }
        if slow.len() == 5 {
            break;
        }
    }
    slow
}

/// Runs the load, `fault` (`xtask services` commands, one after another) on another
/// thread, and the load for `after` more; then checks that no acknowledged write was
/// lost, that calls work again soon after the promotion (in a cluster, one reconnect
/// delay after it; in a Sentinel group, whose failovers the pool hears announced, at
/// once), and that PostgreSQL did not notice.
async fn under_load(config: RedisConfig, fault: &[&[&str]], after: Duration) -> Seen {
    let fault: Vec<Vec<String>> = fault
        .iter()
        .map(|command| command.iter().map(|&word| word.to_owned()).collect())
        .collect();
    let pool = RedisPool::connect(&config).await.expect("connects");
    let cache = RedisCache::new(Some(pool.clone()), OnUnavailable::Error);
    let pg = PgPool::connect(&services_config(&[]).postgres)
        .await
        .expect("PostgreSQL connects");
    let name = fault
        .iter()
        .map(|c| c.join(" "))
        .collect::<Vec<_>>()
        .join(", then ");
    let prefix = format!("failover:{}:{}", std::process::id(), fault[0].join("-"));
    let load = Load::start(&cache, &pg, &prefix);
    tokio::time::sleep(Duration::from_secs(1)).await;

    let began = Instant::now();
    let said = tokio::task::spawn_blocking(move || {
        fault
            .iter()
            .map(|command| xtask_services(&command.iter().map(String::as_str).collect::<Vec<_>>()))
            .collect::<String>()
    })
    .await
    .expect("the fault's thread");
    let fault_done = Instant::now();
    println!("{name}: {}", said.trim());
    tokio::time::sleep(after).await;
    let (seen, postgres_failures) = load.stop().await;

    // Every acknowledged write is there, with its value.
    let mut lost = Vec::new();
    for chunk in seen.acknowledged.chunks(500) {
        let keys: Vec<&str> = chunk.iter().map(|(k, _)| k.as_str()).collect();
        let values = read_back(&cache, &pool, &keys).await;
        for ((key, value), got) in chunk.iter().zip(values) {
            if got != Some(*value) {
                lost.push(format!("{key}: wrote {value}, read {got:?}"));
            }
        }
    }
    // The new primary's promotion, as the fault command saw it.
    let promoted_in = said
        .lines()
        .find_map(|line| line.split(" in ").nth(1)?.strip_suffix(" ms")?.parse().ok())
        .map(Duration::from_millis)
        .expect("the fault command says how long it took");
    // A write is not acknowledged while the primary has no replica to take it:
    // after the failover, until the old primary (or the killed one, started again)
    // follows the new one. Every other call that starts one reconnect delay after
    // the promotion must succeed (a call in flight at the promotion may still fail,
    // within redis.command_timeout).
    let unreplicated = |e: &str| e.contains("redis.wait_replicas");
    let last = |replicated: bool| {
        seen.failures
            .iter()
            .filter(|(_, e)| unreplicated(e) == replicated)
            .map(|(at, _)| at.saturating_duration_since(began))
            .max()
    };
    let (last_other, last_unreplicated) = (last(false), last(true));
    println!(
        "{}: {} calls, {} writes acknowledged, {} failed (first: {:?}); new primary after \
         {promoted_in:?}; the last failed call started {last_other:?} after the fault began, \
         the last write not replicated {last_unreplicated:?} (the fault command took {:?}); \
         {} acknowledged writes lost; PostgreSQL failures {}",
        name,
        seen.calls,
        seen.acknowledged.len(),
        seen.failures.len(),
        seen.failures.first().map(|(_, e)| e),
        fault_done - began,
        lost.len(),
        postgres_failures.len()
    );
    assert!(
        lost.is_empty(),
        "{} acknowledged writes lost, such as {:?}",
        lost.len(),
        &lost[..lost.len().min(5)]
    );
    assert!(
        postgres_failures.is_empty(),
        "PostgreSQL noticed: {postgres_failures:?}"
    );
    // Slack for this shared machine: the promotion's time is read by polling the
    // servers through redis-cli.
    let reconnect_delay = match config.mode {
        RedisMode::Sentinel => Duration::ZERO,
        _ => config.retry_delay,
    };
    let bound = promoted_in + reconnect_delay + Duration::from_millis(1500);
    if let Some(last) = last_other {
        assert!(
            last <= bound,
            "a call that started {last:?} after the fault began failed, the new primary took \
             over after {promoted_in:?}: {:?}",
            seen.failures.iter().rev().find(|(_, e)| !unreplicated(e))
        );
    }
    assert!(!seen.acknowledged.is_empty(), "the load ran");
    pool.close(Duration::from_secs(2)).await;
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "fails over the shared Sentinel group: run by `cargo xtask test` in its faults phase"]
async fn redis_fault_sentinel_failover_under_cache_calls() {
    under_load(
        sentinel_config(),
        &[&["failover", "redis"]],
        Duration::from_secs(3),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "kills the shared Sentinel group's primary: run by `cargo xtask test` in its faults phase"]
async fn redis_fault_sentinel_primary_killed_under_cache_calls() {
    // The killed node is started again after the promotion, and follows the new
    // primary: writes are acknowledged again once it has caught up.
    under_load(
        sentinel_config(),
        &[&["kill", "redis-primary"], &["up", "redis-sentinel"]],
        Duration::from_secs(3),
    )
    .await;
}

/// The number (`services kill redis-node N`) of a node that is a primary now.
async fn a_primary(pool: &RedisPool) -> String {
    let primaries = pool.primaries().await.expect("CLUSTER NODES");
    match primaries.first() {
        Some(poolside_core::RedisPrimary::ClusterNode { port, .. }) => (port - 16399).to_string(),
        other => panic!("no cluster primary: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "kills a node of the shared cluster: run by `cargo xtask test` in its faults phase"]
async fn redis_fault_cluster_primary_killed_under_cache_calls() {
    let config = cluster_config();
    let probe = RedisPool::connect(&config).await.expect("connects");
    let node = a_primary(&probe).await;
    // The node is started again after its replica took over, and follows it.
    under_load(
        config,
        &[&["kill", "redis-node", &node], &["up", "redis-cluster"]],
        Duration::from_secs(3),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "moves slots of the shared cluster: run by `cargo xtask test` in its faults phase"]
async fn redis_fault_cluster_slots_moved_under_cache_calls() {
    // The keys written before and during the move must all be readable where they
    // went, and no MOVED or ASK may reach a caller: every call must succeed.
    let seen = under_load(
        cluster_config(),
        &[&["reshard", "redis", "2000"]],
        Duration::from_secs(2),
    )
    .await;
    assert!(
        seen.failures.is_empty(),
        "{} calls failed while slots moved, such as {:?}",
        seen.failures.len(),
        seen.failures.first()
    );
}

/// A pool on `config` (a cluster's), a cache on it and 500 keys (`{prefix}:{pid}:{i}`
/// holding `i`), set one at a time on the pool's first shared connection: its slot map
/// is the one a reshard then makes stale.
async fn five_hundred_keys(
    prefix: &str,
    config: RedisConfig,
) -> (RedisPool, RedisCache, Vec<String>) {
    let pool = RedisPool::connect(&config).await.expect("connects");
    let cache = RedisCache::new(Some(pool.clone()), OnUnavailable::Error);
    let keys: Vec<String> = (0..500)
        .map(|i| format!("{prefix}:{}:{i}", std::process::id()))
        .collect();
    for (i, key) in keys.iter().enumerate() {
        let _: () = pool
            .command(redis::cmd("SET").arg(key).arg(i).arg("EX").arg(300))
            .await
            .expect("SET");
    }
    (pool, cache, keys)
}

/// Moves 2,000 slots of the shared cluster; what xtask said of it.
async fn reshard() -> String {
    let said = tokio::task::spawn_blocking(|| xtask_services(&["reshard", "redis", "2000"]))
        .await
        .expect("the reshard's thread");
    said.trim().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "moves slots of the shared cluster: run by `cargo xtask test` in its faults phase"]
async fn redis_fault_cluster_burst_on_a_stale_connection_is_served() {
    // After a reshard, 500 reads at once and a 500-key MGET on a pool whose connection
    // has a stale slot map. A burst that size stops the redis crate's cluster client
    // for good at the slot refresh it starts (ARCHITECTURE.md; with
    // redis.cluster_in_flight = 0, 92-98% of such reads failed). The pool keeps
    // redis.cluster_in_flight slots' worth in flight on each shared connection, the
    // rest on another or waiting, and sends the MGET in parts: every read succeeds.
    let (pool, cache, keys) = five_hundred_keys("burst", cluster_config()).await;
    let expected: Vec<Option<usize>> = (0..keys.len()).map(Some).collect();
    for round in 1..=2 {
        let said = reshard().await;
        let began = Instant::now();
        let gets: Vec<_> = keys
            .iter()
            .map(|key| {
                let (cache, key) = (cache.clone(), key.clone());
                tokio::spawn(async move { cache.get::<usize>(&key).await })
            })
            .collect();
        let all: Result<Vec<Option<usize>>, _> = pool.command(redis::cmd("MGET").arg(&keys)).await;
        let mut values = Vec::new();
        for get in gets {
            values.push(get.await.expect("no panic"));
        }
        let failed: Vec<String> = values
            .iter()
            .filter_map(|value| value.as_ref().err().map(ToString::to_string))
            .collect();
        println!(
            "round {round}: {said}; 500 GETs and a 500-key MGET at once: {} GETs failed, the \
             MGET {}, all in {:?}",
            failed.len(),
            if all.is_ok() { "served" } else { "failed" },
            began.elapsed()
        );
        assert!(
            failed.is_empty(),
            "{} of 500 GETs failed, such as {:?}",
            failed.len(),
            failed[0]
        );
        assert_eq!(all.expect("the MGET"), expected);
        let values: Vec<Option<usize>> = values.into_iter().map(|v| v.expect("checked")).collect();
        assert_eq!(values, expected);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "moves slots of the shared cluster: run by `cargo xtask test` in its faults phase"]
async fn redis_fault_cluster_connection_stalled_at_a_slot_refresh_is_let_go() {
    // After a reshard, 500 GETs at once with redis.cluster_in_flight = 0 (no bound: all
    // on the shared connection whose slot map is stale): the slot refresh that the
    // burst starts stops the client for good (nearly every time on tokio 1.54, rarely
    // on 1.53: see ARCHITECTURE.md).
    // The pool must let that connection go: the next read is served at once, where it
    // used to wait for the stalled connection's check until redis.connection_timeout.
    let mut unbounded = cluster_config();
    unbounded.cluster_in_flight = 0;
    let (pool, cache, keys) = five_hundred_keys("stalled", unbounded).await;
    let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    let expected: Vec<Option<usize>> = (0..keys.len()).map(Some).collect();
    for round in 1..=2 {
        let said = reshard().await;
        let began = Instant::now();
        let burst: Vec<_> = keys
            .iter()
            .map(|key| {
                let (pool, get) = (pool.clone(), redis::cmd("GET").arg(key).clone());
                tokio::spawn(async move { pool.command::<Option<usize>>(&get).await })
            })
            .collect();
        let mut failed = 0;
        for get in burst {
            if let Err(e) = get.await.expect("no panic") {
                assert_eq!(e.kind(), ErrorKind::Cancelled, "{e}");
                failed += 1;
            }
        }
        let first_took = began.elapsed();
        let began = Instant::now();
        let next = cache.mget::<usize>(&refs).await.expect("the next read");
        let next_took = began.elapsed();
        println!(
            "round {round}: {said}; 500 GETs at once on the stale connection: {failed} \
             failed, all done after {first_took:?}; the next read: {next_took:?}"
        );
        assert_eq!(next, expected);
        assert!(
            next_took < Duration::from_secs(2),
            "the read after a stalled one took {next_took:?}"
        );
    }
}
