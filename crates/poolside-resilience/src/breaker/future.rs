//! [`ResponseFuture`]: the future of a [`CircuitBreakerService`](super::CircuitBreakerService) call.

use std::future::Future;
use std::pin::Pin;

/// The inner call's response, counted by the breaker; or its error at once while open.
pub type ResponseFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;
