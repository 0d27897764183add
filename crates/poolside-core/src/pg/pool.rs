//! [`PgPool`]: the PostgreSQL pool: bb8 underneath, a FIFO queue in front, real
//! connect errors instead of timeouts.

use tracing::Instrument as _;

use super::generation::Generation;
use super::keepalive;
use crate::observer::{ObserverSlot, PoolObserver};
use std::future::Future;
use std::panic::Location;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use poolside_config::PostgresConfig;
use tokio::sync::watch;
use tokio_postgres::types::Type;

use super::connect_config::ConnectConfig;
use super::connection::ConnectionOptions;
use super::leaks::LeakWatch;
use super::manager::PgManager;
use super::param_types::ParamTypes;
use super::params::Params;
use super::pipeline::Pipeline;
use super::pooled::PooledPgConnection;
use super::read::{ReadPath, ReadSettings};
use super::rows;
use super::session_effects::refuse_on_pool;
use super::shared_refusals::refuse_session_state;
use super::stats::{Counters, PoolStats};
use super::tls;
use super::{Lsn, PgError, Row, ServerView};
use crate::ErrorKind;
use crate::acquire_error::{PoolTerms, busy, pool_error};
use crate::fair_pool::{AcquireError, FairPool};
use crate::span_fields;
use tokio_postgres_rustls::MakeRustlsConnect;

/// The `application_name` the pool gives its connections unless the URL sets one; the
/// server-side view counts connections by it.
const DEFAULT_APPLICATION_NAME: &str = "poolside";

/// A pool of PostgreSQL connections.
///
/// - **Fair**: waiters are served first come, first served. A FIFO semaphore with
///   `max_size` permits stands in front of bb8, whose own wake-up order lets some
///   waiters starve for seconds under oversubscription.
/// - **Honest errors**: a wrong password, an unknown database or a refused port fail at
///   once with the server's error, not with a pool timeout after the full wait.
/// - **Three paths, one budget**: [`query`](Self::query) and friends pipeline short
///   autocommit statements over a few shared connections; [`read_query`](Self::read_query)
///   and friends batch statements that only read under one Sync, on read-only
///   connections (`postgres.read_connections`); [`get`](Self::get) and
///   [`transaction`](Self::transaction) take an exclusive one. All draw on `max_size`.
/// - Connections are checked on checkout (skipped when used within the last second),
///   cache their prepared statements, and retire after a jittered `max_lifetime`.
/// - **Host failover**: given a multi-host URL with `target_session_attrs=read-write`
///   (`postgres://app@db1:5432,db2:5432/app?target_session_attrs=read-write`), new
///   connections reach whichever host takes writes, and a connection that finds its
///   server read-only (SQLSTATE 25006) retires every connection opened before.
///
/// Cloning is cheap: clones share one pool.
///
/// # Examples
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let config = poolside_config::Config::load()?.config;
/// let pool = poolside_core::PgPool::connect(&config.postgres).await?;
///
/// // Pipelined: a few shared connections serve every caller.
/// let row = pool.query_one("SELECT $1::int4 + 1", &[&41i32]).await?;
/// assert_eq!(row.get::<_, i32>(0), 42);
///
/// // Exclusive: one connection, for session state (put back before the next checkout)
/// // or a statement that may be cancelled.
/// let mut conn = pool.get().await?;
/// conn.batch_execute("SET search_path TO app").await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct PgPool {
    inner: Arc<Inner>,
}

struct Inner {
    fair: FairPool<PgManager>,
    counters: Arc<Counters>,
    /// Connections out of the pool, for leak reports; `None` when detection is off.
    leaks: Option<Arc<LeakWatch>>,
    config: PostgresConfig,
    /// Who hears the pool's timings, if anyone.
    observer: ObserverSlot,
    /// Retires connections after a failover, or on [`PgPool::reconnect`].
    generation: Arc<Generation>,
    application_name: String,
    target: String,
    /// Shared connections for `query` and friends; `None` for a pool of one.
    pipeline: Option<Pipeline>,
    /// Read-only connections batching `read_query` and friends; `None` when
    /// `postgres.read_connections` is 0 or the URL is one it cannot serve.
    read: Option<ReadPath>,
    /// In PgBouncer mode, the parameter types of the statements run, learnt once.
    param_types: Option<Arc<ParamTypes>>,
    /// The driver's settings, password file and TLS setup, for connections outside
    /// the pool.
    driver: ConnectConfig,
    tls: MakeRustlsConnect,
}

/// Longest time between two sweeps for idle and expired connections (bb8's default).
const REAPER_RATE: Duration = Duration::from_secs(30);

impl std::fmt::Debug for PgPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgPool")
            .field("target", &self.inner.target)
            .field("application_name", &self.inner.application_name)
            .field("stats", &self.stats())
            .finish()
    }
}

impl PgPool {
    /// Builds the pool from validated configuration and warms `min_idle` connections
    /// (at least one, to prove the server answers). Start-up waits for them, bounded by
    /// the connection timeout, and fails with the server's error naming the host. Then
    /// it checks the connection budget once ([`budget`](Self::budget)), logging
    /// a warning for each thing that does not fit (`expected_instances x max_size`, say).
    ///
    /// Must run inside a Tokio runtime.
    pub async fn connect(config: &PostgresConfig) -> Result<Self, PgError> {
        let pool = Self::build(config)?;
        pool.warm_up().await?;
        pool.check_budget().await;
        Ok(pool)
    }

    /// Builds the pool without opening any connection: the first checkout (or
    /// [`warm_up`](Self::warm_up)) connects. For a service that must start, and answer
    /// its startup and liveness probes, while its database is still down. Fails only
    /// on a URL that does not parse.
    ///
    /// Must run inside a Tokio runtime.
    pub fn connect_lazy(config: &PostgresConfig) -> Result<Self, PgError> {
        Self::build(config)
    }

    fn build(config: &PostgresConfig) -> Result<Self, PgError> {
        let invalid = |e: &dyn std::fmt::Display| {
            PgError::new(
                ErrorKind::Connect,
                format!("postgres.url is not a valid connection string ({e})"),
            )
        };
        let (driver_url, tls) = poolside_config::tls_params::split_tls_params(config.url.expose())
            .map_err(|e| invalid(&e))?;
        let mut driver = tokio_postgres::Config::from_str(&driver_url).map_err(|e| invalid(&e))?;
        let tls = tls::connector(&tls)?;
        if driver.get_connect_timeout().is_none() {
            driver.connect_timeout(config.effective_connect_timeout());
        }
        if driver.get_application_name().is_none() {
            driver.application_name(DEFAULT_APPLICATION_NAME);
        }
        keepalive::keepalive_defaults(&mut driver, &driver_url);
        let application_name = driver
            .get_application_name()
            .unwrap_or(DEFAULT_APPLICATION_NAME)
            .to_owned();
        let counters = Arc::new(Counters::default());
        let (failures_tx, failures) = watch::channel(None);
        let driver = ConnectConfig::new(driver, config.password_file.as_deref());
        let manager = PgManager::new(
            driver.clone(),
            tls.clone(),
            failures_tx,
            ConnectionOptions {
                cache_size: config.statement_cache_size as usize,
                pgbouncer: config.pgbouncer,
                query_timeout: config.query_timeout,
            },
            config.max_lifetime,
            Arc::clone(&counters),
        );
        let target = manager.target.clone();
        let observer = manager.observer.clone();
        let generation = Arc::clone(&manager.generation);
        let schema = Arc::clone(&manager.schema);
        let param_types = manager.param_types.clone();
        // The read path's connections are reserved within max_size.
        let pool_size = config.pooled_connections();
        let min_idle = config.min_idle.min(pool_size);
        let read = read_path(config, &manager, &counters);
        let pool = bb8::Pool::builder()
            .max_size(pool_size)
            .min_idle(Some(min_idle))
            .connection_timeout(config.connection_timeout)
            // bb8 closes every connection idle past idle_timeout, min_idle ones
            // included, then opens min_idle anew: a pool with min_idle == max_size
            // would reopen its idle connections every reaper cycle. It has no excess
            // to trim, so no idle timeout.
            .idle_timeout((min_idle < pool_size).then_some(config.idle_timeout))
            .reaper_rate(
                config
                    .idle_timeout
                    .clamp(Duration::from_secs(1), REAPER_RATE),
            )
            // A backstop for idle connections; in use, each expires at its own
            // jittered lifetime first (see PgManager).
            .max_lifetime(Some(config.max_lifetime))
            .test_on_check_out(true)
            // bb8 would retry a failed connect itself, sleeping 400 ms, 800 ms, ... up
            // to half the connection timeout between tries, so that after a database
            // restart the pool could idle for seconds with the server back. A failed
            // connect goes to the waiters at once instead (see PgManager); the next
            // checkout, or the retry layer's backoff, tries again.
            .retry_connection(false)
            .build_unchecked(manager);
        Ok(Self {
            inner: Arc::new(Inner {
                fair: FairPool::new(pool, pool_size, failures, PgError::is_permanent)
                    .with_max_waiting(config.max_waiting),
                leaks: config
                    .leak_detection_threshold
                    .map(|threshold| LeakWatch::start(threshold, Arc::clone(&counters))),
                counters,
                config: config.clone(),
                observer,
                generation,
                application_name,
                target,
                pipeline: match config.shared_pipeline_connections() {
                    0 => None,
                    n => Some(Pipeline::new(
                        n as usize,
                        config.statement_cache_size as usize,
                        Arc::clone(&schema),
                        param_types.clone(),
                    )),
                },
                read,
                param_types,
                driver,
                tls,
            }),
        })
    }

    /// The driver's settings from the URL (no password from a file).
    pub(crate) fn driver_settings(&self) -> &tokio_postgres::Config {
        self.inner.driver.settings()
    }

    /// Opens one connection outside the pool, to database `dbname` of the pool's
    /// server, with the pool's credentials and TLS setup, within `timeout`: for
    /// PgBouncer's admin console (`pgbouncer`), say. It closes when the client is
    /// dropped.
    pub(crate) async fn connect_outside(
        &self,
        dbname: &str,
        timeout: Duration,
    ) -> Result<tokio_postgres::Client, PgError> {
        let mut config = self.inner.driver.for_connect()?.into_owned();
        config.dbname(dbname).connect_timeout(timeout);
        let context = format!("connecting to database {dbname} on {}", self.inner.target);
        match tokio::time::timeout(timeout, config.connect(self.inner.tls.clone())).await {
            Ok(Ok((client, connection))) => {
                tokio::spawn(connection);
                Ok(client)
            }
            Ok(Err(e)) => Err(self.inner.driver.explain(PgError::from_driver(e, &context))),
            Err(_) => Err(PgError::new(
                ErrorKind::Connect,
                format!("{context}: no answer within {timeout:?}"),
            )),
        }
    }

    /// Opens connections until `min_idle` (at least one) are idle, failing with the
    /// server's error when one cannot be opened.
    pub async fn warm_up(&self) -> Result<(), PgError> {
        let config = &self.inner.config;
        let wanted = config.min_idle.min(config.pooled_connections()).max(1);
        // Held until all are open, so that each is a distinct connection.
        let mut held = Vec::with_capacity(wanted as usize);
        for _ in 0..wanted {
            held.push(self.acquire(None).await?);
        }
        Ok(())
    }

    /// Checks out a connection, waiting in FIFO order up to the connection timeout.
    /// The caller's location is remembered for leak reports.
    #[track_caller]
    pub fn get(&self) -> impl Future<Output = Result<PooledPgConnection, PgError>> + Send + '_ {
        self.acquire(Some(Location::caller()))
    }

    /// Checks out a connection for a caller at `location` (watched for leaks, when
    /// detection is on), or, given `None`, for the pool's own use: the pipeline's
    /// shared connections, warm-up, learning parameter types.
    pub(super) async fn acquire(
        &self,
        location: Option<&'static Location<'static>>,
    ) -> Result<PooledPgConnection, PgError> {
        let inner = &*self.inner;
        let observer = inner.observer.get();
        let started = observer.map(|_| std::time::Instant::now());
        let checkout = inner
            .fair
            .acquire(inner.config.connection_timeout)
            .instrument(span_fields::checkout_span())
            .await
            .map_err(|e| self.acquire_error(e))?;
        if let (Some(observer), Some(started)) = (observer, started) {
            observer.acquired(started.elapsed());
        }
        let leaks = inner.leaks.as_ref().filter(|_| location.is_some());
        Ok(PooledPgConnection::new(
            checkout,
            location,
            leaks,
            observer.cloned(),
        ))
    }

    /// Retires every connection open now: idle ones are closed at their next checkout,
    /// busy ones when they come back, and new ones are opened instead. For a health
    /// monitor whose check failed, or after a change behind the pool's address.
    pub fn reconnect(&self) {
        self.inner.generation.retire_all();
        if let Some(pipeline) = &self.inner.pipeline {
            pipeline.release_all();
        }
        if let Some(read) = &self.inner.read {
            read.release_all();
        }
    }

    /// Sends this pool's timings (checkout waits, holding times, connect times) to
    /// `observer`, from now on. A pool has at most one observer: returns false, and
    /// keeps the first, when one was set already.
    pub fn set_observer(&self, observer: Arc<dyn PoolObserver>) -> bool {
        self.inner.observer.set(observer)
    }

    /// Counts a transaction run again (see [`PoolStats::transaction_retries`]).
    pub(super) fn count_transaction_retry(&self) {
        self.inner.counters.transaction_retried();
    }

    fn acquire_error(&self, error: AcquireError<PgError>) -> PgError {
        pool_error(error, &self.terms())
    }

    /// No connection free within `waited`, every one in use.
    pub(super) fn busy_error(&self, waited: Duration) -> PgError {
        busy(waited, &self.terms())
    }

    /// How this pool's checkout errors name it.
    fn terms(&self) -> PoolTerms<'_> {
        PoolTerms {
            server: "PostgreSQL",
            section: "postgres",
            target: &self.inner.target,
            // The checkout pool's own: the read path's connections are reserved apart.
            max_size: self.inner.config.pooled_connections(),
            open: self.inner.fair.state().map_or(0, |state| state.connections),
            unreachable_fix: if self.inner.config.pgbouncer {
                "check that postgres.url names a reachable PgBouncer, and that its database \
                 was not killed there (a KILL holds new connections until RESUME <database>; \
                 SHOW DATABASES on its admin console shows it paused)"
            } else {
                "check that postgres.url names a reachable PostgreSQL server"
            },
        }
    }

    /// The pool now: sizes, usage and cumulative counts. After `close()`, sizes are 0.
    pub fn stats(&self) -> PoolStats {
        let inner = &*self.inner;
        let state = inner.fair.state();
        let mut stats = PoolStats::new(
            state.as_ref(),
            &inner.fair.counters,
            &inner.counters,
            inner.config.max_size,
            inner.config.min_idle,
        );
        stats.pipelined = inner.pipeline.as_ref().map_or(0, Pipeline::leased);
        stats.add_read_connections(inner.read.as_ref().map_or(0, ReadPath::open));
        stats.param_types_learnt = inner
            .param_types
            .as_deref()
            .map_or(0, ParamTypes::learnings);
        stats
    }

    /// Runs `sql` and returns its rows, on the pipelined path: a few connections shared
    /// by all callers, their statements pipelined on the wire and prepared once per
    /// connection. For short autocommit statements; a transaction or anything that
    /// sets session state needs an exclusive connection from [`get`](Self::get) or
    /// [`transaction`](Self::transaction): a BEGIN, a session-level SET (or
    /// `set_config`) or advisory lock, a temporary object (not `ON COMMIT DROP`), or a
    /// `COPY` from STDIN or to STDOUT here fails with [`ErrorKind::Query`] before it is
    /// sent. In PgBouncer mode the statements go unnamed, each in one round trip, with
    /// parameter types the pool learnt once.
    pub async fn query(&self, sql: &str, params: Params<'_>) -> Result<Vec<Row>, PgError> {
        refuse_on_pool(sql)?;
        match &self.inner.pipeline {
            Some(pipeline) => {
                span_fields::record_path("pipelined");
                let rows = pipeline.query(self, sql, params).await?;
                Ok(rows.into_iter().map(Row::from).collect())
            }
            // Boxed, so that the pipelined path's future does not carry a checkout's.
            None => {
                span_fields::record_path("exclusive");
                refuse_session_state(sql)?;
                Box::pin(async { self.get().await?.query(sql, params).await }).await
            }
        }
    }

    /// Runs `sql`, which must return exactly one row (pipelined, as [`query`](Self::query)).
    pub async fn query_one(&self, sql: &str, params: Params<'_>) -> Result<Row, PgError> {
        rows::exactly_one(self.query(sql, params).await?)
    }

    /// Runs `sql`, which must return at most one row (pipelined, as [`query`](Self::query)).
    pub async fn query_opt(&self, sql: &str, params: Params<'_>) -> Result<Option<Row>, PgError> {
        rows::at_most_one(self.query(sql, params).await?)
    }

    /// Runs `sql` and returns the number of rows it changed (pipelined, as
    /// [`query`](Self::query)).
    pub async fn execute(&self, sql: &str, params: Params<'_>) -> Result<u64, PgError> {
        refuse_on_pool(sql)?;
        match &self.inner.pipeline {
            Some(pipeline) => {
                span_fields::record_path("pipelined");
                pipeline.execute(self, sql, params).await
            }
            // Boxed, as in `query`.
            None => {
                span_fields::record_path("exclusive");
                refuse_session_state(sql)?;
                Box::pin(async { self.get().await?.execute(sql, params).await }).await
            }
        }
    }

    /// Runs `sql`, which must only read, on the batched read path: statements that
    /// callers send at the same time go out together under one Sync, on read-only
    /// connections reserved within `max_size` (`postgres.read_connections`). A
    /// statement that writes fails with SQLSTATE 25006 and changes nothing. With the
    /// path off (`read_connections = 0`, PgBouncer mode, a multi-host URL), and for
    /// statements of types not built into PostgreSQL, it runs as
    /// [`query`](Self::query) does.
    ///
    /// ```no_run
    /// # async fn run(pool: poolside_core::PgPool) -> Result<(), poolside_core::PgError> {
    /// let row = pool.read_query_one("SELECT name FROM products WHERE id = $1", &[&7_i64]).await?;
    /// let name: &str = row.get("name");
    /// # Ok(()) }
    /// ```
    pub async fn read_query(&self, sql: &str, params: Params<'_>) -> Result<Vec<Row>, PgError> {
        refuse_on_pool(sql)?;
        if let Some(read) = &self.inner.read
            && let Some(answer) = read.run(sql, params).await?
        {
            span_fields::record_path("batched_read");
            return Ok(answer.rows);
        }
        self.query(sql, params).await
    }

    /// Runs `sql`, which must only read and return exactly one row, on the batched
    /// read path (as [`read_query`](Self::read_query)).
    pub async fn read_query_one(&self, sql: &str, params: Params<'_>) -> Result<Row, PgError> {
        rows::exactly_one(self.read_query(sql, params).await?)
    }

    /// Runs `sql`, which must only read and return at most one row, on the batched
    /// read path (as [`read_query`](Self::read_query)).
    pub async fn read_query_opt(
        &self,
        sql: &str,
        params: Params<'_>,
    ) -> Result<Option<Row>, PgError> {
        rows::at_most_one(self.read_query(sql, params).await?)
    }

    /// Whether `close()` has been called.
    pub fn is_closed(&self) -> bool {
        self.inner.fair.is_closed()
    }

    /// Shuts the pool down: new and queued requests fail at once with
    /// [`ErrorKind::PoolClosed`]; connections in use get until `deadline` to come back;
    /// then every idle connection is closed. A connection still in use after the
    /// deadline is closed when it is returned.
    ///
    /// Returns how many connections were still in use at the deadline (0 when all work
    /// finished in time).
    pub async fn close(&self, deadline: Duration) -> u32 {
        if let Some(pipeline) = &self.inner.pipeline {
            pipeline.release_all();
        }
        if let Some(read) = &self.inner.read {
            read.release_all();
        }
        let still_in_use = self.inner.fair.close(deadline).await;
        if still_in_use > 0 {
            tracing::warn!(
                target: "poolside::pg",
                still_in_use,
                "pool closed with connections still in use after {deadline:?}; they close when returned"
            );
        }
        still_in_use
    }

    /// The configuration the pool was built from.
    pub fn config(&self) -> &PostgresConfig {
        &self.inner.config
    }

    /// The hosts and ports the pool connects to (`host:port`, several for a
    /// multi-host URL), without credentials.
    pub(crate) fn target(&self) -> &str {
        &self.inner.target
    }

    /// The primary's WAL position now (`pg_current_wal_insert_lsn()`, pipelined): after
    /// a write has been acknowledged, a token that reads may carry
    /// ([`PgRequest::after`](crate::PgRequest::after)) to see it on a replica.
    pub async fn wal_position(&self) -> Result<Lsn, PgError> {
        let row = self
            .query_one("SELECT pg_current_wal_insert_lsn()::text", &[])
            .await?;
        let text: String = row.get(0);
        text.parse().map_err(|e: super::LsnParseError| {
            PgError::new(ErrorKind::Query, format!("the server's WAL position: {e}"))
        })
    }

    /// The `application_name` this pool's connections carry.
    pub(crate) fn application_name(&self) -> &str {
        &self.inner.application_name
    }

    /// The server's view: this application's connections in `pg_stat_activity` (by
    /// `application_name`, in this database) and the server's `max_connections`.
    pub async fn server_view(&self) -> Result<ServerView, PgError> {
        let mut conn = self.get().await?;
        let rows = conn
            .query_typed(
                "SELECT count(*)::int4, (count(*) FILTER (WHERE state = 'active'))::int4, \
                 current_setting('max_connections')::int4 \
                 FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()",
                &[(&self.inner.application_name, Type::TEXT)],
            )
            .await?;
        let row = rows
            .first()
            .ok_or_else(|| PgError::new(ErrorKind::Query, "pg_stat_activity returned no row"))?;
        let count = |i: usize| u32::try_from(row.get::<_, i32>(i)).unwrap_or(0);
        Ok(ServerView {
            application_name: self.inner.application_name.clone(),
            connections: count(0),
            active: count(1),
            max_connections: count(2),
        })
    }
}

/// The pool's batched read path, when `config` turns it on and its URL is one the
/// path can serve (else a warning says why reads take the pipelined path).
fn read_path(
    config: &PostgresConfig,
    manager: &PgManager,
    counters: &Arc<Counters>,
) -> Option<ReadPath> {
    let connections = config.batched_read_connections();
    if connections == 0 {
        return None;
    }
    let settings = std::num::NonZeroUsize::new(config.statement_cache_size as usize).map(
        |statement_cache_size| ReadSettings {
            connections,
            batch_size: config.read_batch_size,
            statement_cache_size,
            query_timeout: config.query_timeout,
            max_lifetime: config.max_lifetime,
            connect_timeout: config.effective_connect_timeout(),
        },
    );
    let read = match settings {
        None => Err("postgres.statement_cache_size is 0 and the path prepares its statements"),
        Some(settings) => manager
            .read_connector(settings.connect_timeout)
            .map(|connector| {
                ReadPath::new(
                    connector,
                    settings,
                    Arc::clone(&manager.schema),
                    Arc::clone(&manager.generation),
                    Arc::clone(counters),
                )
            }),
    };
    read.inspect_err(|why| {
        tracing::warn!(
            target: "poolside::pg",
            "postgres.read_connections is set, but {why}: statements marked read-only run \
             on the pipelined path"
        );
    })
    .ok()
}
