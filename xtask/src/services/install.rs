//! Finding the servers' binaries, and installing Debian's packages when they are missing.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Result, bail};

use super::process::{is_root, run};

/// A program a service needs, and the Debian package that ships it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Requirement {
    /// The program, as looked up on `PATH` and in `/usr/sbin` and `/usr/bin`.
    pub(crate) program: &'static str,
    /// The Debian package to install when it is missing.
    pub(crate) package: &'static str,
}

/// Finds `program` on `PATH`, `/usr/sbin` or `/usr/bin`.
pub(crate) fn find_program(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/bin")])
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// The `bin` directory of the PostgreSQL server: version 15 when installed, else the
/// newest `/usr/lib/postgresql/*/bin` that has a `postgres` binary.
pub(crate) fn postgres_bin_dir() -> Option<PathBuf> {
    let preferred = Path::new("/usr/lib/postgresql/15/bin");
    if preferred.join("postgres").is_file() {
        return Some(preferred.to_owned());
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("postgres").is_file().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

/// Installs the packages of `missing` with apt-get when running as root on a machine
/// that has it, saying so; otherwise fails with the exact command to run.
pub(crate) fn install(missing: &[Requirement]) -> Result<()> {
    if missing.is_empty() {
        return Ok(());
    }
    let mut packages: Vec<&str> = missing.iter().map(|r| r.package).collect();
    packages.dedup();
    let command = format!(
        "apt-get install -y --no-install-recommends {}",
        packages.join(" ")
    );
    if !is_root() || find_program("apt-get").is_none() {
        let programs: Vec<&str> = missing.iter().map(|r| r.program).collect();
        bail!(
            "missing {}: install with `sudo apt-get update && sudo {command}` (Debian), then run again",
            programs.join(", ")
        );
    }
    for requirement in missing {
        println!(
            "services: installing Debian package {} ({} is missing)",
            requirement.package, requirement.program
        );
    }
    // NOTE: packages that ship a daemon start it on install unless policy-rc.d says no;
    // xtask starts its own servers on its own ports, so it forbids that while installing.
    let policy = PolicyRcGuard::deny_service_starts()?;
    let apt = |args: &[&str]| {
        run(Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive"))
    };
    apt(&["update", "-q"])?;
    let mut args = vec!["install", "-y", "-q", "--no-install-recommends"];
    args.extend(&packages);
    apt(&args)?;
    drop(policy);
    Ok(())
}

/// A temporary `/usr/sbin/policy-rc.d` that stops package scripts from starting
/// daemons; removed on drop. Does nothing when the machine already has one.
struct PolicyRcGuard(Option<PathBuf>);

impl PolicyRcGuard {
    fn deny_service_starts() -> Result<Self> {
        use std::os::unix::fs::PermissionsExt;
        let path = PathBuf::from("/usr/sbin/policy-rc.d");
        if path.exists() {
            return Ok(Self(None));
        }
        std::fs::write(
            &path,
            "#!/bin/sh\n# Written by cargo xtask services while installing; removed after.\nexit 101\n",
        )?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
        Ok(Self(Some(path)))
    }
}

impl Drop for PolicyRcGuard {
    fn drop(&mut self) {
        if let Some(path) = &self.0 {
            let _ = std::fs::remove_file(path);
        }
    }
}
