//! Temporary objects (`CREATE TEMP TABLE`, a function in `pg_temp`), which live in the
//! session that made them until it ends, ahead of the `search_path`: made on a
//! connection the pool shares, one named as a real table answered every other caller's
//! reads of that name on the connection (and the others, sent on another connection,
//! failed); left on an exclusive connection, the next job's `CREATE TEMP TABLE
//! staging` failed with 42P07, "already exists". The first is refused
//! ([`refuse_on_pool`](super::session_effects::refuse_on_pool)); the second dropped
//! (`DISCARD TEMP`) before the connection is handed out again. One made `ON COMMIT
//! DROP` ends with its transaction and is let be.

/// Whether a `CREATE` statement, `sql`, whose `words_after_create` follow its `CREATE`,
/// may make a temporary object that outlives its transaction: `TEMP` or `TEMPORARY`
/// where the grammar puts it (`CREATE [OR REPLACE] [GLOBAL | LOCAL] TEMP ...`; a table
/// named `temp` or `temp_readings` is no temporary one), or a name in `pg_temp`
/// (`CREATE FUNCTION pg_temp.f()`), and no `ON COMMIT DROP`.
pub(crate) fn creates_temp_object<'a>(
    sql: &str,
    mut words_after_create: impl Iterator<Item = &'a str>,
) -> bool {
    let is = |word: &str, any: &[&str]| any.iter().any(|w| word.eq_ignore_ascii_case(w));
    let temporary = words_after_create
        .find(|word| !is(word, &["or", "replace", "global", "local"]))
        .is_some_and(|word| is(word, &["temp", "temporary"]))
        || names_pg_temp(sql);
    temporary && !dropped_on_commit(sql)
}

/// Whether `sql` names the session's temporary schema: `pg_temp` (or `pg_temp_3`,
/// quoted or not) before a `.`, not inside a longer name.
fn names_pg_temp(sql: &str) -> bool {
    const SCHEMA: &[u8] = b"pg_temp";
    let bytes = sql.as_bytes();
    let part_of_a_name = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'$';
    (0..bytes.len().saturating_sub(SCHEMA.len())).any(|at| {
        bytes[at..at + SCHEMA.len()].eq_ignore_ascii_case(SCHEMA)
            && (at == 0 || !part_of_a_name(bytes[at - 1]))
            && matches!(bytes[at + SCHEMA.len()], b'.' | b'"' | b'_')
    })
}

/// Whether `sql` holds `ON COMMIT DROP`, as three words.
fn dropped_on_commit(sql: &str) -> bool {
    let words: Vec<&str> = sql
        .split(|c: char| c.is_ascii_whitespace() || c == ')' || c == '(')
        .filter(|word| !word.is_empty())
        .collect();
    words.windows(3).any(|three| {
        three[0].eq_ignore_ascii_case("on")
            && three[1].eq_ignore_ascii_case("commit")
            && three[2].eq_ignore_ascii_case("drop")
    })
}

#[cfg(test)]
mod tests {
    use super::super::session_effects::SessionEffects;

    fn creates(sql: &str) -> bool {
        SessionEffects::of_statement(sql).creates_temp_objects
    }

    #[test]
    fn tells_temporary_objects_from_others() {
        for (sql, expected) in [
            ("CREATE TEMP TABLE staging (id int)", true),
            ("create temporary table s AS SELECT 1", true),
            ("CREATE GLOBAL TEMPORARY TABLE g (id int)", true),
            ("CREATE OR REPLACE TEMP VIEW v AS SELECT 1", true),
            ("CREATE TEMP SEQUENCE s", true),
            ("CREATE TABLE pg_temp.t (id int)", true),
            (
                "CREATE FUNCTION PG_TEMP.f() RETURNS int LANGUAGE sql AS 'SELECT 1'",
                true,
            ),
            ("CREATE TABLE \"pg_temp\".t (id int)", true),
            ("CREATE TEMP TABLE t (id int) ON COMMIT DROP", false),
            ("CREATE TEMP TABLE t ON COMMIT DROP AS SELECT 1", false),
            ("CREATE TEMP TABLE t (id int) ON COMMIT DELETE ROWS", true),
            ("CREATE TABLE temp (id int)", false),
            ("CREATE TABLE temp_readings (id int)", false),
            ("CREATE INDEX ON readings (pg_temperature)", false),
            ("CREATE TABLE my_pg_temp.t (id int)", false),
            ("CREATE UNLOGGED TABLE u (id int)", false),
            ("CREATE /* scratch */ TEMP TABLE s (id int)", true),
            ("SELECT * FROM pg_temp.t", false),
            ("CREATE", false),
        ] {
            assert_eq!(creates(sql), expected, "{sql:?}");
        }
    }
}
