//! [`CacheStats`]: the cache's counts.

/// The cache's counts since start.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize)]
#[non_exhaustive]
pub struct CacheStats {
    /// Reads that found a value.
    pub hits: u64,
    /// Reads that found none (or found Redis unavailable, in miss mode).
    pub misses: u64,
    /// Values written.
    pub sets: u64,
    /// Keys deleted.
    pub deletes: u64,
    /// Operations that failed.
    pub errors: u64,
}

impl CacheStats {
    /// `hits / (hits + misses)`, in percent; 0 before any read.
    pub fn hit_rate_percent(&self) -> f64 {
        let reads = self.hits + self.misses;
        if reads == 0 {
            0.0
        } else {
            self.hits as f64 * 100.0 / reads as f64
        }
    }
}

/// Several caches' counts as one (one per core's runtime, say): each count added.
impl std::iter::Sum for CacheStats {
    fn sum<I: Iterator<Item = CacheStats>>(caches: I) -> Self {
        caches.fold(CacheStats::default(), |sum, cache| CacheStats {
            hits: sum.hits + cache.hits,
            misses: sum.misses + cache.misses,
            sets: sum.sets + cache.sets,
            deletes: sum.deletes + cache.deletes,
            errors: sum.errors + cache.errors,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::CacheStats;

    #[test]
    fn caches_sum_count_by_count() {
        let one = CacheStats {
            hits: 3,
            misses: 1,
            sets: 2,
            deletes: 0,
            errors: 1,
        };
        let sum: CacheStats = [one, one].into_iter().sum();
        assert_eq!((sum.hits, sum.misses, sum.sets, sum.errors), (6, 2, 4, 2));
        assert_eq!(sum.hit_rate_percent(), 75.0);
    }
}
