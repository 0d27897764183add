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
    pub(super) fn new(inner: F, span: tracing::Span) -> Self {
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
        if let Err(error) = &result
            && !this.span.is_disabled()
        {
            this.span.record("otel.status_code", "ERROR");
            this.span.record("error.type", error.outcome().as_str());
            if let Some(code) = error.status_code() {
                this.span.record("db.response.status_code", code);
            }
        }
        Poll::Ready(result)
    }
}
