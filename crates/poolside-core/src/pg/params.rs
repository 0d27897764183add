//! Statement parameters: [`Params`], borrowed, for the calls that run a statement at
//! once; [`Param`] and [`params!`](crate::params), owned, for a [`PgRequest`](super::PgRequest)
//! that a retry may send again.

use std::sync::Arc;

use tokio_postgres::types::ToSql;

/// Parameters of a statement.
pub type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

/// One owned statement parameter; build a list with [`params!`](crate::params).
pub type Param = Arc<dyn ToSql + Send + Sync>;

/// Owned statement parameters: `poolside_core::params![id, "name"]`.
///
/// # Examples
///
/// ```
/// let params = poolside_core::params![42_i64, "widget"];
/// assert_eq!(params.len(), 2);
/// ```
#[macro_export]
macro_rules! params {
    ($($param:expr),* $(,)?) => {
        ::std::vec![$(::std::sync::Arc::new($param) as $crate::Param),*]
    };
}
