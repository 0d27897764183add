//! [`Overflow`]: the service that routes critical operations to the secondary while
//! the primary is busy.

use std::sync::Arc;
use std::task::{Context, Poll};

use tower::Service;

use super::{Critical, OverflowSwitch, PrimaryLoad, ResponseFuture};

/// A primary and a secondary service; see [`OverflowLayer`](super::OverflowLayer).
#[derive(Clone)]
pub struct Overflow<S, T> {
    primary: S,
    secondary: T,
    load: Arc<dyn Fn() -> PrimaryLoad + Send + Sync>,
    switch: OverflowSwitch,
}

impl<S: std::fmt::Debug, T: std::fmt::Debug> std::fmt::Debug for Overflow<S, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Overflow")
            .field("primary", &self.primary)
            .field("secondary", &self.secondary)
            .field("switch", &self.switch)
            .finish_non_exhaustive()
    }
}

impl<S, T> Overflow<S, T> {
    /// `primary`, overflowing to `secondary` as `switch` decides from `load`.
    pub fn new(
        primary: S,
        secondary: T,
        load: Arc<dyn Fn() -> PrimaryLoad + Send + Sync>,
        switch: OverflowSwitch,
    ) -> Self {
        Self {
            primary,
            secondary,
            load,
            switch,
        }
    }
}

impl<S, T, Req> Service<Req> for Overflow<S, T>
where
    Req: Critical,
    S: Service<Req> + Clone,
    T: Service<Req, Response = S::Response, Error = S::Error> + Clone,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S, T, Req>;

    /// Always ready: each call waits for the service it is routed to.
    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Req) -> Self::Future {
        let overflow = request.is_critical() && self.switch.update((self.load)());
        if overflow {
            // The operation's span, when a tracing layer above made one.
            tracing::Span::current().record(super::SPAN_FIELD, true);
            ResponseFuture::secondary(self.secondary.clone(), request)
        } else {
            ResponseFuture::primary(self.primary.clone(), request)
        }
    }
}
