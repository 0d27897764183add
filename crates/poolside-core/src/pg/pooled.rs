//! [`PooledPgConnection`]: a connection checked out of the pool, returned on drop.

use std::ops::{Deref, DerefMut};
use std::panic::Location;
use std::sync::Arc;
use std::time::Instant;

use super::connection::PgConnection;
use super::leaks::LeakWatch;
use super::manager::PgManager;
use crate::fair_pool::Checkout;
use crate::observer::PoolObserver;

/// A connection checked out of a [`PgPool`](super::PgPool); it goes back to the pool
/// when dropped. Derefs to [`PgConnection`].
pub struct PooledPgConnection {
    checkout: Checkout<PgManager>,
    /// The leak registry and this checkout's slot in it, when leaks are watched.
    leak_slot: Option<(Arc<LeakWatch>, usize)>,
    since: Instant,
    /// Where the caller checked it out; `None` for the pool's own connections.
    location: Option<&'static Location<'static>>,
    /// Told how long the connection was held, when it comes back.
    observer: Option<Arc<dyn PoolObserver>>,
}

impl PooledPgConnection {
    pub(crate) fn new(
        checkout: Checkout<PgManager>,
        location: Option<&'static Location<'static>>,
        leaks: Option<&Arc<LeakWatch>>,
        observer: Option<Arc<dyn PoolObserver>>,
    ) -> Self {
        let leak_slot = leaks
            .zip(location)
            .map(|(watch, location)| (Arc::clone(watch), watch.enter(location)));
        Self {
            checkout,
            leak_slot,
            since: Instant::now(),
            location,
            observer,
        }
    }

    /// Where in the caller's code this connection was acquired ([`PgPool::get`]
    /// records it); `None` only for the pool's own connections, which no caller holds.
    ///
    /// [`PgPool::get`]: super::PgPool::get
    pub fn acquired_at(&self) -> Option<&'static Location<'static>> {
        self.location
    }
}

impl Deref for PooledPgConnection {
    type Target = PgConnection;

    fn deref(&self) -> &PgConnection {
        &self.checkout.conn
    }
}

impl DerefMut for PooledPgConnection {
    fn deref_mut(&mut self) -> &mut PgConnection {
        &mut self.checkout.conn
    }
}

impl Drop for PooledPgConnection {
    fn drop(&mut self) {
        if let Some((watch, slot)) = self.leak_slot.take() {
            watch.leave(slot);
        }
        if let Some(observer) = &self.observer {
            observer.released(self.since.elapsed());
        }
    }
}

impl std::fmt::Debug for PooledPgConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PooledPgConnection")
            .field("acquired_at", &self.location)
            .field("held_for", &self.since.elapsed())
            .finish_non_exhaustive()
    }
}
