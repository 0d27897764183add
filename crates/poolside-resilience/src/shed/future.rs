//! [`ResponseFuture`]: the future of a [`LoadShed`](super::LoadShed) call.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use super::Overloaded;

/// The inner call holding its place among the calls in flight, or the refusal.
#[derive(Debug)]
pub struct ResponseFuture<F, E> {
    kind: Kind<F, E>,
}

#[derive(Debug)]
enum Kind<F, E> {
    Admitted { inner: Pin<Box<F>>, _place: Place },
    Refused(Option<E>),
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
            kind: Kind::Admitted {
                inner: Box::pin(inner),
                _place: place,
            },
        }
    }

    pub(super) fn refused(limit: usize) -> Self
    where
        E: Overloaded,
    {
        Self {
            kind: Kind::Refused(Some(E::overloaded(limit))),
        }
    }
}

impl<F, T, E> Future for ResponseFuture<F, E>
where
    F: Future<Output = Result<T, E>>,
    E: Unpin,
{
    type Output = Result<T, E>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.kind {
            Kind::Admitted { inner, .. } => inner.as_mut().poll(cx),
            Kind::Refused(error) => match error.take() {
                Some(error) => Poll::Ready(Err(error)),
                None => Poll::Pending,
            },
        }
    }
}
