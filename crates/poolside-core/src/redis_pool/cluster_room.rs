//! [`ClusterRoom`]: a bound on the work in flight on one shared cluster connection
//! (`redis.cluster_in_flight`), which keeps the redis crate's cluster client clear of
//! its stall at a slot refresh.
//!
//! That client runs each connection on one task, and a burst of requests spends the
//! task's cooperative budget; a request that then takes a read permit of the slot map
//! yet returns pending, while a MOVED starts a slot refresh, stops the connection for
//! good (ARCHITECTURE.md). A multi-key command counts once per slot it touches, as the
//! client sends it to each slot apart (`multi_slot.rs`).

use std::sync::Arc;
use tokio::sync::{AcquireError, OwnedSemaphorePermit, Semaphore};

/// Places for requests on one cluster connection, one per slot a request touches.
#[derive(Debug)]
pub(super) struct ClusterRoom {
    places: Arc<Semaphore>,
    size: usize,
}

impl ClusterRoom {
    /// `size` places, all free; `None` for 0 (no bound).
    pub(super) fn new(size: u32) -> Option<Self> {
        let size = usize::try_from(size).ok().filter(|&size| size > 0)?;
        Some(Self {
            places: Arc::new(Semaphore::new(size)),
            size,
        })
    }

    /// The places of a request touching `slots` slots (one at least; a request over
    /// more slots than the room has places waits for all of them and runs alone), once
    /// free, first come first served. Never fails: the room is never closed.
    pub(super) fn wait(
        &self,
        slots: u16,
    ) -> impl Future<Output = Result<OwnedSemaphorePermit, AcquireError>> + use<> {
        Arc::clone(&self.places).acquire_many_owned(self.wanted(slots))
    }

    /// The places of a request touching `slots` slots, if free now.
    pub(super) fn try_enter(&self, slots: u16) -> Option<OwnedSemaphorePermit> {
        let places = Arc::clone(&self.places);
        places.try_acquire_many_owned(self.wanted(slots)).ok()
    }

    /// The places a request touching `slots` slots takes: one a slot, at least one,
    /// at most all.
    fn wanted(&self, slots: u16) -> u32 {
        usize::from(slots).clamp(1, self.size) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_request_takes_its_slots_places_or_waits_for_them() {
        assert!(ClusterRoom::new(0).is_none(), "0: no bound");
        let room = ClusterRoom::new(4).expect("a room");
        let all = room.try_enter(1_000);
        assert!(
            all.is_some(),
            "an empty room takes a request over every slot"
        );
        assert!(room.try_enter(1).is_none());
        let waiting = tokio::spawn(room.wait(3));
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "no place free");
        drop(all);
        let three = waiting.await.expect("no panic").expect("3 of 4 freed");
        let one = room.try_enter(1).expect("1 of 1 free");
        assert!(room.try_enter(1).is_none(), "4 places in all");
        drop((three, one));
    }
}
