//! [`StatementCache`]: prepared statements of one connection, least recently used
//! evicted first, so a repeated query is prepared once per connection.

use std::num::NonZeroUsize;

use lru::LruCache;
use tokio_postgres::Statement;

/// The prepared statements of one connection, keyed by SQL text. Looking up borrows
/// the SQL; nothing is allocated on a hit. An evicted statement is closed on the
/// server when its last handle drops (tokio-postgres sends the Close).
#[derive(Debug)]
pub(crate) struct StatementCache {
    /// `None` when the cache is off (size 0, or PgBouncer mode).
    statements: Option<LruCache<String, Statement>>,
}

impl StatementCache {
    /// A cache of at most `capacity` statements; 0 turns it off.
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            statements: NonZeroUsize::new(capacity).map(LruCache::new),
        }
    }

    /// The statement prepared for `sql`, marking it most recently used.
    pub(crate) fn get(&mut self, sql: &str) -> Option<Statement> {
        self.statements.as_mut()?.get(sql).cloned()
    }

    /// Remembers `statement` for `sql`, evicting the least recently used one when full.
    pub(crate) fn insert(&mut self, sql: &str, statement: Statement) {
        if let Some(statements) = &mut self.statements {
            statements.put(sql.to_owned(), statement);
        }
    }

    /// Forgets the statement for `sql` (after the server said it is stale).
    pub(crate) fn remove(&mut self, sql: &str) {
        if let Some(statements) = &mut self.statements {
            statements.pop(sql);
        }
    }

    /// How many statements are cached.
    pub(crate) fn len(&self) -> usize {
        self.statements.as_ref().map_or(0, LruCache::len)
    }
}
