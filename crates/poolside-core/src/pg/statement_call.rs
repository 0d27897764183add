//! [`StatementCall`]: what is done with a statement (`query` or `execute`), prepared or
//! unnamed with its parameter types, so that preparing (or learning the types),
//! running, and doing it again after a migration are written once for both, on the
//! exclusive and the pipelined path.

use std::future::Future;

use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, Row, Statement};

use super::params::Params;

/// Runs a prepared statement on a client.
pub(crate) trait StatementCall {
    /// What the call gives.
    type Output;

    /// What a failure says was being done.
    const CONTEXT: &'static str;

    /// Runs `statement` on `client`.
    fn call<'a>(
        &'a self,
        client: &'a Client,
        statement: &'a Statement,
    ) -> impl Future<Output = Result<Self::Output, tokio_postgres::Error>> + Send + 'a;

    /// Runs `sql` unnamed on `client`, its parameters sent as `types`, in one round
    /// trip (PgBouncer's transaction mode).
    fn call_typed<'a>(
        &'a self,
        client: &'a Client,
        sql: &'a str,
        types: &[Type],
    ) -> impl Future<Output = Result<Self::Output, tokio_postgres::Error>> + Send + 'a;

    /// The statement's parameters.
    fn params(&self) -> Params<'_>;
}

/// Runs a statement for its rows.
pub(crate) struct Query<'p>(pub(crate) Params<'p>);

impl StatementCall for Query<'_> {
    type Output = Vec<Row>;
    const CONTEXT: &'static str = "running a query";

    fn call<'a>(
        &'a self,
        client: &'a Client,
        statement: &'a Statement,
    ) -> impl Future<Output = Result<Vec<Row>, tokio_postgres::Error>> + Send + 'a {
        client.query(statement, self.0)
    }

    fn call_typed<'a>(
        &'a self,
        client: &'a Client,
        sql: &'a str,
        types: &[Type],
    ) -> impl Future<Output = Result<Vec<Row>, tokio_postgres::Error>> + Send + 'a {
        let params = typed(self.0, types);
        async move { client.query_typed(sql, &params).await }
    }

    fn params(&self) -> Params<'_> {
        self.0
    }
}

/// Runs a statement for the number of rows it changed.
pub(crate) struct Execute<'p>(pub(crate) Params<'p>);

impl StatementCall for Execute<'_> {
    type Output = u64;
    const CONTEXT: &'static str = "running a statement";

    fn call<'a>(
        &'a self,
        client: &'a Client,
        statement: &'a Statement,
    ) -> impl Future<Output = Result<u64, tokio_postgres::Error>> + Send + 'a {
        client.execute(statement, self.0)
    }

    fn call_typed<'a>(
        &'a self,
        client: &'a Client,
        sql: &'a str,
        types: &[Type],
    ) -> impl Future<Output = Result<u64, tokio_postgres::Error>> + Send + 'a {
        let params = typed(self.0, types);
        async move { client.execute_typed(sql, &params).await }
    }

    fn params(&self) -> Params<'_> {
        self.0
    }
}

/// `params` paired with the types the server gave for them (a wrong count is left for
/// the server to report).
pub(crate) fn typed<'a>(params: Params<'a>, types: &[Type]) -> Vec<(&'a (dyn ToSql + Sync), Type)> {
    params
        .iter()
        .zip(
            types
                .iter()
                .cloned()
                .chain(std::iter::repeat(Type::UNKNOWN)),
        )
        .map(|(param, ty)| (*param, ty))
        .collect()
}
