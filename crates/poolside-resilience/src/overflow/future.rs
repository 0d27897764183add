//! [`ResponseFuture`]: the future of an [`Overflow`](super::Overflow) call.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;
use tower::Service;
use tower::util::Oneshot;

pin_project! {
    /// The response of a call through [`Overflow`](super::Overflow), from whichever
    /// service took it (each awaited ready first).
    pub struct ResponseFuture<S, T, Req>
    where
        S: Service<Req>,
        T: Service<Req>,
    {
        #[pin]
        route: Route<Oneshot<S, Req>, Oneshot<T, Req>>,
    }
}

pin_project! {
    #[project = RouteProjection]
    enum Route<P, Q> {
        Primary { #[pin] call: P },
        Secondary { #[pin] call: Q },
    }
}

impl<S, T, Req> ResponseFuture<S, T, Req>
where
    S: Service<Req>,
    T: Service<Req>,
{
    /// `request` on the primary.
    pub(crate) fn primary(service: S, request: Req) -> Self {
        Self {
            route: Route::Primary {
                call: Oneshot::new(service, request),
            },
        }
    }

    /// `request` on the secondary.
    pub(crate) fn secondary(service: T, request: Req) -> Self {
        Self {
            route: Route::Secondary {
                call: Oneshot::new(service, request),
            },
        }
    }
}

impl<S, T, Req> Future for ResponseFuture<S, T, Req>
where
    S: Service<Req>,
    T: Service<Req, Response = S::Response, Error = S::Error>,
{
    type Output = Result<S::Response, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().route.project() {
            RouteProjection::Primary { call } => call.poll(cx),
            RouteProjection::Secondary { call } => call.poll(cx),
        }
    }
}
