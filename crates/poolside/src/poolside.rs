//! [`Poolside`]: the pools behind the standard stack, the health monitor and the
//! metrics, as one value. Cloning is cheap: clones share everything.

use std::borrow::Cow;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use parking_lot::Mutex;

#[cfg(feature = "redis")]
use poolside_cache::RedisCache;
use poolside_config::Config;
#[cfg(feature = "redis")]
use poolside_core::RedisPool;
use poolside_core::Row;
use poolside_core::{Lsn, Params, PgError, PgPool, Replicas, TransactionBody, TransactionOptions};
use poolside_health::{Health, HealthReport};
use poolside_metrics::{PoolReport, Reported};
use poolside_resilience::{DeadlineLayer, RetryLayer};
use tower::{Layer, ServiceExt};

use crate::stack::{Shared, Stack};
use crate::{Op, Session};

/// PostgreSQL (and Redis, when configured) behind poolside's standard stack, with
/// health checks and metrics.
///
/// Its figures go to the process's one `metrics` recorder, labelled by pool role
/// (`pool="postgres"`, `"postgres_secondary"`, `"redis"`). Several in one process (one
/// per core's single-threaded runtime, each configured with
/// [`Config::per_runtime`](poolside_config::Config::per_runtime)'s share) report as
/// one: their pools' statistics are summed under each label at every
/// render, as `examples/per-core` shows. Only one of them can serve
/// `metrics.exporter_addr`; give it to one.
///
/// # Examples
///
/// With `DATABASE_URL` naming a PostgreSQL (as `cargo xtask test` sets it):
///
/// ```
/// use poolside::Poolside;
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let db = Poolside::from_env().await.expect("DATABASE_URL names a PostgreSQL");
/// let row = db.query_one("SELECT $1::int4 + 1", &[&41_i32]).await.unwrap();
/// assert_eq!(row.get::<_, i32>(0), 42);
/// println!("{}", db.status());
/// db.shutdown(std::time::Duration::from_secs(5)).await;
/// # });
/// ```
#[derive(Clone)]
pub struct Poolside {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    postgres: PgPool,
    secondary: Option<PgPool>,
    /// The read replicas' pools, when `postgres.replicas` names any.
    replicas: Option<Replicas>,
    #[cfg(feature = "redis")]
    redis: Option<RedisPool>,
    #[cfg(feature = "redis")]
    cache: RedisCache,
    shared: Shared,
    /// The stack for requests whose outcome may be unknown after a failure (retried
    /// only when nothing was sent), and the one for idempotent requests.
    stack: Stack,
    idempotent_stack: Stack,
    health: Health,
    /// Where the stand-alone Prometheus listener listens, when one runs.
    exporter_addr: Option<std::net::SocketAddr>,
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// Its pools' place in the exporter's figures, given up at shutdown.
    reported: Mutex<Option<Reported>>,
}

/// The pools a [`Poolside`] runs on, connected by the builder.
pub(crate) struct Connected {
    pub(crate) postgres: PgPool,
    pub(crate) secondary: Option<PgPool>,
    pub(crate) replicas: Option<Replicas>,
    #[cfg(feature = "redis")]
    pub(crate) redis: Option<RedisPool>,
    #[cfg(feature = "redis")]
    pub(crate) cache: RedisCache,
}

impl Connected {
    /// The PostgreSQL pools, as the stack runs on them.
    pub(crate) fn stack_pools(&self) -> crate::stack::Pools<'_> {
        crate::stack::Pools {
            primary: &self.postgres,
            secondary: self.secondary.as_ref(),
            replicas: self.replicas.as_ref(),
        }
    }
}

/// The stacks over the pools and what they share.
pub(crate) struct Wiring {
    pub(crate) shared: Shared,
    pub(crate) stack: Stack,
    pub(crate) idempotent_stack: Stack,
}

/// What runs beside the pools: the health state, the background tasks, and where the
/// stand-alone `/metrics` listener listens, when one runs.
pub(crate) struct Running {
    pub(crate) health: Health,
    pub(crate) tasks: Vec<tokio::task::JoinHandle<()>>,
    pub(crate) exporter_addr: Option<std::net::SocketAddr>,
    /// The pools' registration with the Prometheus exporter, when poolside's runs.
    pub(crate) reported: Option<Reported>,
}

impl Poolside {
    /// Assembles a started service from its parts (the builder's last step).
    pub(crate) fn new(config: Config, pools: Connected, wiring: Wiring, running: Running) -> Self {
        Self {
            inner: Arc::new(Inner {
                config,
                postgres: pools.postgres,
                secondary: pools.secondary,
                replicas: pools.replicas,
                #[cfg(feature = "redis")]
                redis: pools.redis,
                #[cfg(feature = "redis")]
                cache: pools.cache,
                shared: wiring.shared,
                stack: wiring.stack,
                idempotent_stack: wiring.idempotent_stack,
                health: running.health,
                exporter_addr: running.exporter_addr,
                tasks: Mutex::new(running.tasks),
                reported: Mutex::new(running.reported),
            }),
        }
    }
}

impl std::fmt::Debug for Poolside {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Poolside")
            .field("postgres", &self.inner.postgres)
            .finish_non_exhaustive()
    }
}

impl Poolside {
    /// Loads the layered configuration (profile defaults, `poolside.toml`,
    /// `POOLSIDE_*` and legacy variables), validates it, and starts everything
    /// [`PoolsideBuilder::build`](crate::PoolsideBuilder::build) starts.
    ///
    /// # Errors
    ///
    /// An invalid configuration (every problem, each naming its key), or a PostgreSQL
    /// server that cannot be reached (its error, naming the host).
    pub async fn from_env() -> Result<Self, crate::Error> {
        Self::builder().build().await
    }

    /// An operation named `name` (the `operation` label of its metrics: keep it to a
    /// fixed set, never SQL or values).
    pub fn op(&self, name: &'static str) -> Op<'_> {
        Op::new(self, name, None)
    }

    /// A read-your-writes session: its read-only operations see every write made
    /// through it, on a replica that has replayed them or else on the primary.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn run(db: poolside::Poolside) -> Result<(), poolside::PgError> {
    /// let session = db.session();
    /// session.op("rename").execute("UPDATE products SET name = $1 WHERE id = $2", &[&"Tea", &7_i64]).await?;
    /// // Sees "Tea", wherever it runs.
    /// let row = session.op("get_product").read_only().query_one("SELECT name FROM products WHERE id = $1", &[&7_i64]).await?;
    /// # Ok(()) }
    /// ```
    pub fn session(&self) -> Session {
        Session::new(self.clone())
    }

    /// The primary's WAL position now: read after a write is acknowledged, a token
    /// that later reads carry ([`Op::after`]) to see that write on a replica.
    ///
    /// # Errors
    ///
    /// When the primary does not answer.
    pub async fn wal_position(&self) -> Result<Lsn, PgError> {
        self.inner.postgres.wal_position().await
    }

    /// The read replicas, when `postgres.replicas` names any: their state and counts
    /// (`replicas().stats()`).
    pub fn replicas(&self) -> Option<&Replicas> {
        self.inner.replicas.as_ref()
    }

    /// Runs `sql` through the stack (named `query`) and returns its rows.
    pub async fn query(
        &self,
        sql: impl Into<Cow<'static, str>>,
        params: Params<'_>,
    ) -> Result<Vec<Row>, PgError> {
        self.op("query").query(sql, params).await
    }

    /// Runs `sql` through the stack (named `query_one`); it must return one row.
    pub async fn query_one(
        &self,
        sql: impl Into<Cow<'static, str>>,
        params: Params<'_>,
    ) -> Result<Row, PgError> {
        self.op("query_one").query_one(sql, params).await
    }

    /// Runs `sql` through the stack (named `query_opt`); it returns at most one row.
    pub async fn query_opt(
        &self,
        sql: impl Into<Cow<'static, str>>,
        params: Params<'_>,
    ) -> Result<Option<Row>, PgError> {
        self.op("query_opt").query_opt(sql, params).await
    }

    /// Runs `sql` through the stack (named `execute`) and returns the rows changed.
    pub async fn execute(
        &self,
        sql: impl Into<Cow<'static, str>>,
        params: Params<'_>,
    ) -> Result<u64, PgError> {
        self.op("execute").execute(sql, params).await
    }

    /// Runs `f` in a transaction on an exclusive connection: BEGIN/COMMIT, rolled back
    /// on error or after the timeout, the whole of `f` run again on a serialization
    /// failure or deadlock (up to `retry.attempts`, after the retry layer's backoff),
    /// recorded as operation `name`. It passes the stack's circuit breaker: while the
    /// breaker is open it fails at once, and its outcome counts toward the breaker's.
    ///
    /// A plain function, so that a leak report names the caller's line.
    #[track_caller]
    pub fn transaction<'a, T, F>(
        &'a self,
        name: &'static str,
        f: F,
    ) -> impl Future<Output = Result<T, PgError>> + Send + 'a
    where
        T: Send + 'a,
        F: for<'c> TransactionBody<'c, T> + Send + 'a,
    {
        let config = &self.inner.config;
        let options = TransactionOptions::default()
            .max_wait(config.postgres.connection_timeout)
            .timeout(config.retry.total_deadline)
            .attempts(config.retry.attempts)
            .backoff(crate::layers::backoff(&config.retry));
        let transaction = self.inner.postgres.transaction(options, f);
        let transaction = poolside_metrics::trace::TraceFuture::new(
            transaction,
            self.inner.shared.target.span(name),
        );
        async move {
            let started = std::time::Instant::now();
            let result = self.inner.shared.breaker.call(transaction).await;
            self.inner
                .shared
                .recorder
                .record_result(name, None, started.elapsed(), &result);
            result
        }
    }

    /// Runs `op` under the deadline and the retry policy (attempts, backoff, the
    /// shared budget), recorded as operation `name`. `op` must be safe to run again:
    /// failures whose outcome is unknown are retried.
    pub async fn execute_with_retry<T, F, Fut>(
        &self,
        name: &'static str,
        op: F,
    ) -> Result<T, PgError>
    where
        T: Send + 'static,
        F: Fn() -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = Result<T, PgError>> + Send + 'static,
    {
        let config = &self.inner.config;
        let policy = crate::layers::retry_policy(&config.retry, self.inner.shared.budget.clone())
            .idempotent(true)
            .observe(poolside_metrics::retry_observer(
                poolside_metrics::PoolLabel::Postgres,
            ));
        let service = tower::service_fn(move |()| op());
        let stack = DeadlineLayer::new(config.retry.total_deadline)
            .layer(RetryLayer::new(policy).layer(service));
        let started = std::time::Instant::now();
        let result = stack.oneshot(()).await;
        self.inner
            .shared
            .recorder
            .record_result(name, None, started.elapsed(), &result);
        result
    }

    /// Runs `ops` with at most `concurrency` at once (at least one); results in input
    /// order, each its own `Result`.
    pub async fn batch<I, F, Fut, T>(&self, ops: I, concurrency: usize) -> Vec<Result<T, PgError>>
    where
        I: IntoIterator<Item = F>,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, PgError>>,
    {
        futures_util::stream::iter(ops)
            .map(|op| op())
            .buffered(concurrency.max(1))
            .collect()
            .await
    }

    /// Opens `min_idle` PostgreSQL connections now, and checks every dependency.
    ///
    /// # Errors
    ///
    /// When a connection cannot be opened (the server's error).
    pub async fn warm_up(&self) -> Result<(), PgError> {
        self.inner.postgres.warm_up().await?;
        self.inner.health.check_now().await;
        Ok(())
    }

    /// The stack an operation runs through: the one that retries unknown outcomes
    /// when `idempotent`.
    pub(crate) fn stack(&self, idempotent: bool) -> &Stack {
        if idempotent {
            &self.inner.idempotent_stack
        } else {
            &self.inner.stack
        }
    }

    /// The PostgreSQL pool, for exclusive connections (`get()`) and anything the
    /// stack does not cover.
    pub fn pool(&self) -> &PgPool {
        &self.inner.postgres
    }

    /// The Redis pool, when Redis is configured (feature `redis`).
    #[cfg(feature = "redis")]
    pub fn redis(&self) -> Option<&RedisPool> {
        self.inner.redis.as_ref()
    }

    /// The cache (get, set with TTL, del, mget, mset, delete by pattern, ...; hits and
    /// misses counted). Without Redis configured, or with Redis down, reads miss
    /// (feature `redis`).
    #[cfg(feature = "redis")]
    pub fn cache(&self) -> &RedisCache {
        &self.inner.cache
    }

    /// The validated configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The pools and the operations of the last window.
    pub fn stats(&self) -> PoolReport {
        let inner = &*self.inner;
        PoolReport::read(
            Some(&inner.postgres),
            #[cfg(feature = "redis")]
            inner.redis.as_ref(),
            #[cfg(feature = "redis")]
            inner.redis.as_ref().map(|_| &inner.cache),
            Some(&inner.shared.recorder),
        )
    }

    /// A one-screen text status.
    pub fn status(&self) -> String {
        self.stats().status()
    }

    /// The health summary (dependencies and pool utilization).
    pub fn health(&self) -> HealthReport {
        self.inner.health.summary()
    }

    /// The health state, for its other reports (`readiness()`, `alerts()`, ...).
    pub fn health_state(&self) -> &Health {
        &self.inner.health
    }

    /// The health and metrics endpoints to merge into the service's router (feature
    /// `http`): the probes (`/health`, `/health/live`, `/health/ready`,
    /// `/health/startup`), and the detailed ones (`/health/detailed`, ...,
    /// `/metrics`, behind `health.admin_token` when set) unless `health.admin_addr`
    /// moves them to [`admin_router`](Self::admin_router).
    #[cfg(feature = "http")]
    pub fn router(&self) -> axum::Router {
        let health = &self.inner.health;
        if self.inner.config.health.admin_addr.is_some() {
            health.probe_router()
        } else {
            health.router()
        }
    }

    /// The detailed health and metrics endpoints alone, behind `health.admin_token`
    /// when set: serve them on `health.admin_addr` (feature `http`).
    #[cfg(feature = "http")]
    pub fn admin_router(&self) -> axum::Router {
        self.inner.health.admin_router()
    }

    /// `router` guarded as the detailed endpoints are: 401 without `Authorization:
    /// Bearer <health.admin_token>` when a token is set (feature `http`). For the
    /// service's own operator routes; serve them beside [`admin_router`](Self::admin_router)
    /// when `health.admin_addr` is set.
    #[cfg(feature = "http")]
    pub fn behind_admin_token(&self, router: axum::Router) -> axum::Router {
        self.inner.health.behind_admin_token(router)
    }

    /// Where the stand-alone Prometheus listener (`metrics.exporter_addr`) serves
    /// `/metrics`, with the port the system chose for port 0; `None` when none runs.
    pub fn exporter_addr(&self) -> Option<std::net::SocketAddr> {
        self.inner.exporter_addr
    }

    /// The Prometheus text of every metric (`None` when the application installed its
    /// own recorder).
    pub fn metrics_text(&self) -> Option<String> {
        self.inner.health.metrics_text()
    }

    /// The first step of a shutdown: takes the service out of rotation
    /// (`/health/ready` and `/health` answer 503 from now on) and waits
    /// `health.shutdown_delay` (5 s in `staging` and `production`), serving as
    /// before, so that load balancers and Kubernetes endpoints stop sending it
    /// requests before its listener closes. Await it in the HTTP server's graceful
    /// shutdown signal, after SIGTERM; then [`shutdown`](Self::shutdown) once the
    /// server has stopped.
    ///
    /// # Examples
    ///
    /// ```
    /// use poolside::Poolside;
    /// use poolside::Status;
    ///
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let db = Poolside::from_env().await.expect("DATABASE_URL names a PostgreSQL");
    /// let shutdown_signal = async {
    ///     // tokio::signal::unix::signal(SignalKind::terminate())?.recv().await;
    ///     db.leave_rotation().await;
    /// };
    /// // axum::serve(listener, app).with_graceful_shutdown(shutdown_signal).await?;
    /// shutdown_signal.await;
    /// assert_eq!(db.health_state().readiness().status, Status::Fail);
    /// db.shutdown(std::time::Duration::from_secs(5)).await;
    /// # });
    /// ```
    pub async fn leave_rotation(&self) {
        self.inner.health.leave_rotation();
        tokio::time::sleep(self.inner.config.health.shutdown_delay).await;
    }

    /// Leaves rotation if it has not (without waiting), stops the health monitor and
    /// the status log, refuses new work, waits up to `deadline` for work in flight,
    /// then closes every connection. Returns how many PostgreSQL connections were
    /// still in use at the deadline.
    pub async fn shutdown(&self, deadline: Duration) -> u32 {
        self.inner.health.leave_rotation();
        for task in self.inner.tasks.lock().drain(..) {
            task.abort();
        }
        // Its pools leave the exporter's figures (any other `Poolside`'s stay).
        drop(self.inner.reported.lock().take());
        let (in_use, _, _) = tokio::join!(
            self.inner.postgres.close(deadline),
            async {
                if let Some(secondary) = &self.inner.secondary {
                    secondary.close(deadline).await;
                }
                if let Some(replicas) = &self.inner.replicas {
                    replicas.close(deadline).await;
                }
            },
            async {
                #[cfg(feature = "redis")]
                if let Some(redis) = &self.inner.redis {
                    redis.close(deadline).await;
                }
            },
        );
        in_use
    }
}
