//! [`SchemaEpoch`]: when the pool last found a cached statement stale.
//!
//! A statement prepared before a migration changed the shape of its result (`SELECT *`
//! after `ADD COLUMN`, a column's type changed) fails on the server with "cached plan
//! must not change result type" (0A000), on every connection that cached it. The first
//! connection to meet that starts a new epoch, and every statement cache of the pool
//! empties at its next lookup: each statement is then prepared again once per
//! connection, instead of failing once per connection. The statement that failed is
//! run again (see `PgConnection` and the pipeline); it never ran, as the server checks
//! the plan before executing it.

use std::sync::atomic::{AtomicU64, Ordering};

use tokio_postgres::error::SqlState;

/// The function of the server that refuses a stale plan, as its error names it
/// (routine names are never translated; messages may be).
pub(crate) const REVALIDATE_ROUTINE: &str = "RevalidateCachedQuery";
pub(crate) const STALE_PLAN_MESSAGE: &str = "cached plan must not change result type";

/// The pool's schema epoch: statements cached in an older one are prepared again.
#[derive(Debug, Default)]
pub(crate) struct SchemaEpoch(AtomicU64);

impl SchemaEpoch {
    /// The current epoch.
    pub(crate) fn current(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }

    /// A statement cached in epoch `epoch` was found stale: starts a new epoch, unless
    /// one was started since. Many connections meeting one migration start one epoch.
    pub(crate) fn stale_since(&self, epoch: u64) {
        let _ = self
            .0
            .compare_exchange(epoch, epoch + 1, Ordering::AcqRel, Ordering::Acquire);
    }
}

/// Whether the server refused a prepared statement because the shape of its result
/// changed since it was prepared.
pub(crate) fn is_stale_plan(error: &tokio_postgres::Error) -> bool {
    error.as_db_error().is_some_and(|db| {
        *db.code() == SqlState::FEATURE_NOT_SUPPORTED
            && (db.routine() == Some(REVALIDATE_ROUTINE) || db.message() == STALE_PLAN_MESSAGE)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_meeting_one_change_start_one_epoch() {
        let epoch = SchemaEpoch::default();
        let seen = epoch.current();
        epoch.stale_since(seen);
        epoch.stale_since(seen);
        assert_eq!(epoch.current(), seen + 1);
        epoch.stale_since(seen + 1);
        assert_eq!(epoch.current(), seen + 2, "a later change starts another");
    }
}
