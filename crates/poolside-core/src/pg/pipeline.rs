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
use std::sync::{Arc, Mutex, PoisonError};

use futures_util::FutureExt as _;
use tokio_postgres::{Row, Statement};

use super::connection::{Params, QueryTimedOut};
use super::pooled::PooledPgConnection;
use super::statement_cache::StatementCache;
use super::{PgError, PgPool};

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
    fn cached(&self, sql: &str) -> Option<Statement> {
        self.statements
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(sql)
    }

    async fn statement(&self, sql: &str) -> Result<Statement, PgError> {
        if let Some(statement) = self.cached(sql) {
            return Ok(statement);
        }
        let _preparing = self.preparing.lock().await;
        if let Some(statement) = self.cached(sql) {
            return Ok(statement);
        }
        let statement = self
            .conn
            .client()
            .prepare(sql)
            .await
            .map_err(|e| self.conn.driver_error(e, "preparing a statement"))?;
        self.statements
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(sql, statement.clone());
        Ok(statement)
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

    fn forget_if_stale(&self, sql: &str, error: &tokio_postgres::Error) {
        if error
            .code()
            .is_some_and(|c| matches!(c.code(), "26000" | "0A000"))
        {
            self.statements
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(sql);
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
}

impl Pipeline {
    /// A pipeline of up to `connections` shared connections (at least one).
    pub(crate) fn new(connections: usize, cache_size: usize) -> Self {
        Self {
            slots: (0..connections.max(1)).map(|_| Mutex::new(None)).collect(),
            leasing: tokio::sync::Mutex::new(()),
            next: AtomicUsize::new(0),
            cache_size,
        }
    }

    /// Shared connections leased now.
    pub(crate) fn leased(&self) -> u32 {
        self.slots
            .iter()
            .filter(|slot| {
                slot.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .is_some()
            })
            .count() as u32
    }

    /// Gives every leased connection back (in-flight statements finish first).
    pub(crate) fn release_all(&self) {
        for slot in &self.slots {
            slot.lock().unwrap_or_else(PoisonError::into_inner).take();
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
            statements: Mutex::new(StatementCache::new(self.cache_size)),
            preparing: tokio::sync::Mutex::new(()),
        });
        *slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(Arc::clone(&shared));
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
                let mut slot = slot.lock().unwrap_or_else(PoisonError::into_inner);
                if slot.as_ref().is_some_and(|s| Arc::ptr_eq(s, shared)) {
                    slot.take();
                }
            }
        }
        result.map_err(PgError::from)
    }

    /// A shared connection and the statement for `sql` on it: from its cache (no timer
    /// on this, the usual path), or prepared within the query timeout.
    async fn statement_on_shared(
        &self,
        pool: &PgPool,
        sql: &str,
    ) -> Result<(Arc<Shared>, Statement), PgError> {
        let shared = self.pick(pool).await?;
        let statement = match shared.cached(sql) {
            Some(statement) => statement,
            None => {
                // Boxed, as a lease is in `pick`.
                let prepared = Box::pin(shared.bounded(shared.statement(sql))).await;
                self.evict_on_timeout(&shared, prepared)??
            }
        };
        Ok((shared, statement))
    }

    /// Maps what a statement on `shared` gave: a timeout evicts the connection, a
    /// stale statement leaves the cache, a driver error says `context`.
    fn finish<T>(
        &self,
        shared: &Arc<Shared>,
        sql: &str,
        result: Result<Result<T, tokio_postgres::Error>, QueryTimedOut>,
        context: &str,
    ) -> Result<T, PgError> {
        self.evict_on_timeout(shared, result)?.map_err(|e| {
            shared.forget_if_stale(sql, &e);
            shared.conn.driver_error(e, context)
        })
    }

    /// Runs `sql` on a shared connection and returns its rows.
    pub(crate) async fn query(
        &self,
        pool: &PgPool,
        sql: &str,
        params: Params<'_>,
    ) -> Result<Vec<Row>, PgError> {
        let (shared, statement) = self.statement_on_shared(pool, sql).await?;
        let result = shared
            .bounded(shared.conn.client().query(&statement, params))
            .await;
        self.finish(&shared, sql, result, "running a query")
    }

    /// Runs `sql` on a shared connection and returns the number of rows it changed.
    pub(crate) async fn execute(
        &self,
        pool: &PgPool,
        sql: &str,
        params: Params<'_>,
    ) -> Result<u64, PgError> {
        let (shared, statement) = self.statement_on_shared(pool, sql).await?;
        let result = shared
            .bounded(shared.conn.client().execute(&statement, params))
            .await;
        self.finish(&shared, sql, result, "running a statement")
    }
}

/// The slot's connection, unless it is empty, closed, retired or timed out (such a one
/// is dropped, and so given back to the pool, which discards it).
fn live(slot: &Mutex<Option<Arc<Shared>>>) -> Option<Arc<Shared>> {
    let mut slot = slot.lock().unwrap_or_else(PoisonError::into_inner);
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
