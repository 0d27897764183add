//! [`DeadlineLayer`]: wraps a service in [`Deadline`].

use std::time::Duration;

use tower::Layer;

use super::Deadline;

/// Bounds every call of the wrapped service by `deadline`.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use poolside_resilience::{DeadlineExceeded, DeadlineLayer};
/// use tower::{Layer, ServiceExt};
///
/// #[derive(Debug, PartialEq)]
/// struct TooLate;
/// impl DeadlineExceeded for TooLate {
///     fn deadline_exceeded(_: Duration) -> Self {
///         TooLate
///     }
/// }
///
/// # tokio::runtime::Runtime::new().expect("runtime").block_on(async {
/// let slow = tower::service_fn(|()| async {
///     tokio::time::sleep(Duration::from_secs(60)).await;
///     Ok::<(), TooLate>(())
/// });
/// let bounded = DeadlineLayer::new(Duration::from_millis(10)).layer(slow);
/// assert_eq!(bounded.oneshot(()).await, Err(TooLate));
/// # });
/// ```
#[derive(Debug, Clone, Copy)]
pub struct DeadlineLayer {
    deadline: Duration,
}

impl DeadlineLayer {
    /// A layer bounding each call by `deadline`.
    pub fn new(deadline: Duration) -> Self {
        Self { deadline }
    }
}

impl<S> Layer<S> for DeadlineLayer {
    type Service = Deadline<S>;

    fn layer(&self, inner: S) -> Deadline<S> {
        Deadline::new(inner, self.deadline)
    }
}
