//! [`LoadShedLayer`]: wraps services in [`LoadShed`] sharing one count of calls in flight.

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;

use tower::Layer;

use super::LoadShed;

/// Refuses calls beyond `limit` in flight, counted over every service it wraps. For a
/// pool, `limit` is its size plus the waiters it may queue.
///
/// # Examples
///
/// ```
/// use poolside_resilience::shed::{LoadShedLayer, Overloaded};
/// use tower::{Layer, ServiceExt};
///
/// #[derive(Debug)]
/// struct Busy;
/// impl Overloaded for Busy {
///     fn overloaded(_: usize) -> Self { Busy }
/// }
///
/// # tokio::runtime::Runtime::new().expect("runtime").block_on(async {
/// let layer = LoadShedLayer::new(100);
/// let service = layer.layer(tower::service_fn(|n: u32| async move { Ok::<_, Busy>(n) }));
/// assert_eq!(service.oneshot(7).await.expect("under the limit"), 7);
/// assert_eq!(layer.in_flight(), 0);
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct LoadShedLayer {
    limit: usize,
    in_flight: Arc<AtomicUsize>,
}

impl LoadShedLayer {
    /// A layer admitting at most `limit` calls at once (at least one).
    pub fn new(limit: usize) -> Self {
        Self {
            limit: limit.max(1),
            in_flight: Arc::default(),
        }
    }

    /// Calls admitted at once.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Calls in flight now, over every service this layer wrapped.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl<S> Layer<S> for LoadShedLayer {
    type Service = LoadShed<S>;

    fn layer(&self, inner: S) -> LoadShed<S> {
        LoadShed::new(inner, self.limit, Arc::clone(&self.in_flight))
    }
}
