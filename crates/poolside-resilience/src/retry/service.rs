//! [`Retry`]: the service that tries a request again as its policy allows.

use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::time::Instant;

use tower::Service;

use super::policy::Decision;
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
    S: Service<Req> + Clone + Send + 'static,
    S::Future: Send,
    S::Response: Send + 'static,
    S::Error: Classify + Send + 'static,
    Req: Clone + Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Response, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        // The service that was polled ready goes with this call; a clone stays.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let policy = Arc::clone(&self.policy);
        policy.started();
        let started = Instant::now();
        let first = inner.call(request.clone());
        Box::pin(async move {
            let mut result = first.await;
            let mut attempt = 1;
            loop {
                let error = match result {
                    Ok(response) => return Ok(response),
                    Err(error) => error,
                };
                match policy.decide(attempt, &error, started.elapsed()) {
                    Decision::GiveUp(_) => return Err(error),
                    Decision::Retry(delay) => {
                        tokio::time::sleep(delay).await;
                        attempt += 1;
                        std::future::poll_fn(|cx| inner.poll_ready(cx)).await?;
                        result = inner.call(request.clone()).await;
                    }
                }
            }
        })
    }
}
