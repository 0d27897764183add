//! `cargo xtask test`: everything a merge needs, as CI runs it. Starts the services,
//! runs every check (each one, even after a failure, so one run shows all that is
//! wrong), then stops the services this run started, whatever happened.

use std::process::{Command, ExitCode};
use std::time::Instant;

use anyhow::{Context, Result};

use crate::{paths, services};

/// One check: a name and the cargo arguments that run it.
struct Check {
    name: &'static str,
    args: &'static [&'static str],
    /// Whether it needs the services' URLs in its environment.
    needs_services: bool,
}

const CHECKS: &[Check] = &[
    Check {
        name: "format",
        args: &["fmt", "--all", "--check"],
        needs_services: false,
    },
    Check {
        name: "clippy",
        args: &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
        needs_services: false,
    },
    Check {
        name: "tests",
        args: &["test", "--workspace"],
        needs_services: true,
    },
    Check {
        name: "cargo-deny",
        args: &["deny", "check", "bans", "licenses", "sources"],
        needs_services: false,
    },
];

/// Stops, on drop, the services this run started.
struct StopOnDrop(Vec<&'static str>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        if !self.0.is_empty() {
            println!("== services down");
            services::stop_keys(&self.0);
        }
    }
}

/// Runs every check; exit 0 only when all pass.
pub(crate) fn run() -> Result<ExitCode> {
    ensure_cargo_deny()?;
    println!("== services up");
    let _stop = StopOnDrop(services::up()?);

    let mut failed = Vec::new();
    for check in CHECKS {
        println!("== {}: cargo {}", check.name, check.args.join(" "));
        let started = Instant::now();
        let mut command = cargo();
        command
            .args(check.args)
            .current_dir(paths::workspace_root());
        if check.needs_services {
            command.envs(services::env_vars());
        }
        let status = command
            .status()
            .with_context(|| format!("running cargo {}", check.args.join(" ")))?;
        let secs = started.elapsed().as_secs();
        if status.success() {
            println!("== {}: passed ({secs}s)", check.name);
        } else {
            println!("== {}: FAILED ({status}, {secs}s)", check.name);
            failed.push(check.name);
        }
    }
    if failed.is_empty() {
        println!("== all checks passed");
        Ok(ExitCode::SUCCESS)
    } else {
        println!("== failed: {}", failed.join(", "));
        Ok(ExitCode::FAILURE)
    }
}

/// The cargo that runs xtask, so the pinned toolchain runs every check.
fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// Installs cargo-deny from crates.io when it is missing.
fn ensure_cargo_deny() -> Result<()> {
    let present = cargo()
        .args(["deny", "--version"])
        .output()
        .is_ok_and(|out| out.status.success());
    if present {
        return Ok(());
    }
    println!(
        "== cargo-deny is missing: installing it from crates.io (cargo install --locked cargo-deny)"
    );
    let status = cargo()
        .args(["install", "--locked", "cargo-deny"])
        .status()
        .context("running cargo install cargo-deny")?;
    anyhow::ensure!(
        status.success(),
        "cargo install cargo-deny failed ({status})"
    );
    Ok(())
}
