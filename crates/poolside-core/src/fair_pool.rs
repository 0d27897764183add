//! [`FairPool`]: the generic core of both backends, usable with any bb8 manager. A bb8 pool with a FIFO queue in
//! front, connect failures that reach waiters at once, and a close that drains.
//!
//! Why a queue in front of bb8: under oversubscription bb8 hands a returned connection
//! to whichever task asks next, so a task that just gave one back and asks again
//! barges ahead of sleeping waiters; some wait for seconds. A FIFO semaphore with
//! `max_size` permits lets at most `max_size` tasks into bb8 at once, in arrival order,
//! and each of them finds a connection.
//!
//! Why a failure channel: bb8 retries a failed connect in the background and its
//! waiters see only a timeout after the full wait. The backend's connection manager
//! publishes each failure; a waiter that cannot be served (the failure is permanent,
//! such as bad credentials, or no connection is open at all) fails at once with it.
//! Any other waiter asks bb8 again every 100 ms, which starts a new connect when none
//! is under way: the backends turn bb8's own connect retry off, as it backs off to
//! half the connection timeout and would leave a pool idle for seconds after its
//! database came back.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::RwLock;
use std::task::Poll;
use std::time::Duration;

use bb8::ManageConnection;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, TryAcquireError, watch};

use crate::count_guard::CountGuard;

/// How long a waiter waits before asking bb8 again (which starts another connect when
/// none is under way): after a connect failure, and first while it waits (then at
/// twice the pause each time).
const ASK_AGAIN_AFTER: Duration = Duration::from_millis(100);

/// What bb8's checkout gives.
type BackendGet<M> =
    Result<bb8::PooledConnection<'static, M>, bb8::RunError<<M as ManageConnection>::Error>>;

/// The latest connect failure of a backend, as its manager publishes it.
pub type LastFailure<E> = Option<Arc<E>>;

/// Where a backend's connection manager publishes connect failures
/// (`sender.send_replace(Some(Arc::new(error)))` on each failed connect).
pub type FailureSender<E> = watch::Sender<LastFailure<E>>;

/// Why a checkout failed.
#[derive(Debug)]
pub enum AcquireError<E> {
    /// The pool is closed.
    Closed,
    /// No connection within the timeout; the last connect failure seen meanwhile.
    /// Without one, every connection was in use by other checkouts all along.
    TimedOut(Duration, LastFailure<E>),
    /// No connection within the timeout, though this checkout had its turn (room for
    /// a connection of its own) and no connect failed meanwhile: the server answered
    /// neither the check of an idle connection nor the opening of a new one in time.
    Unanswered(Duration),
    /// A connect failure that makes waiting pointless.
    Failed(Arc<E>),
    /// An error bb8 returned as is.
    Backend(E),
    /// No connection was free and this many checkouts were waiting already
    /// ([`FairPool::with_max_waiting`]): refused at once rather than queued.
    Overloaded(u64),
}

/// A connection and the queue permit that let it out; dropping it returns both.
/// Derefs to the connection.
pub struct Checkout<M: ManageConnection> {
    // NOTE: fields drop in order: the connection goes back to bb8 before the permit lets
    // the next waiter in, so that waiter finds it idle.
    pub(crate) conn: bb8::PooledConnection<'static, M>,
    _permit: OwnedSemaphorePermit,
}

impl<M: ManageConnection> std::ops::Deref for Checkout<M> {
    type Target = M::Connection;

    fn deref(&self) -> &M::Connection {
        &self.conn
    }
}

impl<M: ManageConnection> std::ops::DerefMut for Checkout<M> {
    fn deref_mut(&mut self) -> &mut M::Connection {
        &mut self.conn
    }
}

impl<M: ManageConnection> std::fmt::Debug for Checkout<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checkout").finish_non_exhaustive()
    }
}

impl<M: ManageConnection> std::fmt::Debug for FairPool<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FairPool")
            .field("state", &self.state())
            .field("closed", &self.is_closed())
            .finish()
    }
}

/// Open connections at one moment: `total = active + idle`; all 0 once closed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sizes {
    /// Open connections.
    pub total: u32,
    /// Connections handed out.
    pub active: u32,
    /// Connections open and free.
    pub idle: u32,
}

impl Sizes {
    /// The sizes in bb8's `state` (`None`: the pool is closed).
    pub fn of(state: Option<&bb8::State>) -> Self {
        let total = state.map_or(0, |s| s.connections);
        let idle = state.map_or(0, |s| s.idle_connections.min(total));
        Self {
            total,
            active: total - idle,
            idle,
        }
    }
}

/// Checkout counts, cumulative except `waiting`.
#[derive(Debug, Default)]
pub(crate) struct AcquireCounters {
    pub(crate) acquired: AtomicU64,
    pub(crate) waited: AtomicU64,
    pub(crate) timed_out: AtomicU64,
    /// Refused at once because too many were waiting.
    pub(crate) rejected: AtomicU64,
    /// Tasks inside `acquire` that found no connection at once and hold none yet.
    pub(crate) waiting: AtomicU64,
}

/// A bb8 pool behind a FIFO queue.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use poolside_core::fair_pool::FairPool;
///
/// /// A manager whose "connections" are numbers: no I/O.
/// #[derive(Debug)]
/// struct Numbers;
///
/// impl bb8::ManageConnection for Numbers {
///     type Connection = u32;
///     type Error = std::io::Error;
///     async fn connect(&self) -> Result<u32, std::io::Error> { Ok(7) }
///     async fn is_valid(&self, _: &mut u32) -> Result<(), std::io::Error> { Ok(()) }
///     fn has_broken(&self, _: &mut u32) -> bool { false }
/// }
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let (_failures_tx, failures) = tokio::sync::watch::channel(None);
/// let pool = bb8::Pool::builder().max_size(2).build_unchecked(Numbers);
/// let fair = FairPool::new(pool, 2, failures, |_| false);
/// let conn = fair.acquire(Duration::from_secs(1)).await.unwrap();
/// assert_eq!(*conn, 7);
/// # });
/// ```
pub struct FairPool<M: ManageConnection> {
    /// Taken out (and so dropped) by `close`; idle connections close with it.
    pool: RwLock<Option<bb8::Pool<M>>>,
    permits: Arc<Semaphore>,
    failures: watch::Receiver<LastFailure<M::Error>>,
    is_permanent: fn(&M::Error) -> bool,
    /// Checkouts that may wait when no connection is free; more are refused.
    max_waiting: u64,
    pub(crate) counters: AcquireCounters,
}

impl<M: ManageConnection> FairPool<M> {
    /// Puts a queue of `max_size` permits in front of `pool`. `failures` is the
    /// receiving end of the manager's failure channel; `is_permanent` says which
    /// failures waiting will not cure.
    pub fn new(
        pool: bb8::Pool<M>,
        max_size: u32,
        failures: watch::Receiver<LastFailure<M::Error>>,
        is_permanent: fn(&M::Error) -> bool,
    ) -> Self {
        Self {
            pool: RwLock::new(Some(pool)),
            permits: Arc::new(Semaphore::new(max_size as usize)),
            failures,
            is_permanent,
            max_waiting: u64::MAX,
            counters: AcquireCounters::default(),
        }
    }

    /// Refuses a checkout at once, with [`AcquireError::Overloaded`], when no
    /// connection is free and `max_waiting` checkouts are waiting already: the queue
    /// (and the memory and latency behind it) stays bounded under overload. Unbounded
    /// unless set.
    pub fn with_max_waiting(mut self, max_waiting: u32) -> Self {
        self.max_waiting = u64::from(max_waiting);
        self
    }

    fn bb8(&self) -> Option<bb8::Pool<M>> {
        self.pool.read().clone()
    }

    /// bb8's state, unless the pool is closed.
    pub fn state(&self) -> Option<bb8::State> {
        self.bb8().map(|pool| pool.state())
    }

    /// Whether `close` has been called.
    pub fn is_closed(&self) -> bool {
        self.permits.is_closed()
    }

    /// Checks out a connection, in arrival order, within `timeout`.
    pub async fn acquire(&self, timeout: Duration) -> Result<Checkout<M>, AcquireError<M::Error>> {
        let deadline = tokio::time::Instant::now() + timeout;
        // Counted only once it has to wait: a checkout served at once was never
        // waiting, and two writes every checkout shares are worth saving.
        let mut waiting = None;
        let (permit, waited) = match Arc::clone(&self.permits).try_acquire_owned() {
            Ok(permit) => (permit, false),
            Err(TryAcquireError::Closed) => return Err(AcquireError::Closed),
            Err(TryAcquireError::NoPermits) => {
                waiting = Some(CountGuard::enter(&self.counters.waiting));
                // This task counts itself among the waiting.
                if self.counters.waiting.load(Ordering::Relaxed) > self.max_waiting {
                    self.counters.rejected.fetch_add(1, Ordering::Relaxed);
                    return Err(AcquireError::Overloaded(self.max_waiting));
                }
                match tokio::time::timeout_at(deadline, Arc::clone(&self.permits).acquire_owned())
                    .await
                {
                    Ok(Ok(permit)) => (permit, true),
                    Ok(Err(_)) => return Err(AcquireError::Closed),
                    Err(_) => {
                        self.counters.timed_out.fetch_add(1, Ordering::Relaxed);
                        return Err(AcquireError::TimedOut(timeout, None));
                    }
                }
            }
        };

        let pool = self.bb8().ok_or(AcquireError::Closed)?;
        let get = pool.get_owned();
        tokio::pin!(get);
        // With a permit, a connection is usually idle and valid: take it without the
        // machinery of waiting for one.
        let conn = match std::future::poll_fn(|cx| Poll::Ready(get.as_mut().poll(cx))).await {
            Poll::Ready(result) => self.checkout_result(result, timeout, None)?,
            Poll::Pending => {
                let _waiting =
                    waiting.get_or_insert_with(|| CountGuard::enter(&self.counters.waiting));
                // Boxed: this rare path's state would otherwise make every
                // checkout's future as large as its own.
                Box::pin(self.wait_for_connection(
                    &pool,
                    get,
                    || pool.get_owned(),
                    deadline,
                    timeout,
                ))
                .await?
            }
        };
        self.counters.acquired.fetch_add(1, Ordering::Relaxed);
        if waited {
            self.counters.waited.fetch_add(1, Ordering::Relaxed);
        }
        Ok(Checkout {
            conn,
            _permit: permit,
        })
    }

    /// Waits for `get` (bb8's checkout, which found no connection at once; `ask_bb8`
    /// starts another) until `deadline`, failing at once on a connect failure that
    /// waiting will not cure.
    async fn wait_for_connection<F: Future<Output = BackendGet<M>>>(
        &self,
        pool: &bb8::Pool<M>,
        mut get: Pin<&mut F>,
        ask_bb8: impl Fn() -> F,
        deadline: tokio::time::Instant,
        timeout: Duration,
    ) -> Result<bb8::PooledConnection<'static, M>, AcquireError<M::Error>> {
        let mut failures = self.failures.clone();
        failures.mark_unchanged();
        let mut last_failure = None;
        // Asked again ASK_AGAIN_AFTER in, then at twice the pause each time, while no
        // connection comes: a connect that failed before this task started watching
        // would otherwise leave it waiting for a connect nobody starts. Each ask
        // replaces the one before (one waiter in bb8 per task, so a stalled server
        // sees one connect, not one per ask). The pause doubles because bb8 may be
        // checking an idle connection for the ask it drops: a check cut short begins
        // again, and at a fixed 100 ms a check slower than that (over a network with
        // 150 ms one way, every one) never finished before the timeout.
        let mut pause = ASK_AGAIN_AFTER;
        let ask_again = tokio::time::sleep(pause);
        tokio::pin!(ask_again);
        loop {
            tokio::select! {
                biased;
                result = &mut get => return self.checkout_result(result, timeout, last_failure),
                changed = failures.changed() => {
                    if changed.is_err() {
                        // The manager is gone: the pool is being dropped.
                        return Err(AcquireError::Closed);
                    }
                    let failure = failures.borrow_and_update().clone();
                    if let Some(failure) = failure {
                        // Nothing can be handed back when no connection is open, and a
                        // permanent failure does not get better by waiting.
                        if (self.is_permanent)(&failure) || pool.state().connections == 0 {
                            return Err(AcquireError::Failed(failure));
                        }
                        last_failure = Some(failure);
                        // The backends do not let bb8 retry a failed connect (it would
                        // back off to half the timeout): ask again a moment later, so
                        // that a connect is under way while this task waits.
                        pause = ASK_AGAIN_AFTER;
                        ask_again.as_mut().reset(tokio::time::Instant::now() + pause);
                    }
                },
                () = &mut ask_again => {
                    pause *= 2;
                    ask_again.as_mut().reset(tokio::time::Instant::now() + pause);
                    get.set(ask_bb8());
                },
                () = tokio::time::sleep_until(deadline) => {
                    return Err(self.timed_out(timeout, last_failure));
                }
            }
        }
    }

    /// What bb8's checkout gave, as this pool reports it.
    fn checkout_result(
        &self,
        result: BackendGet<M>,
        timeout: Duration,
        last_failure: LastFailure<M::Error>,
    ) -> Result<bb8::PooledConnection<'static, M>, AcquireError<M::Error>> {
        match result {
            Ok(conn) => Ok(conn),
            Err(bb8::RunError::User(e)) => Err(AcquireError::Backend(e)),
            Err(bb8::RunError::TimedOut) => Err(self.timed_out(timeout, last_failure)),
        }
    }

    /// Counts a checkout that had its turn but got no connection within `timeout`.
    fn timed_out(
        &self,
        timeout: Duration,
        last_failure: LastFailure<M::Error>,
    ) -> AcquireError<M::Error> {
        self.counters.timed_out.fetch_add(1, Ordering::Relaxed);
        match last_failure {
            Some(_) => AcquireError::TimedOut(timeout, last_failure),
            None => AcquireError::Unanswered(timeout),
        }
    }

    /// Refuses new and queued checkouts at once; waits up to `deadline` for
    /// connections in use to come back; then drops the pool, closing every idle
    /// connection. Returns how many were still in use (closed when they come back).
    pub async fn close(&self, deadline: Duration) -> u32 {
        self.permits.close();
        let until = tokio::time::Instant::now() + deadline;
        let in_use = || Sizes::of(self.state().as_ref()).active;
        while in_use() > 0 && tokio::time::Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let still_in_use = in_use();
        drop(self.pool.write().take());
        still_in_use
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;
    use std::time::Instant;

    use super::*;

    /// Connections are numbers; connects fail while `down` is set, and each failure is
    /// published as the real managers do.
    struct Flaky {
        down: Arc<AtomicBool>,
        failures: FailureSender<std::io::Error>,
    }

    impl ManageConnection for Flaky {
        type Connection = u32;
        type Error = std::io::Error;

        async fn connect(&self) -> Result<u32, std::io::Error> {
            if self.down.load(Ordering::SeqCst) {
                let refused = || std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
                self.failures.send_replace(Some(Arc::new(refused())));
                return Err(refused());
            }
            Ok(7)
        }

        async fn is_valid(&self, _: &mut u32) -> Result<(), std::io::Error> {
            Ok(())
        }

        fn has_broken(&self, _: &mut u32) -> bool {
            false
        }
    }

    /// With a connection held elsewhere, a waiter whose connect failed does not fail,
    /// and does not sit out the timeout either: it asks again, and is served soon
    /// after the backend comes back.
    #[tokio::test]
    async fn a_waiter_asks_again_after_a_failed_connect() {
        let down = Arc::new(AtomicBool::new(false));
        let (failures_tx, failures) = watch::channel(None);
        let manager = Flaky {
            down: Arc::clone(&down),
            failures: failures_tx,
        };
        let pool = bb8::Pool::builder()
            .max_size(2)
            .min_idle(Some(0))
            .retry_connection(false)
            .build_unchecked(manager);
        let fair = Arc::new(FairPool::new(pool, 2, failures, |_| false));
        let held = fair.acquire(Duration::from_secs(1)).await.expect("up");

        down.store(true, Ordering::SeqCst);
        let began = Instant::now();
        let waiter = tokio::spawn({
            let fair = Arc::clone(&fair);
            async move { fair.acquire(Duration::from_secs(20)).await.map(|c| *c) }
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            !waiter.is_finished(),
            "the waiter gave up while a connection was open"
        );
        down.store(false, Ordering::SeqCst);

        assert_eq!(waiter.await.expect("no panic").expect("served"), 7);
        assert!(
            began.elapsed() < Duration::from_secs(5),
            "served only after {:?}: nobody asked for a connect once the backend was back",
            began.elapsed()
        );
        drop(held);
    }
}
