//! [`CircuitBreakerService`]: the service behind a breaker.

use std::task::{Context, Poll};

use tower::Service;

use super::{CircuitBreaker, CircuitOpen, ResponseFuture};
use crate::Classify;

/// Calls the inner service when the breaker admits the call, and tells the breaker
/// how it went.
#[derive(Debug, Clone)]
pub struct CircuitBreakerService<S> {
    inner: S,
    breaker: CircuitBreaker,
}

impl<S> CircuitBreakerService<S> {
    /// `inner` behind `breaker`.
    pub fn new(inner: S, breaker: CircuitBreaker) -> Self {
        Self { inner, breaker }
    }
}

impl<S, Req> Service<Req> for CircuitBreakerService<S>
where
    S: Service<Req>,
    S::Error: Classify + CircuitOpen,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        match self.breaker.admit() {
            Ok(permit) => ResponseFuture::admitted(self.inner.call(request), permit),
            Err(retry_in) => ResponseFuture::refused(S::Error::circuit_open(retry_in)),
        }
    }
}
