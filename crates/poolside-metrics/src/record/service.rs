//! [`Metrics`]: the service that times each call.

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use tower::Service;

use super::ResponseFuture;
use crate::{Operation, OperationRecorder, OutcomeLabel};

/// Times each call of the inner service and records it with its outcome.
#[derive(Debug, Clone)]
pub struct Metrics<S> {
    inner: S,
    recorder: Arc<OperationRecorder>,
}

impl<S> Metrics<S> {
    /// Wraps `inner`, recording into `recorder`.
    pub fn new(inner: S, recorder: Arc<OperationRecorder>) -> Self {
        Self { inner, recorder }
    }
}

impl<S, Req> Service<Req> for Metrics<S>
where
    S: Service<Req>,
    S::Error: OutcomeLabel,
    Req: Operation,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        let operation = request.operation();
        let statement = request.statement();
        let started = Instant::now();
        ResponseFuture::new(
            self.inner.call(request),
            Arc::clone(&self.recorder),
            operation,
            statement,
            started,
        )
    }
}
