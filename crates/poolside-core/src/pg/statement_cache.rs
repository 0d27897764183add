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

    /// Forgets every statement: the session lost one ([`is_lost`]), and the statements
    /// that lose one (`DEALLOCATE ALL`, `DISCARD ALL`) lose them all. Each is prepared
    /// again on its next call, instead of each failing once first.
    pub(crate) fn forget_all(&mut self) {
        if let Some(statements) = &mut self.statements {
            statements.clear();
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

/// Whether `error` is the server's refusal of the statement poolside prepared for
/// `sql` because the session no longer has it (26000, invalid_sql_statement_name: a
/// `DEALLOCATE` or `DISCARD ALL` ran on the connection). The server refused it at Bind:
/// it did not run. A statement that names a prepared statement of its own (`EXECUTE`,
/// `DEALLOCATE`, also inside `EXPLAIN`) may earn 26000 itself, and is not taken for
/// lost.
pub(crate) fn is_lost(error: &tokio_postgres::Error, sql: &str) -> bool {
    error.code() == Some(&SqlState::INVALID_SQL_STATEMENT_NAME) && !names_a_statement(sql)
}

/// Whether `sql` may name a prepared statement: it has the word `EXECUTE`, or
/// `DEALLOCATE` not followed by `ALL` (nor `PREPARE ALL`), in any case; in a literal or
/// a comment too: a 26000 is then left as the caller's.
fn names_a_statement(sql: &str) -> bool {
    let mut words = sql
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|word| !word.is_empty());
    while let Some(word) = words.next() {
        if word.eq_ignore_ascii_case("execute") {
            return true;
        }
        if word.eq_ignore_ascii_case("deallocate") {
            let next = words.find(|word| !word.eq_ignore_ascii_case("prepare"));
            if !next.is_some_and(|word| word.eq_ignore_ascii_case("all")) {
                return true;
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::names_a_statement;

    #[test]
    fn a_statement_naming_a_prepared_one_is_told_apart() {
        for sql in [
            "EXECUTE mine(1)",
            "explain analyze execute mine",
            "DEALLOCATE mine",
            "deallocate prepare mine",
            "CREATE TABLE t AS EXECUTE mine",
        ] {
            assert!(names_a_statement(sql), "{sql}");
        }
        for sql in [
            "SELECT $1::int",
            "SELECT executed FROM jobs",
            "DISCARD ALL",
            "DEALLOCATE ALL",
            "deallocate prepare all",
        ] {
            assert!(!names_a_statement(sql), "{sql}");
        }
    }
}
