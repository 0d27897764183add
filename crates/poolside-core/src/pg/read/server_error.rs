//! [`ServerError`]: an ErrorResponse read off the batched read path's connection.

use std::io;

use fallible_iterator::FallibleIterator as _;
use postgres_protocol::message::backend::ErrorResponseBody;
use tokio_postgres::error::SqlState;

use crate::pg::PgError;
use crate::pg::schema_epoch::{REVALIDATE_ROUTINE, STALE_PLAN_MESSAGE};

/// The fields of an ErrorResponse poolside acts on.
#[derive(Debug, Clone)]
pub(crate) struct ServerError {
    pub(crate) code: SqlState,
    pub(crate) message: String,
    routine: Option<String>,
}

impl ServerError {
    pub(crate) fn parse(body: &ErrorResponseBody) -> io::Result<Self> {
        let mut code = None;
        let mut message = String::new();
        let mut routine = None;
        let mut fields = body.fields();
        while let Some(field) = fields.next()? {
            let value = String::from_utf8_lossy(field.value_bytes());
            match field.type_() {
                b'C' => code = Some(SqlState::from_code(&value)),
                b'M' => message = value.into_owned(),
                b'R' => routine = Some(value.into_owned()),
                _ => {}
            }
        }
        Ok(Self {
            code: code.unwrap_or(SqlState::INTERNAL_ERROR),
            message,
            routine,
        })
    }

    /// Whether the server refused a prepared statement because its result changed
    /// shape since it was prepared (a migration).
    pub(crate) fn is_stale_plan(&self) -> bool {
        self.code == SqlState::FEATURE_NOT_SUPPORTED
            && (self.routine.as_deref() == Some(REVALIDATE_ROUTINE)
                || self.message == STALE_PLAN_MESSAGE)
    }

    /// The pool's error for it, saying what was being done.
    pub(crate) fn to_pg_error(&self, context: &str) -> PgError {
        PgError::from_server(
            self.code.clone(),
            &self.message,
            self.is_stale_plan(),
            context,
        )
    }
}
