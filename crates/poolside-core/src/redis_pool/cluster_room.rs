//! [`ClusterRoom`]: a bound on the work in flight on one shared cluster connection
//! (`redis.cluster_in_flight`), which keeps the redis crate's cluster client clear of
//! its stall at a slot refresh.
//!
//! That client runs each connection on one task, and a burst of requests spends the
//! task's cooperative budget; a request that then takes a read permit of the slot map
//! yet returns pending, while a MOVED starts a slot refresh, stops the connection for
//! good (ARCHITECTURE.md). A multi-key command counts once per slot it touches, as the
//! client sends it to each slot apart.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use redis::Arg;
use redis::cluster_routing::Slot;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

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

    /// Waits up to `within` for the places of a request touching `slots` slots (one
    /// at least; a request over more slots than the room has places waits for all of
    /// them and runs alone); `None` when that passed first.
    pub(super) async fn enter(&self, slots: u16, within: Duration) -> Option<OwnedSemaphorePermit> {
        if let Some(permit) = self.try_enter(slots) {
            return Some(permit);
        }
        let room = Arc::clone(&self.places).acquire_many_owned(self.wanted(slots));
        match tokio::time::timeout(within, room).await {
            Ok(Ok(permit)) => Some(permit),
            // Never closed; a timeout is the only way out.
            Ok(Err(_)) | Err(_) => None,
        }
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

/// The multi-key commands the cluster client splits by slot (its own list), with
/// where their keys sit among the arguments after the name: every `step`-th from the
/// first, all but the last `trailing`.
const SPLIT_BY_SLOT: [(&[u8], usize, usize); 9] = [
    (b"MGET", 1, 0),
    (b"DEL", 1, 0),
    (b"EXISTS", 1, 0),
    (b"UNLINK", 1, 0),
    (b"TOUCH", 1, 0),
    (b"WATCH", 1, 0),
    (b"MSET", 2, 0),
    (b"JSON.MGET", 1, 1),
    (b"JSON.MSET", 3, 0),
];

/// How many slots `cmd` touches as the cluster client sends it: one per slot of its
/// keys for a command of [`SPLIT_BY_SLOT`], one for any other.
pub(super) fn slots_of(cmd: &redis::Cmd) -> u16 {
    let mut args = cmd.args_iter().map(|arg| match arg {
        Arg::Simple(bytes) => bytes,
        _ => &[],
    });
    let Some(name) = args.next() else {
        return 1;
    };
    let Some(&(_, step, trailing)) = SPLIT_BY_SLOT
        .iter()
        .find(|(split, _, _)| split.eq_ignore_ascii_case(name))
    else {
        return 1;
    };
    let rest: Vec<&[u8]> = args.collect();
    let keys = &rest[..rest.len().saturating_sub(trailing)];
    let slots: HashSet<Slot> = keys.iter().step_by(step).map(Slot::for_key).collect();
    // At most 16,384 slots.
    u16::try_from(slots.len()).unwrap_or(u16::MAX).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_multi_key_command_counts_each_slot_once() {
        assert_eq!(slots_of(redis::cmd("GET").arg("a")), 1);
        assert_eq!(slots_of(&redis::cmd("PING")), 1);
        assert_eq!(slots_of(&redis::cmd("MGET")), 1);
        // {tag} keys share a slot: one sub-command, one place.
        assert_eq!(
            slots_of(redis::cmd("MGET").arg(&["{t}a", "{t}b", "{t}c"])),
            1
        );
        let keys: Vec<String> = (0..40).map(|i| format!("key:{i}")).collect();
        let slots: HashSet<_> = keys.iter().map(Slot::for_key).collect();
        assert!(slots.len() > 30, "40 keys over {} slots", slots.len());
        assert_eq!(
            usize::from(slots_of(redis::cmd("MGET").arg(&keys))),
            slots.len()
        );
        assert_eq!(
            usize::from(slots_of(redis::cmd("unlink").arg(&keys))),
            slots.len()
        );
        // MSET's values and JSON.MGET's path are not keys; SET touches its key alone.
        let pairs: Vec<(&str, &str)> = keys.iter().map(|k| (k.as_str(), "{t}v")).collect();
        assert_eq!(
            usize::from(slots_of(redis::cmd("MSET").arg(&pairs))),
            slots.len()
        );
        let json = redis::cmd("JSON.MGET")
            .arg(&["{t}a", "{t}b"])
            .arg("$.x")
            .clone();
        assert_eq!(slots_of(&json), 1);
        assert_eq!(slots_of(redis::cmd("SET").arg("a").arg("b")), 1);
    }

    #[tokio::test]
    async fn a_request_waits_for_room_and_gives_up_after_its_time() {
        assert!(ClusterRoom::new(0).is_none(), "0: no bound");
        let room = ClusterRoom::new(4).expect("a room");
        let all = room.enter(1_000, Duration::from_millis(10)).await;
        assert!(
            all.is_some(),
            "an empty room takes a request over every slot"
        );
        let began = tokio::time::Instant::now();
        assert!(room.enter(1, Duration::from_millis(50)).await.is_none());
        assert!(began.elapsed() >= Duration::from_millis(50));
        drop(all);
        let three = room.enter(3, Duration::ZERO).await.expect("3 of 4 free");
        let one = room.enter(1, Duration::ZERO).await.expect("1 of 1 free");
        assert!(
            room.enter(1, Duration::ZERO).await.is_none(),
            "4 places in all"
        );
        drop((three, one));
    }
}
