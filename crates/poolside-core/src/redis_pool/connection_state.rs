//! Commands that change the state of the connection they run on (`MULTI`, `SELECT`,
//! `SUBSCRIBE`, ...), refused on every connection of the pool. Each one multiplexes:
//! other callers' commands share it, now or once it is back in the pool. After a
//! `MULTI` sent alone, every caller's `GET` answered `QUEUED`; after a `SELECT 3`,
//! every caller read and wrote database 3. `WATCH` is not among them: it is let through
//! on an exclusive connection, for an optimistic transaction (`watch_command.rs`).

use redis::Cmd;

use super::command_name::CommandName;

/// The commands refused, with their subcommand where only that one changes the
/// connection, and what to do instead.
const CHANGES_THE_CONNECTION: [(&str, Option<&str>, &str); 16] = [
    (
        "MULTI",
        None,
        "a pipeline built with .atomic(), which sends MULTI and EXEC with its commands",
    ),
    ("EXEC", None, "a pipeline built with .atomic()"),
    ("DISCARD", None, "a pipeline built with .atomic()"),
    (
        "SELECT",
        None,
        "the database number in redis.url (redis://host:6379/3)",
    ),
    (
        "AUTH",
        None,
        "the user and password in redis.url, or redis.password_file",
    ),
    ("HELLO", None, "the pool's own protocol settings"),
    (
        "RESET",
        None,
        "nothing: the pool refuses every command whose effect RESET undoes",
    ),
    ("QUIT", None, "RedisPool::close"),
    (
        "SUBSCRIBE",
        None,
        "RedisPool::pubsub, a connection of its own",
    ),
    (
        "PSUBSCRIBE",
        None,
        "RedisPool::pubsub, a connection of its own",
    ),
    (
        "SSUBSCRIBE",
        None,
        "RedisPool::pubsub, a connection of its own",
    ),
    ("MONITOR", None, "redis-cli MONITOR"),
    (
        "SYNC",
        None,
        "a replica of your own (replicaof), not a pooled connection",
    ),
    (
        "PSYNC",
        None,
        "a replica of your own (replicaof), not a pooled connection",
    ),
    (
        "CLIENT",
        Some("REPLY"),
        "the answers the pool reads for every command",
    ),
    (
        "CLIENT",
        Some("TRACKING"),
        "a connection of your own, outside the pool",
    ),
];

/// Why `cmd` is refused, when it changes the connection it runs on.
pub(super) fn refusal(cmd: &Cmd) -> Option<redis::RedisError> {
    let name = CommandName::of(cmd)?;
    let (command, subcommand, instead) = CHANGES_THE_CONNECTION
        .iter()
        .find(|(command, subcommand, _)| name.is(command, *subcommand))?;
    let full = subcommand.map_or_else(|| (*command).to_owned(), |s| format!("{command} {s}"));
    Some(redis::RedisError::from((
        redis::ErrorKind::Client,
        "a command that changes its connection, which the pool shares",
        format!(
            "{full} would change the connection for every command that shares it, now or \
             once it is back in the pool; nothing was sent. Instead: {instead}"
        ),
    )))
}

#[cfg(test)]
mod tests {
    use super::refusal;

    #[test]
    fn refuses_what_changes_the_connection_and_nothing_else() {
        for refused in [
            redis::cmd("MULTI"),
            redis::cmd("select").arg(3).clone(),
            redis::cmd("Client").arg("reply").arg("off").clone(),
            redis::cmd("SUBSCRIBE").arg("news").clone(),
            redis::cmd("sync"),
        ] {
            let error = refusal(&refused).expect("refused");
            assert!(error.to_string().contains("nothing was sent"), "{error}");
        }
        for allowed in [
            redis::cmd("GET").arg("k").clone(),
            redis::cmd("CLIENT").arg("SETNAME").arg("x").clone(),
            redis::cmd("CLIENT").arg("LIST").clone(),
            redis::cmd("EXISTS").arg("multi").clone(),
            redis::cmd("PING"),
            // An exclusive connection's optimistic transaction: WATCH, then an atomic
            // pipeline, whose EXEC ends the watch.
            redis::cmd("WATCH").arg("k").clone(),
        ] {
            assert!(
                refusal(&allowed).is_none(),
                "{:?}",
                allowed.args_iter().count()
            );
        }
    }
}
