//! [`CircuitBreakerService`]: the service behind a breaker.

use std::task::{Context, Poll};

use tower::Service;

use super::{CallOutcome, CircuitBreaker, CircuitOpen, ResponseFuture};
use crate::{Classify, Failure};

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
    S::Future: Send + 'static,
    S::Response: Send + 'static,
    S::Error: Classify + CircuitOpen + Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Response, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        let permit = match self.breaker.admit() {
            Ok(permit) => permit,
            Err(retry_in) => {
                return Box::pin(std::future::ready(Err(S::Error::circuit_open(retry_in))));
            }
        };
        let call = self.inner.call(request);
        Box::pin(async move {
            let result = call.await;
            let outcome = match &result {
                Err(error) if error.failure() != Failure::Permanent => CallOutcome::Failed,
                _ => CallOutcome::Answered,
            };
            permit.record(outcome);
            result
        })
    }
}
