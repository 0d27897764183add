//! [`Op`]: one named operation through the standard stack, with the markers that
//! route it (read-only, idempotent, critical, a WAL position to see), and its rows as
//! [`Row`]s or as the caller's own types ([`FromRow`]).

use std::borrow::Cow;

use poolside_core::{FromRow, Lsn, Params, PgAnswer, PgError, PgRequest, Row};
use tower::ServiceExt;

use crate::{Poolside, Session};

/// One operation, named for metrics: `db.op("get_product").idempotent().query_one(...)`.
///
/// The SQL is a literal or a `String` built at run time: either runs through the
/// whole stack (deadline, retry, breaker, metrics), and metrics are labelled by the
/// operation's name, never by the text. Build SQL from trusted parts only (table and
/// column names you chose); values always go in `params`.
///
/// # Examples
///
/// ```no_run
/// # async fn run(db: poolside::Poolside) -> Result<(), poolside::PgError> {
/// #[derive(poolside::FromRow)]
/// struct Product {
///     id: i64,
///     name: String,
/// }
///
/// let product: Product = db
///     .op("get_product")
///     .read_only()
///     .query_one_as("SELECT id, name FROM products WHERE id = $1", &[&7_i64])
///     .await?;
///
/// // SQL built at run time, same stack.
/// let order = if true { "name" } else { "id" };
/// let all: Vec<Product> = db
///     .op("list_products")
///     .query_as(format!("SELECT id, name FROM products ORDER BY {order}"), &[])
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Op<'a> {
    db: &'a Poolside,
    name: &'static str,
    idempotent: bool,
    critical: bool,
    read_only: bool,
    after: Option<Lsn>,
    /// The session whose writes this operation's reads must see, and which learns
    /// this operation's writes.
    session: Option<&'a Session>,
}

impl<'a> Op<'a> {
    /// An operation named `name` on `db`, of `session` when given.
    pub(crate) fn new(db: &'a Poolside, name: &'static str, session: Option<&'a Session>) -> Self {
        Self {
            db,
            name,
            idempotent: false,
            critical: false,
            read_only: false,
            after: None,
            session,
        }
    }

    /// Only reads: may run on a read replica (`postgres.replicas`) that is up and
    /// within `postgres.replica_max_lag`, else on the primary; on either, on the
    /// batched read path when `postgres.read_connections` is set (statements sent at
    /// the same time go out together under one Sync). A statement that writes must not
    /// be marked: the read path and replicas refuse it (SQLSTATE 25006).
    pub fn read_only(mut self) -> Self {
        self.read_only = true;
        self
    }

    /// Must see every write up to `position` (a token from [`Poolside::wal_position`]
    /// after a write, carried by the caller): a replica takes it only once it has
    /// replayed that far, otherwise the primary does.
    pub fn after(mut self, position: Lsn) -> Self {
        self.after = self.after.max(Some(position));
        self
    }

    /// Safe to run twice: a failure whose outcome is unknown (the connection dropped
    /// after the statement was sent) is retried too. For reads and idempotent writes.
    pub fn idempotent(mut self) -> Self {
        self.idempotent = true;
        self
    }

    /// May overflow to the secondary pool while the primary is busy
    /// (`[overflow]`, when a secondary is configured).
    pub fn critical(mut self) -> Self {
        self.critical = true;
        self
    }

    async fn run(self, mut request: PgRequest<'_>) -> Result<PgAnswer, PgError> {
        if self.critical {
            request = request.critical();
        }
        if self.read_only {
            request = request.read_only();
        }
        if let Some(after) = self.after.max(self.session.and_then(Session::token)) {
            request = request.after(after);
        }
        let answer = self
            .db
            .stack(self.idempotent)
            .clone()
            .oneshot(request)
            .await?;
        if let (Some(session), false) = (self.session, self.read_only) {
            session.learn_write(self.db).await;
        }
        Ok(answer)
    }

    /// Runs `sql` and returns its rows.
    pub async fn query(
        self,
        sql: impl Into<Cow<'static, str>>,
        params: Params<'_>,
    ) -> Result<Vec<Row>, PgError> {
        self.run(PgRequest::query(self.name, sql, params))
            .await
            .map(PgAnswer::into_rows)
    }

    /// Runs `sql`, which must return exactly one row.
    pub async fn query_one(
        self,
        sql: impl Into<Cow<'static, str>>,
        params: Params<'_>,
    ) -> Result<Row, PgError> {
        self.run(PgRequest::query(self.name, sql, params))
            .await?
            .into_one()
    }

    /// Runs `sql`, which must return at most one row.
    pub async fn query_opt(
        self,
        sql: impl Into<Cow<'static, str>>,
        params: Params<'_>,
    ) -> Result<Option<Row>, PgError> {
        self.run(PgRequest::query(self.name, sql, params))
            .await?
            .into_opt()
    }

    /// Runs `sql` and builds a `T` from each row.
    ///
    /// # Errors
    ///
    /// As [`query`](Self::query), and `Query` when a row does not fit `T` (a missing
    /// column, a NULL into a field that is not an `Option`), naming the column.
    pub async fn query_as<T: FromRow>(
        self,
        sql: impl Into<Cow<'static, str>>,
        params: Params<'_>,
    ) -> Result<Vec<T>, PgError> {
        self.query(sql, params)
            .await?
            .iter()
            .map(T::from_row)
            .collect()
    }

    /// Runs `sql`, which must return exactly one row, and builds a `T` from it.
    ///
    /// # Errors
    ///
    /// As [`query_one`](Self::query_one) and [`query_as`](Self::query_as).
    pub async fn query_one_as<T: FromRow>(
        self,
        sql: impl Into<Cow<'static, str>>,
        params: Params<'_>,
    ) -> Result<T, PgError> {
        T::from_row(&self.query_one(sql, params).await?)
    }

    /// Runs `sql`, which must return at most one row, and builds a `T` from it.
    ///
    /// # Errors
    ///
    /// As [`query_opt`](Self::query_opt) and [`query_as`](Self::query_as).
    pub async fn query_opt_as<T: FromRow>(
        self,
        sql: impl Into<Cow<'static, str>>,
        params: Params<'_>,
    ) -> Result<Option<T>, PgError> {
        self.query_opt(sql, params)
            .await?
            .as_ref()
            .map(T::from_row)
            .transpose()
    }

    /// Runs `sql` and returns how many rows it changed.
    pub async fn execute(
        self,
        sql: impl Into<Cow<'static, str>>,
        params: Params<'_>,
    ) -> Result<u64, PgError> {
        self.run(PgRequest::execute(self.name, sql, params))
            .await
            .map(|answer| answer.changed())
    }
}
