//! [`Retry`]: the service that tries a request again as its policy allows.

use std::sync::Arc;
use std::task::{Context, Poll};

use tower::Service;

use super::{ResponseFuture, RetryPolicy};
use crate::Classify;

/// Calls the inner service, and on a failure the policy allows retrying, waits the
/// backoff and calls it again with a clone of the request.
#[derive(Debug, Clone)]
pub struct Retry<S> {
    inner: S,
    policy: Arc<RetryPolicy>,
}

impl<S> Retry<S> {
    /// `inner` retried as `policy` says.
    pub fn new(inner: S, policy: Arc<RetryPolicy>) -> Self {
        Self { inner, policy }
    }
}

impl<S, Req> Service<Req> for Retry<S>
where
    S: Service<Req> + Clone,
    S::Error: Classify,
    Req: Clone,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S, Req>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        // The service that was polled ready goes with this call; a clone stays.
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        ResponseFuture::new(request, inner, Arc::clone(&self.policy))
    }
}
