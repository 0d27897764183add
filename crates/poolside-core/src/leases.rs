//! [`Leases`]: a few connections leased from a pool and shared by every caller, in
//! slots taken round robin, but for one held up behind a slow request
//! (`answer_progress.rs`). The PostgreSQL pipeline and read connections and the Redis
//! pool's multiplexed connection are built on it.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use parking_lot::Mutex;

/// Slots, each empty or holding one leased connection (`T` holds the pool's checkout,
/// so dropping the last handle gives it back).
#[derive(Debug)]
pub(crate) struct Leases<T> {
    slots: Vec<Mutex<Option<Arc<T>>>>,
    /// Serialises leasing, so that a burst of callers leases one connection per slot.
    leasing: tokio::sync::Mutex<()>,
    next: AtomicUsize,
}

impl<T> Leases<T> {
    /// `slots` empty slots (at least one).
    pub(crate) fn new(slots: usize) -> Self {
        Self {
            slots: (0..slots.max(1)).map(|_| Mutex::new(None)).collect(),
            leasing: tokio::sync::Mutex::new(()),
            next: AtomicUsize::new(0),
        }
    }

    /// The connection in the next slot, when `live` says it still serves; otherwise
    /// (the slot empty, or its connection dead and so dropped from it) one leased by
    /// `lease`, unless another caller leased one for that slot first. A live one that
    /// `held_up` says waits behind a slow request is passed for the next slot's, when
    /// that one is live and not held up (`answer_progress.rs`).
    pub(crate) async fn pick<E, Fut>(
        &self,
        live: impl Fn(&T) -> bool,
        held_up: impl Fn(&T) -> bool,
        lease: impl FnOnce() -> Fut,
    ) -> Result<Arc<T>, E>
    where
        Fut: Future<Output = Result<T, E>>,
    {
        // One slot (the Redis pool's) takes no turn: no shared counter to contend on.
        let index = match self.slots.len() {
            1 => 0,
            n => self.next.fetch_add(1, Ordering::Relaxed) % n,
        };
        if self.slots.len() > 1
            && let Some(leased) = live_in(&self.slots[index], &live)
        {
            if !held_up(&leased) {
                return Ok(leased);
            }
            let after = &self.slots[(index + 1) % self.slots.len()];
            return Ok(live_in(after, &live)
                .filter(|other| !held_up(other))
                .unwrap_or(leased));
        }
        self.pick_at(index, live, lease).await
    }

    /// How many slots there are.
    #[cfg(feature = "redis")]
    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    /// As [`pick`](Self::pick), in slot `index` (below [`len`](Self::len)) rather
    /// than the next in turn.
    pub(crate) async fn pick_at<E, Fut>(
        &self,
        index: usize,
        live: impl Fn(&T) -> bool,
        lease: impl FnOnce() -> Fut,
    ) -> Result<Arc<T>, E>
    where
        Fut: Future<Output = Result<T, E>>,
    {
        let slot = &self.slots[index];
        match live_in(slot, &live) {
            Some(leased) => Ok(leased),
            // Boxed: a checkout's state would otherwise make every caller's future as
            // large as its own.
            None => Box::pin(self.lease_into(slot, &live, lease)).await,
        }
    }

    /// Leases a connection for `slot`, unless another caller did first.
    async fn lease_into<E, Fut>(
        &self,
        slot: &Mutex<Option<Arc<T>>>,
        live: &impl Fn(&T) -> bool,
        lease: impl FnOnce() -> Fut,
    ) -> Result<Arc<T>, E>
    where
        Fut: Future<Output = Result<T, E>>,
    {
        let _leasing = self.leasing.lock().await;
        if let Some(leased) = live_in(slot, live) {
            return Ok(leased);
        }
        let leased = Arc::new(lease().await?);
        *slot.lock() = Some(Arc::clone(&leased));
        Ok(leased)
    }

    /// Takes `leased` out of its slot (unless replaced already): new callers lease
    /// another, and it goes back to the pool once its last caller lets go.
    pub(crate) fn evict(&self, leased: &Arc<T>) {
        evict_from(&self.slots, leased);
    }

    /// As [`evict`](Self::evict), but never from the first slot.
    #[cfg(feature = "redis")]
    pub(crate) fn evict_past_first(&self, leased: &Arc<T>) {
        evict_from(&self.slots[1..], leased);
    }

    /// Whether slot `index` holds a connection now.
    #[cfg(feature = "redis")]
    pub(crate) fn holds(&self, index: usize) -> bool {
        self.slots[index].lock().is_some()
    }

    /// How many slots hold a connection now.
    pub(crate) fn leased(&self) -> u32 {
        let held = self.slots.iter().filter(|slot| slot.lock().is_some());
        held.count() as u32
    }

    /// Empties every slot: each connection goes back once its callers finish.
    pub(crate) fn release_all(&self) {
        for slot in &self.slots {
            slot.lock().take();
        }
    }
}

/// Takes `leased` out of whichever of `slots` holds it.
fn evict_from<T>(slots: &[Mutex<Option<Arc<T>>>], leased: &Arc<T>) {
    for slot in slots {
        let mut slot = slot.lock();
        if slot.as_ref().is_some_and(|held| Arc::ptr_eq(held, leased)) {
            slot.take();
        }
    }
}

/// The slot's connection when `live` says it serves; a dead one is dropped from it.
fn live_in<T>(slot: &Mutex<Option<Arc<T>>>, live: &impl Fn(&T) -> bool) -> Option<Arc<T>> {
    let mut slot = slot.lock();
    match slot.as_ref() {
        Some(leased) if live(leased) => Some(Arc::clone(leased)),
        Some(_) => {
            slot.take();
            None
        }
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn leases_once_per_slot_and_again_after_eviction() {
        let leases = Leases::new(2);
        let mut leased = 0;
        let lease = |n: &mut i32| {
            *n += 1;
            let id = *n;
            async move { Ok::<_, ()>(id) }
        };
        let first = leases
            .pick(|_| true, |_| false, || lease(&mut leased))
            .await;
        let second = leases
            .pick(|_| true, |_| false, || lease(&mut leased))
            .await;
        let again = leases
            .pick(|_| true, |_| false, || lease(&mut leased))
            .await;
        assert_eq!((*first.expect("leased"), *second.expect("leased")), (1, 2));
        let again = again.expect("picked");
        assert_eq!((*again, leases.leased()), (1, 2), "slot 0 is reused");

        leases.evict(&again);
        assert_eq!(leases.leased(), 1);
        let kept = leases
            .pick(|_| true, |_| false, || lease(&mut leased))
            .await;
        let fresh = leases
            .pick(|_| true, |_| false, || lease(&mut leased))
            .await;
        assert_eq!(*kept.expect("picked"), 2, "slot 1 still serves");
        assert_eq!(*fresh.expect("leased"), 3, "the evicted slot 0 leases anew");

        let dead = leases
            .pick(|_| false, |_| false, || lease(&mut leased))
            .await;
        assert_eq!(*dead.expect("leased"), 4, "a dead connection is replaced");
        leases.release_all();
        assert_eq!(leases.leased(), 0);
    }

    #[cfg(feature = "redis")]
    #[tokio::test]
    async fn evicting_past_the_first_slot_spares_the_first() {
        let leases = Leases::new(2);
        let first = leases
            .pick_at(0, |_| true, || async { Ok::<_, ()>(1) })
            .await;
        let second = leases
            .pick_at(1, |_| true, || async { Ok::<_, ()>(2) })
            .await;
        let (first, second) = (first.expect("leased"), second.expect("leased"));
        leases.evict_past_first(&first);
        assert_eq!(leases.leased(), 2, "the first slot's is kept");
        leases.evict_past_first(&second);
        assert!(leases.holds(0) && !leases.holds(1));
    }

    #[tokio::test]
    async fn a_failed_lease_leaves_the_slot_empty() {
        let leases: Leases<u8> = Leases::new(1);
        let failed = leases
            .pick(|_| true, |_| false, || async { Err("refused") })
            .await;
        assert_eq!(failed.expect_err("the lease failed"), "refused");
        assert_eq!(leases.leased(), 0);
    }
}
