//! [`CommandName`]: a Redis command's name and subcommand as it will be sent, for the
//! pool's lists of commands it treats apart (those a cluster runs on every primary,
//! those that change their connection).

use redis::{Arg, Cmd};

/// A command's name, and its first argument (the subcommand, for those that have one).
#[derive(Debug, Clone, Copy)]
pub(super) struct CommandName<'a> {
    name: &'a [u8],
    sub: Option<&'a [u8]>,
}

impl<'a> CommandName<'a> {
    /// The name of `cmd`; `None` when it has none the pool can read.
    pub(super) fn of(cmd: &'a Cmd) -> Option<Self> {
        let mut args = cmd.args_iter().map(|arg| match arg {
            Arg::Simple(bytes) => Some(bytes),
            _ => None,
        });
        Some(Self {
            name: args.next().flatten()?,
            sub: args.next().flatten(),
        })
    }

    /// Whether it is `command` (and `subcommand`, when given), in any case.
    pub(super) fn is(&self, command: &str, subcommand: Option<&str>) -> bool {
        command.as_bytes().eq_ignore_ascii_case(self.name)
            && subcommand.is_none_or(|subcommand| {
                self.sub
                    .is_some_and(|sub| subcommand.as_bytes().eq_ignore_ascii_case(sub))
            })
    }
}
