//! What [`Health`] passes on from the metrics side: the exporter's Prometheus text for
//! `/metrics`, and the pool report for the status screen and the detailed view.

use poolside_metrics::{Exporter, PoolReport};

use crate::health::Health;

impl Health {
    /// The exporter's Prometheus text (`None` without an exporter).
    pub fn metrics_text(&self) -> Option<String> {
        self.inner.exporter.as_ref().map(Exporter::render)
    }

    /// The pools and their recent operations, for the status screen and logs.
    pub fn pool_report(&self) -> PoolReport {
        let inner = &*self.inner;
        PoolReport::read(
            inner.postgres.as_ref(),
            #[cfg(feature = "redis")]
            inner.redis.as_ref(),
            #[cfg(feature = "redis")]
            inner.cache.as_ref(),
            inner.operations.as_deref(),
        )
    }
}
