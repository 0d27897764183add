//! Session-level advisory locks (`pg_advisory_lock`, `pg_try_advisory_lock` and their
//! `_shared` forms): held by the session until it unlocks them or ends, past any
//! transaction. Taken on a connection the pool shares, no caller can be sure to unlock
//! it (the unlock may run on another connection): refused before the statement is
//! prepared there ([`refuse_session_lock`]). Taken on an exclusive connection, the lock
//! would go back to the pool with it, idle, and keep every other process that asks for
//! it waiting until the connection closed (up to `postgres.max_lifetime`): such a
//! connection is closed when it is returned, which releases its locks at once.
//! `pg_advisory_xact_lock`, released at the transaction's end, is neither.

use super::PgError;
use crate::ErrorKind;

/// The functions that take a lock held past the transaction.
const SESSION_LOCKS: [&[u8]; 4] = [
    b"pg_advisory_lock",
    b"pg_advisory_lock_shared",
    b"pg_try_advisory_lock",
    b"pg_try_advisory_lock_shared",
];

/// Whether `sql` calls a function that takes a session-level advisory lock (in a
/// literal or a comment too: it errs on the side of "may").
pub(crate) fn takes_session_lock(sql: &str) -> bool {
    let bytes = sql.as_bytes();
    // Every such name holds "advisory"; most statements have no `v` to start it.
    let advisory = memchr::memchr2_iter(b'v', b'V', bytes).any(|v| {
        v.checked_sub(2)
            .and_then(|start| bytes.get(start..start + 8))
            .is_some_and(|word| word.eq_ignore_ascii_case(b"advisory"))
    });
    advisory && names(bytes)
}

/// Whether a name of [`SESSION_LOCKS`] is a whole word of `bytes`, in any case.
fn names(bytes: &[u8]) -> bool {
    bytes
        .split(|&b| !(b.is_ascii_alphanumeric() || b == b'_'))
        .any(|word| {
            SESSION_LOCKS
                .iter()
                .any(|lock| lock.eq_ignore_ascii_case(word))
        })
}

/// Refuses `sql` on a connection the pool shares when it takes a session-level
/// advisory lock: nothing is sent.
pub(crate) fn refuse_session_lock(sql: &str) -> Result<(), PgError> {
    if !takes_session_lock(sql) {
        return Ok(());
    }
    Err(PgError::new(
        ErrorKind::Query,
        format!(
            "{:?} takes a session-level advisory lock, which would stay with a connection \
             the pool shares or hands to the next caller, where no unlock of yours is sure \
             to reach it: nothing was sent; use pg_advisory_xact_lock inside \
             PgPool::transaction (released at its end), or a connection from PgPool::get \
             (closed when it goes back, which releases the lock)",
            sql.chars().take(40).collect::<String>()
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::{refuse_session_lock, takes_session_lock};

    #[test]
    fn tells_session_locks_from_transaction_locks_and_unlocks() {
        for sql in [
            "SELECT pg_advisory_lock(42)",
            "select pg_try_advisory_lock($1)",
            "SELECT PG_ADVISORY_LOCK_SHARED(1, 2)",
            "SELECT Pg_Advisory_Lock(7)",
            "SELECT x FROM jobs WHERE pg_try_advisory_lock_shared(id) LIMIT 1",
        ] {
            assert!(takes_session_lock(sql), "{sql}");
        }
        for sql in [
            "SELECT pg_advisory_xact_lock(42)",
            "SELECT pg_try_advisory_xact_lock(42)",
            "SELECT pg_advisory_unlock(42)",
            "SELECT pg_advisory_unlock_all()",
            "SELECT my_pg_advisory_lock_wrapper()",
            "SELECT 1",
        ] {
            assert!(!takes_session_lock(sql), "{sql}");
        }
        let refused = refuse_session_lock("SELECT pg_advisory_lock(1)").expect_err("refused");
        assert!(
            refused.to_string().contains("nothing was sent"),
            "{refused}"
        );
    }
}
