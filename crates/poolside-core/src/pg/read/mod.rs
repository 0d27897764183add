//! The batched read path: autocommit statements that only read, from many callers at
//! once, sent together under one Sync on a few read-only connections of the pool's
//! own (`postgres.read_connections`).
//!
//! tokio-postgres ends every statement with a Sync of its own, so the server starts
//! and ends a transaction, writes ReadyForQuery and flushes a send for each. Here a
//! connection's task sends what queued while its previous batch was on the wire, each
//! statement's Bind and Execute and one Sync, and hands each answer to its caller as
//! it is read ([`connection`], [`batch`]). The connections are built on
//! postgres-protocol, the crate the driver frames its messages with ([`connect`],
//! [`wire`]).
//!
//! Invariants:
//! - **Reads only.** The connections are opened with
//!   `default_transaction_read_only=on`: a statement that writes fails with 25006 for
//!   its caller, and nothing is written. A batch is one implicit transaction; under
//!   READ COMMITTED each statement takes its own snapshot, so every caller sees every
//!   write acknowledged before it called.
//! - **No timer.** A batch is what queued while the last one was on the wire; a lone
//!   caller goes out at once. At most `postgres.read_batch_size` statements each;
//!   one of six or more is answered in two halves (a Flush after the first).
//! - **One caller's error is its own.** The statements the server skipped after it
//!   never ran: they go first in the next batch, each with a Sync of its own, so no
//!   error can skip them twice.
//! - **Dropped callers** are not sent, or their answers are read and dropped; no
//!   cancel request goes out for them. A statement past `postgres.query_timeout`
//!   fails for its caller, and its connection takes no new work: its batch is
//!   cancelled on the server, and it closes once its queue is answered.
//! - **Same budget.** The connections are reserved within `max_size`; statements
//!   are described once per pool and prepared once per connection ([`statements`]);
//!   a statement a migration made stale is described again and sent once more.
//! - Statements whose types are not built into PostgreSQL (enums, domains) run on the
//!   pipelined path instead, which looks such types up.

mod batch;
mod connect;
pub(crate) use connect::Connector;
mod connection;
mod server_error;
mod statements;
mod wire;
mod work;

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;

use self::connection::{BatchSettings, ReadConnection};
use self::statements::{Known, Statements};
pub(crate) use self::work::Answer;
use self::work::{Describe, Job, Run, Work};
use super::generation::Generation;
use super::lifetime;
use super::schema_epoch::SchemaEpoch;
use super::shared_refusals::refuse_on_a_read_connection;
use super::stats::Counters;
use super::{Params, PgError};
use crate::ErrorKind;
use crate::answer_progress::Awaiting;
use crate::leases::Leases;

/// Settings of the read path, from the pool's configuration.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ReadSettings {
    pub(crate) connections: u32,
    pub(crate) batch_size: u32,
    pub(crate) statement_cache_size: NonZeroUsize,
    pub(crate) query_timeout: Duration,
    pub(crate) max_lifetime: Duration,
    pub(crate) connect_timeout: Duration,
}

/// The read path of one pool.
pub(crate) struct ReadPath {
    connections: Leases<ReadConnection>,
    connector: Connector,
    statements: Statements,
    batches: BatchSettings,
    settings: ReadSettings,
    generation: Arc<Generation>,
    counters: Arc<Counters>,
}

impl std::fmt::Debug for ReadPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadPath")
            .field("connector", &self.connector)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl ReadPath {
    /// The read path opening its connections with `connector`.
    pub(crate) fn new(
        connector: Connector,
        settings: ReadSettings,
        schema: Arc<SchemaEpoch>,
        generation: Arc<Generation>,
        counters: Arc<Counters>,
    ) -> Self {
        Self {
            connections: Leases::new(settings.connections as usize),
            connector,
            statements: Statements::new(settings.statement_cache_size, schema),
            batches: BatchSettings {
                max_statements: settings.batch_size.max(1) as usize,
                prepared: settings.statement_cache_size,
            },
            settings,
            generation,
            counters,
        }
    }

    /// Read connections open now.
    pub(crate) fn open(&self) -> u32 {
        self.connections.leased()
    }

    /// Closes every read connection once its queue is answered.
    pub(crate) fn release_all(&self) {
        self.connections.release_all();
    }

    /// Runs `sql` in a batch. `None` when it cannot run here (types the path does not
    /// know): the caller runs it on the pipelined path instead.
    pub(crate) async fn run(
        &self,
        sql: &str,
        params: Params<'_>,
    ) -> Result<Option<Answer>, PgError> {
        let mut stale_seen = false;
        loop {
            let statement = match self.statements.get(sql) {
                Some(known) => known,
                None => Box::pin(self.describe(sql)).await?,
            };
            let Known::Described(statement) = statement else {
                return Ok(None);
            };
            let bind = work::encode(&statement, params)?;
            let (reply, answer) = oneshot::channel();
            let run = Work::from(Job::Run(Run {
                statement: Arc::clone(&statement),
                bind,
                reply,
            }));
            match self.send(run, answer).await {
                Err(error) if error.is_stale() && !stale_seen => {
                    // The server refused it before running it: describe it anew and
                    // send it once more.
                    self.statements.forget_stale(&statement);
                    stale_seen = true;
                }
                result => return result.map(Some),
            }
        }
    }

    /// Describes `sql` on a read connection (which prepares it there too), once for
    /// every caller that found it unknown.
    async fn describe(&self, sql: &str) -> Result<Known, PgError> {
        refuse_on_a_read_connection(sql)?;
        let _describing = self.statements.describing.lock().await;
        if let Some(known) = self.statements.get(sql) {
            return Ok(known);
        }
        let epoch = self.statements.epoch();
        let id = self.statements.next_id();
        let (reply, answer) = oneshot::channel();
        let describe = Work::from(Job::Describe(Describe {
            id,
            sql: Arc::from(sql),
            reply,
        }));
        let description = self.send(describe, answer).await?;
        Ok(self.statements.learn(sql, id, epoch, description))
    }

    /// Queues `work` on a read connection and waits for its answer, within the query
    /// timeout. A connection that stopped before taking it is replaced, once.
    async fn send<T>(
        &self,
        mut work: Work,
        answer: oneshot::Receiver<Result<T, PgError>>,
    ) -> Result<T, PgError> {
        let mut replaced = false;
        let connection = loop {
            let connection = self.connection().await?;
            match connection.submit(work) {
                Ok(()) => break Awaiting::on(connection, ReadConnection::progress),
                Err(back) if !replaced => {
                    self.connections.evict(&connection);
                    work = back;
                    replaced = true;
                }
                Err(_) => {
                    return Err(PgError::new(
                        ErrorKind::Connect,
                        "the read connection closed before taking the statement; it never \
                         ran: send it again",
                    )
                    .unsent());
                }
            }
        };
        match tokio::time::timeout(self.settings.query_timeout, answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(PgError::new(
                ErrorKind::Connect,
                "the read connection closed without answering",
            )),
            Err(_) => {
                connection.time_out();
                self.connections.evict(&connection);
                Err(PgError::new(
                    ErrorKind::Cancelled,
                    format!(
                        "a statement ran longer than postgres.query_timeout ({:?}) on the \
                         batched read path: its batch was cancelled on the server and the \
                         connection takes no new statements",
                        self.settings.query_timeout
                    ),
                ))
            }
        }
    }

    /// A live read connection, opened when its slot is empty.
    async fn connection(&self) -> Result<Arc<ReadConnection>, PgError> {
        let generation = self.generation.current();
        self.connections
            .pick(
                |connection| connection.is_live(generation),
                |connection| connection.progress().held_up(),
                || {
                    // Each its own, so that connections opened together do not
                    // retire together.
                    let lifetime = lifetime::jittered(self.settings.max_lifetime);
                    ReadConnection::open(
                        &self.connector,
                        self.batches,
                        &self.counters,
                        lifetime,
                        &self.generation,
                        generation,
                    )
                },
            )
            .await
    }
}
