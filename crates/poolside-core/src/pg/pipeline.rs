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
use std::panic::Location;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use futures_util::FutureExt as _;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::Type;
use tokio_postgres::{Row, Statement};

use super::connection::QueryTimedOut;
use super::param_types::{self, ParamTypes};
use super::params::Params;
use super::pooled::PooledPgConnection;
use super::schema_epoch::{SchemaEpoch, is_stale_plan};
use super::statement_cache::StatementCache;
use super::statement_call::{Execute, Query, StatementCall};
use super::{PgError, PgPool};
use crate::lock::lock;

/// One leased connection and the statements prepared on it.
struct Shared {
    conn: PooledPgConnection,
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

    fn statements(&self) -> std::sync::MutexGuard<'_, StatementCache> {
        lock(&self.statements)
    }

    async fn statement(&self, sql: &str) -> Result<(Statement, u64), PgError> {
        if let Some(cached) = self.cached(sql) {
            return Ok(cached);
        }
        let _preparing = self.preparing.lock().await;
        if let Some(cached) = self.cached(sql) {
            return Ok(cached);
        }
        let epoch = self.statements().epoch();
        let statement = self
            .conn
            .client()
            .prepare(sql)
            .await
            .map_err(|e| self.conn.driver_error(e, "preparing a statement"))?;
        self.statements().insert(sql, statement.clone(), epoch);
        Ok((statement, epoch))
    }

    /// Awaits `call` within `postgres.query_timeout`. Past it, the connection is
    /// marked: the next caller leases a fresh one, and this one is cancelled and
    /// discarded once its last caller lets go (a stalled network, or a statement that
    /// holds up every one pipelined behind it, leaves nothing worth sharing).
    ///
    /// A plain function, not an `async fn`, for the reason `PgConnection`'s `tracked`
    /// gives: an `async fn` would hold `call` twice.
    fn bounded<'a, T: 'a>(
        &'a self,
        call: impl Future<Output = T> + 'a,
    ) -> impl Future<Output = Result<T, QueryTimedOut>> + 'a {
        let timeout = self.conn.query_timeout();
        tokio::time::timeout(timeout, call).map(move |result| {
            result.map_err(|_| {
                self.conn.mark_timed_out();
                QueryTimedOut(timeout)
            })
        })
    }

    /// Forgets the statement for `sql` when the server says the session lost it.
    fn forget_if_missing(&self, sql: &str, error: &tokio_postgres::Error) {
        if error.code() == Some(&SqlState::INVALID_SQL_STATEMENT_NAME) {
            self.statements().remove(sql);
        }
    }
}

/// The shared connections of one pool.
pub(crate) struct Pipeline {
    slots: Vec<Mutex<Option<Arc<Shared>>>>,
    /// Serialises leasing, so that a burst of callers leases one connection per slot.
    leasing: tokio::sync::Mutex<()>,
    next: AtomicUsize,
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
            param_types,
            slots: (0..connections.max(1)).map(|_| Mutex::new(None)).collect(),
            leasing: tokio::sync::Mutex::new(()),
            next: AtomicUsize::new(0),
            cache_size,
            schema,
        }
    }

    /// Shared connections leased now.
    pub(crate) fn leased(&self) -> u32 {
        self.slots
            .iter()
            .filter(|slot| lock(slot).is_some())
            .count() as u32
    }

    /// Gives every leased connection back (in-flight statements finish first).
    pub(crate) fn release_all(&self) {
        for slot in &self.slots {
            lock(slot).take();
        }
    }

    /// The shared connection of the next slot, leased from `pool` when the slot is
    /// empty or its connection has closed.
    async fn pick(&self, pool: &PgPool) -> Result<Arc<Shared>, PgError> {
        let index = self.next.fetch_add(1, Ordering::Relaxed) % self.slots.len();
        let slot = &self.slots[index];
        match live(slot) {
            Some(shared) => Ok(shared),
            // Boxed: a checkout's state would otherwise make every statement's future
            // as large as its own.
            None => Box::pin(self.lease(pool, slot)).await,
        }
    }

    /// Leases a connection from `pool` for `slot`, unless another caller did first.
    async fn lease(
        &self,
        pool: &PgPool,
        slot: &Mutex<Option<Arc<Shared>>>,
    ) -> Result<Arc<Shared>, PgError> {
        let _leasing = self.leasing.lock().await;
        if let Some(shared) = live(slot) {
            return Ok(shared);
        }
        let conn = pool.acquire(Location::caller(), false).await?;
        let shared = Arc::new(Shared {
            conn,
            statements: Mutex::new(StatementCache::new(
                self.cache_size,
                Arc::clone(&self.schema),
            )),
            preparing: tokio::sync::Mutex::new(()),
        });
        *lock(slot) = Some(Arc::clone(&shared));
        Ok(shared)
    }

    /// After a timeout, takes `shared` out of its slot (unless replaced already), so
    /// that it goes back to the pool, to be cancelled and discarded, as soon as its
    /// last caller lets go.
    fn evict_on_timeout<T>(
        &self,
        shared: &Arc<Shared>,
        result: Result<T, QueryTimedOut>,
    ) -> Result<T, PgError> {
        if result.is_err() {
            for slot in &self.slots {
                let mut slot = lock(slot);
                if slot.as_ref().is_some_and(|s| Arc::ptr_eq(s, shared)) {
                    slot.take();
                }
            }
        }
        result.map_err(PgError::from)
    }

    /// The statement for `sql` on `shared`: from its cache (no timer on this, the
    /// usual path), or prepared within the query timeout.
    async fn statement_on(
        &self,
        shared: &Arc<Shared>,
        sql: &str,
    ) -> Result<(Statement, u64), PgError> {
        match shared.cached(sql) {
            Some(cached) => Ok(cached),
            None => {
                // Boxed, as a lease is in `pick`.
                let prepared = Box::pin(shared.bounded(shared.statement(sql))).await;
                self.evict_on_timeout(shared, prepared)?
            }
        }
    }

    /// Maps what a statement on `shared` gave: a timeout evicts the connection, a
    /// statement the session lost leaves the cache, a driver error says `context`.
    fn finish<T>(
        &self,
        shared: &Arc<Shared>,
        sql: &str,
        result: Result<Result<T, tokio_postgres::Error>, QueryTimedOut>,
        context: &str,
    ) -> Result<T, PgError> {
        self.evict_on_timeout(shared, result)?.map_err(|e| {
            shared.forget_if_missing(sql, &e);
            shared.conn.driver_error(e, context)
        })
    }

    /// Runs `sql` on a shared connection through `call`. A cached statement a migration
    /// made stale is prepared again on the same connection and run once more: the
    /// server refused it before running it, and no transaction spans a shared one.
    async fn run<C: StatementCall>(
        &self,
        pool: &PgPool,
        sql: &str,
        call: C,
    ) -> Result<C::Output, PgError> {
        let shared = self.pick(pool).await?;
        if let Some(types) = &self.param_types {
            // Boxed: the prepared path's future would otherwise carry this one's state.
            return Box::pin(self.run_unnamed(pool, &shared, types, sql, call)).await;
        }
        let mut ran_again = false;
        loop {
            let (statement, epoch) = self.statement_on(&shared, sql).await?;
            let result = shared
                .bounded(call.call(shared.conn.client(), &statement))
                .await;
            if let Ok(Err(e)) = &result
                && is_stale_plan(e)
            {
                shared.statements().forget_stale(sql, epoch);
                if !ran_again {
                    ran_again = true;
                    continue;
                }
            }
            return self.finish(&shared, sql, result, C::CONTEXT);
        }
    }

    /// Runs `sql` unnamed on `shared` through `call`, in one round trip, with its
    /// parameter types from the pool's cache (PgBouncer mode). PgBouncer keeps a
    /// client's server connection while a Sync it forwarded awaits its ReadyForQuery,
    /// so pipelined autocommit statements each run whole on one server connection.
    /// Types are learnt on an exclusive connection: a BEGIN on a shared one would take
    /// in other callers' statements. Types a migration made stale are learnt again and
    /// the statement sent once more (a type error comes before it runs).
    async fn run_unnamed<C: StatementCall>(
        &self,
        pool: &PgPool,
        shared: &Arc<Shared>,
        types: &ParamTypes,
        sql: &str,
        call: C,
    ) -> Result<C::Output, PgError> {
        let mut learnt_again = false;
        loop {
            let learnt = types
                .of(sql, call.params(), learn_on_own_connection(pool, sql))
                .await?;
            let result = shared
                .bounded(call.call_typed(shared.conn.client(), sql, &learnt.types))
                .await;
            if let Ok(Err(e)) = &result
                && !learnt.fresh
                && !learnt_again
                && param_types::may_be_stale(e)
            {
                types.forget(sql, &learnt);
                learnt_again = true;
                continue;
            }
            return self.finish(shared, sql, result, C::CONTEXT);
        }
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
    let mut conn = pool.acquire(Location::caller(), false).await?;
    conn.learn_param_types(sql).await
}

/// The slot's connection, unless it is empty, closed, retired or timed out (such a one
/// is dropped, and so given back to the pool, which discards it).
fn live(slot: &Mutex<Option<Arc<Shared>>>) -> Option<Arc<Shared>> {
    let mut slot = lock(slot);
    match slot.as_ref() {
        Some(shared)
            if !shared.conn.is_closed()
                && !shared.conn.is_retired()
                && !shared.conn.has_timed_out() =>
        {
            Some(Arc::clone(shared))
        }
        Some(_) => {
            slot.take();
            None
        }
        None => None,
    }
}
