//! Faults injected into the real servers under a steady load: PostgreSQL restarted
//! (`pg_ctl stop -m fast` and `-m immediate`, then started; under writes, under
//! the same writes through PgBouncer, and under the batched read path's reads),
//! PgBouncer killed under those writes and started again, every free connection
//! slot of the server taken by another client under checkouts, the primary lost to its
//! streaming standby (stopped, or turned read-only), with a multi-host URL, and Redis
//! killed under the point-of-sale service.
//!
//! They stop the shared servers, so they are ignored in the ordinary parallel run and
//! run alone, one at a time, by the faults phase of `cargo xtask test`, which names
//! its own binary in `POOLSIDE_XTASK` for them to drive `cargo xtask services`. By
//! hand, after `cargo xtask services up`:
//! `POOLSIDE_XTASK=$PWD/target/debug/xtask cargo test -p poolside-test-suite --test server_faults -- --ignored --test-threads=1`

use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use poolside_core::{ErrorKind, PgError, PgPool};
use poolside_resilience::Jitter;
use poolside_resilience::{Backoff, RetryBudget, RetryLayer, RetryPolicy};
use poolside_tests::{
    load_config, multi_host_url, replica_config, required_env, try_xtask_services, xtask_services,
};
use tokio::sync::watch;

use poolside_test_suite::PosService;
use tower::{Layer, Service, ServiceExt};

/// Tasks sending statements while the fault happens.
const TASKS: usize = 8;
/// No operation may take longer than this, outage included: nothing hangs.
const OPERATION_LIMIT: Duration = Duration::from_secs(10);

/// One finished operation.
#[derive(Debug, Clone)]
struct Outcome {
    finished: Instant,
    write: bool,
    result: Result<(), (ErrorKind, String)>,
}

/// What the load tasks saw.
#[derive(Debug, Default)]
struct Seen {
    outcomes: Vec<Outcome>,
    /// Ids of inserts the server acknowledged.
    acknowledged: Vec<i64>,
}

async fn pool_for(url: &str) -> PgPool {
    let config = load_config(&[
        ("DATABASE_URL", url),
        ("POOLSIDE_PROFILE", "test"),
        ("POOLSIDE_POSTGRES__MAX_SIZE", "10"),
        ("POOLSIDE_POSTGRES__MIN_IDLE", "2"),
        ("POOLSIDE_POSTGRES__CONNECTION_TIMEOUT", "10s"),
    ]);
    PgPool::connect(&config.config.postgres)
        .await
        .expect("connects")
}

/// A retry policy for an outage of a second or two: 10 tries, 50 ms, 100 ms, ...,
/// 500 ms apart, each delay drawn from its upper half (equal jitter), within 5 s,
/// from a budget that a steady load fills. The nine delays add up to 1.6-3.25 s;
/// with full jitter they could add up to less than a 1.2 s outage, and a read failed
/// so in a fresh-clone run on a busy machine.
fn retry_policy(idempotent: bool) -> RetryPolicy {
    let budget = RetryBudget::new(Duration::from_secs(10), 50, 20.0).expect("valid budget");
    let backoff = Backoff::new(
        Duration::from_millis(50),
        Duration::from_millis(500),
        Jitter::Equal,
    );
    RetryPolicy::new(10, backoff, Duration::from_secs(5), budget).idempotent(idempotent)
}

async fn direct_client(url: &str) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    Ok(client)
}

/// Creates `table (id bigint primary key)` afresh on the primary.
async fn fresh_table(url: &str, table: &str) {
    let client = direct_client(url).await.expect("connects to the primary");
    client
        .batch_execute(&format!(
            "DROP TABLE IF EXISTS {table}; CREATE TABLE {table} (id bigint PRIMARY KEY)"
        ))
        .await
        .expect("creates the table");
}

/// Runs `TASKS` tasks until `stop`: each alternates a read through a retry layer
/// marked idempotent, and an insert of a new id through one that is not (an insert
/// whose outcome is unknown is not run twice).
fn start_load(
    pool: &PgPool,
    table: &'static str,
    stop: &watch::Receiver<bool>,
) -> (Arc<Mutex<Seen>>, Vec<tokio::task::JoinHandle<()>>) {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let tasks = (0..TASKS)
        .map(|task| {
            let (pool, seen, stop) = (pool.clone(), Arc::clone(&seen), stop.clone());
            tokio::spawn(async move {
                let read_pool = pool.clone();
                let mut read =
                    RetryLayer::new(retry_policy(true)).layer(tower::service_fn(move |()| {
                        let pool = read_pool.clone();
                        async move { pool.query_one("SELECT 1", &[]).await.map(drop) }
                    }));
                let insert = format!("INSERT INTO {table} (id) VALUES ($1)");
                let mut write = RetryLayer::new(retry_policy(false)).layer(tower::service_fn(
                    move |id: i64| {
                        let (pool, insert) = (pool.clone(), insert.clone());
                        async move { pool.execute(&insert, &[&id]).await.map(|_| id) }
                    },
                ));
                let mut next_id = task as i64 * 1_000_000;
                while !*stop.borrow() {
                    let result = run_bounded(read.ready().await.expect("ready").call(())).await;
                    let read_ok = record(&seen, false, result.map(|()| None));
                    next_id += 1;
                    let result =
                        run_bounded(write.ready().await.expect("ready").call(next_id)).await;
                    let write_ok = record(&seen, true, result.map(Some));
                    if !(read_ok && write_ok) {
                        // Give a failing server room instead of spinning on it.
                        tokio::time::sleep(Duration::from_millis(2)).await;
                    }
                }
            })
        })
        .collect();
    (seen, tasks)
}

async fn run_bounded<T>(call: impl Future<Output = Result<T, PgError>>) -> Result<T, PgError> {
    tokio::time::timeout(OPERATION_LIMIT, call)
        .await
        .unwrap_or_else(|_| panic!("an operation hung past {OPERATION_LIMIT:?}"))
}

/// Records one operation; true when it succeeded.
fn record(seen: &Mutex<Seen>, write: bool, result: Result<Option<i64>, PgError>) -> bool {
    let mut seen = seen.lock();
    let outcome = Outcome {
        finished: Instant::now(),
        write,
        result: match &result {
            Ok(_) => Ok(()),
            Err(e) => Err((e.kind(), e.to_string())),
        },
    };
    if let Ok(Some(id)) = result {
        seen.acknowledged.push(id);
    }
    seen.outcomes.push(outcome);
    result.is_ok()
}

/// Polls the server with fresh connections every 10 ms from when it is first seen
/// down; returns when it accepted a connection again, or `None` if it never went down.
async fn watch_outage(url: String, mut stop: watch::Receiver<bool>) -> Option<Instant> {
    let mut was_down = false;
    loop {
        let answered = tokio::time::timeout(Duration::from_millis(500), direct_client(&url))
            .await
            .is_ok_and(|c| c.is_ok());
        match (was_down, answered) {
            (false, false) => was_down = true,
            (true, true) => return Some(Instant::now()),
            _ => {}
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(10)) => {}
            _ = stop.changed() => return None,
        }
    }
}

/// The first operation that succeeded after `after`.
fn first_success_after(seen: &Seen, after: Instant, writes_only: bool) -> Option<Instant> {
    seen.outcomes
        .iter()
        .filter(|o| o.result.is_ok() && o.finished > after && (o.write || !writes_only))
        .map(|o| o.finished)
        .min()
}

/// Ids among `ids` present in `table` on the server at `url`.
async fn present(url: &str, table: &str, ids: &[i64]) -> usize {
    let client = direct_client(url).await.expect("connects");
    let row = client
        .query_one(
            &format!("SELECT count(*) FROM {table} WHERE id = ANY($1)"),
            &[&ids],
        )
        .await
        .expect("counts");
    usize::try_from(row.get::<_, i64>(0)).expect("a count")
}

/// How the pool reaches PostgreSQL in a restart test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    /// `DATABASE_URL`: the server itself.
    Direct,
    /// `PGBOUNCER_URL`: PgBouncer in transaction mode.
    PgBouncer,
}

/// A fault injected under load, and what recovering from it means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// PostgreSQL restarted (`pg_ctl stop -m` this mode), the pool reaching it by
    /// `Route`; PgBouncer stays up while the server behind it restarts.
    Restart(&'static str, Route),
    /// PgBouncer killed (SIGKILL) and started again half a second later, every
    /// connection through it cut at once; PostgreSQL stays up behind it.
    PgBouncerKilled,
}

impl Fault {
    fn route(self) -> Route {
        match self {
            Fault::Restart(_, route) => route,
            Fault::PgBouncerKilled => Route::PgBouncer,
        }
    }

    /// The table the load writes to: one per fault.
    fn table(self) -> &'static str {
        match self {
            Fault::Restart("fast", Route::Direct) => "fault_restart_fast",
            Fault::Restart(_, Route::Direct) => "fault_restart_immediate",
            Fault::Restart("fast", Route::PgBouncer) => "fault_pgbouncer_fast",
            Fault::Restart(_, Route::PgBouncer) => "fault_pgbouncer_immediate",
            Fault::PgBouncerKilled => "fault_pgbouncer_killed",
        }
    }

    /// The URL the pool is given.
    fn pool_url(self) -> String {
        match self.route() {
            Route::Direct => required_env("DATABASE_URL"),
            Route::PgBouncer => required_env("PGBOUNCER_URL"),
        }
    }

    /// The URL of what goes down, for the outage watcher (PgBouncer's as
    /// poolside-config leaves it, without `pgbouncer=true`, which the driver does not
    /// know).
    fn watched_url(self) -> String {
        match self {
            Fault::Restart(..) => required_env("DATABASE_URL"),
            Fault::PgBouncerKilled => {
                let url = required_env("PGBOUNCER_URL");
                let loaded = load_config(&[("DATABASE_URL", url.as_str())]);
                loaded.config.postgres.url.expose().to_owned()
            }
        }
    }

    /// Injects the fault through `cargo xtask services`; what it printed.
    fn inject(self) -> String {
        match self {
            Fault::Restart(mode, _) => xtask_services(&["restart", "postgres", mode]),
            Fault::PgBouncerKilled => {
                let killed = xtask_services(&["kill", "pgbouncer"]);
                std::thread::sleep(Duration::from_millis(500));
                killed + &xtask_services(&["up"])
            }
        }
    }

    /// How soon after what went down accepts connections the pool must serve again:
    /// at once when the pool connects to it; after a PostgreSQL restart behind
    /// PgBouncer, once PgBouncer has tried the server again (`server_login_retry`, 1 s
    /// in the services' PgBouncer) and the retry layer's next try has come (at most
    /// 500 ms apart).
    fn recovery_bound(self) -> Duration {
        match self {
            Fault::Restart(_, Route::PgBouncer) => Duration::from_secs(2),
            Fault::Restart(_, Route::Direct) | Fault::PgBouncerKilled => Duration::from_secs(1),
        }
    }
}

/// Injects `fault` after a second of load, and checks recovery.
async fn recover_under_load(fault: Fault) {
    let url = required_env("DATABASE_URL");
    let table = fault.table();
    fresh_table(&url, table).await;
    let pool = pool_for(&fault.pool_url()).await;
    let (stop_tx, stop) = watch::channel(false);
    let (seen, tasks) = start_load(&pool, table, &stop);
    tokio::time::sleep(Duration::from_secs(1)).await;

    let outage = tokio::spawn(watch_outage(fault.watched_url(), stop.clone()));
    let fault_began = Instant::now();
    let printed = tokio::task::spawn_blocking(move || fault.inject())
        .await
        .expect("the fault ran");
    let injected = Instant::now();
    tokio::time::sleep(fault.recovery_bound() + Duration::from_secs(1)).await;
    stop_tx.send(true).expect("tasks listen");
    let accepting = outage.await.expect("the watcher ran");
    for task in tasks {
        task.await.expect("no load task panicked");
    }

    let seen = std::mem::take(&mut *seen.lock());
    let accepting = accepting.expect("the watcher saw the server go down and come back");
    let recovery = first_success_after(&seen, accepting.max(fault_began), false)
        .map(|first| first.saturating_duration_since(accepting));
    let during: Vec<Outcome> = seen
        .outcomes
        .iter()
        .filter(|o| o.finished >= fault_began)
        .cloned()
        .collect();
    let failed_reads: Vec<_> = during
        .iter()
        .filter(|o| !o.write && o.result.is_err())
        .collect();
    let failed_writes: Vec<_> = during
        .iter()
        .filter(|o| o.write)
        .filter_map(|o| o.result.as_ref().err())
        .collect();
    let acknowledged = seen.acknowledged.clone();
    println!(
        "{fault:?}: {} (xtask {} ms); operations during and after: {}, failed reads {}, \
         failed writes {}; first success {:?} after it accepted connections again",
        printed.trim(),
        injected.duration_since(fault_began).as_millis(),
        during.len(),
        failed_reads.len(),
        failed_writes.len(),
        recovery
    );
    for (kind, message) in failed_writes.iter().take(3) {
        println!("  a write failed: {kind:?}: {message}");
    }
    for outcome in failed_reads.iter().take(3) {
        if let Err((kind, message)) = &outcome.result {
            println!("  a read failed: {kind:?}: {message}");
        }
    }

    let recovery = recovery.expect("an operation succeeded after the fault");
    assert!(
        recovery <= fault.recovery_bound(),
        "the pool took {recovery:?} after it accepted connections again ({fault:?}; at \
         most {:?})",
        fault.recovery_bound()
    );
    assert!(
        failed_reads.is_empty(),
        "reads are safe to retry and must all succeed: {:?}",
        failed_reads.first()
    );
    for (kind, message) in &failed_writes {
        assert!(
            matches!(kind, ErrorKind::Connect | ErrorKind::PoolTimeout),
            "a write failed with an unexpected kind {kind:?}: {message}"
        );
        assert!(
            message.len() > 20,
            "a write failed without saying why: {message:?}"
        );
    }
    assert_eq!(
        present(&url, table, &acknowledged).await,
        acknowledged.len(),
        "every acknowledged insert is in the table"
    );
    pool.query_one("SELECT 1", &[])
        .await
        .expect("the pool serves after the fault");
    let stats = pool.stats();
    assert!(stats.total <= stats.max_size && stats.active + stats.idle == stats.total);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "restarts the shared PostgreSQL: run by `cargo xtask test` in its faults phase"]
async fn server_fault_restart_fast_under_load() {
    recover_under_load(Fault::Restart("fast", Route::Direct)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "restarts the shared PostgreSQL: run by `cargo xtask test` in its faults phase"]
async fn server_fault_restart_immediate_under_load() {
    recover_under_load(Fault::Restart("immediate", Route::Direct)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "restarts the shared PostgreSQL: run by `cargo xtask test` in its faults phase"]
async fn server_fault_restart_fast_behind_pgbouncer() {
    recover_under_load(Fault::Restart("fast", Route::PgBouncer)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "restarts the shared PostgreSQL: run by `cargo xtask test` in its faults phase"]
async fn server_fault_restart_immediate_behind_pgbouncer() {
    recover_under_load(Fault::Restart("immediate", Route::PgBouncer)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "kills the shared PgBouncer: run by `cargo xtask test` in its faults phase"]
async fn server_fault_pgbouncer_killed_under_load() {
    recover_under_load(Fault::PgBouncerKilled).await;
}

/// Opens connections to `url` until the server refuses one for want of slots
/// (53300, "sorry, too many clients already"); returns them, held open.
async fn take_every_free_slot(url: &str) -> Vec<tokio_postgres::Client> {
    let mut held = Vec::new();
    loop {
        match direct_client(url).await {
            Ok(client) => held.push(client),
            Err(error)
                if error.code() == Some(&tokio_postgres::error::SqlState::TOO_MANY_CONNECTIONS) =>
            {
                return held;
            }
            Err(error) => panic!("after {} connections: {error}", held.len()),
        }
        assert!(
            held.len() < 1000,
            "the server took 1000 connections and refused none"
        );
    }
}

/// Another client takes every free connection slot of the server while the pool
/// holds one connection and is asked for six: the pool cannot grow (each connect
/// fails with 53300), and its callers wait for the connection it has instead of
/// failing; once the slots are free again, it grows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "fills the shared PostgreSQL's connection slots: run by `cargo xtask test` in its faults phase"]
async fn server_fault_no_connection_slots_left_under_load() {
    let url = required_env("DATABASE_URL");
    let config = load_config(&[
        ("DATABASE_URL", url.as_str()),
        ("POOLSIDE_PROFILE", "test"),
        ("POOLSIDE_POSTGRES__MAX_SIZE", "6"),
        ("POOLSIDE_POSTGRES__MIN_IDLE", "1"),
        ("POOLSIDE_POSTGRES__CONNECTION_TIMEOUT", "10s"),
    ]);
    let pool = PgPool::connect(&config.config.postgres)
        .await
        .expect("connects");
    let before = pool.stats();
    let held = take_every_free_slot(&url).await;
    // Twelve callers, each holding a connection of its own for 10 ms at a time: the
    // pool would open six, and can open none.
    let (stop_tx, stop) = watch::channel(false);
    let outcomes = Arc::new(Mutex::new(Vec::new()));
    let tasks: Vec<_> = (0..12)
        .map(|_| {
            let (pool, outcomes, stop) = (pool.clone(), Arc::clone(&outcomes), stop.clone());
            tokio::spawn(async move {
                while !*stop.borrow() {
                    let result = run_bounded(async {
                        let mut conn = pool.get().await?;
                        conn.execute("SELECT pg_sleep(0.01)", &[]).await
                    })
                    .await;
                    outcomes
                        .lock()
                        .push(result.map(drop).map_err(|e| e.to_string()));
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let starved = pool.stats();
    let held_count = held.len();
    drop(held);
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop_tx.send(true).expect("tasks listen");
    for task in tasks {
        task.await.expect("no caller panicked");
    }
    let grown = pool.stats();
    let outcomes = std::mem::take(&mut *outcomes.lock());
    let failed: Vec<_> = outcomes.iter().filter_map(|o| o.as_ref().err()).collect();
    println!(
        "no free slots: another client held {held_count}; {} calls, {} failed; the pool \
         had {} connection(s) before, {} while starved, {} after the slots were freed \
         (created {} -> {} -> {})",
        outcomes.len(),
        failed.len(),
        before.total,
        starved.total,
        grown.total,
        before.created,
        starved.created,
        grown.created
    );
    assert!(held_count > 0, "the other client took some slots");
    assert!(
        failed.is_empty(),
        "the pool had a connection: its callers wait for it rather than fail: {:?}",
        failed.first()
    );
    assert!(
        starved.total < starved.max_size && starved.waiting > 0,
        "the pool could not grow while the slots were full, and callers waited: {starved:?}"
    );
    assert!(
        grown.total > starved.total,
        "the pool grows once slots are free: {starved:?} -> {grown:?}"
    );
}

/// Restarts PostgreSQL (`pg_ctl stop -m immediate`) under reads on the batched read
/// path, each checked against its own key: batches on the wire when the server dies
/// end in errors the retry layer sends again, never in another caller's row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "restarts the shared PostgreSQL: run by `cargo xtask test` in its faults phase"]
async fn server_fault_restart_under_batched_reads() {
    let url = required_env("DATABASE_URL");
    let client = direct_client(&url).await.expect("connects");
    client
        .batch_execute(
            "DROP TABLE IF EXISTS fault_batched_reads; \
             CREATE TABLE fault_batched_reads (id int8 PRIMARY KEY, v int8 NOT NULL); \
             INSERT INTO fault_batched_reads SELECT i, i * 7 FROM generate_series(1, 1000) i",
        )
        .await
        .expect("creates the table");
    drop(client);
    let config = load_config(&[
        ("DATABASE_URL", url.as_str()),
        ("POOLSIDE_PROFILE", "test"),
        ("POOLSIDE_POSTGRES__MAX_SIZE", "10"),
        ("POOLSIDE_POSTGRES__READ_CONNECTIONS", "2"),
        ("POOLSIDE_POSTGRES__CONNECTION_TIMEOUT", "10s"),
    ]);
    let pool = PgPool::connect(&config.config.postgres)
        .await
        .expect("connects");
    let (stop_tx, stop) = watch::channel(false);
    let seen = Arc::new(Mutex::new(Seen::default()));
    // Four readers per task slot: enough callers to fill batches.
    let tasks: Vec<_> = (0..TASKS * 4)
        .map(|task| {
            let (pool, seen, stop) = (pool.clone(), Arc::clone(&seen), stop.clone());
            tokio::spawn(async move {
                let mut read =
                    RetryLayer::new(retry_policy(true)).layer(tower::service_fn(move |id: i64| {
                        let pool = pool.clone();
                        async move {
                            let row = pool
                                .read_query_one(
                                    "SELECT v FROM fault_batched_reads WHERE id = $1",
                                    &[&id],
                                )
                                .await?;
                            Ok::<_, PgError>((id, row.get::<_, i64>(0)))
                        }
                    }));
                let mut id = task as i64;
                while !*stop.borrow() {
                    id = id % 1000 + 1;
                    let result = run_bounded(read.ready().await.expect("ready").call(id)).await;
                    if let Ok((id, v)) = &result {
                        assert_eq!(*v, id * 7, "a caller got another caller's row");
                    }
                    let ok = record(&seen, false, result.map(|_| None));
                    if !ok {
                        tokio::time::sleep(Duration::from_millis(2)).await;
                    }
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let restart_began = Instant::now();
    tokio::task::spawn_blocking(|| xtask_services(&["restart", "postgres", "immediate"]))
        .await
        .expect("the restart ran");
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop_tx.send(true).expect("tasks listen");
    for task in tasks {
        task.await
            .expect("no reader panicked: every answer was its caller's");
    }
    let seen = std::mem::take(&mut *seen.lock());
    let during: Vec<_> = seen
        .outcomes
        .iter()
        .filter(|o| o.finished >= restart_began)
        .collect();
    let failed: Vec<_> = during.iter().filter(|o| o.result.is_err()).collect();
    println!(
        "restart under batched reads: {} reads during and after, {} failed after retries",
        during.len(),
        failed.len()
    );
    assert!(
        first_success_after(&seen, restart_began, false).is_some(),
        "reads succeed again after the restart"
    );
    assert!(
        failed.is_empty(),
        "reads are safe to retry and must all succeed: {:?}",
        failed.first()
    );
    let stats = pool.stats();
    assert!(stats.total <= stats.max_size, "{stats:?}");
}

/// Starts the standby again when the replica test ends, passed or not.
struct StandbyBack;

impl Drop for StandbyBack {
    fn drop(&mut self) {
        if let Err(e) = try_xtask_services(&["up"]) {
            eprintln!("starting the standby again: {e}");
        }
    }
}

/// Waits until the first replica is sampled fit, for up to `limit`.
async fn until_fit(replicas: &poolside_core::Replicas, limit: Duration) {
    let began = Instant::now();
    while !replicas.stats().replicas[0].fit {
        assert!(
            began.elapsed() < limit,
            "not fit within {limit:?}: {:?}",
            replicas.stats()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Reads marked read-only, through the replica layer over the primary and the real
/// standby, while the standby is stopped (`pg_ctl stop -m fast`) and started again:
/// no read fails, reads go to the primary within a sample interval, and back to the
/// standby once it is up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "stops the shared standby: run by `cargo xtask test` in its faults phase"]
async fn server_fault_standby_stopped_under_reads() {
    use poolside_core::{PgRequest, ReplicaLayer, Replicas};
    let config = replica_config(&[]).postgres;
    let primary = PgPool::connect(&config).await.expect("the primary");
    let replicas = Replicas::connect_lazy(&config).expect("the replica URL");
    let monitor = tokio::spawn(replicas.clone().monitor(primary.clone()));
    let service = ReplicaLayer::new(replicas.clone()).layer(primary.clone());
    until_fit(&replicas, Duration::from_secs(20)).await;
    let _back = StandbyBack;
    let (stop_tx, stop) = watch::channel(false);
    let readers: Vec<_> = (0..TASKS)
        .map(|_| {
            let (service, stop) = (service.clone(), stop.clone());
            tokio::spawn(async move {
                let (mut on_standby, mut on_primary, mut failed) = (0u32, 0u32, Vec::new());
                while !*stop.borrow() {
                    let request =
                        PgRequest::query("where", "SELECT pg_is_in_recovery()", &[]).read_only();
                    match run_bounded(service.clone().oneshot(request)).await {
                        Ok(answer) => match answer.into_one().map(|row| row.get::<_, bool>(0)) {
                            Ok(true) => on_standby += 1,
                            Ok(false) => on_primary += 1,
                            Err(e) => failed.push(e.to_string()),
                        },
                        Err(e) => failed.push(e.to_string()),
                    }
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                (on_standby, on_primary, failed)
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let stopping = Instant::now();
    tokio::task::spawn_blocking(|| xtask_services(&["stop", "postgres-standby"]))
        .await
        .expect("stops the standby");
    let stopped_in = stopping.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let down = replicas.stats();
    tokio::task::spawn_blocking(|| xtask_services(&["up"]))
        .await
        .expect("starts the standby");
    until_fit(&replicas, Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop_tx.send(true).expect("readers listen");
    let (mut on_standby, mut on_primary, mut failed) = (0, 0, Vec::new());
    for reader in readers {
        let (s, p, f) = reader.await.expect("a reader");
        on_standby += s;
        on_primary += p;
        failed.extend(f);
    }
    monitor.abort();
    println!(
        "standby stopped under reads: stopped in {stopped_in:?}; {on_standby} reads on the \
         standby, {on_primary} on the primary, {} failed; while down: {down:?}",
        failed.len()
    );
    assert!(
        failed.is_empty(),
        "{} reads failed: {:?}",
        failed.len(),
        failed.first()
    );
    assert!(!down.replicas[0].fit, "left out while down: {down:?}");
    assert!(
        on_standby > 0 && on_primary > 0,
        "{on_standby} / {on_primary}"
    );
}

/// Puts the primary back in charge when a failover test ends, passed or not.
struct Failback;

impl Drop for Failback {
    fn drop(&mut self) {
        if let Err(e) = try_xtask_services(&["failback"]) {
            eprintln!("failback after the failover test: {e}");
        }
    }
}

/// Waits until `table` exists on the standby (it replicates asynchronously).
async fn replicated(standby: &str, table: &str) {
    let client = direct_client(standby)
        .await
        .expect("connects to the standby");
    let began = Instant::now();
    loop {
        let row = client
            .query_one("SELECT to_regclass($1) IS NOT NULL", &[&table])
            .await
            .expect("asks the standby");
        if row.get::<_, bool>(0) {
            return;
        }
        assert!(
            began.elapsed() < Duration::from_secs(10),
            "{table} did not reach the standby"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Writes through a pool on the multi-host URL while the primary is lost (stopped, or
/// turned read-only) and the standby promoted.
async fn failover_under_load(read_only: bool) {
    let primary = required_env("DATABASE_URL");
    let standby = required_env("DATABASE_STANDBY_URL");
    let table = if read_only {
        "fault_failover_read_only"
    } else {
        "fault_failover_stop"
    };
    fresh_table(&primary, table).await;
    replicated(&standby, table).await;
    let pool = pool_for(&multi_host_url(&primary, &standby)).await;
    let (stop_tx, stop) = watch::channel(false);
    let (seen, tasks) = start_load(&pool, table, &stop);
    tokio::time::sleep(Duration::from_secs(1)).await;

    let _failback = Failback;
    let began = Instant::now();
    let printed = tokio::task::spawn_blocking(move || {
        if read_only {
            xtask_services(&["failover", "--read-only"])
        } else {
            xtask_services(&["failover"])
        }
    })
    .await
    .expect("the failover ran");
    let promoted = Instant::now();
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop_tx.send(true).expect("tasks listen");
    for task in tasks {
        task.await.expect("no load task panicked");
    }

    let seen = std::mem::take(&mut *seen.lock());
    let last_before = seen
        .outcomes
        .iter()
        .filter(|o| o.write && o.result.is_ok() && o.finished < promoted)
        .map(|o| o.finished)
        .max();
    let resumed = first_success_after(&seen, promoted, true)
        .expect("writes resumed after the standby was promoted");
    let failed_writes = seen
        .outcomes
        .iter()
        .filter(|o| o.write && o.finished >= began && o.result.is_err())
        .count();
    let acknowledged = seen.acknowledged.clone();
    let stats = pool.stats();
    let lost = acknowledged.len() - present(&standby, table, &acknowledged).await;
    println!(
        "failover ({}): {} (xtask {} ms); writes resumed {} ms after the promotion, {} ms after \
         the last write before it; {failed_writes} writes failed meanwhile; {} acknowledged, \
         {lost} lost; connections retired: {}",
        if read_only {
            "read-only primary"
        } else {
            "primary stopped"
        },
        printed.trim(),
        promoted.duration_since(began).as_millis(),
        resumed.saturating_duration_since(promoted).as_millis(),
        last_before.map_or(0, |t| resumed.saturating_duration_since(t).as_millis()),
        acknowledged.len(),
        stats.closed.retired
    );
    assert!(
        resumed.saturating_duration_since(promoted) <= Duration::from_secs(2),
        "writes resumed {:?} after the promotion",
        resumed.saturating_duration_since(promoted)
    );
    assert_eq!(
        lost, 0,
        "an acknowledged write is missing on the new primary"
    );
    if read_only {
        assert!(
            stats.closed.retired > 0,
            "connections to the read-only primary were retired: {stats:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "stops the shared PostgreSQL primary: run by `cargo xtask test` in its faults phase"]
async fn server_fault_failover_when_the_primary_stops() {
    failover_under_load(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "turns the shared PostgreSQL primary read-only: run by `cargo xtask test` in its faults phase"]
async fn server_fault_failover_when_the_primary_turns_read_only() {
    failover_under_load(true).await;
}

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
    let blocking = |f: Box<dyn FnOnce() -> Traffic + Send>| tokio::task::spawn_blocking(f);

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
    let before = {
        let base = base.clone();
        blocking(Box::new(move || sell_and_read(&base, product, 20)))
            .await
            .expect("runs")
    };
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
    let during = {
        let base = base.clone();
        blocking(Box::new(move || sell_and_read(&base, product, 50)))
            .await
            .expect("runs")
    };
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
        let base = base.clone();
        let round = blocking(Box::new(move || sell_and_read(&base, product, 1)))
            .await
            .expect("runs");
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
