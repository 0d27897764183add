//! Row-count expectations of `query_one` and `query_opt`, shared by the pipelined and
//! the exclusive path.

use super::PgError;
use crate::ErrorKind;

/// The only row of `rows`, or an error saying how many there were.
pub(crate) fn exactly_one<Row>(mut rows: Vec<Row>) -> Result<Row, PgError> {
    match rows.len() {
        1 => Ok(rows.remove(0)),
        n => Err(PgError::new(
            ErrorKind::Query,
            format!("expected exactly one row, got {n}"),
        )),
    }
}

/// The row of `rows` if there is one, or an error when there are more.
pub(crate) fn at_most_one<Row>(mut rows: Vec<Row>) -> Result<Option<Row>, PgError> {
    match rows.len() {
        0 => Ok(None),
        1 => Ok(Some(rows.remove(0))),
        n => Err(PgError::new(
            ErrorKind::Query,
            format!("expected at most one row, got {n}"),
        )),
    }
}
