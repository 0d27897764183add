//! [`Session`]: read-your-writes across operations, by the primary's WAL position
//! after each write made through it.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};

use poolside_core::{Lsn, PgError, TransactionBody};

use crate::{Op, Poolside};

/// Read-your-writes across operations ([`Poolside::session`]): remembers the primary's
/// WAL position after each write made through it, and its reads carry it.
#[derive(Debug)]
pub struct Session {
    db: Poolside,
    /// The latest position written through this session; 0 for none.
    seen: AtomicU64,
}

impl Session {
    /// A session of `db` that has seen no write yet.
    pub(crate) fn new(db: Poolside) -> Self {
        Self {
            db,
            seen: AtomicU64::new(0),
        }
    }

    /// An operation of this session (see [`Poolside::op`]).
    pub fn op(&self, name: &'static str) -> Op<'_> {
        Op::new(&self.db, name, Some(self))
    }

    /// Runs `f` in a transaction (see [`Poolside::transaction`]); later reads of the
    /// session see what it committed.
    ///
    /// # Errors
    ///
    /// As [`Poolside::transaction`].
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
        let transaction = self.db.transaction(name, f);
        async move {
            let value = transaction.await?;
            self.learn_write(&self.db).await;
            Ok(value)
        }
    }

    /// The position this session's reads must see: its latest write's; `None` before
    /// any, and always without replicas.
    pub fn token(&self) -> Option<Lsn> {
        match self.seen.load(Ordering::Acquire) {
            0 => None,
            seen => Some(Lsn(seen)),
        }
    }

    /// Remembers the primary's position after a write. When it cannot be read, the
    /// session's reads go to the primary from then on (the highest position). Without
    /// replicas every read is on the primary already: nothing to learn, no round trip.
    pub(crate) async fn learn_write(&self, db: &Poolside) {
        if db.replicas().is_none() {
            return;
        }
        let position = db.wal_position().await.map_or(u64::MAX, |lsn| lsn.0);
        self.seen.fetch_max(position, Ordering::AcqRel);
    }
}
