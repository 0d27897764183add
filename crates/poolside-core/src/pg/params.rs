//! [`Params`]: statement parameters, borrowed, as every call takes them
//! (`&[&id, &"widget"]`).

use tokio_postgres::types::ToSql;

/// Parameters of a statement: `&[&id, &name]`, as tokio-postgres takes them.
pub type Params<'a> = &'a [&'a (dyn ToSql + Sync)];
