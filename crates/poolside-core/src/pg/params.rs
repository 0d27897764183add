//! [`Params`]: statement parameters, borrowed, as every call takes them
//! (`&[&id, &"widget"]`), and the errors for parameters that do not fit a statement.

use tokio_postgres::types::ToSql;

use super::PgError;
use crate::ErrorKind;

/// Parameters of a statement: `&[&id, &name]`, as tokio-postgres takes them.
pub type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

/// Fails, before anything is sent, when `given` parameters do not fit a statement
/// that takes `takes`.
pub(crate) fn check_count(takes: usize, given: usize) -> Result<(), PgError> {
    if takes == given {
        return Ok(());
    }
    Err(PgError::new(
        ErrorKind::Query,
        format!("the statement takes {takes} parameters and {given} were given"),
    ))
}

/// The error for parameter `index` (from 0), which does not convert to its type.
pub(crate) fn does_not_convert(index: usize, error: impl std::fmt::Display) -> PgError {
    PgError::new(
        ErrorKind::Query,
        format!("parameter ${} does not convert: {error}", index + 1),
    )
}
