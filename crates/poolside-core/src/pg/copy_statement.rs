//! `COPY ... FROM STDIN` and `COPY ... TO STDOUT`: statements that move the connection
//! into the copy sub-protocol, which a statement call does not speak. Sent through one,
//! the driver meets an answer it does not expect, and the connection is lost, with
//! every statement pipelined on it. They are refused before anything is sent
//! ([`refuse_copy`]); `client().copy_in()` and `copy_out()` on a connection of
//! `PgPool::get` carry them. A `COPY` to or from a server file or program answers as
//! any statement does, and goes through.

use super::PgError;
use crate::ErrorKind;

/// Refuses `sql` (one statement, or several split at `;` as the simple protocol takes
/// them) when one is a `COPY` over the connection: nothing is sent.
pub(crate) fn refuse_copy(sql: &str) -> Result<(), PgError> {
    let copies = if memchr::memchr(b';', sql.as_bytes()).is_some() {
        sql.split(';').any(copies_over_the_connection)
    } else {
        copies_over_the_connection(sql)
    };
    if !copies {
        return Ok(());
    }
    Err(PgError::new(
        ErrorKind::Query,
        format!(
            "{:?} moves rows over the connection (COPY FROM STDIN or TO STDOUT), which \
             a statement call cannot carry: nothing was sent; on a connection from \
             PgPool::get, use client().copy_in(sql) or client().copy_out(sql)",
            sql.chars().take(40).collect::<String>()
        ),
    ))
}

/// Whether the statement `sql` is a `COPY` whose source or target is `STDIN` or
/// `STDOUT`: a `FROM` or `TO` outside parentheses, followed by either word.
fn copies_over_the_connection(sql: &str) -> bool {
    let mut tokens = Tokens {
        rest: sql,
        depth: 0,
    };
    if !tokens
        .next()
        .is_some_and(|first| first.eq_ignore_ascii_case("copy"))
    {
        return false;
    }
    let mut direction = false;
    while let Some(word) = tokens.next() {
        let outside = tokens.depth == 0;
        if direction && outside {
            return word.eq_ignore_ascii_case("stdin") || word.eq_ignore_ascii_case("stdout");
        }
        direction =
            outside && (word.eq_ignore_ascii_case("from") || word.eq_ignore_ascii_case("to"));
    }
    false
}

/// The words of a statement, past white space, comments, string literals, quoted
/// names and punctuation, with the depth of parentheses each is at. A literal or a
/// quoted name yields an empty word: it ends a `FROM` or `TO` as a file name does.
struct Tokens<'a> {
    rest: &'a str,
    depth: u32,
}

impl<'a> Iterator for Tokens<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        loop {
            let rest = self.rest.trim_start();
            let mut chars = rest.chars();
            let first = chars.next()?;
            if let Some(comment) = rest.strip_prefix("--") {
                self.rest = comment.split_once('\n').map_or("", |(_, after)| after);
            } else if let Some(comment) = rest.strip_prefix("/*") {
                self.rest = comment.split_once("*/").map_or("", |(_, after)| after);
            } else if first == '\'' || first == '"' {
                // A doubled quote inside reads as the quoted text ending and another
                // starting: the same words either way.
                self.rest = rest[1..].split_once(first).map_or("", |(_, after)| after);
                return Some("");
            } else if first.is_alphanumeric() || first == '_' {
                let end = rest
                    .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$'))
                    .unwrap_or(rest.len());
                self.rest = &rest[end..];
                return Some(&rest[..end]);
            } else {
                match first {
                    '(' => self.depth += 1,
                    ')' => self.depth = self.depth.saturating_sub(1),
                    _ => {}
                }
                self.rest = chars.as_str();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{copies_over_the_connection, refuse_copy};

    #[test]
    fn a_copy_over_the_connection_is_told_from_one_through_a_file() {
        for sql in [
            "COPY sales FROM STDIN",
            "copy sales (id, total) from stdin with (format csv)",
            "  /* bulk */ COPY (SELECT * FROM sales WHERE note = 'to stdout') TO STDOUT",
            "COPY (SELECT 1) TO STDOUT (FORMAT binary)",
            "-- load\nCOPY \"Sales\" FROM STDIN",
        ] {
            assert!(copies_over_the_connection(sql), "{sql}");
        }
        for sql in [
            "COPY sales FROM '/var/lib/stdin'",
            "COPY sales TO PROGRAM 'gzip > /tmp/stdout.gz'",
            "COPY (SELECT * FROM stdin) TO '/tmp/out'",
            "SELECT 'COPY x FROM STDIN'",
            "SELECT * FROM stdin",
            "",
        ] {
            assert!(!copies_over_the_connection(sql), "{sql}");
        }
    }

    #[test]
    fn any_statement_of_several_is_read() {
        assert!(refuse_copy("SELECT 1; COPY sales TO STDOUT").is_err());
        assert!(refuse_copy("SELECT 1; SELECT 2").is_ok());
    }

    proptest::proptest! {
        /// Any text after `COPY`, quotes, comments and parentheses left open: read
        /// without a panic.
        #[test]
        fn reads_any_text(rest in "[()'\"a-zA-Z -/*;\n]{0,64}") {
            let _ = refuse_copy(&format!("COPY {rest}"));
        }
    }
}
