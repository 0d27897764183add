//! One batch on the wire: every statement's messages, one Sync, and the answers read
//! back in order.
//!
//! Invariants:
//! - A statement is prepared on the connection before its first Bind, in the same
//!   batch (Close, then Parse: a name left from a batch that failed midway cannot
//!   clash). Evicted statements are closed first thing in a batch, where no error
//!   can skip them.
//! - The server skips everything after an error until the Sync. The statement that
//!   failed gets the error; the ones it skipped never ran, and go first into the next
//!   batch, each followed by a Sync of its own, so that no error skips them again.
//!   Statements that go alone come before the ones that share the batch's last Sync.
//! - Each answer goes to its caller as soon as it is read; a caller that has gone
//!   is skipped over, its rows read and dropped, so the stream stays in step.
//! - Anything the protocol does not allow here ends the connection: no caller gets
//!   a row that may belong to another.

use std::collections::VecDeque;
use std::io;

use lru::LruCache;
use postgres_protocol::message::backend::Message;
use postgres_protocol::message::frontend;

use super::server_error::ServerError;
use super::statements::{Description, statement_name};
use super::wire::Wire;
use super::work::{Answer, Work};
use crate::ErrorKind;
use crate::pg::PgError;
use crate::pg::row::WireRow;

/// How a batch ended.
pub(crate) enum BatchEnd {
    /// The server answered up to its ReadyForQuery; `skipped` are to be sent again.
    Done { skipped: Vec<Work> },
    /// The connection failed: `error`, for `unanswered` and for the connection.
    Broken {
        error: PgError,
        unanswered: Vec<Work>,
    },
}

/// Sends `batch` on `wire` and gives every caller its answer.
pub(crate) async fn exchange(
    wire: &mut Wire,
    prepared: &mut LruCache<u64, ()>,
    batch: &mut Vec<Work>,
) -> BatchEnd {
    // Those that go alone first (a stable sort: each group keeps its order).
    batch.sort_by_key(|work| !work.goes_alone());
    let planned = match write(wire, prepared, batch) {
        Ok(planned) => planned,
        Err(e) => return broken(e, batch.drain(..).collect()),
    };
    if let Err(e) = wire.flush().await {
        return broken(e, batch.drain(..).collect());
    }
    let mut pending: VecDeque<(Work, bool)> = batch.drain(..).zip(planned.parses).collect();
    let unanswered = |pending: VecDeque<(Work, bool)>| pending.into_iter().map(|(w, _)| w).collect();
    for _ in 0..planned.closes {
        // Closing a statement never fails: an error here is the connection's.
        let closed = match expect(wire, |m| matches!(m, Message::CloseComplete)).await {
            Ok(()) => Ok(()),
            Err(Refused::Io(e)) => Err(e),
            Err(Refused::Server(error)) => Err(io::Error::other(error.message)),
        };
        if let Err(e) = closed {
            return broken(e, unanswered(pending));
        }
    }
    // Whether an error in the shared segment (the statements under the last Sync)
    // made the server skip the rest of it.
    let mut skipping = false;
    let mut skipped = Vec::new();
    while let Some((mut work, parse)) = pending.pop_front() {
        let alone = work.goes_alone();
        if skipping && !alone {
            // Never ran: first in the next batch, alone.
            if parse {
                prepared.pop(&work.statement_id());
            }
            work.skip();
            skipped.push(work);
            continue;
        }
        match answer(wire, work, parse).await {
            Ok(None) => {}
            Ok(Some(failed)) => {
                if failed.unparsed || failed.error.code.code() == "26000" {
                    prepared.pop(&failed.id);
                }
                skipping |= !alone;
            }
            Err((e, work)) => {
                let mut unanswered: Vec<Work> = unanswered(pending);
                unanswered.insert(0, work);
                unanswered.extend(skipped);
                return broken(e, unanswered);
            }
        }
        if alone && let Err(e) = ready_for_query(wire).await {
            let mut unanswered: Vec<Work> = unanswered(pending);
            unanswered.extend(skipped);
            return broken(e, unanswered);
        }
    }
    if planned.shared_sync && let Err(e) = ready_for_query(wire).await {
        return broken(e, skipped);
    }
    BatchEnd::Done { skipped }
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

/// What was written for a batch.
struct Planned {
    /// Close messages for evicted statements, first in the batch.
    closes: usize,
    /// For each statement, whether it is prepared (Close, Parse) in this batch.
    parses: Vec<bool>,
    /// Whether statements share the last Sync (besides those that go alone).
    shared_sync: bool,
}

/// Encodes `batch` into the wire's output, preparing what the connection lacks.
fn write(wire: &mut Wire, prepared: &mut LruCache<u64, ()>, batch: &[Work]) -> io::Result<Planned> {
    let mut evicted = Vec::new();
    let mut parses = Vec::with_capacity(batch.len());
    for work in batch {
        let id = work.statement_id();
        let parse = prepared.get(&id).is_none();
        if parse && let Some((old, ())) = prepared.push(id, ()) {
            evicted.push(old);
        }
        parses.push(parse);
    }
    let out = &mut wire.out;
    for old in &evicted {
        frontend::close(b'S', &statement_name(*old), out)?;
    }
    let mut shared_sync = false;
    for (work, &parse) in batch.iter().zip(&parses) {
        let name = parse.then(|| statement_name(work.statement_id()));
        match (work, &name) {
            (Work::Run(run), Some(name)) => {
                frontend::close(b'S', name, out)?;
                let types = run.statement.param_types.iter().map(|ty| ty.oid());
                frontend::parse(name, &run.statement.sql, types, out)?;
                out.extend_from_slice(&run.bind);
            }
            (Work::Run(run), None) => out.extend_from_slice(&run.bind),
            (Work::Describe(describe), name) => {
                let name = name.clone().unwrap_or_else(|| statement_name(describe.id));
                frontend::close(b'S', &name, out)?;
                frontend::parse(&name, &describe.sql, std::iter::empty(), out)?;
                frontend::describe(b'S', &name, out)?;
            }
        }
        if work.goes_alone() {
            frontend::sync(out);
        } else {
            shared_sync = true;
        }
    }
    if shared_sync {
        frontend::sync(out);
    }
    Ok(Planned {
        closes: evicted.len(),
        parses,
        shared_sync,
    })
}

/// A statement the server refused.
struct Failed {
    id: u64,
    error: ServerError,
    /// It was to be prepared in this batch, and was not.
    unparsed: bool,
}

/// Reads the answer to `work` and gives it to its caller. `Some` when the server
/// refused it (its caller has the error); `Err` when the connection failed (the work
/// comes back unanswered).
async fn answer(wire: &mut Wire, work: Work, parse: bool) -> Result<Option<Failed>, (io::Error, Work)> {
    let id = work.statement_id();
    let mut parsed = !parse;
    let read = async {
        if parse {
            expect(wire, |m| matches!(m, Message::CloseComplete)).await?;
            expect(wire, |m| matches!(m, Message::ParseComplete)).await?;
            parsed = true;
        }
        match &work {
            Work::Run(run) => read_rows(wire, run.statement.columns.clone()).await,
            Work::Describe(_) => read_description(wire).await,
        }
    };
    let outcome = match read.await {
        Ok(outcome) => outcome,
        Err(Refused::Server(error)) => {
            let failed = Failed {
                id,
                unparsed: !parsed,
                error,
            };
            let error = failed.error.to_pg_error(context(&work));
            work.fail(error);
            return Ok(Some(failed));
        }
        Err(Refused::Io(e)) => return Err((e, work)),
    };
    match (work, outcome) {
        (Work::Run(run), Outcome::Rows(answer)) => drop(run.reply.send(Ok(answer))),
        (Work::Describe(describe), Outcome::Description(description)) => {
            drop(describe.reply.send(Ok(description)));
        }
        (work, _) => {
            return Err((
                io::Error::new(io::ErrorKind::InvalidData, "answer of the wrong kind"),
                work,
            ));
        }
    }
    Ok(None)
}

fn context(work: &Work) -> &'static str {
    match work {
        Work::Run(_) => "running a statement on the batched read path",
        Work::Describe(_) => "preparing a statement on the batched read path",
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

/// Binding's confirmation, the rows, and the command tag.
async fn read_rows(
    wire: &mut Wire,
    columns: std::sync::Arc<crate::pg::row::Columns>,
) -> Result<Outcome, Refused> {
    expect(wire, |m| matches!(m, Message::BindComplete)).await?;
    let mut answer = Answer::default();
    loop {
        match next(wire).await? {
            Message::DataRow(body) => answer.rows.push(WireRow::new(columns.clone(), body)?),
            Message::CommandComplete(body) => {
                answer.changed = body
                    .tag()?
                    .rsplit(' ')
                    .next()
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0);
                return Ok(Outcome::Rows(answer));
            }
            Message::EmptyQueryResponse => return Ok(Outcome::Rows(answer)),
            Message::ErrorResponse(body) => return Err(Refused::Server(ServerError::parse(&body)?)),
            _ => return Err(unexpected("a row or a command tag").into()),
        }
    }
}

/// The parameter types and result columns of a statement just parsed.
async fn read_description(wire: &mut Wire) -> Result<Outcome, Refused> {
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
async fn expect(wire: &mut Wire, wanted: impl Fn(&Message) -> bool) -> Result<(), Refused> {
    match next(wire).await? {
        message if wanted(&message) => Ok(()),
        Message::ErrorResponse(body) => Err(Refused::Server(ServerError::parse(&body)?)),
        _ => Err(unexpected("the next step of the batch").into()),
    }
}

/// Reads up to the batch's ReadyForQuery, past what an error made the server skip.
async fn ready_for_query(wire: &mut Wire) -> io::Result<()> {
    loop {
        if let Message::ReadyForQuery(_) = next(wire).await? {
            return Ok(());
        }
    }
}

/// The next message that answers a statement: notices and parameter changes, which
/// may come at any time, are passed over.
async fn next(wire: &mut Wire) -> io::Result<Message> {
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
