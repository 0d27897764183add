//! [`ResponseFuture`]: the future of a [`Deadline`](super::Deadline) call.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::Timeout;

use super::DeadlineExceeded;

/// The inner call, or the deadline's error once it passes (the inner future is then
/// dropped, which stops its work).
#[derive(Debug)]
pub struct ResponseFuture<F> {
    inner: Pin<Box<Timeout<F>>>,
    deadline: Duration,
}

impl<F: Future> ResponseFuture<F> {
    pub(super) fn new(inner: F, deadline: Duration) -> Self {
        Self {
            inner: Box::pin(tokio::time::timeout(deadline, inner)),
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

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let deadline = self.deadline;
        match self.inner.as_mut().poll(cx) {
            Poll::Ready(Ok(result)) => Poll::Ready(result),
            Poll::Ready(Err(_elapsed)) => Poll::Ready(Err(E::deadline_exceeded(deadline))),
            Poll::Pending => Poll::Pending,
        }
    }
}
