//! [`TransactionControl`]: whether a statement may open a transaction block, or ends
//! one, read from its first words. A block opened through a call on the pool (BEGIN
//! on the pipelined or the batched read path) would take in every later caller of that
//! shared connection, their writes never committed; one left open on an exclusive
//! connection would take in the next caller to check it out. The first is refused
//! ([`refuse_block_on_pool`]), the second checked before the connection is handed out
//! again ([`is_outside_block`]).
//!
//! The reading errs on the side of "may open": a statement it cannot place costs a
//! check, never a connection handed out inside a transaction.

use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, SimpleQueryMessage};

use super::PgError;
use crate::ErrorKind;

/// What a statement does to the transaction block, as far as its first words tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TransactionControl {
    /// `BEGIN`, `START TRANSACTION`, or a form of `COMMIT`, `ROLLBACK`, `END` or
    /// `ABORT` beyond the plain one (`AND CHAIN` opens the next block, `TO SAVEPOINT`
    /// keeps this one).
    MayOpen,
    /// A plain `COMMIT`, `ROLLBACK`, `END` or `ABORT` (`WORK` or `TRANSACTION` after
    /// it): no block is left open once it succeeded.
    Ends,
}

impl TransactionControl {
    /// What the statement `sql` starts with does (one statement: the extended
    /// protocol takes no more).
    pub(crate) fn of_statement(sql: &str) -> Option<Self> {
        let mut words = Words(sql);
        let first = words.next()?;
        let opens = |word: &str| {
            ["begin", "start"]
                .iter()
                .any(|w| word.eq_ignore_ascii_case(w))
        };
        let ends = |word: &str| {
            ["commit", "rollback", "end", "abort"]
                .iter()
                .any(|w| word.eq_ignore_ascii_case(w))
        };
        if opens(first) {
            return Some(Self::MayOpen);
        }
        if !ends(first) {
            return None;
        }
        let plain = match words.next() {
            None => true,
            Some(word)
                if ["work", "transaction"]
                    .iter()
                    .any(|w| word.eq_ignore_ascii_case(w)) =>
            {
                words.next().is_none()
            }
            Some(_) => false,
        };
        Some(if plain { Self::Ends } else { Self::MayOpen })
    }

    /// What the last statement of `sql` that opens or ends a block does (the simple
    /// protocol takes several statements, split at `;`; one inside a string literal
    /// can only make a statement look like one that may open a block).
    pub(crate) fn of_statements(sql: &str) -> Option<Self> {
        sql.rsplit(';').find_map(Self::of_statement)
    }
}

/// Refuses `sql` on a call on the pool when it may open a transaction block: the block
/// would outlive the call, on a connection the pool hands to other callers.
pub(crate) fn refuse_block_on_pool(sql: &str) -> Result<(), PgError> {
    match TransactionControl::of_statement(sql) {
        Some(TransactionControl::MayOpen) => Err(PgError::new(
            ErrorKind::Query,
            format!(
                "{:?} would open a transaction block on a connection the pool shares or \
                 hands to the next caller, and each call may run on another connection: \
                 nothing was sent; use PgPool::transaction, or an exclusive connection from \
                 PgPool::get that ends the block (COMMIT or ROLLBACK) before it goes back",
                sql.chars().take(40).collect::<String>()
            ),
        )),
        _ => Ok(()),
    }
}

/// Whether the session of `client` is outside any transaction block, asked in one
/// round trip: `now()` is the block's start and `statement_timestamp()` this
/// statement's, equal only outside a block; a block that failed refuses the statement
/// (25P02).
pub(crate) async fn is_outside_block(client: &Client) -> Result<bool, tokio_postgres::Error> {
    match client
        .simple_query("SELECT now() = statement_timestamp()")
        .await
    {
        Ok(messages) => Ok(messages.iter().any(
            |message| matches!(message, SimpleQueryMessage::Row(row) if row.get(0) == Some("t")),
        )),
        Err(e) if e.code() == Some(&SqlState::IN_FAILED_SQL_TRANSACTION) => Ok(false),
        Err(e) => Err(e),
    }
}

/// The words of a statement: runs of letters, past white space and comments, up to
/// the end of the statement.
struct Words<'a>(&'a str);

impl<'a> Iterator for Words<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        loop {
            let rest = self.0.trim_start();
            if let Some(comment) = rest.strip_prefix("--") {
                self.0 = comment.split_once('\n').map_or("", |(_, after)| after);
            } else if let Some(comment) = rest.strip_prefix("/*") {
                self.0 = comment.split_once("*/").map_or("", |(_, after)| after);
            } else {
                let end = rest
                    .find(|c: char| !c.is_ascii_alphabetic())
                    .unwrap_or(rest.len());
                if end == 0 {
                    return None;
                }
                self.0 = &rest[end..];
                return Some(&rest[..end]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::TransactionControl::{self, Ends, MayOpen};

    #[test]
    fn reads_the_statements_that_open_or_end_a_block() {
        for (sql, expected) in [
            ("BEGIN", Some(MayOpen)),
            ("  begin isolation level serializable", Some(MayOpen)),
            (
                "-- a comment\n/* another */ START TRANSACTION",
                Some(MayOpen),
            ),
            ("Begin;", Some(MayOpen)),
            ("COMMIT", Some(Ends)),
            ("rollback work", Some(Ends)),
            ("END TRANSACTION", Some(Ends)),
            ("abort", Some(Ends)),
            ("COMMIT AND CHAIN", Some(MayOpen)),
            ("ROLLBACK TO SAVEPOINT a", Some(MayOpen)),
            ("ROLLBACK PREPARED 'x'", Some(MayOpen)),
            ("SELECT start, begin_at FROM t", None),
            ("DO $$ BEGIN PERFORM 1; END $$", None),
            ("INSERT INTO starts VALUES (1)", None),
            ("beginning", None),
            ("/* BEGIN */ SELECT 1", None),
            ("", None),
            ("-- only a comment", None),
        ] {
            assert_eq!(TransactionControl::of_statement(sql), expected, "{sql:?}");
        }
    }

    #[test]
    fn several_statements_give_the_last_that_opens_or_ends() {
        for (sql, expected) in [
            ("BEGIN; INSERT INTO t VALUES (1); COMMIT;", Some(Ends)),
            ("INSERT INTO t VALUES (1); BEGIN", Some(MayOpen)),
            ("COMMIT; BEGIN; SELECT 1", Some(MayOpen)),
            ("SELECT 1; SELECT 2", None),
            ("INSERT INTO t VALUES ('a; begin')", Some(MayOpen)),
        ] {
            assert_eq!(TransactionControl::of_statements(sql), expected, "{sql:?}");
        }
    }
}
