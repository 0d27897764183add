//! [`StatementCache`]: prepared statements of one connection, least recently used
//! evicted first, so a repeated query is prepared once per connection; emptied when the
//! pool's [`SchemaEpoch`] moves on.

use std::num::NonZeroUsize;
use std::sync::Arc;

use lru::LruCache;
use tokio_postgres::Statement;
use tokio_postgres::error::SqlState;

use super::schema_epoch::SchemaEpoch;
use crate::growing_lru::growing_lru;

/// The prepared statements of one connection, keyed by SQL text, each with the schema
/// epoch it was prepared in. Looking up borrows the SQL; nothing is allocated on a hit.
/// An evicted statement is closed on the server when its last handle drops
/// (tokio-postgres sends the Close).
#[derive(Debug)]
pub(crate) struct StatementCache {
    /// `None` when the cache is off (size 0, or PgBouncer mode).
    statements: Option<LruCache<String, (Statement, u64)>>,
    schema: Arc<SchemaEpoch>,
    /// The epoch the statements were last checked against.
    seen: u64,
}

impl StatementCache {
    /// A cache of at most `capacity` statements (0 turns it off), emptied whenever
    /// `schema` moves on.
    pub(crate) fn new(capacity: usize, schema: Arc<SchemaEpoch>) -> Self {
        let seen = schema.current();
        Self {
            statements: NonZeroUsize::new(capacity).map(growing_lru),
            schema,
            seen,
        }
    }

    /// The statement prepared for `sql` and its epoch, marking it most recently used.
    /// Empties the cache first when the schema epoch has moved on.
    pub(crate) fn get(&mut self, sql: &str) -> Option<(Statement, u64)> {
        let statements = self.statements.as_mut()?;
        let now = self.schema.current();
        if now != self.seen {
            statements.clear();
            self.seen = now;
            return None;
        }
        statements
            .get(sql)
            .map(|(statement, epoch)| (statement.clone(), *epoch))
    }

    /// The epoch a statement prepared from now on belongs to: read before preparing.
    pub(crate) fn epoch(&self) -> u64 {
        self.schema.current()
    }

    /// Remembers `statement` for `sql`, prepared in `epoch`, evicting the least
    /// recently used one when full.
    pub(crate) fn insert(&mut self, sql: &str, statement: Statement, epoch: u64) {
        if let Some(statements) = &mut self.statements {
            statements.put(sql.to_owned(), (statement, epoch));
        }
    }

    /// Forgets the statement for `sql` when `error` says the session lost it (26000,
    /// invalid_sql_statement_name: a DEALLOCATE or DISCARD ran on it), so that the next
    /// call prepares it again.
    pub(crate) fn forget_if_lost(&mut self, sql: &str, error: &tokio_postgres::Error) {
        if error.code() == Some(&SqlState::INVALID_SQL_STATEMENT_NAME)
            && let Some(statements) = &mut self.statements
        {
            statements.pop(sql);
        }
    }

    /// The statement for `sql`, prepared in `epoch`, was found stale: starts a new
    /// schema epoch (unless one was started since) and forgets it, but not one prepared
    /// again in a later epoch.
    pub(crate) fn forget_stale(&mut self, sql: &str, epoch: u64) {
        self.schema.stale_since(epoch);
        if let Some(statements) = &mut self.statements
            && statements.peek(sql).is_some_and(|(_, e)| *e == epoch)
        {
            statements.pop(sql);
        }
    }
}
