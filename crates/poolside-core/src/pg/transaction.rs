//! [`PgPool::transaction`]: a closure run in BEGIN/COMMIT, rolled back on error or
//! timeout, and run again on serialization failure, deadlock or a stale statement.

use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::time::Duration;

use poolside_resilience::{Backoff, Jitter};

use super::connection::PgConnection;
use super::pending_begin::PendingBegin;
use super::{PgError, PgPool};
use crate::ErrorKind;

/// A boxed transaction body's future, for a body written as a function:
/// `fn body(tx: &mut PgConnection) -> TransactionFuture<'_, T>`.
pub type TransactionFuture<'c, T> = Pin<Box<dyn Future<Output = Result<T, PgError>> + Send + 'c>>;

/// What [`PgPool::transaction`] runs: an async closure `async |tx| { ... }` over the
/// transaction's connection, or a function returning a [`TransactionFuture`].
///
/// Implemented for every such body whose future is `Send`. Write the closure without
/// `move`, borrowing what it uses, and keep state that outlives one run (a counter)
/// outside it, in an atomic or a `Mutex`: the body may run more than once, and
/// today's Rust can state that a closure's future is `Send` only when the closure
/// keeps no state of its own (rust-lang/rust#110338). The compiler says so when one
/// does: "async closure does not implement `FnMut` because it captures state from its
/// environment".
pub trait TransactionBody<'c, T>:
    AsyncFnMut(&'c mut PgConnection) -> Result<T, PgError>
    + FnMut(&'c mut PgConnection) -> <Self as TransactionBody<'c, T>>::Future
{
    /// The future one run of the body returns.
    type Future: Future<Output = Result<T, PgError>> + Send;
}

impl<'c, T, F, Fut> TransactionBody<'c, T> for F
where
    F: AsyncFnMut(&'c mut PgConnection) -> Result<T, PgError> + FnMut(&'c mut PgConnection) -> Fut,
    Fut: Future<Output = Result<T, PgError>> + Send,
{
    type Future = Fut;
}

/// The isolation level of a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IsolationLevel {
    /// `READ COMMITTED`, PostgreSQL's default.
    ReadCommitted,
    /// `REPEATABLE READ`.
    RepeatableRead,
    /// `SERIALIZABLE`: conflicts fail with 40001, and the transaction is run again.
    Serializable,
}

impl IsolationLevel {
    fn begin(self) -> &'static str {
        match self {
            IsolationLevel::ReadCommitted => "BEGIN ISOLATION LEVEL READ COMMITTED",
            IsolationLevel::RepeatableRead => "BEGIN ISOLATION LEVEL REPEATABLE READ",
            IsolationLevel::Serializable => "BEGIN ISOLATION LEVEL SERIALIZABLE",
        }
    }
}

/// Settings of one [`PgPool::transaction`] call. Build them from the default:
///
/// ```
/// use std::time::Duration;
/// use poolside_core::{IsolationLevel, TransactionOptions};
///
/// let options = TransactionOptions::default()
///     .isolation(IsolationLevel::Serializable)
///     .attempts(10)
///     .timeout(Duration::from_secs(2));
/// assert_eq!((options.attempts, options.max_wait), (10, None));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TransactionOptions {
    /// Longest wait for a connection; default (`None`): the pool's connection timeout.
    pub max_wait: Option<Duration>,
    /// Longest one run of the transaction, BEGIN to COMMIT, may take. Default: 10 s.
    pub timeout: Duration,
    /// Runs in all when the server reports a serialization failure (40001), a
    /// deadlock (40P01), or a cached statement a migration made stale. Default: 3.
    pub attempts: u32,
    /// Default (`None`): the server's default, read committed.
    pub isolation: Option<IsolationLevel>,
    /// The wait before each run after the first, so that transactions that conflicted
    /// do not meet again at once. Default: full jitter over 10 ms doubling to 640 ms.
    /// The facade passes the retry layer's backoff (`retry.base_delay` and friends).
    pub backoff: Backoff,
}

impl Default for TransactionOptions {
    fn default() -> Self {
        Self {
            max_wait: None,
            timeout: Duration::from_secs(10),
            attempts: 3,
            isolation: None,
            backoff: Backoff::new(
                Duration::from_millis(10),
                Duration::from_millis(640),
                Jitter::Full,
            ),
        }
    }
}

impl TransactionOptions {
    /// Waits at most `max_wait` for a connection.
    pub fn max_wait(mut self, max_wait: Duration) -> Self {
        self.max_wait = Some(max_wait);
        self
    }

    /// Gives one run at most `timeout`, BEGIN to COMMIT.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Runs at most `attempts` times in all (at least once).
    pub fn attempts(mut self, attempts: u32) -> Self {
        self.attempts = attempts;
        self
    }

    /// Runs at `isolation`.
    pub fn isolation(mut self, isolation: IsolationLevel) -> Self {
        self.isolation = Some(isolation);
        self
    }

    /// Waits `backoff` before each run after the first.
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }
}

impl PgPool {
    /// Runs `f` in a transaction: BEGIN, `f`, COMMIT. Rolls back when `f` fails or
    /// runs past `options.timeout`, and runs `f` again from the start (up to
    /// `options.attempts` runs) when the server reports a serialization failure, a
    /// deadlock, or a cached statement that a migration made stale or a `DEALLOCATE` or
    /// `DISCARD ALL` dropped (the pool prepares it anew). Errors keep their SQLSTATE;
    /// a unique violation is never retried. Statements whose answers `f` does not need
    /// can go with [`execute_pipelined`](PgConnection::execute_pipelined), without a
    /// round trip of their own.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn run(pool: poolside_core::PgPool) -> Result<(), poolside_core::PgError> {
    /// use poolside_core::TransactionOptions;
    ///
    /// let product_id = 1_i64;
    /// let sale_id: i64 = pool
    ///     .transaction(TransactionOptions::default(), async |tx| {
    ///         let row = tx.query_one("INSERT INTO sales DEFAULT VALUES RETURNING id", &[]).await?;
    ///         tx.execute("UPDATE stock SET quantity = quantity - 1 WHERE product_id = $1", &[&product_id]).await?;
    ///         Ok(row.get(0))
    ///     })
    ///     .await?;
    /// # Ok(()) }
    /// ```
    #[track_caller]
    pub fn transaction<'p, T, F>(
        &'p self,
        options: TransactionOptions,
        mut f: F,
    ) -> impl Future<Output = Result<T, PgError>> + Send + 'p
    where
        T: Send + 'p,
        F: for<'c> TransactionBody<'c, T> + Send + 'p,
    {
        let location = Location::caller();
        async move {
            crate::span_fields::record_path("transaction");
            let attempts = options.attempts.max(1);
            let mut attempt = 1;
            loop {
                match self.run_once(&options, location, &mut f).await {
                    Err(e) if e.is_transaction_retryable() && attempt < attempts => {
                        attempt += 1;
                        self.count_transaction_retry();
                        tracing::debug!(target: "poolside::pg", error = %e, attempt, "re-running transaction");
                        tokio::time::sleep(options.backoff.delay(attempt - 1)).await;
                    }
                    result => return result,
                }
            }
        }
    }

    async fn run_once<T, F>(
        &self,
        options: &TransactionOptions,
        location: &'static Location<'static>,
        f: &mut F,
    ) -> Result<T, PgError>
    where
        F: for<'c> TransactionBody<'c, T>,
    {
        let acquire = self.acquire(Some(location));
        let mut conn = match options.max_wait {
            Some(max_wait) => tokio::time::timeout(max_wait, acquire)
                .await
                .map_err(|_| self.busy_error(max_wait))??,
            None => acquire.await?,
        };
        let begin = options.isolation.map_or("BEGIN", IsolationLevel::begin);
        // Sent without waiting: BEGIN shares its round trip with the first statement of
        // `f` (or with COMMIT), and its answer is read once COMMIT's is in.
        conn.set_in_transaction(true);
        let begun = PendingBegin::send(conn.shared_client(), begin)
            .map_err(|e| conn.driver_error(e, "opening a transaction"))?;
        let outcome = tokio::time::timeout(options.timeout, f(&mut conn)).await;
        let result = match outcome {
            Ok(Ok(value)) => match conn.batch_execute("COMMIT").await {
                Ok(()) => {
                    // The driver answers in order: BEGIN's answer is in, reading it is
                    // free. A BEGIN on an idle connection fails only when the
                    // connection does (the connection is then discarded).
                    if let Some(begun) = begun {
                        begun
                            .answer()
                            .await
                            .map_err(|e| conn.driver_error(e, "opening a transaction"))?;
                    }
                    conn.set_in_transaction(false);
                    return Ok(value);
                }
                Err(e) => Err(e),
            },
            Ok(Err(e)) => Err(e),
            Err(_) => Err(PgError::new(
                ErrorKind::Cancelled,
                format!(
                    "transaction ran past its {:?} timeout and was rolled back: raise the timeout or do less in it",
                    options.timeout
                ),
            )),
        };
        // A statement cut off by the timeout is cancelled and its connection discarded
        // on return; otherwise roll back and keep the connection.
        // Pipelined statements not yet answered ran inside what is rolled back.
        conn.forget_pipelined();
        if !conn.was_interrupted() && conn.batch_execute("ROLLBACK").await.is_ok() {
            conn.set_in_transaction(false);
        }
        result
    }
}
