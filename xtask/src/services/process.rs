//! Processes the services run as: started detached under an unprivileged user when
//! xtask runs as root, remembered by pid, and stopped by that pid only.

use std::fs;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// The unprivileged account PostgreSQL and PgBouncer run as when xtask runs as root
/// (both refuse to run as root).
#[derive(Debug, Clone)]
pub(crate) struct ServerUser {
    pub(crate) name: String,
    pub(crate) uid: u32,
    pub(crate) gid: u32,
}

/// The account name used; Debian's postgresql package creates it.
const SERVER_USER: &str = "postgres";

impl ServerUser {
    /// `None` when not root (servers then run as the current user); otherwise the
    /// `postgres` account, created when missing.
    pub(crate) fn for_current_process() -> Result<Option<Self>> {
        if !is_root() {
            return Ok(None);
        }
        if let Some(user) = Self::lookup(SERVER_USER)? {
            return Ok(Some(user));
        }
        println!(
            "services: creating system user {SERVER_USER} to run the servers (they refuse root)"
        );
        run(Command::new("useradd").args([
            "--system",
            "--user-group",
            "--no-create-home",
            "--shell",
            "/usr/sbin/nologin",
            SERVER_USER,
        ]))?;
        let user = Self::lookup(SERVER_USER)?
            .with_context(|| format!("useradd did not create {SERVER_USER}"))?;
        Ok(Some(user))
    }

    fn lookup(name: &str) -> Result<Option<Self>> {
        let passwd = fs::read_to_string("/etc/passwd").context("reading /etc/passwd")?;
        Ok(passwd.lines().find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            match fields.as_slice() {
                [n, _, uid, gid, ..] if *n == name => Some(Self {
                    name: name.to_owned(),
                    uid: uid.parse().ok()?,
                    gid: gid.parse().ok()?,
                }),
                _ => None,
            }
        }))
    }

    /// Gives `path` (recursively) to this user.
    pub(crate) fn own(&self, path: &Path) -> Result<()> {
        run(Command::new("chown")
            .arg("-R")
            .arg(format!("{}:{}", self.uid, self.gid))
            .arg(path))
        .map(drop)
    }

    /// Makes `command` run as this user.
    pub(crate) fn apply(&self, command: &mut Command) {
        command
            .uid(self.uid)
            .gid(self.gid)
            .env("HOME", "/tmp")
            .env("USER", &self.name);
    }
}

/// Whether this process runs as root (effective uid 0).
pub(crate) fn is_root() -> bool {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("Uid:"))?;
            line.split_whitespace().nth(2).map(|euid| euid == "0")
        })
        .unwrap_or(false)
}

/// Runs `command` to completion, failing with its output when it fails.
pub(crate) fn run(command: &mut Command) -> Result<String> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {:?}", command.get_program()))?;
    if !output.status.success() {
        bail!(
            "{:?} failed ({}): {}{}",
            command.get_program(),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Starts `command` in its own process group, detached from this terminal, with its
/// output appended to `log`. The server outlives xtask; `down` stops it by pid.
pub(crate) fn spawn_detached(
    command: &mut Command,
    log: &Path,
    user: Option<&ServerUser>,
) -> Result<Child> {
    let log_file = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .with_context(|| format!("opening {}", log.display()))?;
    if let Some(user) = user {
        user.apply(command);
    }
    command
        .stdin(Stdio::null())
        .stdout(log_file.try_clone()?)
        .stderr(log_file)
        .process_group(0)
        .spawn()
        .with_context(|| format!("starting {:?}", command.get_program()))
}

/// Whether `pid` is a live process (not a zombie).
pub(crate) fn is_alive(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            // The state follows the parenthesised command name, which may hold spaces.
            let after_name = &stat[stat.rfind(')')? + 1..];
            after_name
                .split_whitespace()
                .next()
                .map(|state| state != "Z" && state != "X")
        })
        .unwrap_or(false)
}

/// The command line of `pid`, arguments joined by spaces.
pub(crate) fn command_line(pid: u32) -> Option<String> {
    let raw = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    Some(
        raw.split(|b| *b == 0)
            .map(String::from_utf8_lossy)
            .collect::<Vec<_>>()
            .join(" "),
    )
}

/// Sends `signal` (such as `INT`) to `pid`.
pub(crate) fn signal(pid: u32, signal: &str) -> Result<()> {
    run(Command::new("kill").args(["-s", signal, &pid.to_string()])).map(drop)
}

/// Waits until `pid` has exited, up to `timeout`; true when it has.
pub(crate) fn wait_for_exit(pid: u32, timeout: Duration) -> bool {
    let start = Instant::now();
    while is_alive(pid) {
        if start.elapsed() > timeout {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    true
}

/// The last `lines` lines of a log file, for error messages.
pub(crate) fn log_tail(log: &Path, lines: usize) -> String {
    let text = fs::read_to_string(log).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
