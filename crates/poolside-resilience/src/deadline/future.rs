//! [`ResponseFuture`]: the future of a [`Deadline`](super::Deadline) call.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::time::Timeout;

use super::DeadlineExceeded;

pin_project! {
    /// The inner call, or the deadline's error once it passes (the inner future is
    /// then dropped, which stops its work). Not boxed: it costs no allocation.
    #[derive(Debug)]
    pub struct ResponseFuture<F> {
        #[pin]
        inner: Timeout<F>,
        deadline: Duration,
    }
}

impl<F: Future> ResponseFuture<F> {
    pub(super) fn new(inner: F, deadline: Duration) -> Self {
        Self {
            inner: tokio::time::timeout(deadline, inner),
            deadline,
        }
    }
}

impl<F, T, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<T, E>>,
    E: DeadlineExceeded,
{
    type Output = Result<T, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        match this.inner.poll(cx) {
            Poll::Ready(Ok(result)) => Poll::Ready(result),
            Poll::Ready(Err(_elapsed)) => Poll::Ready(Err(E::deadline_exceeded(*this.deadline))),
            Poll::Pending => Poll::Pending,
        }
    }
}
