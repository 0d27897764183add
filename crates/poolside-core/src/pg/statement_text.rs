//! What a statement's text must not hold for the protocol to carry it, checked before
//! the text is sent ([`refuse_unsendable`]: where a statement is prepared, once for
//! the cache; on every call where it goes unnamed or by the simple protocol):
//! - a NUL byte, which ends a text on the wire: the driver refused to encode it after
//!   the statement had been queued, and a read connection closed on it, failing every
//!   caller's read batched there;
//! - a parameter past `$65535`, the most the protocol counts (in 16 bits): the server
//!   takes it, and describes the statement with the count wrapped; the answer is
//!   misread, and the connection lost with every statement pipelined or batched on it.

use super::PgError;
use crate::ErrorKind;

/// The most parameters a statement can take.
const MOST_PARAMETERS: u64 = 65_535;

/// Refuses `sql` when the protocol cannot carry it: nothing is sent.
pub(crate) fn refuse_unsendable(sql: &str) -> Result<(), PgError> {
    let shown = || sql.chars().take(40).collect::<String>();
    if sql.as_bytes().contains(&0) {
        return Err(PgError::new(
            ErrorKind::Query,
            format!(
                "{:?} holds a NUL byte, which the protocol cannot carry in a statement's \
                 text: nothing was sent; pass such a value as a parameter (bytea for \
                 binary data)",
                shown()
            ),
        ));
    }
    match highest_parameter(sql) {
        Some(highest) if highest > MOST_PARAMETERS => Err(PgError::new(
            ErrorKind::Query,
            format!(
                "{:?} refers to parameter ${highest}, past the 65535 a statement can take \
                 (the protocol counts them in 16 bits): nothing was sent; pass the values \
                 as one array parameter instead (WHERE id = ANY($1), with a Vec)",
                shown()
            ),
        )),
        _ => Ok(()),
    }
}

/// The highest parameter number (`$n`) of `sql`, read past literals, quoted names,
/// comments and dollar-quoted strings. Read closely only when some `$` has five digits
/// after it: below `$10000` the limit cannot be passed, and the look is one pass for
/// a `$`.
fn highest_parameter(sql: &str) -> Option<u64> {
    let bytes = sql.as_bytes();
    let long_number = bytes.iter().enumerate().any(|(at, &byte)| {
        byte == b'$'
            && bytes[at + 1..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count()
                >= 5
    });
    if !long_number {
        return None;
    }
    let mut highest = None;
    let mut at = 0;
    while at < bytes.len() {
        let rest = &bytes[at..];
        at += match rest {
            [b'-', b'-', ..] => until(rest, b"\n"),
            [b'/', b'*', ..] => until(rest, b"*/"),
            [quote @ (b'\'' | b'"'), ..] => {
                let escapes = *quote == b'\'' && escape_string(bytes, at);
                1 + quoted(&rest[1..], *quote, escapes)
            }
            [b'$', ..] if at > 0 && is_word_byte(bytes[at - 1]) => 1,
            [b'$', after @ ..] => {
                let digits = after.iter().take_while(|b| b.is_ascii_digit()).count();
                if digits > 0 {
                    let number = after[..digits].iter().fold(0_u64, |n, digit| {
                        n.saturating_mul(10).saturating_add(u64::from(digit - b'0'))
                    });
                    highest = highest.max(Some(number));
                    1 + digits
                } else {
                    dollar_quoted(rest)
                }
            }
            _ => 1,
        };
    }
    highest
}

/// Whether `byte` may continue a name (`$` does, after its first letter).
fn is_word_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'$' || byte >= 0x80
}

/// Whether the quote at `at` opens an escape string (`E'...'`), where a backslash
/// escapes the quote after it.
fn escape_string(bytes: &[u8], at: usize) -> bool {
    at > 0 && bytes[at - 1].eq_ignore_ascii_case(&b'e') && (at < 2 || !is_word_byte(bytes[at - 2]))
}

/// How far `rest` goes up to and past `end` (all of it without one).
fn until(rest: &[u8], end: &[u8]) -> usize {
    rest.windows(end.len())
        .skip(end.len())
        .position(|window| window == end)
        .map_or(rest.len(), |found| found + 2 * end.len())
}

/// How far the inside of a quoted text goes, its closing `quote` included. A doubled
/// quote reads as the text closing and another opening: the same extent.
fn quoted(inside: &[u8], quote: u8, escapes: bool) -> usize {
    let mut at = 0;
    while at < inside.len() {
        match inside[at] {
            b'\\' if escapes => at += 2,
            byte if byte == quote => return at + 1,
            _ => at += 1,
        }
    }
    inside.len()
}

/// How far a dollar-quoted string (`$tag$ ... $tag$`) at the start of `rest` goes; 1
/// when `rest` opens none.
fn dollar_quoted(rest: &[u8]) -> usize {
    let tag_length = rest[1..]
        .iter()
        .take_while(|&&b| is_word_byte(b) && b != b'$')
        .count();
    if rest.get(1 + tag_length) != Some(&b'$') {
        return 1;
    }
    let tag = &rest[..tag_length + 2];
    let body = &rest[tag.len()..];
    body.windows(tag.len())
        .position(|window| window == tag)
        .map_or(rest.len(), |found| tag.len() + found + tag.len())
}

#[cfg(test)]
mod tests {
    use super::{highest_parameter, refuse_unsendable};

    #[test]
    fn reads_the_highest_parameter_past_what_only_looks_like_one() {
        for (sql, highest) in [
            ("SELECT $1", None),
            ("SELECT $65535::int, $2", Some(65_535)),
            ("SELECT $65536", Some(65_536)),
            ("SELECT $99999999999999999999999", Some(u64::MAX)),
            ("SELECT '$70000', $12345", Some(12_345)),
            ("SELECT E'it\\'s $70000', $12345", Some(12_345)),
            ("SELECT 'it''s $70000', $12345", Some(12_345)),
            ("SELECT \"col$70000\", $12345", Some(12_345)),
            ("SELECT col$70000, $12345", Some(12_345)),
            ("SELECT $$ $70000 $$, $12345", Some(12_345)),
            ("SELECT $fn$ $70000 $fn$, $12345", Some(12_345)),
            ("SELECT $12345 -- $70000", Some(12_345)),
            ("SELECT /* $70000 */ $12345", Some(12_345)),
            ("SELECT '$70000", None),
        ] {
            assert_eq!(highest_parameter(sql), highest, "{sql}");
        }
    }

    #[test]
    fn refuses_a_parameter_past_the_protocols_count() {
        assert!(refuse_unsendable("SELECT $65535").is_ok());
        let refused = refuse_unsendable("SELECT $65536").expect_err("past");
        assert!(
            refused.to_string().contains("nothing was sent"),
            "{refused}"
        );
    }

    #[test]
    fn refuses_a_nul_byte() {
        let refused = refuse_unsendable("SELECT 1\0").expect_err("a NUL");
        assert!(refused.to_string().contains("NUL byte"), "{refused}");
    }

    proptest::proptest! {
        /// Any text, quotes and comments left open, `$` anywhere: read without a panic.
        #[test]
        fn reads_any_text(sql in "[$'\"EeA-Za-z0-9_ -/*\\\\\n]{0,64}") {
            let _ = refuse_unsendable(&sql);
            let _ = refuse_unsendable(&format!("{sql} $123456"));
        }
    }
}
