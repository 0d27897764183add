//! [`PoolStats`]: a snapshot of the pool, and the counters behind it.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::fair_pool::{AcquireCounters, Sizes};

/// PostgreSQL counts kept beside bb8's statistics and the checkout counts.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    created: AtomicU64,
    expired: AtomicU64,
    interrupted: AtomicU64,
    retired: AtomicU64,
    leaks: AtomicU64,
    transaction_retries: AtomicU64,
    read_batches: AtomicU64,
    read_statements: AtomicU64,
    /// The batched read path's connections closed, by reason: bb8 sees none of them,
    /// so they stay apart from the counts taken off bb8's.
    read_closed: ReadClosed,
}

/// Why a read connection closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReadClose {
    /// Its task stopped: the server or the network ended it.
    Broken,
    /// Past its lifetime.
    MaxLifetime,
    /// A statement on it ran past the query timeout.
    Interrupted,
    /// Of a generation the pool retired (a failover, `PgPool::reconnect`).
    Retired,
}

/// Read connections closed, by reason.
#[derive(Debug, Default)]
struct ReadClosed {
    broken: AtomicU64,
    max_lifetime: AtomicU64,
    interrupted: AtomicU64,
    retired: AtomicU64,
}

impl Counters {
    pub(crate) fn created(&self) {
        self.created.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn expired(&self) {
        self.expired.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn interrupted(&self) {
        self.interrupted.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn retired(&self) {
        self.retired.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn leaked(&self) {
        self.leaks.fetch_add(1, Ordering::Relaxed);
    }

    /// The batched read path sent a batch of `statements`.
    pub(crate) fn read_batch(&self, statements: usize) {
        self.read_batches.fetch_add(1, Ordering::Relaxed);
        self.read_statements
            .fetch_add(statements as u64, Ordering::Relaxed);
    }

    /// A read connection closed, for `reason`.
    pub(crate) fn read_closed(&self, reason: ReadClose) {
        let closed = &self.read_closed;
        let count = match reason {
            ReadClose::Broken => &closed.broken,
            ReadClose::MaxLifetime => &closed.max_lifetime,
            ReadClose::Interrupted => &closed.interrupted,
            ReadClose::Retired => &closed.retired,
        };
        count.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn transaction_retried(&self) {
        self.transaction_retries.fetch_add(1, Ordering::Relaxed);
    }
}

/// The pool at one moment. `total = active + idle <= max_size` always holds.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[non_exhaustive]
pub struct PoolStats {
    /// Most connections the pool opens.
    pub max_size: u32,
    /// Idle connections it keeps open.
    pub min_idle: u32,
    /// Open connections.
    pub total: u32,
    /// Connections handed out.
    pub active: u32,
    /// Connections open and free.
    pub idle: u32,
    /// Tasks waiting for a connection.
    pub waiting: u64,
    /// Of the open connections, those of the batched read path (reserved within
    /// `max_size`, counted as active).
    pub read_connections: u32,
    /// Of the active connections, those leased by the pipelined path (`PgPool::query`
    /// and friends), shared by its callers.
    pub pipelined: u32,
    /// `active / max_size`, in percent.
    pub utilization_percent: f64,
    /// Connections handed out since start.
    pub acquired: u64,
    /// Of those, how many had to wait for one.
    pub waited: u64,
    /// Requests that gave up after the connection timeout.
    pub timed_out: u64,
    /// Requests refused at once because `postgres.max_waiting` were waiting already.
    pub rejected: u64,
    /// Connections opened since start.
    pub created: u64,
    /// Connections closed since start, by reason.
    pub closed: ClosedCounts,
    /// Connections held past the leak detection threshold.
    pub leaks: u64,
    /// Transactions run again after a serialization failure, a deadlock or a stale
    /// statement.
    pub transaction_retries: u64,
    /// Batches the batched read path sent.
    pub read_batches: u64,
    /// Statements in those batches (`read_statements / read_batches` is the mean
    /// batch size).
    pub read_statements: u64,
    /// In PgBouncer mode, statements whose parameter types the pool learnt (once per
    /// statement, and again after a migration changed them); 0 otherwise.
    pub param_types_learnt: u64,
}

/// Connections closed, by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct ClosedCounts {
    /// Broken (the server or network closed them) or failing validation.
    pub broken: u64,
    /// Past their max lifetime.
    pub max_lifetime: u64,
    /// Idle longer than the idle timeout.
    pub idle_timeout: u64,
    /// Returned while a statement was still running (its future was dropped, or it
    /// ran past `postgres.query_timeout`): the statement was cancelled on the server
    /// and the connection discarded. Also returned inside a transaction block, or
    /// after a session-level advisory lock was taken on it: closed, so that the server
    /// rolls the block back and releases the locks.
    pub interrupted: u64,
    /// Retired because a connection of their generation found the server read-only
    /// (SQLSTATE 25006, after a failover), or by `PgPool::reconnect`.
    pub retired: u64,
}

/// `active` of `max_size` connections, in percent (0 for a pool of none).
fn utilization(active: u32, max_size: u32) -> f64 {
    f64::from(active) * 100.0 / f64::from(max_size.max(1))
}

/// Pools run side by side as one, such as one pool per core: every size and count
/// added, `utilization_percent` worked out again from the sums. Their figures can
/// then go out under one pool label.
///
/// # Examples
///
/// With `DATABASE_URL` naming a PostgreSQL (as `cargo xtask test` sets it):
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use poolside_core::{PgPool, PoolStats};
///
/// let config = poolside_config::Config::load().expect("a valid configuration").config;
/// let a = PgPool::connect(&config.postgres).await.expect("PostgreSQL answers");
/// let b = PgPool::connect(&config.postgres).await.expect("PostgreSQL answers");
/// let both: PoolStats = [a.stats(), b.stats()].into_iter().sum();
/// assert_eq!(both.max_size, 2 * config.postgres.max_size);
/// assert_eq!(both.total, a.stats().total + b.stats().total);
/// # });
/// ```
impl std::iter::Sum for PoolStats {
    fn sum<I: Iterator<Item = PoolStats>>(pools: I) -> Self {
        let mut sum = pools.fold(PoolStats::empty(), |sum, pool| sum.plus(&pool));
        sum.utilization_percent = utilization(sum.active, sum.max_size);
        sum
    }
}

impl PoolStats {
    /// No pool: every size and count 0.
    fn empty() -> Self {
        Self {
            max_size: 0,
            min_idle: 0,
            total: 0,
            active: 0,
            idle: 0,
            waiting: 0,
            read_connections: 0,
            pipelined: 0,
            utilization_percent: 0.0,
            acquired: 0,
            waited: 0,
            timed_out: 0,
            rejected: 0,
            created: 0,
            closed: ClosedCounts::default(),
            leaks: 0,
            transaction_retries: 0,
            read_batches: 0,
            read_statements: 0,
            param_types_learnt: 0,
        }
    }

    /// Both pools' sizes and counts added; `utilization_percent` left to the caller.
    fn plus(self, other: &PoolStats) -> Self {
        let closed = &other.closed;
        Self {
            max_size: self.max_size + other.max_size,
            min_idle: self.min_idle + other.min_idle,
            total: self.total + other.total,
            active: self.active + other.active,
            idle: self.idle + other.idle,
            waiting: self.waiting + other.waiting,
            read_connections: self.read_connections + other.read_connections,
            pipelined: self.pipelined + other.pipelined,
            utilization_percent: 0.0,
            acquired: self.acquired + other.acquired,
            waited: self.waited + other.waited,
            timed_out: self.timed_out + other.timed_out,
            rejected: self.rejected + other.rejected,
            created: self.created + other.created,
            closed: ClosedCounts {
                broken: self.closed.broken + closed.broken,
                max_lifetime: self.closed.max_lifetime + closed.max_lifetime,
                idle_timeout: self.closed.idle_timeout + closed.idle_timeout,
                interrupted: self.closed.interrupted + closed.interrupted,
                retired: self.closed.retired + closed.retired,
            },
            leaks: self.leaks + other.leaks,
            transaction_retries: self.transaction_retries + other.transaction_retries,
            read_batches: self.read_batches + other.read_batches,
            read_statements: self.read_statements + other.read_statements,
            param_types_learnt: self.param_types_learnt + other.param_types_learnt,
        }
    }
}

impl PoolStats {
    /// Counts the batched read path's `open` connections in: open and active.
    pub(crate) fn add_read_connections(&mut self, open: u32) {
        self.read_connections = open;
        self.total += open;
        self.active += open;
        self.utilization_percent = utilization(self.active, self.max_size);
    }

    /// From bb8's state (`None` once the pool is closed) and poolside's counters.
    pub(crate) fn new(
        state: Option<&bb8::State>,
        checkouts: &AcquireCounters,
        counters: &Counters,
        max_size: u32,
        min_idle: u32,
    ) -> Self {
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let Sizes {
            total,
            active,
            idle,
        } = Sizes::of(state);
        let none = bb8::Statistics::default();
        let s = state.map_or(&none, |st| &st.statistics);
        let expired = load(&counters.expired);
        let interrupted = load(&counters.interrupted);
        let retired = load(&counters.retired);
        let read = &counters.read_closed;
        let broken_or_invalid = s.connections_closed_broken + s.connections_closed_invalid;
        Self {
            max_size,
            min_idle,
            total,
            active,
            idle,
            waiting: load(&checkouts.waiting),
            pipelined: 0,
            read_connections: 0,
            utilization_percent: utilization(active, max_size),
            acquired: load(&checkouts.acquired),
            waited: load(&checkouts.waited),
            timed_out: load(&checkouts.timed_out),
            rejected: load(&checkouts.rejected),
            created: load(&counters.created),
            closed: ClosedCounts {
                // Expiry, interruption and retirement are poolside's checks; bb8
                // counts them as broken or invalid. The read path's are counted apart.
                broken: broken_or_invalid.saturating_sub(expired + interrupted + retired)
                    + load(&read.broken),
                max_lifetime: expired
                    + s.connections_closed_max_lifetime
                    + load(&read.max_lifetime),
                idle_timeout: s.connections_closed_idle_timeout,
                interrupted: interrupted + load(&read.interrupted),
                retired: retired + load(&read.retired),
            },
            leaks: load(&counters.leaks),
            transaction_retries: load(&counters.transaction_retries),
            read_batches: load(&counters.read_batches),
            read_statements: load(&counters.read_statements),
            param_types_learnt: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(max_size: u32, active: u32, idle: u32, broken: u64) -> PoolStats {
        PoolStats {
            max_size,
            total: active + idle,
            active,
            idle,
            created: u64::from(active + idle),
            closed: ClosedCounts {
                broken,
                ..ClosedCounts::default()
            },
            ..PoolStats::empty()
        }
    }

    #[test]
    fn pools_side_by_side_add_up_and_their_utilization_is_of_the_sums() {
        let both: PoolStats = [pool(10, 10, 0, 1), pool(30, 0, 5, 2)].into_iter().sum();
        assert_eq!(
            (both.max_size, both.total, both.active, both.idle),
            (40, 15, 10, 5)
        );
        assert_eq!(both.created, 15);
        assert_eq!(both.closed.broken, 3);
        assert_eq!(both.utilization_percent, 25.0);
    }

    #[test]
    fn no_pool_sums_to_zero() {
        let none: PoolStats = std::iter::empty().sum();
        assert_eq!(none, PoolStats::empty());
    }
}
