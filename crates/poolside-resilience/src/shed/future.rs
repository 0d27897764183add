//! [`ResponseFuture`]: the future of a [`LoadShed`](super::LoadShed) call.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use pin_project_lite::pin_project;

use super::Overloaded;

pin_project! {
    /// The inner call holding its place among the calls in flight, or the refusal.
    /// Not boxed: it costs no allocation.
    #[derive(Debug)]
    pub struct ResponseFuture<F, E> {
        #[pin]
        inner: Option<F>,
        place: Option<Place>,
        refusal: Option<E>,
    }
}

/// One place among the calls in flight, given back when the call ends or is dropped.
#[derive(Debug)]
pub(super) struct Place(pub(super) Arc<AtomicUsize>);

impl Drop for Place {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl<F, E> ResponseFuture<F, E> {
    pub(super) fn admitted(inner: F, place: Place) -> Self {
        Self {
            inner: Some(inner),
            place: Some(place),
            refusal: None,
        }
    }

    pub(super) fn refused(limit: usize) -> Self
    where
        E: Overloaded,
    {
        Self {
            inner: None,
            place: None,
            refusal: Some(E::overloaded(limit)),
        }
    }
}

impl<F, T, E> Future for ResponseFuture<F, E>
where
    F: Future<Output = Result<T, E>>,
{
    type Output = Result<T, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        match this.inner.as_pin_mut() {
            Some(inner) => {
                let output = std::task::ready!(inner.poll(cx));
                // The call ended: its place is free now, not when the future drops.
                this.place.take();
                Poll::Ready(output)
            }
            None => match this.refusal.take() {
                Some(error) => Poll::Ready(Err(error)),
                None => Poll::Pending,
            },
        }
    }
}
