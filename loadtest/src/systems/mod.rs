//! The systems under test, in this process: poolside on both paths and the pools a
//! user would pick instead, each opened with the same pool size and given the same
//! operation. pgbench and redis-benchmark run as their own processes (see
//! `pgbench.rs`, `redis_benchmark.rs`).

mod layered;
mod observed;
mod per_core;
mod pgbouncer;
pub(crate) mod pos_service;
mod postgres;
mod redis;
mod replica;
mod traced;

pub(crate) use pgbouncer::without_pgbouncer_flag;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::runtime::Handle;

use anyhow::{Result, bail};

use super::measure::{Operation, Outcome};
use super::workload::{Data, Workload};

/// A system under test, by its name in the results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum System {
    /// poolside's default path: pipelined `PgPool::query_one`, `PgPool::transaction`,
    /// `RedisPool::command` on a shared multiplexed connection.
    Poolside,
    /// `PgPool::get` then `query_one`: one checkout per operation.
    PoolsideExclusive,
    /// The batched read path: `PgPool::read_query_one` on read-only connections that
    /// send concurrent statements together under one Sync.
    PoolsideRead,
    /// The batched read path on one single-threaded runtime per core, each with a
    /// pool of its own, as pgbench runs its clients on `-j` threads.
    PoolsideReadPerCore,
    /// The facade on the per-core layout: a `Poolside` per core's runtime, the select
    /// as a read-only operation (its layers, then the batched read path).
    PoolsideFacadePerCore,
    /// The default path under every resilience layer (deadline, retry, breaker,
    /// shedding), nothing failing: what the layers cost.
    PoolsideLayered,
    /// The default path under the metrics layer, with the Prometheus recorder
    /// installed and the pool's timings observed: what recording costs.
    PoolsideMetrics,
    /// The default path under the trace layer, its spans recorded by
    /// tracing-opentelemetry into the OpenTelemetry SDK: what spans cost.
    PoolsideTraced,
    /// deadpool-postgres with `prepare_cached`.
    Deadpool,
    /// sqlx's `PgPool` (statements cached per connection).
    Sqlx,
    /// bb8 and tokio-postgres, `query_one(&str)` (prepares on every call).
    RawBb8,
    /// tokio-postgres alone, no pool: a statement prepared once per connection and
    /// queries pipelined on as many connections as poolside's pipelined path shares.
    RawPipelined,
    /// deadpool-redis: one connection checked out per command.
    DeadpoolRedis,
    /// The redis crate alone, no pool: one multiplexed connection shared by every task.
    RawMultiplexed,
    /// poolside's `RedisPool::command` in cluster mode (`--redis-mode cluster`), on a
    /// Redis Cluster.
    PoolsideCluster,
    /// poolside's cluster mode on one single-threaded runtime per core, each with a
    /// `RedisPool` of its own, as `redis-benchmark --threads` runs its clients.
    PoolsideClusterPerCore,
    /// The redis crate's cluster connection alone, no pool, shared by every task.
    RawCluster,
    /// poolside in PgBouncer mode (`pgbouncer=true`), through PgBouncer.
    PoolsidePgbouncer,
    /// poolside's PgBouncer path before parameter types were learnt once per pool:
    /// four round trips per statement.
    PoolsidePgbouncerFourTrips,
    /// deadpool-postgres through PgBouncer, `query_typed`.
    DeadpoolPgbouncer,
    /// sqlx through PgBouncer, statement cache off, unnamed statements.
    SqlxPgbouncer,
    /// poolside with one read replica: the select, read-only, through `ReplicaService`.
    PoolsideReplica,
}

impl System {
    /// The name in the results.
    pub(crate) fn name(self) -> &'static str {
        match self {
            System::Poolside => "poolside",
            System::PoolsideExclusive => "poolside-exclusive",
            System::PoolsideRead => "poolside-read",
            System::PoolsideReadPerCore => "poolside-read-per-core",
            System::PoolsideFacadePerCore => "poolside-facade-per-core",
            System::PoolsideLayered => "poolside-layered",
            System::PoolsideMetrics => "poolside-metrics",
            System::PoolsideTraced => "poolside-traced",
            System::Deadpool => "deadpool",
            System::Sqlx => "sqlx",
            System::RawBb8 => "raw-bb8",
            System::RawPipelined => "raw-pipelined",
            System::DeadpoolRedis => "deadpool-redis",
            System::RawMultiplexed => "raw-multiplexed",
            System::PoolsideCluster => "poolside-cluster",
            System::PoolsideClusterPerCore => "poolside-cluster-per-core",
            System::RawCluster => "raw-cluster",
            System::PoolsidePgbouncer => "poolside-pgbouncer",
            System::PoolsidePgbouncerFourTrips => "poolside-pgbouncer-4rt",
            System::DeadpoolPgbouncer => "deadpool-pgbouncer",
            System::SqlxPgbouncer => "sqlx-pgbouncer",
            System::PoolsideReplica => "poolside-replica",
        }
    }

    /// The systems that run `workload`, in report order. The drivers alone
    /// ([`System::driver_alone`]) run in `steady` only.
    pub(crate) fn for_workload(workload: Workload) -> &'static [System] {
        match workload {
            Workload::Select => &[
                System::Poolside,
                System::PoolsideRead,
                System::PoolsideExclusive,
                System::Deadpool,
                System::Sqlx,
                System::RawBb8,
            ],
            // poolside runs transactions on an exclusive connection: one path.
            Workload::Sale => &[
                System::Poolside,
                System::Deadpool,
                System::Sqlx,
                System::RawBb8,
            ],
            Workload::RedisGet | Workload::RedisSet => &[System::Poolside, System::DeadpoolRedis],
        }
    }

    /// The systems that run `workload` through PgBouncer, in report order.
    pub(crate) fn through_pgbouncer(workload: Workload) -> &'static [System] {
        match workload {
            Workload::Select => &[
                System::PoolsidePgbouncer,
                System::PoolsidePgbouncerFourTrips,
                System::DeadpoolPgbouncer,
                System::SqlxPgbouncer,
            ],
            Workload::Sale => &[
                System::PoolsidePgbouncer,
                System::DeadpoolPgbouncer,
                System::SqlxPgbouncer,
            ],
            Workload::RedisGet | Workload::RedisSet => &[],
        }
    }

    /// The driver poolside's default path runs `workload` on, with no pool: the
    /// ceiling `steady` measures beside the pools. None for transactions, which no
    /// pool pipelines.
    pub(crate) fn driver_alone(workload: Workload) -> Option<System> {
        match workload {
            Workload::Select => Some(System::RawPipelined),
            Workload::Sale => None,
            Workload::RedisGet | Workload::RedisSet => Some(System::RawMultiplexed),
        }
    }
}

/// Where and how big: what every system is opened with.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(crate) database_url: Option<String>,
    pub(crate) redis_url: Option<String>,
    /// One Redis server, or a cluster whose node URLs `redis_url` lists.
    pub(crate) redis_mode: poolside_config::RedisMode,
    /// PgBouncer in transaction mode in front of the database, `pgbouncer=true` in it.
    pub(crate) pgbouncer_url: Option<String>,
    /// A streaming standby of the database, for the `replicas` scenario.
    pub(crate) standby_url: Option<String>,
    pub(crate) pool_size: u32,
    /// The most tasks any run starts, so that no queue cap refuses the measured load.
    pub(crate) max_tasks: usize,
    pub(crate) data: Data,
}

impl Target {
    fn database_url(&self) -> Result<&str> {
        match &self.database_url {
            Some(url) => Ok(url),
            None => bail!("no PostgreSQL to run against: pass --database-url"),
        }
    }

    /// The database URL for poolside's pools, naming them `poolside-loadtest` on the
    /// server (unless the URL names them already), so that the soak counts their
    /// connections and no one else's (PgBouncer's pooled server connections keep the
    /// name of their last client).
    fn poolside_database_url(&self) -> Result<String> {
        let url = self.database_url()?;
        if url.contains("application_name=") {
            return Ok(url.to_owned());
        }
        let separator = if url.contains('?') { '&' } else { '?' };
        Ok(format!(
            "{url}{separator}application_name={LOADTEST_APPLICATION_NAME}"
        ))
    }

    fn redis_url(&self) -> Result<&str> {
        match &self.redis_url {
            Some(url) => Ok(url),
            None => bail!("no Redis to run against: pass --redis-url"),
        }
    }
}

/// The `application_name` of poolside's pools in the load test.
pub(crate) const LOADTEST_APPLICATION_NAME: &str = "poolside-loadtest";

/// Counts a pool reports about itself, where it reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct PoolCounts {
    /// Connections opened since the pool was built.
    pub(crate) created: Option<u64>,
    /// Connections open now.
    pub(crate) open: Option<u64>,
    /// Transactions run again after a serialization failure or deadlock.
    pub(crate) retries: Option<u64>,
    /// Read-only statements run on a read replica.
    pub(crate) replica_reads: Option<u64>,
}

impl PoolCounts {
    /// Both counts added, where either reports them: the counts of pools run side by
    /// side as one system.
    fn plus(self, other: PoolCounts) -> PoolCounts {
        fn add(a: Option<u64>, b: Option<u64>) -> Option<u64> {
            match (a, b) {
                (None, None) => None,
                (a, b) => Some(a.unwrap_or(0) + b.unwrap_or(0)),
            }
        }
        PoolCounts {
            created: add(self.created, other.created),
            open: add(self.open, other.open),
            retries: add(self.retries, other.retries),
            replica_reads: add(self.replica_reads, other.replica_reads),
        }
    }
}

type BoxFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// An open pool of one system, its operation for one workload, and how to read its
/// counts and close it.
pub(crate) struct Prepared {
    pub(crate) operation: Operation,
    /// The runtimes its tasks run on, when it brings its own (one per core); `None`:
    /// the load test's runtime.
    pub(crate) runtimes: Option<Arc<[Handle]>>,
    pub(crate) counts: Box<dyn Fn() -> PoolCounts + Send + Sync>,
    pub(crate) close: Box<dyn FnOnce() -> BoxFuture + Send>,
}

impl std::fmt::Debug for Prepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prepared")
            .field("counts", &(self.counts)())
            .finish()
    }
}

/// Opens a pool of `system` on `target`, all its connections open, and returns the
/// operation that runs `workload`.
pub(crate) async fn prepare(
    system: System,
    workload: Workload,
    target: &Target,
) -> Result<Prepared> {
    match system {
        System::Poolside if workload.is_redis() => redis::poolside(workload, target).await,
        System::Poolside | System::PoolsideExclusive | System::PoolsideRead => {
            postgres::poolside(system, workload, target).await
        }
        System::PoolsideLayered => layered::poolside(workload, target).await,
        System::PoolsideMetrics => observed::poolside(workload, target).await,
        System::PoolsideTraced => traced::poolside(workload, target).await,
        System::PoolsideReadPerCore => per_core::poolside_read(workload, target).await,
        System::PoolsideFacadePerCore => per_core::poolside_facade(workload, target).await,
        System::PoolsideClusterPerCore => per_core::poolside_cluster(workload, target).await,
        System::Deadpool => postgres::deadpool(workload, target).await,
        System::Sqlx => postgres::sqlx(workload, target).await,
        System::RawBb8 => postgres::raw_bb8(workload, target).await,
        System::RawPipelined => postgres::raw_pipelined(workload, target).await,
        System::DeadpoolRedis => redis::deadpool(workload, target).await,
        System::RawMultiplexed => redis::raw_multiplexed(workload, target).await,
        System::PoolsideCluster => redis::poolside(workload, target).await,
        System::RawCluster => redis::raw_cluster(workload, target).await,
        System::PoolsidePgbouncer => pgbouncer::poolside_pgbouncer(workload, target).await,
        System::PoolsidePgbouncerFourTrips => {
            pgbouncer::poolside_four_round_trips(workload, target).await
        }
        System::DeadpoolPgbouncer => pgbouncer::deadpool_pgbouncer(workload, target).await,
        System::SqlxPgbouncer => pgbouncer::sqlx_pgbouncer(workload, target).await,
        System::PoolsideReplica => replica::poolside_replica(workload, target).await,
    }
}

/// Times `checkout` (the wait for a connection), then runs `work` on the connection.
async fn checkout_then<C, E, W, WE>(
    checkout: impl Future<Output = Result<C, E>>,
    work: impl FnOnce(C) -> W,
) -> Outcome
where
    E: std::fmt::Display,
    W: Future<Output = Result<(), WE>>,
    WE: std::fmt::Display,
{
    let started = Instant::now();
    let checked_out = checkout.await;
    let acquire = Some(started.elapsed());
    let error = match checked_out {
        Ok(conn) => work(conn).await.err().map(|e| e.to_string()),
        Err(e) => Some(e.to_string()),
    };
    Outcome { error, acquire }
}

/// `operation` on a deadpool pool (deadpool-postgres, deadpool-redis), with the
/// connections it holds open and its close.
fn deadpool_prepared<M, W>(pool: deadpool::managed::Pool<M, W>, operation: Operation) -> Prepared
where
    M: deadpool::managed::Manager + Send + Sync + 'static,
    M::Type: Send,
    M::Error: Send,
    W: From<deadpool::managed::Object<M>> + Send + Sync + 'static,
{
    let counted = pool.clone();
    Prepared {
        operation,
        runtimes: None,
        counts: Box::new(move || PoolCounts {
            open: Some(counted.status().size as u64),
            ..PoolCounts::default()
        }),
        close: Box::new(move || Box::pin(async move { pool.close() })),
    }
}

/// A `close` that does nothing (the pool closes when its last handle drops).
fn nothing_to_close() -> Box<dyn FnOnce() -> BoxFuture + Send> {
    Box::new(|| Box::pin(async {}))
}

/// How long a pool may wait for a connection in the load test: long enough that
/// only a real fault times out.
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(30);
