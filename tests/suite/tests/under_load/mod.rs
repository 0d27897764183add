//! A steady load on a pool while a fault happens, and what it saw: `TASKS` tasks,
//! each alternating a read through a retry layer marked idempotent and an insert of a
//! new id through one that is not, every operation bounded by `OPERATION_LIMIT`. The
//! restart and failover tests share it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use poolside_core::{ErrorKind, PgError, PgPool};
use poolside_resilience::Jitter;
use poolside_resilience::{Backoff, RetryBudget, RetryLayer, RetryPolicy};
use poolside_tests::load_config;
use tokio::sync::watch;
use tower::{Layer, Service, ServiceExt};

/// Tasks sending statements while the fault happens.
pub(crate) const TASKS: usize = 8;
/// No operation may take longer than this, outage included: nothing hangs.
pub(crate) const OPERATION_LIMIT: Duration = Duration::from_secs(10);

/// One finished operation.
#[derive(Debug, Clone)]
pub(crate) struct Outcome {
    pub(crate) finished: Instant,
    pub(crate) write: bool,
    pub(crate) result: Result<(), (ErrorKind, String)>,
}

/// What the load tasks saw.
#[derive(Debug, Default)]
pub(crate) struct Seen {
    pub(crate) outcomes: Vec<Outcome>,
    /// Ids of inserts the server acknowledged.
    pub(crate) acknowledged: Vec<i64>,
}

pub(crate) async fn pool_for(url: &str) -> PgPool {
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
pub(crate) fn retry_policy(idempotent: bool) -> RetryPolicy {
    let budget = RetryBudget::new(Duration::from_secs(10), 50, 20.0).expect("valid budget");
    let backoff = Backoff::new(
        Duration::from_millis(50),
        Duration::from_millis(500),
        Jitter::Equal,
    );
    RetryPolicy::new(10, backoff, Duration::from_secs(5), budget).idempotent(idempotent)
}

pub(crate) async fn direct_client(
    url: &str,
) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    Ok(client)
}

/// Creates `table (id bigint primary key)` afresh on the primary.
pub(crate) async fn fresh_table(url: &str, table: &str) {
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
pub(crate) fn start_load(
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

pub(crate) async fn run_bounded<T>(
    call: impl Future<Output = Result<T, PgError>>,
) -> Result<T, PgError> {
    tokio::time::timeout(OPERATION_LIMIT, call)
        .await
        .unwrap_or_else(|_| panic!("an operation hung past {OPERATION_LIMIT:?}"))
}

/// Records one operation; true when it succeeded.
pub(crate) fn record(
    seen: &Mutex<Seen>,
    write: bool,
    result: Result<Option<i64>, PgError>,
) -> bool {
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

/// The first operation that succeeded after `after`.
pub(crate) fn first_success_after(
    seen: &Seen,
    after: Instant,
    writes_only: bool,
) -> Option<Instant> {
    seen.outcomes
        .iter()
        .filter(|o| o.result.is_ok() && o.finished > after && (o.write || !writes_only))
        .map(|o| o.finished)
        .min()
}

/// Ids among `ids` present in `table` on the server at `url`.
pub(crate) async fn present(url: &str, table: &str, ids: &[i64]) -> usize {
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
