//! `WATCH`, which holds for the connection it ran on until an `EXEC` (or `UNWATCH`)
//! there. Through a pool call it is refused: the connection it ran on is shared with
//! every other caller, now or once it is back in the pool, and a watched key changed
//! made *their* next atomic pipeline abort, its `EXEC` answering nil, which the redis
//! crate reads as success for `()`: an acknowledged write lost. On an exclusive
//! connection it is let through (WATCH, then an atomic pipeline); one left behind there
//! (the caller read the key and decided not to write) is ended by the `UNWATCH` the
//! pool sends when it checks the connection at its next checkout (`manager.rs`).

use redis::Cmd;

use super::RedisError;
use super::command_name::CommandName;
use crate::ErrorKind;

/// The error of a pool call of `cmd`, a `WATCH`; nothing is sent then.
pub(super) fn refusal(cmd: &Cmd) -> Option<RedisError> {
    let name = CommandName::of(cmd)?;
    name.is("WATCH", None).then(|| {
        RedisError::new(
            ErrorKind::Query,
            "WATCH through a pool call would watch its keys on a connection that other \
             callers share once the call returns: their next atomic pipeline would abort \
             when a key changed, and read as success; nothing was sent. Instead: take a \
             connection of your own with RedisPool::exclusive(), then WATCH and an atomic \
             pipeline on it",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::refusal;

    #[test]
    fn refuses_watch_in_any_case_and_nothing_else() {
        let error = refusal(&redis::cmd("watch").arg("balance").clone()).expect("refused");
        assert!(error.to_string().contains("nothing was sent"), "{error}");
        assert!(refusal(&redis::cmd("GET").arg("watch").clone()).is_none());
        assert!(refusal(&redis::cmd("UNWATCH")).is_none());
    }
}
