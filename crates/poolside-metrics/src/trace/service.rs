//! [`Traced`]: the service that runs each call in its span.

use std::task::{Context, Poll};

use tower::Service;

use super::{DbTarget, TraceFuture};
use crate::{Operation, OutcomeLabel};

/// Runs each call of the inner service in a span named after its operation.
#[derive(Debug, Clone)]
pub struct Traced<S> {
    inner: S,
    target: DbTarget,
    query_text: bool,
}

impl<S> Traced<S> {
    /// Wraps `inner`; spans name `target`, and the query text when `query_text`.
    pub fn new(inner: S, target: DbTarget, query_text: bool) -> Self {
        Self {
            inner,
            target,
            query_text,
        }
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The inner service, unwrapped.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, Req> Service<Req> for Traced<S>
where
    S: Service<Req>,
    S::Error: OutcomeLabel,
    Req: Operation,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = TraceFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        let span = self.target.span(request.operation());
        if self.query_text
            && !span.is_disabled()
            && let Some(statement) = request.statement()
        {
            span.record("db.query.text", &*statement);
        }
        let inner = span.in_scope(|| self.inner.call(request));
        TraceFuture::new(inner, span)
    }
}
