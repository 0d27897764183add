//! One batch on the wire: every statement's messages and a Sync ([`write`]), and the
//! answers read back in order and handed to their callers ([`answer`]).
//!
//! Invariants:
//! - A statement is prepared on the connection before its first Bind, in the same
//!   batch (Close, then Parse: a name left from a batch that failed midway cannot
//!   clash). Evicted statements are closed first thing in a batch, where no error
//!   can skip them.
//! - The server skips everything after an error until the Sync. The statement that
//!   failed gets the error; the ones it skipped never ran, and go first into the next
//!   batch, each followed by a Sync of its own, so that no error skips them again.
//!   A statement whose prepared form a skipped Parse left missing (26000; it never
//!   ran either) goes again the same way.
//! - Each answer goes to its caller as soon as it is read; a caller that has gone
//!   is skipped over, its rows read and dropped, so the stream stays in step.
//! - Statements that share a Sync, [`SPLIT_FROM`] or more, have a Flush after the
//!   first half: the server sends those answers before it runs the second half, so
//!   their callers run (and queue their next statements) while it does. A Flush
//!   adds no answer, and after an error the server skips it with the rest.
//! - Anything the protocol does not allow here ends the connection: no caller gets
//!   a row that may belong to another.

use std::io;
use std::sync::Arc;

use bytes::BytesMut;
use lru::LruCache;
use parking_lot::Mutex;
use postgres_protocol::message::backend::Message;
use postgres_protocol::message::frontend;
use tokio::io::AsyncRead;

use super::server_error::ServerError;
use super::statements::{Description, statement_name};
use super::wire::WireReader;
use super::work::{Answer, Job, Work};
use crate::ErrorKind;
use crate::pg::PgError;
use crate::pg::row::{Columns, WireRow};

/// The fewest statements under one Sync that get a Flush after their first half.
/// Below it the half's answers are too few to be worth the server's extra send.
pub(crate) const SPLIT_FROM: usize = 6;

/// The statements prepared on one connection, by id, most recently used last.
pub(crate) type Prepared = Mutex<LruCache<u64, ()>>;

/// A batch written to the wire, in the order its answers come back.
pub(crate) struct Sent {
    /// Close messages for evicted statements, first in the batch.
    closes: usize,
    /// Each statement, and whether it is prepared (Close, Parse) in this batch.
    works: Vec<(Work, bool)>,
    /// Whether statements share the last Sync (besides those that go alone).
    shared_sync: bool,
}

/// How the answers to a batch ended.
pub(crate) enum BatchEnd {
    /// The server answered up to the batch's last ReadyForQuery; `again` are to be
    /// sent again, alone.
    Done { again: Vec<Work> },
    /// The connection failed: `error`, for `unanswered` and for the connection.
    Broken {
        error: PgError,
        unanswered: Vec<Work>,
    },
}

/// Encodes the work in `batch` into `out`, preparing what the connection lacks, and
/// returns it in the order of its answers: those that go alone first, each with its
/// own Sync, then the rest under one Sync. `batch` is left empty, its capacity kept
/// for the next batch.
pub(crate) fn write(
    out: &mut BytesMut,
    prepared: &Prepared,
    batch: &mut Vec<Work>,
) -> io::Result<Sent> {
    // A stable sort: each group keeps its order.
    batch.sort_by_key(|work| !work.goes_alone());
    let mut evicted = Vec::new();
    let mut works = Vec::with_capacity(batch.len());
    {
        let mut prepared = prepared.lock();
        for work in batch.drain(..) {
            let id = work.statement_id();
            let parse = prepared.get(&id).is_none();
            if parse && let Some((old, ())) = prepared.push(id, ()) {
                evicted.push(old);
            }
            works.push((work, parse));
        }
    }
    for old in &evicted {
        frontend::close(b'S', &statement_name(*old), out)?;
    }
    let shared = works.iter().filter(|(work, _)| !work.goes_alone()).count();
    let shared_sync = shared > 0;
    let flush_after = (shared >= SPLIT_FROM).then_some(shared / 2);
    let mut shared_written = 0;
    for (work, parse) in &works {
        let parse = *parse;
        match &work.job {
            Job::Run(run) => {
                if parse {
                    let name = &run.statement.name;
                    frontend::close(b'S', name, out)?;
                    let types = run.statement.param_types.iter().map(|ty| ty.oid());
                    frontend::parse(name, &run.statement.sql, types, out)?;
                }
                out.extend_from_slice(&run.bind);
            }
            Job::Describe(describe) => {
                let name = statement_name(describe.id);
                frontend::close(b'S', &name, out)?;
                frontend::parse(&name, &describe.sql, std::iter::empty(), out)?;
                frontend::describe(b'S', &name, out)?;
            }
        }
        if work.goes_alone() {
            frontend::sync(out);
        } else {
            shared_written += 1;
            if flush_after == Some(shared_written) {
                frontend::flush(out);
            }
        }
    }
    if shared_sync {
        frontend::sync(out);
    }
    Ok(Sent {
        closes: evicted.len(),
        works,
        shared_sync,
    })
}

impl Sent {
    /// A batch of nothing, for tests of what carries batches.
    #[cfg(test)]
    pub(crate) fn empty() -> Self {
        Self {
            closes: 0,
            works: Vec::new(),
            shared_sync: false,
        }
    }

    /// Its statements, unanswered (the connection failed before they were sent).
    pub(crate) fn into_works(self) -> Vec<Work> {
        self.works.into_iter().map(|(work, _)| work).collect()
    }
}

/// Reads the answers to `sent` and gives every caller its own.
pub(crate) async fn answer<R: AsyncRead + Unpin>(
    wire: &mut WireReader<R>,
    prepared: &Prepared,
    sent: Sent,
) -> BatchEnd {
    for _ in 0..sent.closes {
        // Closing a statement never fails: an error here is the connection's.
        let closed = match expect(wire, |m| matches!(m, Message::CloseComplete)).await {
            Ok(()) => Ok(()),
            Err(Refused::Io(e)) => Err(e),
            Err(Refused::Server(error)) => Err(io::Error::other(error.message)),
        };
        if let Err(e) = closed {
            return broken(e, sent.into_works());
        }
    }
    // Whether an error under the shared Sync made the server skip the rest of it.
    let mut skipping = false;
    let mut again = Vec::new();
    let mut works = sent.works.into_iter();
    while let Some((mut work, parse)) = works.next() {
        let alone = work.goes_alone();
        if skipping && !alone {
            // Never ran: first in the next batch, alone.
            if parse {
                prepared.lock().pop(&work.statement_id());
            }
            work.skip();
            again.push(work);
            continue;
        }
        match answer_one(wire, work, parse).await {
            Ok(Answered::Delivered) => {}
            Ok(Answered::Refused {
                id,
                forget,
                again: retry,
            }) => {
                if forget {
                    prepared.lock().pop(&id);
                }
                again.extend(retry);
                skipping |= !alone;
            }
            Err((e, work)) => {
                let mut unanswered = vec![work];
                unanswered.extend(works.map(|(work, _)| work));
                unanswered.extend(again);
                return broken(e, unanswered);
            }
        }
        if alone && let Err(e) = ready_for_query(wire).await {
            let mut unanswered: Vec<Work> = works.map(|(work, _)| work).collect();
            unanswered.extend(again);
            return broken(e, unanswered);
        }
    }
    if sent.shared_sync
        && let Err(e) = ready_for_query(wire).await
    {
        return broken(e, again);
    }
    BatchEnd::Done { again }
}

fn broken(error: io::Error, unanswered: Vec<Work>) -> BatchEnd {
    BatchEnd::Broken {
        error: PgError::new(
            ErrorKind::Connect,
            format!(
                "the read connection failed: {error}; its statements may not have run, \
                 and only read, so they may be sent again"
            ),
        ),
        unanswered,
    }
}

/// What became of one statement the server answered.
enum Answered {
    /// Its caller has its answer.
    Delivered,
    /// The server refused it. `forget`: it is not prepared on the connection (its
    /// Parse failed or never ran). `again`: it never ran, and goes again.
    Refused {
        id: u64,
        forget: bool,
        again: Option<Work>,
    },
}

/// Reads the answer to `work` and gives it to its caller; `Err` when the connection
/// failed (the work comes back unanswered).
async fn answer_one<R: AsyncRead + Unpin>(
    wire: &mut WireReader<R>,
    mut work: Work,
    parse: bool,
) -> Result<Answered, (io::Error, Work)> {
    let id = work.statement_id();
    let mut parsed = !parse;
    let read = async {
        if parse {
            expect(wire, |m| matches!(m, Message::CloseComplete)).await?;
            expect(wire, |m| matches!(m, Message::ParseComplete)).await?;
            parsed = true;
        }
        match &work.job {
            Job::Run(run) => read_rows(wire, &run.statement.columns).await,
            Job::Describe(_) => read_description(wire).await,
        }
    };
    let outcome = match read.await {
        Ok(outcome) => outcome,
        Err(Refused::Server(error)) => {
            let missing = error.code.code() == "26000";
            if missing && !work.goes_alone() {
                // Prepared in a batch whose Parse the server skipped: it never ran.
                work.skip();
                return Ok(Answered::Refused {
                    id,
                    forget: true,
                    again: Some(work),
                });
            }
            let pg_error = error.to_pg_error(context(&work));
            work.fail(pg_error);
            return Ok(Answered::Refused {
                id,
                forget: !parsed || missing,
                again: None,
            });
        }
        Err(Refused::Io(e)) => return Err((e, work)),
    };
    let skipped = work.skipped;
    match (work.job, outcome) {
        (Job::Run(run), Outcome::Rows(answer)) => drop(run.reply.send(Ok(answer))),
        (Job::Describe(describe), Outcome::Description(description)) => {
            drop(describe.reply.send(Ok(description)));
        }
        (job, _) => {
            let work = Work { job, skipped };
            return Err((unexpected("an answer of the statement's kind"), work));
        }
    }
    Ok(Answered::Delivered)
}

fn context(work: &Work) -> &'static str {
    match work.job {
        Job::Run(_) => "running a statement on the batched read path",
        Job::Describe(_) => "preparing a statement on the batched read path",
    }
}

/// Why a statement got no answer.
enum Refused {
    Server(ServerError),
    Io(io::Error),
}

impl From<io::Error> for Refused {
    fn from(e: io::Error) -> Self {
        Refused::Io(e)
    }
}

enum Outcome {
    Rows(Answer),
    Description(Description),
}

/// Binding's confirmation, the rows, and the end of the command.
async fn read_rows<R: AsyncRead + Unpin>(
    wire: &mut WireReader<R>,
    columns: &Arc<Columns>,
) -> Result<Outcome, Refused> {
    expect(wire, |m| matches!(m, Message::BindComplete)).await?;
    let mut answer = Answer::default();
    loop {
        match next(wire).await? {
            Message::DataRow(body) => {
                let row = WireRow::new(Arc::clone(columns), body)?;
                answer.rows.push(row.into());
            }
            Message::CommandComplete(_) | Message::EmptyQueryResponse => {
                return Ok(Outcome::Rows(answer));
            }
            Message::ErrorResponse(body) => {
                return Err(Refused::Server(ServerError::parse(&body)?));
            }
            _ => return Err(unexpected("a row or a command tag").into()),
        }
    }
}

/// The parameter types and result columns of a statement just parsed.
async fn read_description<R: AsyncRead + Unpin>(
    wire: &mut WireReader<R>,
) -> Result<Outcome, Refused> {
    use fallible_iterator::FallibleIterator as _;
    let params = match next(wire).await? {
        Message::ParameterDescription(body) => body.parameters().collect()?,
        Message::ErrorResponse(body) => return Err(Refused::Server(ServerError::parse(&body)?)),
        _ => return Err(unexpected("a parameter description").into()),
    };
    let columns = match next(wire).await? {
        Message::RowDescription(body) => body
            .fields()
            .map(|field| Ok((field.name().to_owned(), field.type_oid())))
            .collect()?,
        Message::NoData => Vec::new(),
        Message::ErrorResponse(body) => return Err(Refused::Server(ServerError::parse(&body)?)),
        _ => return Err(unexpected("a row description").into()),
    };
    Ok(Outcome::Description(Description { params, columns }))
}

/// Reads the message `wanted` accepts, or the server's error in its place.
async fn expect<R: AsyncRead + Unpin>(
    wire: &mut WireReader<R>,
    wanted: impl Fn(&Message) -> bool,
) -> Result<(), Refused> {
    match next(wire).await? {
        message if wanted(&message) => Ok(()),
        Message::ErrorResponse(body) => Err(Refused::Server(ServerError::parse(&body)?)),
        _ => Err(unexpected("the next step of the batch").into()),
    }
}

/// Reads up to a ReadyForQuery, past what an error made the server skip.
async fn ready_for_query<R: AsyncRead + Unpin>(wire: &mut WireReader<R>) -> io::Result<()> {
    loop {
        if let Message::ReadyForQuery(_) = next(wire).await? {
            return Ok(());
        }
    }
}

/// The next message that answers a statement: notices and parameter changes, which
/// may come at any time, are passed over.
async fn next<R: AsyncRead + Unpin>(wire: &mut WireReader<R>) -> io::Result<Message> {
    loop {
        match wire.next().await? {
            Message::NoticeResponse(_)
            | Message::ParameterStatus(_)
            | Message::NotificationResponse(_) => {}
            message => return Ok(message),
        }
    }
}

fn unexpected(wanted: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("the server's answer is out of step with the batch (wanted {wanted})"),
    )
}
