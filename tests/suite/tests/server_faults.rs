//! Faults injected into the real PostgreSQL and PgBouncer under a steady load:
//! PostgreSQL restarted (`pg_ctl stop -m fast` and `-m immediate`, then started;
//! under writes, under the same writes through PgBouncer, and under the batched read
//! path's reads), PgBouncer killed under those writes and started again, and every
//! free connection slot of the server taken by another client under checkouts.
//! `replica_faults.rs` loses the primary and the standby; `pos_service_faults.rs`
//! fails the servers under the point-of-sale service.
//!
//! They stop the shared servers, so they are ignored in the ordinary parallel run and
//! run alone, one at a time, by the faults phase of `cargo xtask test`, which names
//! its own binary in `POOLSIDE_XTASK` for them to drive `cargo xtask services`. By
//! hand, after `cargo xtask services up`:
//! `POOLSIDE_XTASK=$PWD/target/debug/xtask cargo test -p poolside-test-suite --test server_faults -- --ignored --test-threads=1`

mod under_load;

use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use poolside_core::{ErrorKind, PgError, PgPool};
use poolside_resilience::RetryLayer;
use poolside_tests::{load_config, required_env, xtask_services};
use tokio::sync::watch;
use tower::{Layer, Service, ServiceExt};
use under_load::{
    Outcome, Seen, TASKS, direct_client, first_success_after, fresh_table, pool_for, present,
    record, retry_policy, run_bounded, start_load,
};

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
