//! [`PgConnection`]: one PostgreSQL connection with its statement cache and expiry.

use std::future::Future;
use std::ops::DerefMut;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures_util::FutureExt as _;
use futures_util::future::{self, Either};
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, Statement};

use super::copy_statement::refuse_copy;
use super::generation::{Generation, READ_ONLY_SQL_TRANSACTION};
use super::owned_params;
use super::param_types::ParamTypes;
use super::params::Params;
use super::pipelined::{Pipelined, Settled};
use super::rows;
use super::schema_epoch::{SchemaEpoch, is_stale_plan};
use super::session_effects::{Block, SessionEffects};
use super::session_locks::takes_session_lock;
use super::set_config_calls::{Scope, set_config_scope};
use super::statement_cache::{self, StatementCache};
use super::statement_call::{Execute, Query};
use super::statement_path::{self, StatementSite};
use super::statement_text::refuse_unsendable;
use super::{FromRow, PgError, Row};

/// A connection is trusted without a round trip if used this recently.
const ALIVE_BYPASS: Duration = Duration::from_secs(1);

/// What every connection of a pool is opened with.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnectionOptions {
    /// Prepared statements cached per connection (`postgres.statement_cache_size`).
    pub(crate) cache_size: usize,
    /// Unnamed statements only (`postgres.pgbouncer`).
    pub(crate) pgbouncer: bool,
    /// Longest one statement may take (`postgres.query_timeout`).
    pub(crate) query_timeout: Duration,
}

/// Whether a statement's caller has its connection to itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Caller {
    /// A checkout of its own: a statement whose future is dropped mid-flight can be
    /// cancelled on the server, and its connection discarded.
    Exclusive,
    /// The pipeline's shared connection: a cancel would stop another caller's
    /// statement, so none is sent.
    Sharing,
}

/// What a connection's session needs before it is handed out again
/// ([`PgConnection::session_to_clean`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct SessionCleaning {
    /// Put every setting back (`RESET ALL`): a session-level `SET` ran.
    pub(crate) reset_settings: bool,
    /// Drop the session's temporary objects (`DISCARD TEMP`): a statement may have made
    /// one.
    pub(crate) discard_temp: bool,
}

/// A statement ran past `postgres.query_timeout`; its connection is discarded.
#[derive(Debug)]
pub(crate) struct QueryTimedOut(pub(crate) Duration);

impl From<QueryTimedOut> for PgError {
    fn from(QueryTimedOut(timeout): QueryTimedOut) -> Self {
        PgError::new(
            crate::ErrorKind::Cancelled,
            format!(
                "a statement got no answer within postgres.query_timeout ({timeout:?}): a \
                 cancel request went to the server and the connection was discarded; the \
                 statement ran long, waited for a lock, or was held before the server (a \
                 paused PgBouncer)"
            ),
        )
    }
}

/// A live PostgreSQL connection, as the pool hands it out.
///
/// Statements run through [`query`](Self::query) and friends are prepared once per
/// connection and cached (unless the cache is off or the pool is in PgBouncer mode,
/// where every statement is sent unnamed, in one round trip, with parameter types
/// learnt once per pool). A cached statement that a migration made
/// stale ("cached plan must not change result type") is prepared again and run once
/// more, outside a transaction; inside one, the error says to roll back and run again,
/// and [`PgPool::transaction`](super::PgPool::transaction) does that itself.
///
/// Each statement is bounded by `postgres.query_timeout`: past it, the call fails with
/// [`ErrorKind::Cancelled`](crate::ErrorKind::Cancelled), the statement is cancelled on
/// the server, and the connection refuses further statements and is discarded when it
/// goes back (a stalled network leaves nothing to reuse). Calls on
/// [`client`](Self::client) directly are not bounded.
#[derive(Debug)]
pub struct PgConnection {
    /// Shared with a transaction's unawaited BEGIN (`PendingBegin`).
    client: Arc<Client>,
    statements: StatementCache,
    /// The pool's parameter types, in PgBouncer mode: every statement goes unnamed.
    param_types: Option<Arc<ParamTypes>>,
    query_timeout: Duration,
    /// Set when a statement ran past the query timeout: the connection may be stalled
    /// or still busy with it, so it takes no more statements and is discarded.
    timed_out: AtomicBool,
    expires_at: Instant,
    last_used: Instant,
    /// Set while a statement is on the wire; still set when its future was dropped
    /// mid-flight, which means the server may still be running it.
    in_flight: AtomicBool,
    /// Set between BEGIN and COMMIT/ROLLBACK of `PgPool::transaction`; still set when
    /// its future was dropped, which means the connection is inside a transaction.
    in_transaction: AtomicBool,
    /// Set when a statement run through this connection's own calls may have opened a
    /// transaction block (BEGIN) that no later one ended, or its driver client was
    /// handed out ([`client`](Self::client)): the pool checks it before handing the
    /// connection out again.
    may_be_in_block: AtomicBool,
    /// Set when a session-level `SET` ran through this connection's own calls: the pool
    /// puts every setting back (`RESET ALL`) before handing it out again.
    settings_changed: AtomicBool,
    /// Set when a statement run through this connection's own calls may have made a
    /// temporary object: the pool drops them (`DISCARD TEMP`) before handing it out
    /// again.
    may_hold_temp_objects: AtomicBool,
    /// Set when a statement run through this connection's own calls may have taken a
    /// session-level advisory lock: the pool closes the connection when it is
    /// returned, which releases the lock at once.
    may_hold_session_locks: AtomicBool,
    /// Statements sent with `execute_pipelined` whose answers are unread.
    pipelined: Pipelined,
    /// The pool's generation, and the one this connection was born in: a connection
    /// that finds its server read-only retires every connection of its generation.
    generation: Arc<Generation>,
    born: u64,
}

impl PgConnection {
    pub(crate) fn new(
        client: Client,
        options: ConnectionOptions,
        lifetime: Duration,
        generation: Arc<Generation>,
        schema: Arc<SchemaEpoch>,
        // `Some` in PgBouncer mode: every statement goes unnamed.
        param_types: Option<Arc<ParamTypes>>,
    ) -> Self {
        let now = Instant::now();
        let born = generation.current();
        let ConnectionOptions {
            cache_size,
            query_timeout,
            ..
        } = options;
        Self {
            client: Arc::new(client),
            statements: StatementCache::new(
                if param_types.is_some() { 0 } else { cache_size },
                schema,
            ),
            param_types,
            query_timeout,
            timed_out: AtomicBool::new(false),
            expires_at: now + lifetime,
            last_used: now,
            in_flight: AtomicBool::new(false),
            in_transaction: AtomicBool::new(false),
            may_be_in_block: AtomicBool::new(false),
            settings_changed: AtomicBool::new(false),
            may_hold_temp_objects: AtomicBool::new(false),
            may_hold_session_locks: AtomicBool::new(false),
            pipelined: Pipelined::default(),
            generation,
            born,
        }
    }

    /// The driver's client, for anything this type does not wrap. Whatever runs on it
    /// is unbounded by `postgres.query_timeout`, and the pool cannot see whether it
    /// left a transaction block open: the connection costs one more round trip at its
    /// next checkout, and one left inside a block is discarded (the server rolls the
    /// block back) rather than handed out. A setting changed through it is not put
    /// back: change settings through [`batch_execute`](Self::batch_execute) and the
    /// like, which the pool undoes before the next checkout.
    pub fn client(&self) -> &Client {
        self.may_be_in_block.store(true, Ordering::Relaxed);
        &self.client
    }

    /// The driver's client, for the pool's own use.
    pub(crate) fn driver(&self) -> &Client {
        &self.client
    }

    /// Readies a call of `sql`: refuses a `COPY` over the connection before anything
    /// is sent, then notes, before its statements run, what they may leave on the
    /// session: a block they may open (`effects`), a setting they change (by `SET` or
    /// `set_config`), a temporary object they make, a session-level advisory lock they
    /// take (they may do it and then fail).
    fn start_call(&mut self, sql: &str, effects: SessionEffects) -> Result<(), PgError> {
        refuse_copy(sql)?;
        self.last_used = Instant::now();
        if takes_session_lock(sql) {
            self.may_hold_session_locks.store(true, Ordering::Relaxed);
        }
        if effects.changes_settings || set_config_scope(sql) == Some(Scope::Session) {
            self.settings_changed.store(true, Ordering::Relaxed);
        }
        if effects.creates_temp_objects {
            self.may_hold_temp_objects.store(true, Ordering::Relaxed);
        }
        if effects.block == Some(Block::MayOpen) {
            self.may_be_in_block.store(true, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Notes, once a call's statements succeeded, a block they ended.
    fn note_succeeded(&self, effects: SessionEffects) {
        if effects.block == Some(Block::Ends) {
            self.may_be_in_block.store(false, Ordering::Relaxed);
        }
    }

    /// What the pool must do before handing the connection out again: check that no
    /// transaction block was left open ([`client`](Self::client), or a BEGIN that
    /// nothing ended), and whether to put the settings back.
    pub(crate) fn session_to_clean(&self) -> Option<SessionCleaning> {
        let cleaning = SessionCleaning {
            reset_settings: self.settings_changed.load(Ordering::Relaxed),
            discard_temp: self.may_hold_temp_objects.load(Ordering::Relaxed),
        };
        (cleaning.reset_settings
            || cleaning.discard_temp
            || self.may_be_in_block.load(Ordering::Relaxed))
        .then_some(cleaning)
    }

    /// Whether a statement may have taken a session-level advisory lock: the
    /// connection must not go back to the pool.
    pub(crate) fn may_hold_session_locks(&self) -> bool {
        self.may_hold_session_locks.load(Ordering::Relaxed)
    }

    /// The session was found outside any block, its settings put back.
    pub(crate) fn session_cleaned(&self) {
        self.may_be_in_block.store(false, Ordering::Relaxed);
        self.settings_changed.store(false, Ordering::Relaxed);
        self.may_hold_temp_objects.store(false, Ordering::Relaxed);
    }

    /// The driver's client, shared: for a request whose answer outlives a borrow of
    /// this connection (a transaction's BEGIN, read after later statements).
    pub(crate) fn shared_client(&self) -> Arc<Client> {
        Arc::clone(&self.client)
    }

    /// The statement for `sql`, prepared on this connection at most once while cached.
    pub async fn prepare_cached(&mut self, sql: &str) -> Result<Statement, PgError> {
        Ok(self.statement_after_pipelined(sql).await?.0)
    }

    /// [`statement`](Self::statement), for a call that pipelined statements may
    /// precede: a prepare on a cache miss reads their answers while it runs.
    async fn statement_after_pipelined(&mut self, sql: &str) -> Result<(Statement, u64), PgError> {
        if let Some(cached) = self.statements.get(sql) {
            return Ok(cached);
        }
        let earlier = self.pipelined.take();
        let settled = earlier.settle(self.statement(sql)).await;
        self.after_pipelined(settled)
    }

    /// The statement for `sql` and the schema epoch it was prepared in.
    async fn statement(&mut self, sql: &str) -> Result<(Statement, u64), PgError> {
        match self.statements.get(sql) {
            Some(cached) => Ok(cached),
            // Boxed: a cache miss is rare, and the prepare's state would otherwise make
            // every statement's future as large as its own.
            None => Box::pin(self.prepare_into_cache(sql)).await,
        }
    }

    /// Prepares `sql` and caches the statement.
    async fn prepare_into_cache(&mut self, sql: &str) -> Result<(Statement, u64), PgError> {
        refuse_unsendable(sql)?;
        let epoch = self.statements.epoch();
        let statement = self
            .bounded(self.client.prepare(sql), Caller::Exclusive)
            .await?
            .map_err(|e| self.driver_error(e, "preparing a statement").of_prepare())?;
        self.statements.insert(sql, statement.clone(), epoch);
        Ok((statement, epoch))
    }

    /// Runs `sql` and returns its rows.
    pub async fn query(&mut self, sql: &str, params: Params<'_>) -> Result<Vec<Row>, PgError> {
        let effects = SessionEffects::of_statement(sql);
        self.start_call(sql, effects)?;
        let types = self.param_types.clone();
        let earlier = self.pipelined.take();
        let run = statement_path::run(self, types.as_deref(), sql, Query(params));
        let settled = earlier.settle(run).await;
        let rows = self.after_pipelined(settled)?;
        self.note_succeeded(effects);
        Ok(rows.into_iter().map(Row::from).collect())
    }

    /// Runs `sql`, which must return exactly one row.
    pub async fn query_one(&mut self, sql: &str, params: Params<'_>) -> Result<Row, PgError> {
        rows::exactly_one(self.query(sql, params).await?)
    }

    /// Runs `sql`, which must return at most one row.
    pub async fn query_opt(
        &mut self,
        sql: &str,
        params: Params<'_>,
    ) -> Result<Option<Row>, PgError> {
        rows::at_most_one(self.query(sql, params).await?)
    }

    /// Runs `sql` and builds a `T` from each row ([`FromRow`]).
    ///
    /// # Errors
    ///
    /// As [`query`](Self::query), and `Query` when a row does not fit `T`, naming the
    /// column.
    pub async fn query_as<T: FromRow>(
        &mut self,
        sql: &str,
        params: Params<'_>,
    ) -> Result<Vec<T>, PgError> {
        self.query(sql, params)
            .await?
            .iter()
            .map(T::from_row)
            .collect()
    }

    /// Runs `sql`, which must return exactly one row, and builds a `T` from it.
    ///
    /// # Errors
    ///
    /// As [`query_one`](Self::query_one) and [`query_as`](Self::query_as).
    pub async fn query_one_as<T: FromRow>(
        &mut self,
        sql: &str,
        params: Params<'_>,
    ) -> Result<T, PgError> {
        T::from_row(&self.query_one(sql, params).await?)
    }

    /// Runs `sql`, which must return at most one row, and builds a `T` from it.
    ///
    /// # Errors
    ///
    /// As [`query_opt`](Self::query_opt) and [`query_as`](Self::query_as).
    pub async fn query_opt_as<T: FromRow>(
        &mut self,
        sql: &str,
        params: Params<'_>,
    ) -> Result<Option<T>, PgError> {
        self.query_opt(sql, params)
            .await?
            .as_ref()
            .map(T::from_row)
            .transpose()
    }

    /// Runs `sql` and returns the number of rows it changed.
    pub async fn execute(&mut self, sql: &str, params: Params<'_>) -> Result<u64, PgError> {
        let effects = SessionEffects::of_statement(sql);
        self.start_call(sql, effects)?;
        let types = self.param_types.clone();
        let earlier = self.pipelined.take();
        let run = statement_path::run(self, types.as_deref(), sql, Execute(params));
        let settled = earlier.settle(run).await;
        let changed = self.after_pipelined(settled)?;
        self.note_succeeded(effects);
        Ok(changed)
    }

    /// Sends `sql` without waiting for its answer, inside
    /// [`PgPool::transaction`](super::PgPool::transaction): the answer is read with the
    /// next statement's, or with COMMIT's, and shares its round trip (libpq calls this
    /// pipeline mode). Statements whose results the transaction does not need cost no
    /// round trip of their own; the last of them goes out with COMMIT.
    ///
    /// The number of rows changed is not returned: use [`execute`](Self::execute) to
    /// check it. When a pipelined statement fails, the server ignores what follows it
    /// in the transaction, and the next statement, or COMMIT, fails with its error:
    /// the transaction is rolled back, and run again for a serialization failure or a
    /// deadlock, as for any statement. A wrong parameter count or type fails at once,
    /// before anything is sent. Outside a transaction it fails at once; in PgBouncer
    /// mode it runs as [`execute`](Self::execute) does, and waits.
    ///
    /// ```no_run
    /// # async fn run(pool: poolside_core::PgPool, sale: i64) -> Result<(), poolside_core::PgError> {
    /// use poolside_core::TransactionOptions;
    ///
    /// pool.transaction(TransactionOptions::default(), async |tx| {
    ///     for product in [3_i64, 7] {
    ///         tx.execute_pipelined("INSERT INTO sale_items (sale_id, product_id) VALUES ($1, $2)", &[&sale, &product]).await?;
    ///         tx.execute_pipelined("UPDATE stock SET quantity = quantity - 1 WHERE product_id = $1", &[&product]).await?;
    ///     }
    ///     Ok(())
    /// })
    /// .await?; // one round trip for the four statements and COMMIT
    /// # Ok(()) }
    /// ```
    pub async fn execute_pipelined(
        &mut self,
        sql: &str,
        params: Params<'_>,
    ) -> Result<(), PgError> {
        if !self.is_in_transaction() {
            return Err(PgError::new(
                crate::ErrorKind::Query,
                "execute_pipelined runs only inside PgPool::transaction, whose COMMIT reads \
                 its answer: use execute outside a transaction",
            ));
        }
        if self.param_types.is_some() {
            // PgBouncer mode: unnamed statements, whose types may need learning first.
            return self.execute(sql, params).await.map(drop);
        }
        if self.has_timed_out() {
            return Err(QueryTimedOut(self.query_timeout).into());
        }
        self.start_call(sql, SessionEffects::default())?;
        let (statement, epoch) = self.statement_after_pipelined(sql).await?;
        let params = owned_params::encode(&statement, params)?;
        let client = self.shared_client();
        self.pipelined
            .send(client, statement, params, sql, epoch)
            .map_err(|e| self.driver_error(e, "sending a pipelined statement"))
    }

    /// The output of a call that ran while the answers of pipelined statements sent
    /// before it were read. When one of those failed, the call met a transaction the
    /// server had aborted (or, for COMMIT, rolled back): that statement's error is the
    /// one to give.
    fn after_pipelined<T>(&mut self, settled: Settled<Result<T, PgError>>) -> Result<T, PgError> {
        let Settled {
            output,
            refused,
            unread,
        } = settled;
        // Answers that did not come: the call ended without its own (a timeout, a closed
        // connection), and the connection is discarded.
        self.pipelined = unread;
        let Some(refused) = refused else {
            return output;
        };
        if statement_cache::is_lost(&refused.error, &refused.sql) {
            self.statements.forget_all();
        } else if is_stale_plan(&refused.error) {
            self.statements.forget_stale(&refused.sql, refused.epoch);
        }
        let context = "running a pipelined statement";
        Err(statement_path::refusal(
            self,
            refused.error,
            &refused.sql,
            context,
        ))
    }

    /// Drops the unread answers of pipelined statements, before a ROLLBACK.
    pub(crate) fn forget_pipelined(&mut self) {
        self.pipelined.forget();
    }

    /// Runs `sql` as an unnamed statement with explicit parameter types, in one round
    /// trip: the only form PgBouncer's transaction mode accepts.
    pub async fn query_typed(
        &mut self,
        sql: &str,
        params: &[(&(dyn ToSql + Sync), Type)],
    ) -> Result<Vec<Row>, PgError> {
        refuse_unsendable(sql)?;
        let effects = SessionEffects::of_statement(sql);
        self.start_call(sql, effects)?;
        let earlier = self.pipelined.take();
        let run = async {
            self.bounded(self.client.query_typed(sql, params), Caller::Exclusive)
                .await?
                .map_err(|e| self.driver_error(e, "running a query"))
        };
        let rows = self.after_pipelined(earlier.settle(run).await)?;
        self.note_succeeded(effects);
        Ok(rows.into_iter().map(Row::from).collect())
    }

    /// Runs one or more statements with no parameters (simple protocol).
    pub async fn batch_execute(&mut self, sql: &str) -> Result<(), PgError> {
        refuse_unsendable(sql)?;
        let effects = SessionEffects::of_statements(sql);
        self.start_call(sql, effects)?;
        let earlier = self.pipelined.take();
        let run = async {
            self.bounded(self.client.batch_execute(sql), Caller::Exclusive)
                .await?
                .map_err(|e| self.driver_error(e, "running statements"))
        };
        self.after_pipelined(earlier.settle(run).await)?;
        self.note_succeeded(effects);
        Ok(())
    }

    /// The parameter types the server gives `sql`: a named prepare inside a
    /// transaction (its own BEGIN/COMMIT unless `PgPool::transaction` opened one),
    /// where PgBouncer's transaction mode keeps one server connection, closed before
    /// the transaction ends on that same server connection.
    pub(crate) async fn learn_param_types(&mut self, sql: &str) -> Result<Vec<Type>, PgError> {
        refuse_unsendable(sql)?;
        let own = self.begin_unless_in_transaction().await?;
        let result = self
            .bounded(
                async { Ok(self.client.prepare(sql).await?.params().to_vec()) },
                Caller::Exclusive,
            )
            .await?;
        self.end_own_transaction(own, result.is_ok()).await?;
        result.map_err(|e: tokio_postgres::Error| {
            self.driver_error(e, "learning a statement's parameter types")
        })
    }

    /// Opens a transaction unless one is open; true when this call opened it. Marked,
    /// so that a caller dropping the future midway gets the connection discarded.
    async fn begin_unless_in_transaction(&mut self) -> Result<bool, PgError> {
        if self.is_in_transaction() {
            return Ok(false);
        }
        self.bounded(self.client.batch_execute("BEGIN"), Caller::Exclusive)
            .await?
            .map_err(|e| self.driver_error(e, "opening a transaction"))?;
        self.set_in_transaction(true);
        Ok(true)
    }

    /// Commits (or, after a failure, rolls back) a transaction this connection opened
    /// for one statement.
    async fn end_own_transaction(&mut self, own: bool, succeeded: bool) -> Result<(), PgError> {
        if !own {
            return Ok(());
        }
        let end = if succeeded { "COMMIT" } else { "ROLLBACK" };
        self.bounded(self.client.batch_execute(end), Caller::Exclusive)
            .await?
            .map_err(|e| self.driver_error(e, "ending a transaction"))?;
        self.set_in_transaction(false);
        Ok(())
    }

    /// Maps a driver error. One that says the server is read-only (25006: a failover
    /// demoted it) retires every connection of this one's generation, so that the pool
    /// reconnects to whichever host takes writes now.
    pub(crate) fn driver_error(&self, error: tokio_postgres::Error, context: &str) -> PgError {
        if error
            .code()
            .is_some_and(|c| c.code() == READ_ONLY_SQL_TRANSACTION)
        {
            tracing::warn!(
                target: "poolside::pg",
                "the server is read-only (25006): retiring the pool's connections to reconnect to a writable host"
            );
            self.generation.retire_up_to(self.born);
        }
        PgError::from_driver(error, context)
    }

    /// Whether a connection of this one's generation found its server read-only, so
    /// that it must not be handed out again.
    pub(crate) fn is_retired(&self) -> bool {
        self.generation.is_retired(self.born)
    }

    /// Awaits a driver call within `postgres.query_timeout`; after a timeout, further
    /// calls fail at once. An [`Caller::Exclusive`] call marks the connection in flight
    /// until it completes: if the caller drops the future first, or the timeout passes,
    /// the mark stays, and the pool cancels the statement on the server and discards
    /// the connection.
    ///
    /// A plain function, not an `async fn`: one would hold `call` twice in its state
    /// (as its argument, and inside the timeout), doubling the size of every
    /// statement's future.
    pub(crate) fn bounded<'a, T: 'a>(
        &'a self,
        call: impl Future<Output = T> + 'a,
        caller: Caller,
    ) -> impl Future<Output = Result<T, QueryTimedOut>> + 'a {
        if self.has_timed_out() {
            return Either::Left(future::ready(Err(QueryTimedOut(self.query_timeout))));
        }
        let exclusive = caller == Caller::Exclusive;
        if exclusive {
            self.in_flight.store(true, Ordering::Relaxed);
        }
        Either::Right(tokio::time::timeout(self.query_timeout, call).map(
            move |result| match result {
                Ok(result) => {
                    if exclusive {
                        self.in_flight.store(false, Ordering::Relaxed);
                    }
                    Ok(result)
                }
                Err(_) => {
                    self.mark_timed_out();
                    Err(QueryTimedOut(self.query_timeout))
                }
            },
        ))
    }

    /// Marks that a statement ran past the query timeout: no further statement runs
    /// here, and the pool discards the connection when it comes back.
    pub(crate) fn mark_timed_out(&self) {
        self.timed_out.store(true, Ordering::Relaxed);
    }

    /// Whether a statement ran past the query timeout on this connection.
    pub(crate) fn has_timed_out(&self) -> bool {
        self.timed_out.load(Ordering::Relaxed)
    }

    /// Whether a statement's future was dropped before it completed, or pipelined
    /// statements' answers are unread (their transaction's future was dropped): the
    /// server may still be running them.
    pub(crate) fn was_interrupted(&self) -> bool {
        self.in_flight.load(Ordering::Relaxed) || !self.pipelined.is_empty()
    }

    pub(crate) fn set_in_transaction(&self, open: bool) {
        self.in_transaction.store(open, Ordering::Relaxed);
    }

    /// Whether a transaction was left open (its future dropped before COMMIT or
    /// ROLLBACK): such a connection must not be handed out again.
    pub(crate) fn is_in_transaction(&self) -> bool {
        self.in_transaction.load(Ordering::Relaxed)
    }

    /// Whether the connection has outlived its (jittered) lifetime.
    pub(crate) fn is_expired(&self) -> bool {
        Instant::now() >= self.expires_at
    }

    /// Whether it was used so recently that a liveness round trip is not needed.
    pub(crate) fn recently_used(&self) -> bool {
        self.last_used.elapsed() < ALIVE_BYPASS
    }

    /// Whether the driver has seen the connection close.
    pub(crate) fn is_closed(&self) -> bool {
        self.client.is_closed()
    }
}

impl StatementSite for PgConnection {
    const CALLER: Caller = Caller::Exclusive;

    fn connection(&self) -> &PgConnection {
        self
    }

    fn statements(&mut self) -> impl DerefMut<Target = StatementCache> + '_ {
        &mut self.statements
    }

    fn statement(
        &mut self,
        sql: &str,
    ) -> impl Future<Output = Result<(Statement, u64), PgError>> + Send {
        PgConnection::statement(self, sql)
    }

    fn learn_param_types(
        &mut self,
        sql: &str,
    ) -> impl Future<Output = Result<Vec<Type>, PgError>> + Send {
        PgConnection::learn_param_types(self, sql)
    }

    fn timed_out(&self, timeout: QueryTimedOut) -> PgError {
        timeout.into()
    }
}
