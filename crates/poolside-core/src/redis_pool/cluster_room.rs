//! [`ClusterRoom`]: a bound on the requests in flight on one shared cluster connection
//! (`redis.cluster_in_flight`), which keeps the redis crate's cluster client clear of
//! its stall at a slot refresh.
//!
//! That client runs each connection on one task, and a burst of requests spends the
//! task's cooperative budget; a request that then takes a read permit of the slot map
//! yet returns pending, while a MOVED starts a slot refresh, stops the connection for
//! good (ARCHITECTURE.md). A request takes a place for each slot it reaches: one, but
//! for a chunk of an `MGET` that the client splits by slot itself (`multi_slot.rs`).

use std::sync::Arc;

use tokio::sync::{AcquireError, OwnedSemaphorePermit, Semaphore};

/// Places for requests on one cluster connection, one a slot a request reaches.
#[derive(Debug)]
pub(super) struct ClusterRoom {
    places: Arc<Semaphore>,
    size: u32,
}

impl ClusterRoom {
    /// `size` places, all free; `None` for 0 (no bound).
    pub(super) fn new(size: u32) -> Option<Self> {
        let places = usize::try_from(size).ok().filter(|&places| places > 0)?;
        Some(Self {
            places: Arc::new(Semaphore::new(places)),
            size,
        })
    }

    /// The places of a request reaching `slots` slots (at least one, at most all), if
    /// free now.
    pub(super) fn try_enter(&self, slots: u16) -> Option<OwnedSemaphorePermit> {
        Arc::clone(&self.places)
            .try_acquire_many_owned(self.wanted(slots))
            .ok()
    }

    /// The places of a request reaching `slots` slots once they are free, first come
    /// first served. Never fails: the room is never closed.
    pub(super) fn wait(
        &self,
        slots: u16,
    ) -> impl Future<Output = Result<OwnedSemaphorePermit, AcquireError>> + use<> {
        Arc::clone(&self.places).acquire_many_owned(self.wanted(slots))
    }

    /// Whether no request holds a place.
    pub(super) fn is_empty(&self) -> bool {
        self.places.available_permits() == self.size as usize
    }

    fn wanted(&self, slots: u16) -> u32 {
        u32::from(slots).clamp(1, self.size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_request_takes_a_place_a_slot_or_waits_for_them() {
        assert!(ClusterRoom::new(0).is_none(), "0: no bound");
        let room = ClusterRoom::new(4).expect("a room");
        assert!(room.is_empty());
        let all = room
            .try_enter(1_000)
            .expect("an empty room takes any request");
        assert!(!room.is_empty());
        assert!(room.try_enter(1).is_none(), "4 places in all, all taken");
        drop(all);
        let three = room.try_enter(3).expect("3 of 4 free");
        let one = room
            .try_enter(0)
            .expect("a request takes one place at least");
        let waiting = tokio::spawn(room.wait(2));
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "no place free");
        drop(one);
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "1 of the 2 wanted free");
        drop(three);
        let two = waiting.await.expect("no panic").expect("2 freed");
        assert!(room.try_enter(3).is_none() && room.try_enter(2).is_some());
        drop(two);
    }
}
