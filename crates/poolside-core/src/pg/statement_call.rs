//! [`StatementCall`]: what is done with a prepared statement (`query` or `execute`), so
//! that preparing, running, and preparing again after a stale plan are written once for
//! both, on the exclusive and the pipelined path.

use std::future::Future;

use tokio_postgres::{Client, Row, Statement};

use super::connection::Params;

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
}
