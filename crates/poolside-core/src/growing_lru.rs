//! [`growing_lru`]: a least-recently-used cache bounded at a capacity, that allocates
//! as it fills. `lru::LruCache::new` allocates room for its whole capacity at once:
//! with `postgres.statement_cache_size = 4294967295` every connection asked for a
//! table of 146 GB, and the process aborted.

use std::hash::Hash;
use std::num::NonZeroUsize;

use lru::LruCache;

/// An empty cache that holds at most `capacity` entries, the least recently used
/// evicted first, and takes memory only for the entries it holds.
pub(crate) fn growing_lru<K: Hash + Eq, V>(capacity: NonZeroUsize) -> LruCache<K, V> {
    let mut cache = LruCache::unbounded();
    // Emptied down to `capacity` (nothing, here) and bounded by it; no allocation.
    cache.resize(capacity);
    cache
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_evicts_at_its_capacity_and_allocates_as_it_fills() {
        let mut cache = growing_lru(NonZeroUsize::new(2).expect("non-zero"));
        for key in 0..3 {
            cache.put(key, key);
        }
        assert_eq!(cache.len(), 2);
        assert!(
            cache.get(&0).is_none(),
            "the least recently used went first"
        );
        // A capacity no memory holds costs nothing until it fills.
        let mut huge: LruCache<u64, u64> = growing_lru(NonZeroUsize::MAX);
        assert_eq!(huge.cap(), NonZeroUsize::MAX);
        huge.put(1, 1);
        assert_eq!(huge.get(&1), Some(&1));
    }
}
