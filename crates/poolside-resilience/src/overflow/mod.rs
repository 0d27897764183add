//! Overflow (the first meaning of failover): [`OverflowLayer`] sends operations marked
//! critical to a secondary service (a pool of its own size) while the primary is at or
//! above a utilization threshold or unhealthy, and hands them back once the primary is
//! below the threshold by a margin, so that it does not flap. Other operations always
//! go to the primary.

mod future;
mod layer;
mod service;
mod switch;

pub use future::ResponseFuture;
pub use layer::OverflowLayer;
pub use service::Overflow;
pub use switch::{OverflowSwitch, PrimaryLoad};

/// The field of the current `tracing` span set to `true` when a request goes to the
/// secondary (an operation span that declares it, such as poolside-metrics'
/// `TraceLayer`'s; recording into any other span does nothing).
pub const SPAN_FIELD: &str = "poolside.overflow";

/// A request that says whether it is critical (may overflow to the secondary).
pub trait Critical {
    /// Whether this operation may use the secondary when the primary is busy.
    fn is_critical(&self) -> bool;
}
