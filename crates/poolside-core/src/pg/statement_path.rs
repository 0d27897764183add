//! The one path every statement takes, on any connection: prepared and cached (or, in
//! PgBouncer mode, sent unnamed with the pool's parameter types), bounded by
//! `postgres.query_timeout`, and sent once more when a migration made its cached
//! statement or types stale.
//!
//! The exclusive connection ([`PgConnection`]) and the pipeline's shared one are each
//! a [`StatementSite`]. They differ only in how they get a prepared statement, where
//! they learn parameter types, and what a timeout does to them; the loop is here once.

use std::future::Future;
use std::ops::DerefMut;

use futures_util::FutureExt as _;
use futures_util::future::Either;

use tokio_postgres::Statement;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::Type;

use super::PgError;
use super::connection::{Caller, PgConnection, QueryTimedOut};
use super::param_types::{self, ParamTypes};
use super::schema_epoch::is_stale_plan;
use super::shared_refusals::refuse_on_a_shared_connection;
use super::statement_cache::{self, StatementCache};
use super::statement_call::StatementCall;
use super::statement_text::refuse_unsendable;

/// A connection a statement runs on, as the statement path needs it.
pub(crate) trait StatementSite {
    /// Whether the caller has the connection to itself, or shares it.
    const CALLER: Caller;

    /// The connection.
    fn connection(&self) -> &PgConnection;

    /// The statements prepared on it.
    fn statements(&mut self) -> impl DerefMut<Target = StatementCache> + '_;

    /// The statement for `sql` and the schema epoch it was prepared in: cached, or
    /// prepared now within the query timeout.
    fn statement(
        &mut self,
        sql: &str,
    ) -> impl Future<Output = Result<(Statement, u64), PgError>> + Send;

    /// The parameter types the server gives `sql` (PgBouncer mode).
    fn learn_param_types(
        &mut self,
        sql: &str,
    ) -> impl Future<Output = Result<Vec<Type>, PgError>> + Send;

    /// The error for a statement past the query timeout, once the site has dealt with
    /// it (a shared connection leaves sharing).
    fn timed_out(&self, timeout: QueryTimedOut) -> PgError;
}

/// Runs `sql` through `call` on `site`: unnamed with types from `param_types` when
/// given (PgBouncer mode), prepared otherwise.
///
/// A plain function, not an `async fn`: one would hold the arguments again beside the
/// path's own future.
pub(crate) fn run<'a, S: StatementSite, C: StatementCall + 'a>(
    site: &'a mut S,
    param_types: Option<&'a ParamTypes>,
    sql: &'a str,
    call: C,
) -> impl Future<Output = Result<C::Output, PgError>> + 'a {
    match param_types {
        // Boxed: the prepared path's future would otherwise carry this one's state.
        Some(types) => Either::Left(Box::pin(run_unnamed(site, types, sql, call))),
        None => Either::Right(run_prepared(site, sql, call)),
    }
}

/// Awaits `call` on `site` within the query timeout.
///
/// A plain function, not an `async fn`: one would hold `call` twice in its state (as
/// its argument, and inside the timeout), doubling the size of every statement's
/// future.
pub(crate) fn bounded<'a, S: StatementSite, T: 'a>(
    site: &'a S,
    call: impl Future<Output = T> + 'a,
) -> impl Future<Output = Result<T, PgError>> + 'a {
    site.connection()
        .bounded(call, S::CALLER)
        .map(move |result| result.map_err(|timeout| site.timed_out(timeout)))
}

/// Runs `sql`, prepared (or from the cache), through `call`. A cached statement the
/// server refused before running it (a migration made it stale, or the session lost
/// it to a `DEALLOCATE` or `DISCARD ALL`) is prepared again and run once more, unless
/// a transaction of `PgPool::transaction` is open: that one is run again whole.
async fn run_prepared<S: StatementSite, C: StatementCall>(
    site: &mut S,
    sql: &str,
    call: C,
) -> Result<C::Output, PgError> {
    // The server's refusal of the cached statement, once it is being run again. Kept
    // as the driver's error (a pointer): a `PgError` here would grow every statement's
    // future.
    let mut refused = None;
    loop {
        let (statement, epoch) = match site.statement(sql).await {
            Ok(prepared) => prepared,
            Err(e) => {
                return Err(unless_aborted_by(
                    site.connection(),
                    refused,
                    e,
                    sql,
                    C::CONTEXT,
                ));
            }
        };
        let error = match bounded(site, call.call(site.connection().driver(), &statement)).await? {
            Ok(output) => return Ok(output),
            Err(error) => error,
        };
        if statement_cache::is_lost(&error, sql) {
            site.statements().forget_all();
        } else if is_stale_plan(&error) {
            site.statements().forget_stale(sql, epoch);
        } else {
            let error = site.connection().driver_error(error, C::CONTEXT);
            return Err(unless_aborted_by(
                site.connection(),
                refused,
                error,
                sql,
                C::CONTEXT,
            ));
        }
        if refused.is_some() || site.connection().is_in_transaction() {
            return Err(refusal(site.connection(), error, sql, C::CONTEXT));
        }
        refused = Some(error);
    }
}

/// The error for the server's refusal of a cached statement, stale or lost (a lost
/// one's is marked for `PgPool::transaction`, as a stale one's is already).
pub(crate) fn refusal(
    conn: &PgConnection,
    error: tokio_postgres::Error,
    sql: &str,
    context: &str,
) -> PgError {
    let lost = statement_cache::is_lost(&error, sql);
    let error = conn.driver_error(error, context);
    if lost { error.lost_statement() } else { error }
}

/// `error`, from running a statement again after `refused`, the server's refusal of
/// its cached one. In a transaction of the caller's own, which `refused` aborted, the
/// second try only meets 25P02: `refused` is then the error to give.
fn unless_aborted_by(
    conn: &PgConnection,
    refused: Option<tokio_postgres::Error>,
    error: PgError,
    sql: &str,
    context: &str,
) -> PgError {
    match refused {
        Some(refused) if error.code() == Some(&SqlState::IN_FAILED_SQL_TRANSACTION) => {
            refusal(conn, refused, sql, context)
        }
        _ => error,
    }
}

/// Runs `sql` unnamed through `call`, in one round trip: the form PgBouncer's
/// transaction mode accepts. Its parameter types come from the pool's cache (learnt
/// once per pool, see [`ParamTypes`]). Types a migration made stale are learnt again
/// and the statement sent once more (a type error comes before it runs); inside a
/// transaction the server's refusal aborted, the error is marked for
/// `PgPool::transaction` to run the transaction again.
async fn run_unnamed<S: StatementSite, C: StatementCall>(
    site: &mut S,
    types: &ParamTypes,
    sql: &str,
    call: C,
) -> Result<C::Output, PgError> {
    // Unnamed, the text goes with every call: a statement without parameters learns
    // no types, which would have checked it once.
    if S::CALLER == Caller::Sharing {
        refuse_on_a_shared_connection(sql)?;
    } else {
        refuse_unsendable(sql)?;
    }
    let mut learnt_again = false;
    loop {
        let learnt = types
            .of(sql, call.params(), site.learn_param_types(sql))
            .await?;
        let ran = call.call_typed(site.connection().driver(), sql, &learnt.types);
        let error = match bounded(site, ran).await? {
            Ok(output) => return Ok(output),
            Err(error) => error,
        };
        if learnt.fresh || !param_types::may_be_stale(&error) {
            return Err(site.connection().driver_error(error, C::CONTEXT));
        }
        types.forget(sql, &learnt);
        let aborted = site.connection().is_in_transaction() && !param_types::is_wrong_type(&error);
        if aborted || learnt_again {
            let error = site.connection().driver_error(error, C::CONTEXT);
            return Err(if aborted { error.stale() } else { error });
        }
        learnt_again = true;
    }
}
