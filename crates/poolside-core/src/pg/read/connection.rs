//! [`ReadConnection`]: one read-only connection and the task that batches its
//! callers' statements.
//!
//! The task has two halves, joined: the writing half sends what queued since its last
//! batch (up to `postgres.read_batch_size`) as one batch; the reading half reads the
//! answers and hands them out. Joined in one task, they never run at once on two
//! threads: a batch handed from one half to the other wakes no thread, and the
//! socket's two halves never contend for its lock.
//!
//! One batch is on the wire at a time: the next is gathered once the last is answered
//! and its callers have run, so it holds what they sent next. The pool's read
//! connections overlap, one answered while the server works through another's batch,
//! and a large batch overlaps itself: its first half is answered while the server
//! runs the second ([`batch::SPLIT_FROM`](super::batch::SPLIT_FROM)).
//! A lone caller goes out at once and a crowd goes out together, with no timer.
//! The batches themselves are written and read in [`batch`](super::batch).

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use postgres_protocol::message::backend::Message;
use postgres_protocol::message::frontend;
use tokio::io::AsyncRead;
use tokio::io::ReadHalf;
use tokio::sync::mpsc::error::TryRecvError;
use tokio::sync::{Notify, Semaphore, mpsc};

use super::batch::{self, BatchEnd, Prepared, Sent};
use super::connect::{BackendKey, Connector};
use super::wire::{Transport, WireReader, WireWriter};
use super::work::Work;
use crate::ErrorKind;
use crate::answer_progress::AnswerProgress;
use crate::growing_lru::growing_lru;
use crate::pg::PgError;
use crate::pg::generation::Generation;
use crate::pg::stats::{Counters, ReadClose};

/// How the task runs its batches.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BatchSettings {
    /// Most statements in one batch.
    pub(crate) max_statements: usize,
    /// Statements kept prepared on the connection (LRU).
    pub(crate) prepared: NonZeroUsize,
}

/// A read connection as callers see it: where to queue work.
#[derive(Debug)]
pub(crate) struct ReadConnection {
    work: mpsc::UnboundedSender<Work>,
    state: Arc<State>,
    opened: Instant,
    lifetime: Duration,
    generation: u64,
    /// The pool's generation and counts: when the connection is dropped, the first
    /// says whether it was retired, the second counts it closed.
    generations: Arc<Generation>,
    counters: Arc<Counters>,
    /// Its callers awaiting answers, for callers to pass it when held up.
    progress: AnswerProgress,
}

/// What callers and the task share.
#[derive(Debug, Default)]
struct State {
    /// The task has stopped: nothing queued now will be answered.
    closed: AtomicBool,
    /// A statement ran past the query timeout: no new work, and the batch being
    /// answered is cancelled on the server.
    timed_out: AtomicBool,
    cancel: Notify,
}

impl State {
    fn close(&self) {
        self.closed.store(true, Ordering::Release);
    }
}

/// An error for work queued on a connection that stopped before sending it.
fn never_sent() -> PgError {
    PgError::new(
        ErrorKind::Connect,
        "the read connection closed before sending the statement; it never ran: send it \
         again",
    )
    .unsent()
}

impl ReadConnection {
    /// Opens a connection and starts its task. It retires after `lifetime`, or when
    /// `generations` moves past `generation`.
    pub(crate) async fn open(
        connector: &Connector,
        settings: BatchSettings,
        counters: &Arc<Counters>,
        lifetime: Duration,
        generations: &Arc<Generation>,
        generation: u64,
    ) -> Result<Self, PgError> {
        let (wire, key) = connector.open().await?;
        counters.created();
        let (reader, writer) = wire.split();
        let (work, queue) = mpsc::unbounded_channel();
        let (again_tx, again) = mpsc::unbounded_channel();
        // The batch on the wire, handed to the reading half; `turn` lets the writing
        // half gather the next once it is answered.
        let (sent_tx, sent) = mpsc::channel(1);
        let turn = Arc::new(Semaphore::new(1));
        let state = Arc::new(State::default());
        let prepared = Arc::new(Mutex::new(growing_lru(settings.prepared)));
        let writing = Writing {
            wire: writer,
            queue,
            again,
            sent: sent_tx,
            prepared: Arc::clone(&prepared),
            state: Arc::clone(&state),
            max_statements: settings.max_statements,
            counters: Arc::clone(counters),
            turn: Arc::clone(&turn),
            batch: Vec::new(),
        };
        let reading = Reading {
            wire: reader,
            sent,
            again: again_tx,
            prepared,
            state: Arc::clone(&state),
            connector: connector.clone(),
            key,
            turn,
        };
        // One task, so that the halves hand batches over on one thread.
        tokio::spawn(async move {
            tokio::join!(writing.run(), reading.run());
        });
        Ok(Self {
            work,
            state,
            opened: Instant::now(),
            lifetime,
            generation,
            generations: Arc::clone(generations),
            counters: Arc::clone(counters),
            progress: AnswerProgress::default(),
        })
    }

    /// Queues `work`, or gives it back when the connection has stopped.
    pub(crate) fn submit(&self, work: Work) -> Result<(), Work> {
        if self.state.closed.load(Ordering::Acquire) {
            return Err(work);
        }
        self.work.send(work).map_err(|e| e.0)
    }

    /// Its callers awaiting answers (`answer_progress.rs`).
    pub(crate) fn progress(&self) -> &AnswerProgress {
        &self.progress
    }

    /// Whether it takes new work: open, not timed out, not past its lifetime, and of
    /// generation `generation`.
    pub(crate) fn is_live(&self, generation: u64) -> bool {
        !self.state.closed.load(Ordering::Acquire)
            && !self.state.timed_out.load(Ordering::Relaxed)
            && self.generation == generation
            && self.opened.elapsed() < self.lifetime
    }

    /// A statement on it ran past the query timeout: it takes no new work, and the
    /// batch being answered is cancelled on the server.
    pub(crate) fn time_out(&self) {
        self.state.timed_out.store(true, Ordering::Relaxed);
        self.state.cancel.notify_waiters();
    }
}

/// Dropped by the last caller once out of its slot: its queue closes, the task ends
/// and so does the connection, counted by why it left its slot. A connection the pool
/// let go of while it still served (the pool closing) is not counted, as bb8 counts
/// none of its own on close.
impl Drop for ReadConnection {
    fn drop(&mut self) {
        let reason = if self.state.timed_out.load(Ordering::Relaxed) {
            ReadClose::Interrupted
        } else if self.state.closed.load(Ordering::Acquire) {
            ReadClose::Broken
        } else if self.generations.is_retired(self.generation) {
            ReadClose::Retired
        } else if self.opened.elapsed() >= self.lifetime {
            ReadClose::MaxLifetime
        } else {
            return;
        };
        self.counters.read_closed(reason);
    }
}

/// The half of the task that writes batches.
struct Writing {
    wire: WireWriter,
    queue: mpsc::UnboundedReceiver<Work>,
    /// Work a batch skipped, from the reading half: first in the next batch.
    again: mpsc::UnboundedReceiver<Work>,
    sent: mpsc::Sender<Sent>,
    prepared: Arc<Prepared>,
    state: Arc<State>,
    max_statements: usize,
    counters: Arc<Counters>,
    /// Its turn to send: one permit, taken for each batch sent and given back once
    /// the batch is answered; closed when the reading half stops.
    turn: Arc<Semaphore>,
    /// The batch being gathered; empty between batches, its capacity kept.
    batch: Vec<Work>,
}

impl Writing {
    async fn run(mut self) {
        let turns = Arc::clone(&self.turn);
        loop {
            // The last batch answered, or the reading half has stopped.
            let Ok(turn) = turns.acquire().await else {
                break;
            };
            if !self.next_batch().await {
                // Every handle is gone and nothing is left: close politely, after
                // the batch still being answered.
                frontend::terminate(&mut self.wire.out);
                let _ = self.wire.flush().await;
                break;
            }
            self.counters.read_batch(self.batch.len());
            let written = batch::write(&mut self.wire.out, &self.prepared, &mut self.batch);
            let sent = match written {
                Ok(sent) => sent,
                Err(e) => {
                    // Only a statement too large for the protocol fails to encode.
                    // Nothing goes on the wire, and the turn goes back as it drops.
                    tracing::warn!(target: "poolside::pg", error = %e, "a read batch did not encode");
                    self.wire.out.clear();
                    continue;
                }
            };
            // The turn comes back once the reading half has answered this batch.
            turn.forget();
            // The reading half learns of the batch before its answers can arrive. There
            // is room: it took the last batch before giving the turn back.
            if let Err(unsent) = self.sent.try_send(sent) {
                // The reading half has stopped.
                for work in unsent.into_inner().into_works() {
                    work.fail(never_sent());
                }
                break;
            }
            if let Err(e) = self.wire.flush().await {
                // The reading half meets the broken socket too, and fails the batch.
                tracing::debug!(target: "poolside::pg", error = %e, "a read batch was not sent");
                break;
            }
        }
        self.state.close();
        self.queue.close();
        while let Ok(work) = self.again.try_recv() {
            work.fail(never_sent());
        }
        while let Ok(work) = self.queue.try_recv() {
            work.fail(never_sent());
        }
    }

    /// Takes into [`batch`](Self::batch) the work to send again, then what queued, up
    /// to the batch size, without the work of callers who have gone; waits for the
    /// first when there is none. `false` once every handle is dropped and the queue is
    /// empty, or the reading half has stopped.
    async fn next_batch(&mut self) -> bool {
        let max = self.max_statements;
        let batch = &mut self.batch;
        loop {
            while batch.len() < max {
                match self.again.try_recv() {
                    Ok(work) if !work.is_abandoned() => batch.push(work),
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
            while batch.len() < max {
                match self.queue.try_recv() {
                    Ok(work) if !work.is_abandoned() => batch.push(work),
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
            if !batch.is_empty() {
                return true;
            }
            let work = tokio::select! {
                biased;
                work = self.again.recv() => work,
                work = self.queue.recv() => match work {
                    Some(work) => Some(work),
                    None => return false,
                },
                () = self.sent.closed() => return false,
            };
            if let Some(work) = work
                && !work.is_abandoned()
            {
                batch.push(work);
            }
        }
    }
}

/// The half of the task that reads answers.
struct Reading {
    wire: WireReader<ReadHalf<Box<dyn Transport>>>,
    sent: mpsc::Receiver<Sent>,
    again: mpsc::UnboundedSender<Work>,
    prepared: Arc<Prepared>,
    state: Arc<State>,
    connector: Connector,
    key: BackendKey,
    /// The writing half's turn, given back after each batch answered.
    turn: Arc<Semaphore>,
}

impl Reading {
    async fn run(mut self) {
        self.answer_batches().await;
        self.turn.close();
    }

    /// Answers each batch sent, until the connection or the writing half stops.
    async fn answer_batches(&mut self) {
        while let Some(sent) = self.next_sent().await {
            let cancel = self.state.cancel.notified();
            let answering = batch::answer(&mut self.wire, &self.prepared, sent);
            tokio::pin!(answering);
            let end = tokio::select! {
                end = &mut answering => end,
                () = cancel => {
                    // A caller timed out while this batch was on the wire: cancel
                    // what runs, then read the batch to its end (the cancelled
                    // statement ends in 57014).
                    let connector = self.connector.clone();
                    let key = self.key;
                    tokio::spawn(async move { connector.cancel(key).await });
                    answering.await
                }
            };
            match end {
                BatchEnd::Done { again } => {
                    for work in again {
                        if let Err(back) = self.again.send(work) {
                            back.0.fail(never_sent());
                        }
                    }
                    // Let the callers just answered run before the writing half
                    // gathers another batch: most send their next statement at once,
                    // and it should go in that batch, not the one after.
                    tokio::task::yield_now().await;
                    self.turn.add_permits(1);
                }
                BatchEnd::Broken { error, unanswered } => {
                    self.state.close();
                    for work in unanswered {
                        work.fail(error.duplicate());
                    }
                    self.sent.close();
                    while let Ok(sent) = self.sent.try_recv() {
                        for work in sent.into_works() {
                            work.fail(error.duplicate());
                        }
                    }
                    return;
                }
            }
        }
        self.state.close();
    }

    /// The next batch sent; `None` once the writing half has stopped, or when the
    /// server spoke while no batch was on the wire: an error, such as the FATAL of a
    /// server shutting down, or the end of the connection. The connection then stops,
    /// before a caller's statement meets it.
    async fn next_sent(&mut self) -> Option<Sent> {
        let what = match await_batch(&mut self.wire, &mut self.sent).await {
            Idle::Batch(sent) => return Some(sent),
            Idle::Stopped => return None,
            Idle::Ended(what) => what,
        };
        tracing::debug!(target: "poolside::pg", %what, "an idle read connection ended");
        self.state.close();
        self.sent.close();
        // A batch sent meanwhile never gets its answers here.
        while let Ok(sent) = self.sent.try_recv() {
            for work in sent.into_works() {
                work.fail(PgError::new(
                    ErrorKind::Connect,
                    format!(
                        "the read connection ended while idle ({what}); the statement may \
                         not have run, and only reads: send it again"
                    ),
                ));
            }
        }
        None
    }
}

/// What the reading half found while it had no batch to answer.
enum Idle {
    /// A batch was sent: its answers come next (some may be read already).
    Batch(Sent),
    /// The writing half has stopped.
    Stopped,
    /// The server spoke unprompted, or the connection ended: what happened.
    Ended(String),
}

/// Waits for the next batch sent, watching the socket meanwhile.
///
/// Bytes are read as unprompted only after the queue of sent batches is looked at
/// again. The writing half queues a batch before it sends it, so an answer cannot
/// arrive before its batch is queued; but a `select` that polls the queue and then
/// parses a message from the socket would take the batch's first answer for the
/// server speaking while idle, were the batch queued, sent and answered between its
/// two looks. Joined in one task the halves cannot do that; as two tasks on two
/// threads they did, and this wait stays right however the halves are run.
async fn await_batch<R: AsyncRead + Unpin>(
    wire: &mut WireReader<R>,
    sent: &mut mpsc::Receiver<Sent>,
) -> Idle {
    loop {
        match sent.try_recv() {
            Ok(batch) => return Idle::Batch(batch),
            Err(TryRecvError::Disconnected) => return Idle::Stopped,
            Err(TryRecvError::Empty) => {}
        }
        match wire.buffered() {
            Ok(Some(
                Message::NoticeResponse(_)
                | Message::ParameterStatus(_)
                | Message::NotificationResponse(_),
            )) => continue,
            Ok(Some(message)) => {
                return Idle::Ended(format!("the server sent {}", message_name(&message)));
            }
            Ok(None) => {}
            Err(e) => return Idle::Ended(e.to_string()),
        }
        tokio::select! {
            biased;
            batch = sent.recv() => return batch.map_or(Idle::Stopped, Idle::Batch),
            filled = wire.fill() => {
                if let Err(e) = filled {
                    // A batch queued meanwhile meets the error when it is answered.
                    return match sent.try_recv() {
                        Ok(batch) => Idle::Batch(batch),
                        Err(_) => Idle::Ended(e.to_string()),
                    };
                }
            }
        }
    }
}

/// A backend message's name, for errors.
fn message_name(message: &Message) -> &'static str {
    match message {
        Message::AuthenticationOk => "AuthenticationOk",
        Message::BackendKeyData(_) => "BackendKeyData",
        Message::BindComplete => "BindComplete",
        Message::CloseComplete => "CloseComplete",
        Message::CommandComplete(_) => "CommandComplete",
        Message::DataRow(_) => "DataRow",
        Message::EmptyQueryResponse => "EmptyQueryResponse",
        Message::ErrorResponse(_) => "ErrorResponse",
        Message::NoData => "NoData",
        Message::ParameterDescription(_) => "ParameterDescription",
        Message::ParseComplete => "ParseComplete",
        Message::PortalSuspended => "PortalSuspended",
        Message::ReadyForQuery(_) => "ReadyForQuery",
        Message::RowDescription(_) => "RowDescription",
        _ => "another message",
    }
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use tokio::io::ReadBuf;

    use super::*;

    /// BindComplete ('2', length 4) and an ErrorResponse with no fields.
    const BIND_COMPLETE: &[u8] = &[b'2', 0, 0, 0, 4];
    const ERROR_RESPONSE: &[u8] = &[b'E', 0, 0, 0, 5, 0];
    /// A NoticeResponse with no fields.
    const NOTICE: &[u8] = &[b'N', 0, 0, 0, 5, 0];

    /// A socket whose first read queues `batch` (if any) and returns `bytes`, as when
    /// the writing half, run elsewhere, queues and sends a batch and its answer
    /// arrives while the reading half is between the queue and the socket. Later
    /// reads wait forever.
    struct Socket {
        batch: mpsc::Sender<Sent>,
        queue_a_batch: bool,
        bytes: Option<Vec<u8>>,
    }

    impl AsyncRead for Socket {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            let Some(bytes) = self.bytes.take() else {
                return Poll::Pending;
            };
            if self.queue_a_batch {
                self.batch
                    .try_send(Sent::empty())
                    .expect("room for the batch");
            }
            buf.put_slice(&bytes);
            Poll::Ready(Ok(()))
        }
    }

    async fn idle_with(bytes: &[u8], queue_a_batch: bool) -> (Idle, Option<Message>) {
        let (batch, mut sent) = mpsc::channel(1);
        let mut wire = WireReader::new(Socket {
            batch,
            queue_a_batch,
            bytes: Some(bytes.to_vec()),
        });
        let idle = await_batch(&mut wire, &mut sent).await;
        (idle, wire.buffered().expect("parses"))
    }

    #[tokio::test]
    async fn an_answer_that_arrives_with_its_batch_is_left_for_the_batch() {
        let (idle, left) = idle_with(BIND_COMPLETE, true).await;
        match idle {
            Idle::Batch(_) => {}
            Idle::Ended(what) => panic!("ended: {what}"),
            Idle::Stopped => panic!("stopped"),
        }
        assert!(matches!(left, Some(Message::BindComplete)));
    }

    #[tokio::test]
    async fn the_server_speaking_with_no_batch_sent_ends_the_connection_and_says_what_it_sent() {
        let (idle, _) = idle_with(&[NOTICE, ERROR_RESPONSE].concat(), false).await;
        match idle {
            Idle::Ended(what) => assert_eq!(what, "the server sent ErrorResponse"),
            Idle::Batch(_) => panic!("a batch"),
            Idle::Stopped => panic!("stopped"),
        }
    }
}
