//! [`SessionEffects`]: what a statement may leave on its session past its call (a
//! transaction block open, settings changed), read from its first words. Left on a
//! connection the pool shares (the pipelined or the batched read path), they would
//! reach every later caller of it: a block takes in their writes, never committed, and
//! a `SET search_path` or `SET ROLE` changes what they read. Left on an exclusive
//! connection, they would reach the next caller to check it out. The first is refused
//! ([`refuse_on_pool`]); the second is checked, and undone, before the connection is
//! handed out again ([`clean_session`]).
//!
//! The reading errs on the side of "may": a statement it cannot place costs a check,
//! never a connection handed out inside a transaction block.

use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, SimpleQueryMessage};

use super::PgError;
use super::connection::SessionCleaning;
use super::temp_objects::creates_temp_object;
use crate::ErrorKind;

/// What a statement does to the transaction block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Block {
    /// `BEGIN`, `START TRANSACTION`, or a form of `COMMIT`, `ROLLBACK`, `END` or
    /// `ABORT` beyond the plain one (`AND CHAIN` opens the next block, `TO SAVEPOINT`
    /// keeps this one).
    MayOpen,
    /// A plain `COMMIT`, `ROLLBACK`, `END` or `ABORT` (`WORK` or `TRANSACTION` after
    /// it): no block is left open once it succeeded.
    Ends,
}

/// What one statement, or several, may leave on the session.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct SessionEffects {
    /// What the last statement that opens or ends a block does to it.
    pub(crate) block: Option<Block>,
    /// A session-level `SET` (not `SET LOCAL`, `SET TRANSACTION` or `SET
    /// CONSTRAINTS`, which end with the block): it outlives the call.
    pub(crate) changes_settings: bool,
    /// A `CREATE` of a temporary object not dropped at commit (`temp_objects.rs`): it
    /// outlives the call.
    pub(crate) creates_temp_objects: bool,
}

impl SessionEffects {
    /// What the statement `sql` starts with may leave (one statement: the extended
    /// protocol takes no more).
    pub(crate) fn of_statement(sql: &str) -> Self {
        let mut words = Words(sql);
        let Some(first) = words.next() else {
            return Self::default();
        };
        let is = |word: &str, any: &[&str]| any.iter().any(|w| word.eq_ignore_ascii_case(w));
        let block = |block| Self {
            block: Some(block),
            ..Self::default()
        };
        if is(first, &["begin", "start"]) {
            return block(Block::MayOpen);
        }
        if is(first, &["set"]) {
            let scoped = words
                .next()
                .is_some_and(|second| is(second, &["local", "transaction", "constraints"]));
            return Self {
                changes_settings: !scoped,
                ..Self::default()
            };
        }
        if is(first, &["create"]) {
            return Self {
                creates_temp_objects: creates_temp_object(sql, words),
                ..Self::default()
            };
        }
        if !is(first, &["commit", "rollback", "end", "abort"]) {
            return Self::default();
        }
        let plain = match words.next() {
            None => true,
            Some(word) if is(word, &["work", "transaction"]) => words.next().is_none(),
            Some(_) => false,
        };
        block(if plain { Block::Ends } else { Block::MayOpen })
    }

    /// What the statements of `sql` may leave, in order (the simple protocol takes
    /// several, split at `;`: one inside a string literal can only make a statement
    /// look like one that leaves something).
    pub(crate) fn of_statements(sql: &str) -> Self {
        sql.split(';')
            .map(Self::of_statement)
            .fold(Self::default(), |before, after| Self {
                block: after.block.or(before.block),
                changes_settings: before.changes_settings || after.changes_settings,
                creates_temp_objects: before.creates_temp_objects || after.creates_temp_objects,
            })
    }

    /// Whether the effects outlive the call.
    fn outlive_the_call(self) -> bool {
        self.block == Some(Block::MayOpen) || self.changes_settings || self.creates_temp_objects
    }
}

/// Refuses `sql` on a call on the pool when it may leave a transaction block open,
/// settings changed or a temporary object: they would outlive the call, on a
/// connection the pool shares or hands to the next caller.
pub(crate) fn refuse_on_pool(sql: &str) -> Result<(), PgError> {
    let effects = SessionEffects::of_statement(sql);
    if !effects.outlive_the_call() {
        return Ok(());
    }
    let (what, instead) = if effects.creates_temp_objects {
        (
            "create a temporary object, which every later statement on the connection \
             would see ahead of the search_path,",
            "make it ON COMMIT DROP inside PgPool::transaction, or use an exclusive \
             connection from PgPool::get (the pool drops its temporary objects when it \
             comes back)",
        )
    } else {
        (
            "open a transaction block or change a setting",
            "use PgPool::transaction (SET LOCAL inside it), or an exclusive connection \
             from PgPool::get",
        )
    };
    Err(PgError::new(
        ErrorKind::Query,
        format!(
            "{:?} would {what} on a connection the pool shares or hands to the next \
             caller, and each call may run on another connection: nothing was sent; \
             {instead}",
            sql.chars().take(40).collect::<String>()
        ),
    ))
}

/// Whether the statement `sql` is a `SET` or a `RESET` of any kind (`SET LOCAL`, `SET
/// TRANSACTION` and `SET CONSTRAINTS` too, which last as long as the transaction).
pub(crate) fn sets_or_resets(sql: &str) -> bool {
    Words(sql).next().is_some_and(|first| {
        first.eq_ignore_ascii_case("set") || first.eq_ignore_ascii_case("reset")
    })
}

/// Readies the session of `client` for the next caller, in one round trip: tells
/// whether it is outside any transaction block (`now()` is the block's start and
/// `statement_timestamp()` this statement's, equal only outside one; a block that
/// failed refuses the statement, 25P02), puts every setting back to the session's
/// default as `cleaning` says (`RESET ALL`: the server's, the database's and role's,
/// and the URL's `options`) and drops the session's temporary objects (`DISCARD
/// TEMP`). `Ok(false)` for a session inside a block.
pub(crate) async fn clean_session(
    client: &Client,
    cleaning: SessionCleaning,
) -> Result<bool, tokio_postgres::Error> {
    let sql = match (cleaning.reset_settings, cleaning.discard_temp) {
        (false, false) => "SELECT now() = statement_timestamp()",
        (true, false) => "SELECT now() = statement_timestamp(); RESET ALL",
        (false, true) => "SELECT now() = statement_timestamp(); DISCARD TEMP",
        (true, true) => "SELECT now() = statement_timestamp(); RESET ALL; DISCARD TEMP",
    };
    match client.simple_query(sql).await {
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
    use super::Block::{Ends, MayOpen};
    use super::SessionEffects;

    fn block(sql: &str) -> Option<super::Block> {
        SessionEffects::of_statement(sql).block
    }

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
            assert_eq!(block(sql), expected, "{sql:?}");
        }
    }

    #[test]
    fn reads_the_sets_that_outlive_their_block() {
        for (sql, expected) in [
            ("SET search_path TO tenant_7", true),
            ("set role reporting", true),
            ("SET SESSION statement_timeout = 0", true),
            ("SET LOCAL search_path TO a", false),
            ("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE", false),
            ("SET CONSTRAINTS ALL DEFERRED", false),
            ("SELECT set_config('a.b', 'c', true)", false),
            ("RESET search_path", false),
            ("settings", false),
        ] {
            assert_eq!(
                SessionEffects::of_statement(sql).changes_settings,
                expected,
                "{sql:?}"
            );
        }
    }

    #[test]
    fn several_statements_give_the_last_block_and_any_setting() {
        for (sql, expected_block, expected_settings) in [
            (
                "BEGIN; INSERT INTO t VALUES (1); COMMIT;",
                Some(Ends),
                false,
            ),
            ("INSERT INTO t VALUES (1); BEGIN", Some(MayOpen), false),
            ("COMMIT; BEGIN; SELECT 1", Some(MayOpen), false),
            ("SET search_path TO a; BEGIN; COMMIT", Some(Ends), true),
            ("SELECT 1; SELECT 2", None, false),
            ("INSERT INTO t VALUES ('a; begin')", Some(MayOpen), false),
        ] {
            let effects = SessionEffects::of_statements(sql);
            assert_eq!(
                (effects.block, effects.changes_settings),
                (expected_block, expected_settings),
                "{sql:?}"
            );
        }
    }
}
