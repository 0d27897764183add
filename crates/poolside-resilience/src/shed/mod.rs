//! Load shedding: [`LoadShedLayer`] refuses a call at once when too many are in
//! flight already (running, or waiting for a connection below), instead of letting
//! the queue and the latency of everyone grow without bound.

mod future;
mod layer;
mod service;

pub use future::ResponseFuture;
pub use layer::LoadShedLayer;
pub use service::LoadShed;

/// An error that can say "too much work is queued already". `poolside-core`
/// implements it for its errors (kind `Overloaded`).
pub trait Overloaded {
    /// The error for a call refused because `limit` calls are in flight.
    fn overloaded(limit: usize) -> Self;
}
