//! The primary and its streaming standby lost under a steady load: the standby
//! stopped under reads routed to it, and the primary lost to the standby (stopped, or
//! turned read-only) under writes through a pool on a multi-host URL.
//!
//! They stop the shared servers, so they are ignored in the ordinary parallel run and
//! run alone, one at a time, by the faults phase of `cargo xtask test` (see
//! `server_faults.rs`). By hand, after `cargo xtask services up`:
//! `POOLSIDE_XTASK=$PWD/target/debug/xtask cargo test -p poolside-test-suite --test replica_faults -- --ignored --test-threads=1`

mod under_load;

use std::time::{Duration, Instant};

use poolside_core::PgPool;
use poolside_tests::{
    multi_host_url, replica_config, required_env, try_xtask_services, xtask_services,
};
use tokio::sync::watch;
use tower::{Layer, ServiceExt};
use under_load::{
    TASKS, direct_client, first_success_after, fresh_table, pool_for, present, run_bounded,
    start_load,
};

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
