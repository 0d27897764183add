//! [`CircuitBreakerLayer`]: wraps services in [`CircuitBreakerService`] sharing one
//! breaker.

use tower::Layer;

use super::{CircuitBreaker, CircuitBreakerService};

/// Puts every service it wraps behind the same [`CircuitBreaker`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use poolside_resilience::breaker::{BreakerSettings, CircuitBreaker, CircuitBreakerLayer, CircuitOpen};
/// use poolside_resilience::{Classify, Failure};
/// use tower::{Layer, ServiceExt};
///
/// #[derive(Debug)]
/// enum Error { Down, Open }
/// impl Classify for Error {
///     fn failure(&self) -> Failure { Failure::Retryable }
/// }
/// impl CircuitOpen for Error {
///     fn circuit_open(_: Duration) -> Self { Error::Open }
/// }
///
/// # tokio::runtime::Runtime::new().expect("runtime").block_on(async {
/// let breaker = CircuitBreaker::new(BreakerSettings { min_calls: 1, ..Default::default() });
/// let layer = CircuitBreakerLayer::new(breaker.clone());
/// let down = tower::service_fn(|()| async { Err::<(), _>(Error::Down) });
/// assert!(matches!(layer.layer(down).oneshot(()).await, Err(Error::Down)));
/// let down = tower::service_fn(|()| async { Err::<(), _>(Error::Down) });
/// assert!(matches!(layer.layer(down).oneshot(()).await, Err(Error::Open)), "fails at once");
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct CircuitBreakerLayer {
    breaker: CircuitBreaker,
}

impl CircuitBreakerLayer {
    /// A layer sharing `breaker` among the services it wraps.
    pub fn new(breaker: CircuitBreaker) -> Self {
        Self { breaker }
    }
}

impl<S> Layer<S> for CircuitBreakerLayer {
    type Service = CircuitBreakerService<S>;

    fn layer(&self, inner: S) -> CircuitBreakerService<S> {
        CircuitBreakerService::new(inner, self.breaker.clone())
    }
}
