//! [`ResponseFuture`]: the future of an [`Overflow`](super::Overflow) call.

use std::future::Future;
use std::pin::Pin;

/// The response of a call through [`Overflow`](super::Overflow), from whichever
/// service took it.
pub type ResponseFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;
