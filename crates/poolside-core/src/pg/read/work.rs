//! [`Work`]: what a caller queues on a read connection, and how its statement is
//! encoded before it is queued.

use bytes::{Bytes, BytesMut};
use postgres_protocol::message::frontend;
use tokio::sync::oneshot;
use tokio_postgres::types::IsNull;

use super::statements::{Described, Description};
use crate::ErrorKind;
use crate::pg::params::{check_count, does_not_convert};
use crate::pg::{Params, PgError, Row};
use std::sync::Arc;

/// A statement's result: its rows.
#[derive(Default)]
pub(crate) struct Answer {
    pub(crate) rows: Vec<Row>,
}

/// One caller's statement, encoded, with where its answer goes.
pub(crate) struct Run {
    pub(crate) statement: Arc<Described>,
    /// Its Bind and Execute messages.
    pub(crate) bind: Bytes,
    pub(crate) reply: oneshot::Sender<Result<Answer, PgError>>,
}

/// A statement to describe (and prepare, on the connection that describes it).
pub(crate) struct Describe {
    pub(crate) id: u64,
    pub(crate) sql: Arc<str>,
    pub(crate) reply: oneshot::Sender<Result<Description, PgError>>,
}

/// What a caller asks of a read connection.
pub(crate) enum Job {
    Run(Run),
    Describe(Describe),
}

/// A job as queued on a read connection.
pub(crate) struct Work {
    pub(crate) job: Job,
    /// A batch skipped it after another statement's error: it goes alone next time.
    pub(crate) skipped: bool,
}

impl From<Job> for Work {
    fn from(job: Job) -> Self {
        Self {
            job,
            skipped: false,
        }
    }
}

impl Work {
    /// Whether its caller has gone (dropped its future): its answer would be
    /// discarded, so it need not be sent.
    pub(crate) fn is_abandoned(&self) -> bool {
        match &self.job {
            Job::Run(run) => run.reply.is_closed(),
            Job::Describe(describe) => describe.reply.is_closed(),
        }
    }

    /// The statement id it prepares or runs.
    pub(crate) fn statement_id(&self) -> u64 {
        match &self.job {
            Job::Run(run) => run.statement.id,
            Job::Describe(describe) => describe.id,
        }
    }

    /// Marks it skipped after another statement's error.
    pub(crate) fn skip(&mut self) {
        self.skipped = true;
    }

    /// Whether a batch skipped it: it is then sent with a Sync of its own, so that no
    /// other statement's error can skip it again.
    pub(crate) fn goes_alone(&self) -> bool {
        self.skipped
    }

    /// Gives its caller `error`.
    pub(crate) fn fail(self, error: PgError) {
        // A caller that has gone gets nothing; that is fine.
        match self.job {
            Job::Run(run) => drop(run.reply.send(Err(error))),
            Job::Describe(describe) => drop(describe.reply.send(Err(error))),
        }
    }
}

/// The Bind (unnamed portal, binary results) and Execute messages that run
/// `statement` with `params`. Fails, before anything is sent, when the count or a
/// type of the parameters does not fit.
pub(crate) fn encode(statement: &Described, params: Params<'_>) -> Result<Bytes, PgError> {
    let types = &statement.param_types;
    check_count(types.len(), params.len())?;
    // Bind and Execute with small parameters fit this, in one allocation.
    let mut buf = BytesMut::with_capacity(32 + statement.name.len() + 16 * params.len());
    let formats = params
        .iter()
        .zip(types)
        .map(|(param, ty)| param.encode_format(ty) as i16);
    let mut failed_at = 0;
    let bound = frontend::bind(
        "",
        &statement.name,
        formats,
        params.iter().zip(types).enumerate(),
        |(i, (param, ty)), buf| {
            failed_at = i;
            match param.to_sql_checked(ty, buf) {
                Ok(IsNull::No) => Ok(postgres_protocol::IsNull::No),
                Ok(IsNull::Yes) => Ok(postgres_protocol::IsNull::Yes),
                Err(e) => Err(e),
            }
        },
        Some(1),
        &mut buf,
    );
    match bound {
        Ok(()) => {}
        Err(frontend::BindError::Conversion(e)) => {
            return Err(does_not_convert(failed_at, e));
        }
        Err(frontend::BindError::Serialization(e)) => {
            return Err(PgError::new(
                ErrorKind::Query,
                format!("the parameters do not encode: {e}"),
            ));
        }
    }
    frontend::execute("", 0, &mut buf).map_err(|e| {
        PgError::new(
            ErrorKind::Query,
            format!("the statement does not encode: {e}"),
        )
    })?;
    Ok(buf.freeze())
}
