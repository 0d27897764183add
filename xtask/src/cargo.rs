//! [`cargo`]: the cargo that runs xtask, for every chore that runs cargo again.

use std::process::Command;

/// The cargo that runs xtask (`$CARGO`), so the pinned toolchain runs every check.
pub(crate) fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}
