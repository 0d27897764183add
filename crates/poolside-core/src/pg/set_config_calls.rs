//! Calls of `set_config(name, value, is_local)`, the function form of `SET`: with
//! `is_local` false the setting stays with the session, as a `SET` does; with it true,
//! with the transaction. A row-level-security tenant set this way on a connection the
//! pool shares would reach the next caller's statements: the setting is read here, so
//! that the pool refuses or undoes it as it does a `SET`.

use super::PgError;
use crate::ErrorKind;

/// Refuses `sql` on a connection the pool shares when a `set_config` call of it sets
/// a setting for the session: nothing is sent.
pub(crate) fn refuse_session_set_config(sql: &str) -> Result<(), PgError> {
    if set_config_scope(sql) != Some(Scope::Session) {
        return Ok(());
    }
    Err(PgError::new(
        ErrorKind::Query,
        format!(
            "{:?} calls set_config for the session (is_local not plainly true), which would \
             reach every later caller of a connection the pool shares: nothing was sent; \
             pass true as is_local inside PgPool::transaction, or use a connection from \
             PgPool::get (its settings are put back before the next caller has it)",
            sql.chars().take(40).collect::<String>()
        ),
    ))
}

/// How long a `set_config` call's setting lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Scope {
    /// `is_local` true: until the transaction ends.
    Transaction,
    /// `is_local` false, or anything not plainly `true` (a parameter, an expression):
    /// past the call, with the session.
    Session,
}

/// The widest scope of the `set_config` calls of `sql`; `None` without one. Read past
/// nothing (a call in a literal or a comment counts too: it errs on the side of "may").
pub(crate) fn set_config_scope(sql: &str) -> Option<Scope> {
    let bytes = sql.as_bytes();
    // Most statements have no `g` to end the name with.
    memchr::memchr2_iter(b'g', b'G', bytes)
        .filter(|&g| is_set_config_at(bytes, g))
        .map(|g| scope_of_arguments(&bytes[g + 1..]))
        .max()
}

/// Whether `bytes` has the whole word `set_config` ending at `g`.
fn is_set_config_at(bytes: &[u8], g: usize) -> bool {
    const NAME: &[u8] = b"set_config";
    let Some(start) = (g + 1).checked_sub(NAME.len()) else {
        return false;
    };
    let part_of_word = |b: &u8| b.is_ascii_alphanumeric() || *b == b'_';
    bytes[start..=g].eq_ignore_ascii_case(NAME)
        && !start
            .checked_sub(1)
            .and_then(|before| bytes.get(before))
            .is_some_and(part_of_word)
        && !bytes.get(g + 1).is_some_and(part_of_word)
}

/// The scope the arguments after a `set_config` name (`rest`, from the `(`) give: the
/// transaction's only when the third is plainly `true`.
fn scope_of_arguments(rest: &[u8]) -> Scope {
    let rest = rest.trim_ascii_start();
    let Some(arguments) = rest.strip_prefix(b"(") else {
        return Scope::Session;
    };
    let mut depth = 0_u32;
    let mut quote = None;
    let mut commas = 0;
    let mut third_from = 0;
    for (at, &byte) in arguments.iter().enumerate() {
        match (quote, byte) {
            (Some(open), _) if byte == open => quote = None,
            (Some(_), _) => {}
            (None, b'\'' | b'"') => quote = Some(byte),
            (None, b'(') => depth += 1,
            (None, b')') if depth > 0 => depth -= 1,
            (None, b',' | b')') if depth == 0 => {
                if commas == 2 {
                    let third = arguments[third_from..at].trim_ascii();
                    return if third.eq_ignore_ascii_case(b"true") {
                        Scope::Transaction
                    } else {
                        Scope::Session
                    };
                }
                if byte == b')' {
                    break;
                }
                commas += 1;
                third_from = at + 1;
            }
            _ => {}
        }
    }
    Scope::Session
}

#[cfg(test)]
mod tests {
    use super::{Scope, set_config_scope};

    #[test]
    fn reads_how_long_a_set_config_lasts() {
        for (sql, scope) in [
            ("SELECT 1", None),
            (
                "SELECT set_config('app.tenant', $1, true)",
                Some(Scope::Transaction),
            ),
            (
                "SELECT SET_CONFIG('a', 'b', TRUE), x FROM t",
                Some(Scope::Transaction),
            ),
            (
                "SELECT set_config('a', concat('x', 'y'), true)",
                Some(Scope::Transaction),
            ),
            (
                "SELECT set_config('a', 'b,c)', true)",
                Some(Scope::Transaction),
            ),
            (
                "SELECT set_config('app.tenant', $1, false)",
                Some(Scope::Session),
            ),
            (
                "SELECT pg_catalog.set_config('a', 'b', $3)",
                Some(Scope::Session),
            ),
            (
                "SELECT set_config('a', 'b', true), set_config('c', 'd', false)",
                Some(Scope::Session),
            ),
            ("SELECT set_config", Some(Scope::Session)),
            ("SELECT my_set_config('a', 'b', false)", None),
            ("SELECT current_setting('search_path')", None),
        ] {
            assert_eq!(set_config_scope(sql), scope, "{sql}");
        }
    }

    proptest::proptest! {
        /// Any arguments, quotes and parentheses left open: read without a panic.
        #[test]
        fn reads_any_arguments(rest in "[(),'\"a-z $0-9]{0,40}") {
            let _ = set_config_scope(&format!("SELECT set_config{rest}"));
        }
    }
}
