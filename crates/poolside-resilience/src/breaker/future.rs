//! [`ResponseFuture`]: the future of a [`CircuitBreakerService`](super::CircuitBreakerService) call.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;

use super::{CallOutcome, Permit};
use crate::Classify;

pin_project! {
    /// The inner call's response, counted by the breaker as it completes; or the
    /// breaker's error at once while it is open. Not boxed: it costs no allocation.
    #[derive(Debug)]
    pub struct ResponseFuture<F, E> {
        #[pin]
        inner: Option<F>,
        permit: Option<Permit>,
        refusal: Option<E>,
    }
}

impl<F, E> ResponseFuture<F, E> {
    pub(super) fn admitted(inner: F, permit: Permit) -> Self {
        Self {
            inner: Some(inner),
            permit: Some(permit),
            refusal: None,
        }
    }

    pub(super) fn refused(error: E) -> Self {
        Self {
            inner: None,
            permit: None,
            refusal: Some(error),
        }
    }
}

impl<F, T, E> Future for ResponseFuture<F, E>
where
    F: Future<Output = Result<T, E>>,
    E: Classify,
{
    type Output = Result<T, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        match this.inner.as_pin_mut() {
            Some(inner) => {
                let result = std::task::ready!(inner.poll(cx));
                if let Some(permit) = this.permit.take() {
                    permit.record(CallOutcome::of(&result));
                }
                Poll::Ready(result)
            }
            None => match this.refusal.take() {
                Some(error) => Poll::Ready(Err(error)),
                None => Poll::Pending,
            },
        }
    }
}
