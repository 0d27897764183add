//! [`ClusterRoom`]: a bound on the requests in flight on one shared cluster connection
//! (`redis.cluster_in_flight`), which keeps the redis crate's cluster client clear of
//! its stall at a slot refresh.
//!
//! That client runs each connection on one task, and a burst of requests spends the
//! task's cooperative budget; a request that then takes a read permit of the slot map
//! yet returns pending, while a MOVED starts a slot refresh, stops the connection for
//! good (ARCHITECTURE.md). Every request on a shared cluster connection is of one slot
//! (the pool splits the others, `multi_slot.rs`), one request to one node.

use std::sync::Arc;

use tokio::sync::{AcquireError, OwnedSemaphorePermit, Semaphore};

/// Places for requests on one cluster connection, one a request.
#[derive(Debug)]
pub(super) struct ClusterRoom {
    places: Arc<Semaphore>,
}

impl ClusterRoom {
    /// `size` places, all free; `None` for 0 (no bound).
    pub(super) fn new(size: u32) -> Option<Self> {
        let size = usize::try_from(size).ok().filter(|&size| size > 0)?;
        Some(Self {
            places: Arc::new(Semaphore::new(size)),
        })
    }

    /// A place, if one is free now.
    pub(super) fn try_enter(&self) -> Option<OwnedSemaphorePermit> {
        Arc::clone(&self.places).try_acquire_owned().ok()
    }

    /// A place once one is free, first come first served. Never fails: the room is
    /// never closed.
    pub(super) fn wait(
        &self,
    ) -> impl Future<Output = Result<OwnedSemaphorePermit, AcquireError>> + use<> {
        Arc::clone(&self.places).acquire_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_request_takes_a_place_or_waits_for_one() {
        assert!(ClusterRoom::new(0).is_none(), "0: no bound");
        let room = ClusterRoom::new(2).expect("a room");
        let first = room.try_enter().expect("2 free");
        let second = room.try_enter().expect("1 free");
        assert!(room.try_enter().is_none(), "2 places in all");
        let waiting = tokio::spawn(room.wait());
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "no place free");
        drop(first);
        let third = waiting.await.expect("no panic").expect("a place freed");
        assert!(room.try_enter().is_none());
        drop((second, third));
        assert!(room.try_enter().is_some());
    }
}
