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
