//! [`PgRequest`]: one statement as a value that a tower stack can carry, clone and
//! retry, and `PgPool` as the `tower::Service` that runs it on the pipelined path.
//!
//! The parameters are borrowed, as every other call takes them (`&[&id, &name]`), so
//! the request lives no longer than the call that made it. The SQL is a
//! `Cow<'static, str>`: a literal costs nothing to carry, and SQL built at run time
//! travels the whole stack too. Cloning a request (a retry layer sends it again)
//! copies the SQL only when it was built at run time.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::params::Params;
use super::{Lsn, PgError, PgPool, Row};

/// Whether a request wants rows or a count of changed rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PgRequestKind {
    /// `query`: the rows.
    Rows,
    /// `execute`: how many rows changed.
    Changed,
}

/// One autocommit statement, named for metrics (a fixed, low-cardinality name), with
/// parameters it borrows.
///
/// The SQL may be a literal or built at run time (`format!(..)`): metrics and the
/// breaker see the operation's name, never the text.
///
/// The parameters are borrowed for as long as the request lives: pass `&[&id]` straight
/// into the call that sends it, or bind the array first
/// (`let params: [&(dyn ToSql + Sync); 1] = [&id];`) to keep the request in a variable.
#[derive(Clone)]
pub struct PgRequest<'a> {
    name: &'static str,
    sql: Cow<'static, str>,
    params: Params<'a>,
    kind: PgRequestKind,
    critical: bool,
    read_only: bool,
    after: Option<Lsn>,
}

impl std::fmt::Debug for PgRequest<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The parameters are left out: they may hold personal data or secrets.
        f.debug_struct("PgRequest")
            .field("name", &self.name)
            .field("sql", &self.sql)
            .field("params", &self.params.len())
            .field("kind", &self.kind)
            .field("critical", &self.critical)
            .field("read_only", &self.read_only)
            .field("after", &self.after)
            .finish()
    }
}

impl<'a> PgRequest<'a> {
    /// A statement whose rows are wanted.
    pub fn query(
        name: &'static str,
        sql: impl Into<Cow<'static, str>>,
        params: Params<'a>,
    ) -> Self {
        Self::new(name, sql.into(), params, PgRequestKind::Rows)
    }

    /// A statement whose count of changed rows is wanted.
    pub fn execute(
        name: &'static str,
        sql: impl Into<Cow<'static, str>>,
        params: Params<'a>,
    ) -> Self {
        Self::new(name, sql.into(), params, PgRequestKind::Changed)
    }

    fn new(
        name: &'static str,
        sql: Cow<'static, str>,
        params: Params<'a>,
        kind: PgRequestKind,
    ) -> Self {
        Self {
            name,
            sql,
            params,
            kind,
            critical: false,
            read_only: false,
            after: None,
        }
    }

    /// Marks the request critical: an overflow layer may send it to the secondary
    /// pool while the primary is busy.
    pub fn critical(mut self) -> Self {
        self.critical = true;
        self
    }

    /// Marks the statement read-only: a [`ReplicaService`](crate::ReplicaService) may
    /// run it on a replica, and `PgPool` runs it on its batched read path
    /// ([`PgPool::read_query`]) when `postgres.read_connections` is set. Only for
    /// statements that write nothing: both refuse writes (25006).
    pub fn read_only(mut self) -> Self {
        self.read_only = true;
        self
    }

    /// The statement must see every write up to `position` (a token from
    /// [`PgPool::wal_position`] after a write): a replica takes it only once it has
    /// replayed that far. Keeps the latest of several.
    pub fn after(mut self, position: Lsn) -> Self {
        self.after = self.after.max(Some(position));
        self
    }

    /// Whether it is marked read-only.
    pub(crate) fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// The WAL position it must see, if any.
    pub(crate) fn after_position(&self) -> Option<Lsn> {
        self.after
    }

    /// The operation's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The statement, with its placeholders.
    pub fn sql(&self) -> &str {
        &self.sql
    }

    /// The statement to keep beyond the request (a slow-operation report): a literal
    /// is not copied.
    pub fn statement(&self) -> Cow<'static, str> {
        self.sql.clone()
    }
}

impl poolside_resilience::Critical for PgRequest<'_> {
    fn is_critical(&self) -> bool {
        self.critical
    }
}

/// What a [`PgRequest`] returns.
#[derive(Debug)]
pub enum PgAnswer {
    /// The rows of a query.
    Rows(Vec<Row>),
    /// The count of changed rows.
    Changed(u64),
}

impl PgAnswer {
    /// The rows (none for a count).
    pub fn into_rows(self) -> Vec<Row> {
        match self {
            PgAnswer::Rows(rows) => rows,
            PgAnswer::Changed(_) => Vec::new(),
        }
    }

    /// The one row of a query that must return exactly one.
    ///
    /// # Errors
    ///
    /// `Query` when there were none or several.
    pub fn into_one(self) -> Result<Row, PgError> {
        super::rows::exactly_one(self.into_rows())
    }

    /// The row of a query that returns at most one.
    ///
    /// # Errors
    ///
    /// `Query` when there were several.
    pub fn into_opt(self) -> Result<Option<Row>, PgError> {
        super::rows::at_most_one(self.into_rows())
    }

    /// The count of changed rows (the number of rows for a query).
    pub fn changed(&self) -> u64 {
        match self {
            PgAnswer::Rows(rows) => rows.len() as u64,
            PgAnswer::Changed(n) => *n,
        }
    }
}

/// `PgPool` runs requests on its pipelined path, as [`PgPool::query`] and
/// [`PgPool::execute`] do.
///
/// # Examples
///
/// ```no_run
/// use poolside_core::{PgAnswer, PgRequest};
/// use tower::ServiceExt;
///
/// # async fn run(pool: poolside_core::PgPool) -> Result<(), poolside_core::PgError> {
/// let request = PgRequest::query("get_product", "SELECT name FROM products WHERE id = $1", &[&7_i64]);
/// let rows = pool.oneshot(request).await?.into_rows();
/// # Ok(()) }
/// ```
impl<'a> tower::Service<PgRequest<'a>> for PgPool {
    type Response = PgAnswer;
    type Error = PgError;
    type Future = Pin<Box<dyn Future<Output = Result<PgAnswer, PgError>> + Send + 'a>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), PgError>> {
        // The pool queues in `call`: waiting there is bounded by the connection timeout.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: PgRequest<'a>) -> Self::Future {
        let pool = self.clone();
        Box::pin(async move {
            match request.kind {
                PgRequestKind::Rows if request.read_only => pool
                    .read_query(&request.sql, request.params)
                    .await
                    .map(PgAnswer::Rows),
                PgRequestKind::Rows => pool
                    .query(&request.sql, request.params)
                    .await
                    .map(PgAnswer::Rows),
                PgRequestKind::Changed => pool
                    .execute(&request.sql, request.params)
                    .await
                    .map(PgAnswer::Changed),
            }
        })
    }
}
