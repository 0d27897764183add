//! [`Row`]: one row of a statement run through the pool, whichever path ran it.
//!
//! The pipelined and exclusive paths get rows from tokio-postgres; the batched read path
//! reads the server's DataRow messages itself, and the driver's row type cannot be built
//! outside the driver. Both end up as this one type, read the same way.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use postgres_protocol::message::backend::DataRowBody;
use tokio_postgres::row::RowIndex;
use tokio_postgres::types::{FromSql, Type, WrongType};

use super::PgError;
use crate::ErrorKind;

/// A row returned by a statement run through the pool.
///
/// Read a column by position or name, into any type with postgres-types' [`FromSql`],
/// exactly as with `tokio_postgres::Row`:
///
/// ```no_run
/// # async fn run(pool: poolside_core::PgPool) -> Result<(), poolside_core::PgError> {
/// let row = pool.query_one("SELECT 7::int8 AS id, 'tea'::text AS name", &[]).await?;
/// let id: i64 = row.get("id");
/// let name: &str = row.get(1);
/// let missing: Result<i64, _> = row.try_get("price");
/// assert!(missing.is_err());
/// # Ok(()) }
/// ```
///
/// A driver row (from an exclusive connection or a transaction) converts with
/// `Row::from(row)`.
#[derive(Clone)]
pub struct Row(Source);

#[derive(Clone)]
enum Source {
    /// From tokio-postgres (pipelined and exclusive paths).
    Driver(tokio_postgres::Row),
    /// From the batched read path's own connection.
    Wire(WireRow),
}

/// A DataRow as the server sent it, with the columns of its statement. Values are
/// found when read (a walk over the lengths before them), so that a row costs no
/// allocation of its own.
#[derive(Clone)]
pub(crate) struct WireRow {
    columns: Arc<Columns>,
    body: DataRowBody,
}

/// The names and types of a statement's result columns.
#[derive(Debug)]
pub(crate) struct Columns {
    pub(crate) names: Vec<String>,
    pub(crate) types: Vec<Type>,
}

impl WireRow {
    /// The row in `body`, which must hold one value per column.
    pub(crate) fn new(columns: Arc<Columns>, body: DataRowBody) -> std::io::Result<Self> {
        use fallible_iterator::FallibleIterator as _;
        // The count the message declares (its values are checked as they are read).
        let (values, _) = body.ranges().size_hint();
        if values != columns.names.len() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "the server sent a row of {values} values for a statement of {} columns",
                    columns.names.len()
                ),
            ));
        }
        Ok(Self { columns, body })
    }

    fn value<'a, T: FromSql<'a>>(&'a self, index: usize) -> Result<T, String> {
        use fallible_iterator::FallibleIterator as _;
        let ty = &self.columns.types[index];
        if !T::accepts(ty) {
            return Err(WrongType::new::<T>(ty.clone()).to_string());
        }
        let range: Option<Range<usize>> = match self.body.ranges().nth(index) {
            Ok(Some(range)) => range,
            Ok(None) => return Err("the row ends before this column".to_owned()),
            Err(e) => return Err(format!("the row does not parse: {e}")),
        };
        let raw = range.map(|range| &self.body.buffer()[range]);
        T::from_sql_nullable(ty, raw).map_err(|e| e.to_string())
    }
}

impl From<tokio_postgres::Row> for Row {
    fn from(row: tokio_postgres::Row) -> Self {
        Self(Source::Driver(row))
    }
}

impl From<WireRow> for Row {
    fn from(row: WireRow) -> Self {
        Self(Source::Wire(row))
    }
}

impl Row {
    /// The value of column `index` (a position or a name).
    ///
    /// # Panics
    ///
    /// When there is no such column or its value does not convert to `T`; see
    /// [`try_get`](Self::try_get).
    #[track_caller]
    pub fn get<'a, I, T>(&'a self, index: I) -> T
    where
        I: RowIndex + fmt::Display,
        T: FromSql<'a>,
    {
        match self.try_get(&index) {
            Ok(value) => value,
            Err(e) => panic!("error retrieving column {index}: {e}"),
        }
    }

    /// The value of column `index` (a position or a name).
    ///
    /// # Errors
    ///
    /// `Query` when there is no such column, or its value does not convert to `T` (a
    /// NULL into a type that is not an `Option`, say).
    pub fn try_get<'a, I, T>(&'a self, index: I) -> Result<T, PgError>
    where
        I: RowIndex + fmt::Display,
        T: FromSql<'a>,
    {
        match &self.0 {
            // The driver's error names the position; name the column as asked.
            Source::Driver(row) => row.try_get(&index).map_err(|e| {
                let detail = std::error::Error::source(&e)
                    .map_or_else(|| e.to_string(), ToString::to_string);
                column_error(&index, detail)
            }),
            Source::Wire(row) => {
                let position = index
                    .__idx(&row.columns.names)
                    .ok_or_else(|| column_error(&index, "no such column".to_owned()))?;
                row.value(position).map_err(|e| column_error(&index, e))
            }
        }
    }

    /// How many columns the row has.
    pub fn len(&self) -> usize {
        match &self.0 {
            Source::Driver(row) => row.len(),
            Source::Wire(row) => row.columns.names.len(),
        }
    }

    /// Whether the row has no columns.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The name of each column, in order.
    pub fn column_names(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        let names: Vec<&str> = match &self.0 {
            Source::Driver(row) => row.columns().iter().map(|c| c.name()).collect(),
            Source::Wire(row) => row.columns.names.iter().map(String::as_str).collect(),
        };
        names.into_iter()
    }

    /// The type of each column, in order.
    pub fn column_types(&self) -> Vec<Type> {
        match &self.0 {
            Source::Driver(row) => row.columns().iter().map(|c| c.type_().clone()).collect(),
            Source::Wire(row) => row.columns.types.clone(),
        }
    }
}

fn column_error(index: &dyn fmt::Display, detail: String) -> PgError {
    PgError::new(
        ErrorKind::Query,
        format!("reading column {index}: {detail}"),
    )
}

impl fmt::Debug for Row {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Values are left out: they may hold personal data.
        f.debug_struct("Row")
            .field("columns", &self.column_names().collect::<Vec<_>>())
            .finish()
    }
}
