//! [`LeakWatch`]: reports connections held longer than the leak detection threshold.
//!
//! NOTE: one timer task per checkout looked simplest, but measured here it made the
//! exclusive path stall: about 150k timers set and aborted a second through tokio's
//! time driver gave single statements tails of 0.9-2.6 s that vanished with detection
//! off. So, as HikariCP does it: each checkout takes a slot in a registry (a short
//! lock), and one sweeper task per pool reports the slots held too long.

use std::panic::Location;
use std::sync::{Arc, Weak};

use parking_lot::Mutex;
use std::time::{Duration, Instant};

use super::stats::Counters;

/// One connection out of the pool, watched.
#[derive(Debug)]
struct Entry {
    since: Instant,
    location: &'static Location<'static>,
    reported: bool,
}

/// The slots, reused through a free list.
#[derive(Debug, Default)]
struct Slots {
    entries: Vec<Option<Entry>>,
    free: Vec<usize>,
}

/// The registry of connections out of one pool, and its threshold.
#[derive(Debug)]
pub(crate) struct LeakWatch {
    threshold: Duration,
    slots: Mutex<Slots>,
    counters: Arc<Counters>,
}

impl LeakWatch {
    /// A watch reporting connections held past `threshold`, with its sweeper task
    /// (which ends when the watch is dropped). Must run inside a Tokio runtime.
    pub(crate) fn start(threshold: Duration, counters: Arc<Counters>) -> Arc<Self> {
        let watch = Arc::new(Self {
            threshold,
            slots: Mutex::default(),
            counters,
        });
        let weak: Weak<Self> = Arc::downgrade(&watch);
        let period = (threshold / 4).clamp(Duration::from_millis(100), Duration::from_secs(1));
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(period);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                match weak.upgrade() {
                    Some(watch) => watch.sweep(),
                    None => return,
                }
            }
        });
        watch
    }

    fn slots(&self) -> parking_lot::MutexGuard<'_, Slots> {
        self.slots.lock()
    }

    /// Registers a checkout at `location`; returns its slot.
    pub(crate) fn enter(&self, location: &'static Location<'static>) -> usize {
        let entry = Some(Entry {
            since: Instant::now(),
            location,
            reported: false,
        });
        let mut slots = self.slots();
        match slots.free.pop() {
            Some(slot) => {
                slots.entries[slot] = entry;
                slot
            }
            None => {
                slots.entries.push(entry);
                slots.entries.len() - 1
            }
        }
    }

    /// The connection of `slot` came back.
    pub(crate) fn leave(&self, slot: usize) {
        let mut slots = self.slots();
        if let Some(entry) = slots.entries.get_mut(slot) {
            *entry = None;
            slots.free.push(slot);
        }
    }

    /// Reports, once each, the connections held past the threshold.
    fn sweep(&self) {
        let mut leaks = Vec::new();
        for entry in self.slots().entries.iter_mut().flatten() {
            let held = entry.since.elapsed();
            if !entry.reported && held >= self.threshold {
                entry.reported = true;
                leaks.push((entry.location, held));
            }
        }
        for (location, held) in leaks {
            self.counters.leaked();
            tracing::warn!(
                target: "poolside::pg",
                acquired_at = %location,
                held_for = ?held,
                "possible connection leak: a connection acquired at {location} is still held after {held:?}"
            );
        }
    }
}
