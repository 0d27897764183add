//! [`ResponseFuture`]: the future of a [`Retry`](super::Retry) call.

use std::future::Future;
use std::pin::Pin;

/// The response of a call through [`Retry`](super::Retry): the first success, or the
/// last error once the policy gives up.
pub type ResponseFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;
