//! [`AnswerProgress`]: whether a shared connection is held up behind a slow request.
//! A shared connection answers in order, so every request sent behind a slow one (a
//! report, a wait on a row lock) waits for it; [`Leases::pick`](crate::leases::Leases::pick)
//! passes a connection that has had callers awaiting answers, and answered none, for
//! [`HELD_UP_AFTER`]. Taken strictly in turn, two connections sent half the statements
//! beside a `pg_sleep(1)` behind it (50 of 100 `SELECT 1` waited up to 970 ms).

use std::ops::Deref;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// How long a connection with callers awaiting answers may go without answering one
/// before new callers pass it: far above a healthy connection's gaps under load (a
/// p99 of a few milliseconds), short beside a slow statement.
pub(crate) const HELD_UP_AFTER: Duration = Duration::from_millis(20);

/// A shared connection's callers awaiting answers, and when it last answered one (or,
/// idle before, took one).
#[derive(Debug, Default)]
pub(crate) struct AnswerProgress {
    awaiting: AtomicU32,
    /// Microseconds since [`epoch`].
    last_progress: AtomicU64,
}

impl AnswerProgress {
    /// Whether callers have awaited answers for [`HELD_UP_AFTER`] with none given.
    pub(crate) fn held_up(&self) -> bool {
        self.awaiting.load(Ordering::Relaxed) > 0
            && now().saturating_sub(self.last_progress.load(Ordering::Relaxed))
                > HELD_UP_AFTER.as_micros() as u64
    }

    fn enter(&self) {
        if self.awaiting.fetch_add(1, Ordering::Relaxed) == 0 {
            self.last_progress.store(now(), Ordering::Relaxed);
        }
    }

    fn leave(&self) {
        self.last_progress.store(now(), Ordering::Relaxed);
        self.awaiting.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Microseconds since the first call.
fn now() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    EPOCH.get_or_init(Instant::now).elapsed().as_micros() as u64
}

/// A caller awaiting its answer on `leased`: counted in its connection's
/// [`AnswerProgress`] until dropped (answered, failed or given up), which counts as
/// progress. Derefs to the connection.
pub(crate) struct Awaiting<T> {
    leased: Arc<T>,
    progress: fn(&T) -> &AnswerProgress,
}

impl<T> Awaiting<T> {
    /// Counts a caller on `leased`, whose progress `progress` finds.
    pub(crate) fn on(leased: Arc<T>, progress: fn(&T) -> &AnswerProgress) -> Self {
        progress(&leased).enter();
        Self { leased, progress }
    }
}

impl<T> Deref for Awaiting<T> {
    type Target = Arc<T>;

    fn deref(&self) -> &Arc<T> {
        &self.leased
    }
}

impl<T> Drop for Awaiting<T> {
    fn drop(&mut self) {
        (self.progress)(&self.leased).leave();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn held_up_only_with_callers_awaiting_and_no_answer_for_a_while() {
        let progress = Arc::new(AnswerProgress::default());
        assert!(!progress.held_up(), "idle");
        let first = Awaiting::on(Arc::clone(&progress), |p| p);
        assert!(!progress.held_up(), "just taken");
        std::thread::sleep(HELD_UP_AFTER * 2);
        assert!(progress.held_up(), "no answer since");
        let second = Awaiting::on(Arc::clone(&progress), |p| p);
        drop(first);
        assert!(!progress.held_up(), "an answer came");
        drop(second);
        std::thread::sleep(HELD_UP_AFTER * 2);
        assert!(!progress.held_up(), "idle again");
    }
}
