//! Commands that hold their connection until they are answered (`BLPOP`, `WAIT`,
//! `XREAD BLOCK`, ...). On the shared connection every other caller's command would
//! queue behind one for as long as it blocks (a `BLPOP key 1` held every `GET` of the
//! pool for a second); [`RedisPool::command`](super::RedisPool::command) sends them on
//! a connection of their own instead.

use std::time::Duration;

use redis::{Arg, Cmd};

use super::command_name::CommandName;

/// Where a blocking command's timeout is, and in what unit.
#[derive(Clone, Copy)]
enum TimeoutArg {
    /// The last argument, in seconds (`BLPOP key 1.5`).
    LastSeconds,
    /// The first argument after the name, in seconds (`BLMPOP 1.5 1 key LEFT`).
    FirstSeconds,
    /// The last argument, in milliseconds (`WAIT 1 100`).
    LastMillis,
}

/// The commands that block until their timeout or their answer, whatever their
/// arguments, and where their timeout is.
const BLOCKING: [(&str, TimeoutArg); 10] = [
    ("BLPOP", TimeoutArg::LastSeconds),
    ("BRPOP", TimeoutArg::LastSeconds),
    ("BRPOPLPUSH", TimeoutArg::LastSeconds),
    ("BLMOVE", TimeoutArg::LastSeconds),
    ("BLMPOP", TimeoutArg::FirstSeconds),
    ("BZPOPMIN", TimeoutArg::LastSeconds),
    ("BZPOPMAX", TimeoutArg::LastSeconds),
    ("BZMPOP", TimeoutArg::FirstSeconds),
    ("WAIT", TimeoutArg::LastMillis),
    ("WAITAOF", TimeoutArg::LastMillis),
];

/// How long a blocking command may hold its connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Block {
    /// Until it is answered: a timeout of 0.
    Forever,
    /// Up to its timeout (zero for one the server will refuse: not a number, or
    /// negative).
    UpTo(Duration),
}

/// How long `cmd` may hold its connection, when it blocks: one of [`BLOCKING`], or an
/// `XREAD` or `XREADGROUP` with `BLOCK` before its `STREAMS`.
pub(super) fn block_of(cmd: &Cmd) -> Option<Block> {
    let name = CommandName::of(cmd)?;
    if let Some((_, at)) = BLOCKING
        .iter()
        .find(|(blocking, _)| name.is(blocking, None))
    {
        let timeout = match at {
            TimeoutArg::FirstSeconds => cmd.args_iter().nth(1),
            TimeoutArg::LastSeconds | TimeoutArg::LastMillis => cmd.args_iter().last(),
        };
        return Some(block(timeout, matches!(at, TimeoutArg::LastMillis)));
    }
    if !name.is("XREAD", None) && !name.is("XREADGROUP", None) {
        return None;
    }
    let mut options = cmd.args_iter().skip(1).map_while(|arg| match arg {
        Arg::Simple(bytes) if !bytes.eq_ignore_ascii_case(b"STREAMS") => Some(arg),
        _ => None,
    });
    options
        .any(|arg| matches!(arg, Arg::Simple(bytes) if bytes.eq_ignore_ascii_case(b"BLOCK")))
        .then(|| block(options.next(), true))
}

/// The block of a command whose timeout is `timeout`, in milliseconds or seconds.
fn block(timeout: Option<Arg<&[u8]>>, millis: bool) -> Block {
    let Some(Arg::Simple(bytes)) = timeout else {
        return Block::UpTo(Duration::ZERO);
    };
    let seconds = std::str::from_utf8(bytes)
        .ok()
        .and_then(|text| text.parse::<f64>().ok())
        .map(|number| if millis { number / 1000.0 } else { number });
    match seconds {
        Some(0.0) => Block::Forever,
        Some(seconds) => Block::UpTo(Duration::try_from_secs_f64(seconds).unwrap_or_default()),
        None => Block::UpTo(Duration::ZERO),
    }
}

/// Why `cmd`, which blocks as `block` says, is refused, when it would block past
/// `command_timeout` (with none known, forever): the call would fail at the timeout
/// while the server still blocked for its connection, and the next element pushed
/// would go to that connection, whose answer no one reads: lost.
pub(super) fn refusal(
    cmd: &Cmd,
    block: Block,
    command_timeout: Option<Duration>,
) -> Option<String> {
    let how_long = match (block, command_timeout) {
        (Block::Forever, _) => "with a timeout of 0 would block until it is answered".to_owned(),
        (Block::UpTo(up_to), Some(timeout)) if up_to >= timeout => {
            format!("would block up to {up_to:?}, not below redis.command_timeout ({timeout:?})")
        }
        (Block::UpTo(_), _) => return None,
    };
    let name = match cmd.args_iter().next() {
        Some(Arg::Simple(bytes)) => String::from_utf8_lossy(bytes).into_owned(),
        _ => String::new(),
    };
    Some(format!(
        "{name} {how_long}: the call would fail at redis.command_timeout while the server \
         still blocked for its connection, and the next element pushed would go to that \
         connection, unread (lost); nothing was sent. Give it a timeout below \
         redis.command_timeout and call it again in a loop"
    ))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{Block, block_of, refusal};

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
            assert!(block_of(&blocking).is_some());
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
            assert!(block_of(&prompt).is_none());
        }
    }

    #[test]
    fn reads_how_long_each_blocks() {
        let secs = Duration::from_secs_f64;
        for (cmd, expected) in [
            (
                redis::cmd("BLPOP").arg("a").arg("b").arg(1.5).clone(),
                Block::UpTo(secs(1.5)),
            ),
            (redis::cmd("brpop").arg("a").arg(0).clone(), Block::Forever),
            (
                redis::cmd("BLMPOP")
                    .arg(2)
                    .arg(1)
                    .arg("a")
                    .arg("LEFT")
                    .clone(),
                Block::UpTo(secs(2.0)),
            ),
            (
                redis::cmd("BZMPOP")
                    .arg("0")
                    .arg(1)
                    .arg("z")
                    .arg("MIN")
                    .clone(),
                Block::Forever,
            ),
            (
                redis::cmd("WAIT").arg(1).arg(250).clone(),
                Block::UpTo(secs(0.25)),
            ),
            (
                redis::cmd("WAITAOF").arg(1).arg(1).arg(0).clone(),
                Block::Forever,
            ),
            (
                redis::cmd("XREAD")
                    .arg("BLOCK")
                    .arg(0)
                    .arg("STREAMS")
                    .arg("s")
                    .arg("$")
                    .clone(),
                Block::Forever,
            ),
            (
                redis::cmd("XREADGROUP")
                    .arg("GROUP")
                    .arg("g")
                    .arg("c")
                    .arg("block")
                    .arg(1500)
                    .arg("STREAMS")
                    .arg("s")
                    .arg(">")
                    .clone(),
                Block::UpTo(secs(1.5)),
            ),
            // One the server refuses: it blocks not at all.
            (
                redis::cmd("BLPOP").arg("a").arg("soon").clone(),
                Block::UpTo(Duration::ZERO),
            ),
            (
                redis::cmd("BLPOP").arg("a").arg(-1).clone(),
                Block::UpTo(Duration::ZERO),
            ),
        ] {
            assert_eq!(block_of(&cmd), Some(expected));
        }
        assert_eq!(
            block_of(&redis::cmd("XREAD").arg("STREAMS").arg("s").arg("0").clone()),
            None
        );
    }

    #[test]
    fn refuses_what_blocks_past_the_command_timeout() {
        let refusal = |cmd: &redis::Cmd, timeout| {
            block_of(cmd).and_then(|block| refusal(cmd, block, timeout))
        };
        let timeout = Some(Duration::from_secs(3));
        let forever = redis::cmd("BLPOP").arg("jobs").arg(0).clone();
        let five = redis::cmd("BLPOP").arg("jobs").arg(5).clone();
        let two = redis::cmd("BLPOP").arg("jobs").arg(2).clone();
        assert!(refusal(&forever, None).is_some_and(|r| r.contains("nothing was sent")));
        assert!(refusal(&forever, timeout).is_some());
        assert!(refusal(&five, timeout).is_some_and(|r| r.contains("up to 5s")));
        assert!(refusal(&five, None).is_none(), "no timeout known");
        assert!(refusal(&two, timeout).is_none());
        assert!(refusal(&redis::cmd("GET").arg("jobs").clone(), timeout).is_none());
    }
}
