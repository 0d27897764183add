//! [`OverflowLayer`]: wraps a primary service in [`Overflow`] with a secondary.

use std::sync::Arc;

use tower::Layer;

use super::{Overflow, OverflowSwitch, PrimaryLoad};

/// Puts `secondary` beside every primary service it wraps; `load` reads the
/// primary's load for each critical operation.
///
/// # Examples
///
/// ```
/// use poolside_resilience::overflow::{Critical, OverflowLayer, OverflowSwitch, PrimaryLoad};
/// use tower::{Layer, ServiceExt};
///
/// struct Op(bool);
/// impl Critical for Op {
///     fn is_critical(&self) -> bool { self.0 }
/// }
///
/// # tokio::runtime::Runtime::new().expect("runtime").block_on(async {
/// let primary = tower::service_fn(|_: Op| async { Ok::<_, std::convert::Infallible>("primary") });
/// let secondary = tower::service_fn(|_: Op| async { Ok::<_, std::convert::Infallible>("secondary") });
/// let full = || PrimaryLoad { utilization_percent: 100.0, healthy: true };
/// let layer = OverflowLayer::new(secondary, full, OverflowSwitch::new(80, 10));
/// assert_eq!(layer.layer(primary).oneshot(Op(true)).await, Ok("secondary"));
/// let primary = tower::service_fn(|_: Op| async { Ok::<_, std::convert::Infallible>("primary") });
/// assert_eq!(layer.layer(primary).oneshot(Op(false)).await, Ok("primary"), "not critical");
/// # });
/// ```
#[derive(Clone)]
pub struct OverflowLayer<T> {
    secondary: T,
    load: Arc<dyn Fn() -> PrimaryLoad + Send + Sync>,
    switch: OverflowSwitch,
}

impl<T: std::fmt::Debug> std::fmt::Debug for OverflowLayer<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OverflowLayer")
            .field("secondary", &self.secondary)
            .field("switch", &self.switch)
            .finish_non_exhaustive()
    }
}

impl<T> OverflowLayer<T> {
    /// A layer overflowing to `secondary` as `switch` decides from `load`.
    pub fn new(
        secondary: T,
        load: impl Fn() -> PrimaryLoad + Send + Sync + 'static,
        switch: OverflowSwitch,
    ) -> Self {
        Self {
            secondary,
            load: Arc::new(load),
            switch,
        }
    }
}

impl<S, T: Clone> Layer<S> for OverflowLayer<T> {
    type Service = Overflow<S, T>;

    fn layer(&self, primary: S) -> Overflow<S, T> {
        Overflow::new(
            primary,
            self.secondary.clone(),
            Arc::clone(&self.load),
            self.switch.clone(),
        )
    }
}
