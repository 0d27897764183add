//! [`ReadConnection`]: one read-only connection and the task that batches its
//! callers' statements.
//!
//! The task sends a batch, reads its answers, and sends the next: what queued while a
//! batch was on the wire (up to `postgres.read_batch_size`) is the next batch, so a
//! lone caller goes out at once and a crowd goes out together, with no timer. The
//! batch itself is written and read in [`batch`](super::batch).

use std::collections::VecDeque;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use lru::LruCache;
use postgres_protocol::message::frontend;
use tokio::sync::{Notify, mpsc};

use super::batch::{self, BatchEnd};
use super::connect::{BackendKey, Connector};
use super::wire::Wire;
use super::work::Work;
use crate::ErrorKind;
use crate::pg::PgError;

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
}

/// What callers and the task share.
#[derive(Debug, Default)]
struct State {
    /// The task has stopped: nothing queued now will be answered.
    closed: AtomicBool,
    /// A statement ran past the query timeout: no new work, and the running batch is
    /// cancelled on the server.
    timed_out: AtomicBool,
    cancel: Notify,
}

impl ReadConnection {
    /// Opens a connection and starts its task. It retires after `lifetime`, or when
    /// the pool's generation moves past `generation`.
    pub(crate) async fn open(
        connector: &Connector,
        settings: BatchSettings,
        lifetime: Duration,
        generation: u64,
    ) -> Result<Self, PgError> {
        let (wire, key) = connector.open().await?;
        let (work, queue) = mpsc::unbounded_channel();
        let state = Arc::new(State::default());
        let task = Task {
            wire,
            queue,
            state: Arc::clone(&state),
            prepared: LruCache::new(settings.prepared),
            carried: VecDeque::new(),
            settings,
            connector: connector.clone(),
            key,
        };
        tokio::spawn(task.run());
        Ok(Self {
            work,
            state,
            opened: Instant::now(),
            lifetime,
            generation,
        })
    }

    /// Queues `work`, or gives it back when the connection has stopped.
    pub(crate) fn submit(&self, work: Work) -> Result<(), Work> {
        if self.state.closed.load(Ordering::Acquire) {
            return Err(work);
        }
        self.work.send(work).map_err(|e| e.0)
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
    /// batch on the wire is cancelled on the server.
    pub(crate) fn time_out(&self) {
        self.state.timed_out.store(true, Ordering::Relaxed);
        self.state.cancel.notify_waiters();
    }
}

/// The task that owns the socket.
struct Task {
    wire: Wire,
    queue: mpsc::UnboundedReceiver<Work>,
    state: Arc<State>,
    /// Ids of the statements prepared on this connection, most recently used last.
    prepared: LruCache<u64, ()>,
    /// Work a batch skipped after an earlier statement's error: first in the next.
    carried: VecDeque<Work>,
    settings: BatchSettings,
    connector: Connector,
    key: BackendKey,
}

impl Task {
    async fn run(mut self) {
        let error = loop {
            let Some(mut batch) = self.next_batch().await else {
                // Every handle is gone and the queue is empty: close politely.
                frontend::terminate(&mut self.wire.out);
                let _ = self.wire.flush().await;
                break None;
            };
            let cancel = self.state.cancel.notified();
            let exchange = batch::exchange(&mut self.wire, &mut self.prepared, &mut batch);
            tokio::pin!(exchange);
            let end = tokio::select! {
                end = &mut exchange => end,
                () = cancel => {
                    // A caller timed out while this batch was on the wire: cancel
                    // what runs, then read the batch to its end (the cancelled
                    // statement ends in 57014; the rest are sent again).
                    let connector = self.connector.clone();
                    let key = self.key;
                    tokio::spawn(async move { connector.cancel(key).await });
                    exchange.await
                }
            };
            match end {
                BatchEnd::Done { skipped } => self.carried.extend(skipped),
                BatchEnd::Broken { error, unanswered } => {
                    for work in unanswered {
                        work.fail(error.duplicate());
                    }
                    break Some(error);
                }
            }
        };
        self.state.closed.store(true, Ordering::Release);
        self.queue.close();
        let error = error.unwrap_or_else(|| {
            PgError::new(ErrorKind::Connect, "the read connection was closed")
        });
        for work in self.carried.drain(..) {
            work.fail(error.duplicate().unsent());
        }
        while let Ok(work) = self.queue.try_recv() {
            work.fail(error.duplicate().unsent());
        }
    }

    /// The work carried over from the last batch and what queued since, up to the
    /// batch size, without the work of callers who have gone; waits for the first
    /// when there is none. `None` once every handle is dropped and nothing is left.
    async fn next_batch(&mut self) -> Option<Vec<Work>> {
        let max = self.settings.max_statements;
        let mut batch = Vec::with_capacity(max.min(64));
        loop {
            while batch.len() < max {
                let Some(work) = self.carried.pop_front() else {
                    break;
                };
                if !work.is_abandoned() {
                    batch.push(work);
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
                return Some(batch);
            }
            let work = self.queue.recv().await?;
            if !work.is_abandoned() {
                batch.push(work);
            }
        }
    }
}
