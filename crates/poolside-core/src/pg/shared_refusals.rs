//! What a connection the pool shares (the pipelined path's, a read connection) refuses
//! before it prepares a statement, once for its cache (before each, unnamed, in
//! PgBouncer mode): a text the protocol cannot carry, a `COPY` over the connection,
//! a session-level advisory lock. Checked there rather than on every call, the hot
//! path pays nothing for them.

use super::PgError;
use super::copy_statement::refuse_copy;
use super::session_locks::refuse_session_lock;
use super::statement_text::refuse_unsendable;

/// Refuses `sql` on a connection the pool shares when it must not run there: nothing
/// is sent.
pub(crate) fn refuse_on_a_shared_connection(sql: &str) -> Result<(), PgError> {
    refuse_unsendable(sql)?;
    refuse_copy(sql)?;
    refuse_session_lock(sql)
}
