//! [`PendingBegin`]: a transaction's BEGIN sent and not yet awaited, so that it shares
//! its round trip with the transaction's first statement.
//!
//! The driver queues a request on its future's first poll and answers requests in the
//! order they were queued. So once BEGIN is queued, every statement sent after it on
//! the same connection runs inside the transaction, and once COMMIT's answer is in,
//! BEGIN's is too: reading it then costs no round trip.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use tokio_postgres::Client;

type Answer = Pin<Box<dyn Future<Output = Result<(), tokio_postgres::Error>> + Send>>;

/// A BEGIN on the wire whose answer has not been read. (In a mutex only to be `Sync`,
/// as the connection holding it is: it is never locked, only taken.)
pub(crate) struct PendingBegin(parking_lot::Mutex<Answer>);

impl PendingBegin {
    /// Queues `sql` (a `BEGIN ...`) on `client` without waiting for its answer. `None`
    /// when the answer came at once (it never does from a live server); an error the
    /// driver gave at once (a closed connection) is returned.
    pub(crate) fn send(
        client: Arc<Client>,
        sql: &'static str,
    ) -> Result<Option<Self>, tokio_postgres::Error> {
        let mut answer: Answer = Box::pin(async move { client.batch_execute(sql).await });
        // Polled with a waker that does nothing: BEGIN's answer must not wake the
        // caller, who is waiting for its statement's, which comes after it.
        match answer
            .as_mut()
            .poll(&mut Context::from_waker(Waker::noop()))
        {
            Poll::Ready(result) => result.map(|()| None),
            Poll::Pending => Ok(Some(Self(parking_lot::Mutex::new(answer)))),
        }
    }

    /// BEGIN's answer.
    pub(crate) async fn answer(self) -> Result<(), tokio_postgres::Error> {
        self.0.into_inner().await
    }
}

impl fmt::Debug for PendingBegin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PendingBegin")
    }
}
