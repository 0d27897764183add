//! Commands that hold their connection until they are answered (`BLPOP`, `WAIT`,
//! `XREAD BLOCK`, ...). On the shared connection every other caller's command would
//! queue behind one for as long as it blocks (a `BLPOP key 1` held every `GET` of the
//! pool for a second); [`RedisPool::command`](super::RedisPool::command) sends them on
//! a connection of their own instead.

use redis::{Arg, Cmd};

use super::command_name::CommandName;

/// The commands that block until their timeout or their answer, whatever their
/// arguments.
const BLOCKING: [&str; 10] = [
    "BLPOP",
    "BRPOP",
    "BRPOPLPUSH",
    "BLMOVE",
    "BLMPOP",
    "BZPOPMIN",
    "BZPOPMAX",
    "BZMPOP",
    "WAIT",
    "WAITAOF",
];

/// Whether `cmd` holds its connection until it is answered: one of [`BLOCKING`], or
/// an `XREAD` or `XREADGROUP` with `BLOCK` before its `STREAMS`.
pub(super) fn holds_the_connection(cmd: &Cmd) -> bool {
    let Some(name) = CommandName::of(cmd) else {
        return false;
    };
    if BLOCKING.iter().any(|blocking| name.is(blocking, None)) {
        return true;
    }
    if !name.is("XREAD", None) && !name.is("XREADGROUP", None) {
        return false;
    }
    cmd.args_iter()
        .skip(1)
        .map_while(|arg| match arg {
            Arg::Simple(bytes) if !bytes.eq_ignore_ascii_case(b"STREAMS") => Some(bytes),
            _ => None,
        })
        .any(|arg| arg.eq_ignore_ascii_case(b"BLOCK"))
}

#[cfg(test)]
mod tests {
    use super::holds_the_connection;

    #[test]
    fn tells_the_commands_that_block_from_those_that_do_not() {
        for blocking in [
            redis::cmd("BLPOP").arg("jobs").arg(1).clone(),
            redis::cmd("bzpopmin").arg("ranks").arg(0).clone(),
            redis::cmd("WAIT").arg(1).arg(100).clone(),
            redis::cmd("XREAD")
                .arg("COUNT")
                .arg(5)
                .arg("block")
                .arg(1000)
                .arg("STREAMS")
                .arg("events")
                .arg("$")
                .clone(),
            redis::cmd("XREADGROUP")
                .arg("GROUP")
                .arg("g")
                .arg("c")
                .arg("BLOCK")
                .arg(0)
                .arg("STREAMS")
                .arg("events")
                .arg(">")
                .clone(),
        ] {
            assert!(holds_the_connection(&blocking));
        }
        for prompt in [
            redis::cmd("LPOP").arg("jobs").clone(),
            redis::cmd("GET").arg("BLPOP").clone(),
            redis::cmd("XREAD")
                .arg("STREAMS")
                .arg("block")
                .arg("0")
                .clone(),
            redis::cmd("PING"),
        ] {
            assert!(!holds_the_connection(&prompt));
        }
    }
}
