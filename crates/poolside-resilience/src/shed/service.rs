//! [`LoadShed`]: the service that refuses calls beyond its limit.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use tower::Service;

use super::future::Place;
use super::{Overloaded, ResponseFuture};

/// Calls the inner service while fewer than `limit` calls are in flight; refuses
/// at once otherwise.
#[derive(Debug, Clone)]
pub struct LoadShed<S> {
    inner: S,
    limit: usize,
    in_flight: Arc<AtomicUsize>,
}

impl<S> LoadShed<S> {
    /// `inner` admitting at most `limit` calls counted in `in_flight`.
    pub fn new(inner: S, limit: usize, in_flight: Arc<AtomicUsize>) -> Self {
        Self {
            inner,
            limit,
            in_flight,
        }
    }
}

impl<S, Req> Service<Req> for LoadShed<S>
where
    S: Service<Req>,
    S::Error: Overloaded,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        let admitted = self
            .in_flight
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.limit).then_some(n + 1)
            })
            .is_ok();
        if admitted {
            let place = Place(Arc::clone(&self.in_flight));
            ResponseFuture::admitted(self.inner.call(request), place)
        } else {
            ResponseFuture::refused(self.limit)
        }
    }
}
