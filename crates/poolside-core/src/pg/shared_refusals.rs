//! What a connection the pool shares (the pipelined path's, a read connection) refuses
//! before it prepares a statement, once for its cache (before each, unnamed, in
//! PgBouncer mode): a text the protocol cannot carry, a `COPY` over the connection,
//! a session-level advisory lock, a `set_config` for the session. Checked there rather
//! than on every call, the hot path pays nothing for them.
//!
//! A read connection refuses more: the statements of one batch share one implicit
//! transaction (one Sync), so a setting for the transaction (`SET LOCAL`, a
//! `set_config` with `is_local` true) would reach the other callers' statements after
//! it in the batch. On the pipelined path each statement has a Sync, and a transaction,
//! of its own.

use super::PgError;
use super::copy_statement::refuse_copy;
use super::session_effects::sets_or_resets;
use super::session_locks::refuse_session_lock;
use super::set_config_calls::{refuse_session_set_config, set_config_scope};
use super::statement_text::refuse_unsendable;
use crate::ErrorKind;

/// Refuses `sql` on a connection the pool shares when it must not run there: nothing
/// is sent.
pub(crate) fn refuse_on_a_shared_connection(sql: &str) -> Result<(), PgError> {
    refuse_unsendable(sql)?;
    refuse_copy(sql)?;
    refuse_session_state(sql)
}

/// Refuses `sql` when it would leave state on its session past the call (a
/// session-level advisory lock, a `set_config` for the session), on a connection the
/// pool shares or, from a call on the pool, hands to the next caller: nothing is sent.
pub(crate) fn refuse_session_state(sql: &str) -> Result<(), PgError> {
    refuse_session_lock(sql)?;
    refuse_session_set_config(sql)
}

/// Refuses `sql` on a read connection, where it shares a transaction with the other
/// statements of its batch, when it must not run there: nothing is sent.
pub(crate) fn refuse_on_a_read_connection(sql: &str) -> Result<(), PgError> {
    refuse_on_a_shared_connection(sql)?;
    if !sets_or_resets(sql) && set_config_scope(sql).is_none() {
        return Ok(());
    }
    Err(PgError::new(
        ErrorKind::Query,
        format!(
            "{:?} changes a setting, and on the batched read path a statement shares its \
             transaction with other callers' statements batched after it, which the \
             setting would reach: nothing was sent; use PgPool::transaction (SET LOCAL \
             inside it), or PgPool::query for a set_config with is_local true",
            sql.chars().take(40).collect::<String>()
        ),
    ))
}
