//! [`CountGuard`]: a count of things in progress (waiting checkouts, commands in
//! flight) that goes up when the guard is made and down when it drops, however the
//! work ends: finished, failed, or its future dropped.

use std::sync::atomic::{AtomicU64, Ordering};

/// Holds one unit of `count` until dropped.
#[derive(Debug)]
pub(crate) struct CountGuard<'a> {
    count: &'a AtomicU64,
    // Read by the Redis pool's queue cap only.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    on_entry: u64,
}

impl<'a> CountGuard<'a> {
    /// Adds one to `count`; the guard takes it off again when dropped.
    pub(crate) fn enter(count: &'a AtomicU64) -> Self {
        let on_entry = count.fetch_add(1, Ordering::Relaxed) + 1;
        Self { count, on_entry }
    }

    /// The count right after this guard entered, itself included.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn on_entry(&self) -> u64 {
        self.on_entry
    }
}

impl Drop for CountGuard<'_> {
    fn drop(&mut self) {
        self.count.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_count_goes_back_down_when_the_guard_drops() {
        let count = AtomicU64::new(0);
        let first = CountGuard::enter(&count);
        let second = CountGuard::enter(&count);
        assert_eq!((first.on_entry(), second.on_entry()), (1, 2));
        assert_eq!(count.load(Ordering::Relaxed), 2);
        drop(first);
        drop(second);
        assert_eq!(count.load(Ordering::Relaxed), 0);
    }
}
