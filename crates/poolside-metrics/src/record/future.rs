//! [`ResponseFuture`]: records the operation when the inner future finishes. A call
//! dropped before it finishes is recorded as `cancelled`.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use pin_project_lite::pin_project;

use crate::{OperationRecorder, Outcome, OutcomeLabel};

pin_project! {
    /// The future of [`Metrics`](super::Metrics).
    #[derive(Debug)]
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        // `None` once recorded.
        recorder: Option<Arc<OperationRecorder>>,
        operation: &'static str,
        statement: Option<Cow<'static, str>>,
        started: Instant,
    }

    impl<F> PinnedDrop for ResponseFuture<F> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let Some(recorder) = this.recorder.take() {
                recorder.record(this.operation, this.statement.as_deref(), this.started.elapsed(), Outcome::Dropped);
            }
        }
    }
}

impl<F> ResponseFuture<F> {
    pub(super) fn new(
        inner: F,
        recorder: Arc<OperationRecorder>,
        operation: &'static str,
        statement: Option<Cow<'static, str>>,
        started: Instant,
    ) -> Self {
        Self {
            inner,
            recorder: Some(recorder),
            operation,
            statement,
            started,
        }
    }
}

impl<F, T, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<T, E>>,
    E: OutcomeLabel,
{
    type Output = Result<T, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = std::task::ready!(this.inner.poll(cx));
        if let Some(recorder) = this.recorder.take() {
            recorder.record_result(
                this.operation,
                this.statement.as_deref(),
                this.started.elapsed(),
                &result,
            );
        }
        Poll::Ready(result)
    }
}
