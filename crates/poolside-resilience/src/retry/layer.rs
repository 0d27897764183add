//! [`RetryLayer`]: wraps a service in [`Retry`].

use std::sync::Arc;

use tower::Layer;

use super::{Retry, RetryPolicy};

/// Applies a [`RetryPolicy`] to a service; every service it wraps shares the policy's
/// budget.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use poolside_resilience::retry::{Jitter, RetryLayer, RetryPolicy};
/// use poolside_resilience::{Backoff, RetryBudget};
/// use tower::Layer;
///
/// let budget = RetryBudget::new(Duration::from_secs(10), 10, 20.0).expect("valid");
/// let backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(2), Jitter::Full);
/// let layer = RetryLayer::new(RetryPolicy::new(3, backoff, Duration::from_secs(10), budget));
/// let service = layer.layer(tower::service_fn(|n: u32| async move {
///     Ok::<u32, std::convert::Infallible>(n + 1)
/// }));
/// # let _ = service;
/// ```
#[derive(Debug, Clone)]
pub struct RetryLayer {
    policy: Arc<RetryPolicy>,
}

impl RetryLayer {
    /// A layer applying `policy`.
    pub fn new(policy: RetryPolicy) -> Self {
        Self {
            policy: Arc::new(policy),
        }
    }
}

impl<S> Layer<S> for RetryLayer {
    type Service = Retry<S>;

    fn layer(&self, inner: S) -> Retry<S> {
        Retry::new(inner, Arc::clone(&self.policy))
    }
}
