//! [`ResponseFuture`]: the future of a [`Retry`](super::Retry) call.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep};
use tower::Service;

use super::RetryPolicy;
use super::policy::Decision;
use crate::Classify;

pin_project! {
    /// The response of a call through [`Retry`](super::Retry): the first success, or
    /// the last error once the policy gives up. It holds the request (for the next
    /// attempt), so a request that borrows lives no longer than the call.
    pub struct ResponseFuture<S, Req>
    where
        S: Service<Req>,
    {
        request: Req,
        inner: S,
        policy: Arc<RetryPolicy>,
        started: Instant,
        attempt: u32,
        #[pin]
        state: State<S::Future>,
    }
}

pin_project! {
    #[project = StateProjection]
    enum State<F> {
        /// An attempt is on its way.
        Calling { #[pin] future: F },
        /// Waiting out the backoff before the next attempt.
        Backing { #[pin] sleep: Sleep },
        /// Waiting for the service to be ready for the next attempt.
        Readying,
    }
}

impl<S, Req> ResponseFuture<S, Req>
where
    S: Service<Req>,
    Req: Clone,
{
    /// The first attempt, already called on `inner` (which was polled ready).
    pub(crate) fn new(request: Req, mut inner: S, policy: Arc<RetryPolicy>) -> Self {
        policy.started();
        let started = Instant::now();
        let future = inner.call(request.clone());
        Self {
            request,
            inner,
            policy,
            started,
            attempt: 1,
            state: State::Calling { future },
        }
    }
}

impl<S, Req> Future for ResponseFuture<S, Req>
where
    S: Service<Req>,
    S::Error: Classify,
    Req: Clone,
{
    type Output = Result<S::Response, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProjection::Calling { future } => {
                    let error = match ready!(future.poll(cx)) {
                        Ok(response) => return Poll::Ready(Ok(response)),
                        Err(error) => error,
                    };
                    match this
                        .policy
                        .decide(*this.attempt, &error, this.started.elapsed())
                    {
                        Decision::GiveUp(_) => return Poll::Ready(Err(error)),
                        Decision::Retry(delay) => {
                            *this.attempt += 1;
                            this.state.set(State::Backing {
                                sleep: tokio::time::sleep(delay),
                            });
                        }
                    }
                }
                StateProjection::Backing { sleep } => {
                    ready!(sleep.poll(cx));
                    this.state.set(State::Readying);
                }
                StateProjection::Readying => {
                    ready!(this.inner.poll_ready(cx))?;
                    let future = this.inner.call(this.request.clone());
                    this.state.set(State::Calling { future });
                }
            }
        }
    }
}
