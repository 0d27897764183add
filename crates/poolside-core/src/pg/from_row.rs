//! [`FromRow`]: a type built from one [`Row`], for the `query_as` calls.
//!
//! Derive it for a struct with `#[derive(FromRow)]` (feature `derive`): each field
//! reads the column of its name. Tuples read columns by position.

use tokio_postgres::types::FromSqlOwned;

use super::{PgError, Row};

/// A type built from one row.
///
/// # Examples
///
/// ```
/// use poolside_core::FromRow;
///
/// // `rename` reads another column; `flatten` builds a field from the same row.
/// #[derive(FromRow)]
/// #[from_row(crate = "poolside_core")]
/// struct Product {
///     id: i64,
///     #[from_row(rename = "product_name")]
///     name: String,
///     price_cents: Option<i64>,
/// }
/// ```
///
/// From the facade, `#[derive(poolside::FromRow)]` needs no `crate` attribute.
pub trait FromRow: Sized {
    /// Builds the value from `row`.
    ///
    /// # Errors
    ///
    /// `Query` when a column is missing or its value does not convert (a NULL into a
    /// field that is not an `Option`, say), naming the column.
    fn from_row(row: &Row) -> Result<Self, PgError>;
}

impl FromRow for Row {
    fn from_row(row: &Row) -> Result<Self, PgError> {
        Ok(row.clone())
    }
}

/// Tuples read the first columns in order: `(i64, String)` takes columns 0 and 1.
macro_rules! tuple_from_row {
    ($($name:ident $index:tt),+) => {
        impl<$($name: FromSqlOwned),+> FromRow for ($($name,)+) {
            fn from_row(row: &Row) -> Result<Self, PgError> {
                Ok(($(row.try_get::<usize, $name>($index)?,)+))
            }
        }
    };
}

tuple_from_row!(A 0);
tuple_from_row!(A 0, B 1);
tuple_from_row!(A 0, B 1, C 2);
tuple_from_row!(A 0, B 1, C 2, D 3);
tuple_from_row!(A 0, B 1, C 2, D 3, E 4);
tuple_from_row!(A 0, B 1, C 2, D 3, E 4, F 5);
tuple_from_row!(A 0, B 1, C 2, D 3, E 4, F 5, G 6);
tuple_from_row!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7);
