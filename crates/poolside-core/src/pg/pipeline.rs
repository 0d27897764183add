//! [`Pipeline`]: a few connections (`postgres.pipeline_connections`), leased from the
//! pool's own budget, shared by every
//! caller of `PgPool::query` and friends. tokio-postgres pipelines concurrent
//! statements on one connection, so many tasks are served by few connections without
//! queuing for an exclusive checkout.
//!
//! NOTE: a caller that drops its future mid-statement gets no cancel request here: a
//! cancel stops whatever the backend runs, which on a shared connection may be another
//! caller's statement. The pipelined path is for short autocommit statements; long
//! ones belong on an exclusive connection (`PgPool::get`), where cancellation is safe.
//! A statement past `postgres.query_timeout` takes its connection out of sharing: new
//! callers lease another, and the pool cancels and discards it only once its last
//! caller has let go, when no caller's statement is left to hit.

use std::future::Future;
use std::ops::DerefMut;
use std::sync::Arc;

use parking_lot::Mutex;
use tokio_postgres::types::Type;
use tokio_postgres::{Row, Statement};

use super::connection::{Caller, QueryTimedOut};
use super::param_types::ParamTypes;
use super::params::Params;
use super::pooled::PooledPgConnection;
use super::schema_epoch::SchemaEpoch;
use super::shared_refusals::refuse_on_a_shared_connection;
use super::statement_cache::StatementCache;
use super::statement_call::{Execute, Query, StatementCall};
use super::statement_path::{self, StatementSite};
use super::{PgConnection, PgError, PgPool};
use crate::answer_progress::{AnswerProgress, Awaiting};
use crate::leases::Leases;

/// One leased connection and the statements prepared on it.
struct Shared {
    conn: PooledPgConnection,
    /// Its callers awaiting answers, for callers to pass it when held up.
    progress: AnswerProgress,
    statements: Mutex<StatementCache>,
    /// Held while preparing, so that many callers missing the cache at once (1000
    /// tasks arriving on a fresh connection) prepare the statement once, not 1000
    /// times.
    preparing: tokio::sync::Mutex<()>,
}

impl Shared {
    fn cached(&self, sql: &str) -> Option<(Statement, u64)> {
        self.statements().get(sql)
    }

    fn statements(&self) -> parking_lot::MutexGuard<'_, StatementCache> {
        self.statements.lock()
    }

    /// Prepares `sql`, once for every caller that missed the cache with it.
    async fn prepare(&self, sql: &str) -> Result<(Statement, u64), PgError> {
        let _preparing = self.preparing.lock().await;
        if let Some(cached) = self.cached(sql) {
            return Ok(cached);
        }
        refuse_on_a_shared_connection(sql)?;
        let epoch = self.statements().epoch();
        let statement = self.conn.driver().prepare(sql).await.map_err(|e| {
            self.conn
                .driver_error(e, "preparing a statement")
                .of_prepare()
        })?;
        self.statements().insert(sql, statement.clone(), epoch);
        Ok((statement, epoch))
    }
}

/// A statement's view of one shared connection: with the pipeline that evicts it after
/// a timeout, and the pool that lends a connection of its own to learn parameter types
/// on (a BEGIN on a shared one would take in other callers' statements).
struct SharedSite<'a> {
    pipeline: &'a Pipeline,
    pool: &'a PgPool,
    shared: Awaiting<Shared>,
}

impl StatementSite for SharedSite<'_> {
    const CALLER: Caller = Caller::Sharing;

    fn connection(&self) -> &PgConnection {
        &self.shared.conn
    }

    fn statements(&mut self) -> impl DerefMut<Target = StatementCache> + '_ {
        self.shared.statements()
    }

    /// From the cache (no timer on this, the usual path), or prepared within the query
    /// timeout.
    async fn statement(&mut self, sql: &str) -> Result<(Statement, u64), PgError> {
        match self.shared.cached(sql) {
            Some(cached) => Ok(cached),
            // Boxed, as a lease is in `pick`.
            None => Box::pin(statement_path::bounded(&*self, self.shared.prepare(sql))).await?,
        }
    }

    fn learn_param_types(
        &mut self,
        sql: &str,
    ) -> impl Future<Output = Result<Vec<Type>, PgError>> + Send {
        learn_on_own_connection(self.pool, sql)
    }

    /// Takes the connection out of sharing: the next caller leases a fresh one, and
    /// this one is cancelled and discarded once its last caller lets go (a stalled
    /// network, or a statement that holds up every one pipelined behind it, leaves
    /// nothing worth sharing).
    fn timed_out(&self, timeout: QueryTimedOut) -> PgError {
        self.pipeline.leases.evict(&self.shared);
        timeout.into()
    }
}

/// The shared connections of one pool.
pub(crate) struct Pipeline {
    leases: Leases<Shared>,
    cache_size: usize,
    schema: Arc<SchemaEpoch>,
    /// In PgBouncer mode, the pool's parameter types: statements go unnamed.
    param_types: Option<Arc<ParamTypes>>,
}

impl Pipeline {
    /// A pipeline of up to `connections` shared connections (at least one), caching
    /// `cache_size` statements each, emptied when `schema` moves on; or, given the
    /// pool's `param_types` (PgBouncer mode), sending every statement unnamed.
    pub(crate) fn new(
        connections: usize,
        cache_size: usize,
        schema: Arc<SchemaEpoch>,
        param_types: Option<Arc<ParamTypes>>,
    ) -> Self {
        Self {
            leases: Leases::new(connections),
            cache_size,
            schema,
            param_types,
        }
    }

    /// Shared connections leased now.
    pub(crate) fn leased(&self) -> u32 {
        self.leases.leased()
    }

    /// Gives every leased connection back (in-flight statements finish first).
    pub(crate) fn release_all(&self) {
        self.leases.release_all();
    }

    /// The shared connection of the next slot, leased from `pool` when the slot is
    /// empty or its connection closed, retired or timed out (such a one goes back to
    /// the pool, which discards it).
    async fn pick(&self, pool: &PgPool) -> Result<Arc<Shared>, PgError> {
        let live = |shared: &Shared| {
            let conn = &shared.conn;
            !conn.is_closed() && !conn.is_retired() && !conn.has_timed_out()
        };
        let lease = || async {
            Ok(Shared {
                conn: pool.acquire(None).await?,
                statements: Mutex::new(StatementCache::new(
                    self.cache_size,
                    Arc::clone(&self.schema),
                )),
                preparing: tokio::sync::Mutex::new(()),
                progress: AnswerProgress::default(),
            })
        };
        let held_up = |shared: &Shared| shared.progress.held_up();
        self.leases.pick(live, held_up, lease).await
    }

    /// Runs `sql` on a shared connection through `call`, on the one statement path.
    /// No transaction spans a shared connection, so a statement a migration made stale
    /// is always sent once more. In PgBouncer mode it goes unnamed: PgBouncer keeps a
    /// client's server connection while a Sync it forwarded awaits its ReadyForQuery,
    /// so pipelined autocommit statements each run whole on one server connection.
    async fn run<C: StatementCall>(
        &self,
        pool: &PgPool,
        sql: &str,
        call: C,
    ) -> Result<C::Output, PgError> {
        let shared = Awaiting::on(self.pick(pool).await?, |shared| &shared.progress);
        let mut site = SharedSite {
            pipeline: self,
            pool,
            shared,
        };
        statement_path::run(&mut site, self.param_types.as_deref(), sql, call).await
    }

    /// Runs `sql` on a shared connection and returns its rows.
    ///
    /// Plain functions, these two, not `async fn`s: one would hold `sql` and `params`
    /// again beside `run`'s own.
    pub(crate) fn query<'a>(
        &'a self,
        pool: &'a PgPool,
        sql: &'a str,
        params: Params<'a>,
    ) -> impl Future<Output = Result<Vec<Row>, PgError>> + 'a {
        self.run(pool, sql, Query(params))
    }

    /// Runs `sql` on a shared connection and returns the number of rows it changed.
    pub(crate) fn execute<'a>(
        &'a self,
        pool: &'a PgPool,
        sql: &'a str,
        params: Params<'a>,
    ) -> impl Future<Output = Result<u64, PgError>> + 'a {
        self.run(pool, sql, Execute(params))
    }
}

/// The parameter types of `sql`, learnt on a connection of `pool`'s own.
async fn learn_on_own_connection(pool: &PgPool, sql: &str) -> Result<Vec<Type>, PgError> {
    let mut conn = pool.acquire(None).await?;
    conn.learn_param_types(sql).await
}
