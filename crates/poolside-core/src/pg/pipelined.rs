//! [`Pipelined`]: statements of a transaction sent with
//! [`PgConnection::execute_pipelined`](super::PgConnection::execute_pipelined), whose
//! answers have not been read.
//!
//! The driver answers requests in the order they were queued, so the answers of
//! pipelined statements are in once the next statement's answer (or COMMIT's) is:
//! reading them then costs no round trip. They are read while that statement runs,
//! not only after it: the driver hands a request's answer over through a small
//! channel and stops reading the connection while one is full, which a pipelined
//! statement returning many rows would otherwise fill.

use std::future::{Future, poll_fn};
use std::mem;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use futures_util::FutureExt as _;
use futures_util::future::Either;
use tokio_postgres::{Client, Statement};

use super::owned_params::OwnedParam;

type Answer = Pin<Box<dyn Future<Output = Result<u64, tokio_postgres::Error>> + Send>>;

/// Pipelined statements whose answers are unread, in the order they were sent.
#[derive(Default)]
pub(crate) struct Pipelined(Vec<Unread>);

/// One pipelined statement: its answer to come, and what the statement cache needs
/// when the server refuses it.
struct Unread {
    /// In a mutex only to be `Sync`, as the connection holding it is: it is never
    /// locked, only reached through `&mut`.
    answer: parking_lot::Mutex<Answer>,
    sql: String,
    /// The schema epoch its statement was prepared in.
    epoch: u64,
}

/// A pipelined statement the server refused.
#[derive(Debug)]
pub(crate) struct Refused {
    pub(crate) error: tokio_postgres::Error,
    pub(crate) sql: String,
    pub(crate) epoch: u64,
}

/// What [`Pipelined::settle`] gives back: the later call's output, the first
/// pipelined statement that failed, and those whose answers did not come (the later
/// call ended without an answer of its own: a timeout, or the connection closed).
pub(crate) struct Settled<T> {
    pub(crate) output: T,
    pub(crate) refused: Option<Refused>,
    pub(crate) unread: Pipelined,
}

impl Pipelined {
    /// Queues `statement` with `params` on `client` and returns without waiting for
    /// the answer; an error the driver gives at once (a closed connection) is returned.
    pub(crate) fn send(
        &mut self,
        client: Arc<Client>,
        statement: Statement,
        params: Vec<OwnedParam>,
        sql: &str,
        epoch: u64,
    ) -> Result<(), tokio_postgres::Error> {
        let mut answer: Answer =
            Box::pin(async move { client.execute_raw(&statement, params).await });
        // The driver queues the request on the first poll. A waker that does nothing:
        // the caller is not waiting for this answer.
        match answer
            .as_mut()
            .poll(&mut Context::from_waker(Waker::noop()))
        {
            Poll::Ready(result) => result.map(drop),
            Poll::Pending => {
                self.0.push(Unread {
                    answer: parking_lot::Mutex::new(answer),
                    sql: sql.to_owned(),
                    epoch,
                });
                Ok(())
            }
        }
    }

    /// Whether no answer is unread.
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Takes the unread answers, leaving none.
    pub(crate) fn take(&mut self) -> Self {
        mem::take(self)
    }

    /// Drops the unread answers: the driver discards them when they come.
    pub(crate) fn forget(&mut self) {
        self.0.clear();
    }

    /// Runs `call`, a later request on the same connection, while reading these
    /// answers. With none unread, `call` alone.
    pub(crate) fn settle<F: Future>(self, call: F) -> impl Future<Output = Settled<F::Output>> {
        if self.is_empty() {
            return Either::Left(call.map(|output| Settled {
                output,
                refused: None,
                unread: Pipelined::default(),
            }));
        }
        // Boxed: rare, and it would otherwise grow every statement's future.
        Either::Right(Box::pin(self.settle_unread(call)))
    }

    async fn settle_unread<F: Future>(self, call: F) -> Settled<F::Output> {
        let mut pending: Vec<(Unread, Option<Result<u64, tokio_postgres::Error>>)> =
            self.0.into_iter().map(|unread| (unread, None)).collect();
        let mut call = std::pin::pin!(call);
        let output = poll_fn(|cx| {
            read_ready(&mut pending, cx);
            call.as_mut().poll(cx)
        })
        .await;
        // Answers that came while `call` was last polled.
        read_ready(&mut pending, &mut Context::from_waker(Waker::noop()));
        let mut refused = None;
        let mut unread = Pipelined::default();
        for (statement, answer) in pending {
            match answer {
                Some(Err(error)) if refused.is_none() => {
                    refused = Some(Refused {
                        error,
                        sql: statement.sql,
                        epoch: statement.epoch,
                    });
                }
                Some(_) => {}
                None => unread.0.push(statement),
            }
        }
        Settled {
            output,
            refused,
            unread,
        }
    }
}

/// Polls the answers not yet in.
fn read_ready(
    pending: &mut [(Unread, Option<Result<u64, tokio_postgres::Error>>)],
    cx: &mut Context<'_>,
) {
    for (statement, answer) in pending.iter_mut().filter(|(_, a)| a.is_none()) {
        if let Poll::Ready(result) = statement.answer.get_mut().as_mut().poll(cx) {
            *answer = Some(result);
        }
    }
}

impl std::fmt::Debug for Pipelined {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pipelined({} unread)", self.0.len())
    }
}
