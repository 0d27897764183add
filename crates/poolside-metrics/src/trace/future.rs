//! [`TraceFuture`]: polls the inner future inside the operation's span, and records a
//! failure on it.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;

use crate::OutcomeLabel;

pin_project! {
    /// The future of [`Traced`](super::Traced).
    #[derive(Debug)]
    pub struct TraceFuture<F> {
        #[pin]
        inner: F,
        span: tracing::Span,
    }
}

impl<F> TraceFuture<F> {
    /// Runs `inner` in `span` (from [`DbTarget::span`](super::DbTarget::span)), and
    /// records a failure on it: for an operation that is not a request through a
    /// stack, such as a transaction.
    pub fn new(inner: F, span: tracing::Span) -> Self {
        Self { inner, span }
    }
}

impl<F, T, E> Future for TraceFuture<F>
where
    F: Future<Output = Result<T, E>>,
    E: OutcomeLabel,
{
    type Output = Result<T, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let _entered = this.span.enter();
        let result = std::task::ready!(this.inner.poll(cx));
        if let Err(error) = &result {
            super::DbTarget::record_failure(
                this.span,
                error.outcome().as_str(),
                error.status_code(),
            );
        }
        Poll::Ready(result)
    }
}
