//! [`Deadline`]: the service whose calls end at their deadline.

use std::task::{Context, Poll};
use std::time::Duration;

use tower::Service;

use super::{DeadlineExceeded, ResponseFuture};

/// Calls the inner service, bounded by one deadline per call.
#[derive(Debug, Clone)]
pub struct Deadline<S> {
    inner: S,
    deadline: Duration,
}

impl<S> Deadline<S> {
    /// `inner` with each call bounded by `deadline`.
    pub fn new(inner: S, deadline: Duration) -> Self {
        Self { inner, deadline }
    }
}

impl<S, Req> Service<Req> for Deadline<S>
where
    S: Service<Req>,
    S::Error: DeadlineExceeded,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        ResponseFuture::new(self.inner.call(request), self.deadline)
    }
}
