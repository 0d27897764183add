//! `cargo xtask test`: everything a merge needs, as CI runs it. Starts the services,
//! runs every check (each one, even after a failure, so one run shows all that is
//! wrong), then stops the services this run started, whatever happened.
//!
//! The fault tests (`tests/suite/tests/server_faults.rs`, `replica_faults.rs` and
//! `pos_service_faults.rs`) restart and fail over the shared servers, and the overload
//! test (`tests/suite/tests/overload.rs`) takes both cores for a minute, and the
//! operations test (`tests/suite/tests/prometheus.rs`) stops PostgreSQL under a real
//! Prometheus, and the PgBouncer limits test
//! (`tests/suite/tests/pgbouncer_limits.rs`) changes the shared PgBouncer's settings
//! and pauses and kills its database, so the ordinary test run ignores them; the
//! `faults` check runs them
//! afterwards, alone and one at a time, with this binary in `POOLSIDE_XTASK` for them
//! to drive `services restart|failover|failback`. They count as run, not skipped.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{ExitCode, Stdio};
use std::time::Instant;

use anyhow::{Context, Result};

use crate::cargo::cargo;
use crate::services::install::{self, Requirement};
use crate::{paths, services};

/// One check: a name and the cargo arguments that run it.
struct Check {
    name: &'static str,
    args: &'static [&'static str],
    /// Whether it needs the services' URLs in its environment.
    needs_services: bool,
    /// Whether it runs tests that the ordinary run ignored (and counted as skipped).
    runs_ignored: bool,
    /// Variables set for it.
    env: &'static [(&'static str, &'static str)],
    /// Whether its tests are added to the count (not when the `tests` check ran them
    /// already, with fewer cases).
    counted: bool,
}

const CHECKS: &[Check] = &[
    Check {
        name: "format",
        args: &["fmt", "--all", "--check"],
        needs_services: false,
        runs_ignored: false,
        env: &[],
        counted: true,
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
        runs_ignored: false,
        env: &[],
        counted: true,
    },
    Check {
        name: "features",
        // Clippy, so that code only the default features use fails as dead code.
        args: &[
            "clippy",
            "-p",
            "poolside",
            "-p",
            "poolside-core",
            "-p",
            "poolside-metrics",
            "-p",
            "poolside-health",
            "--no-default-features",
            "--",
            "-D",
            "warnings",
        ],
        needs_services: false,
        runs_ignored: false,
        env: &[],
        counted: true,
    },
    Check {
        name: "docs",
        args: &["doc", "--workspace", "--no-deps"],
        needs_services: false,
        runs_ignored: false,
        // A broken link or a bad code block in the docs fails the check.
        env: &[("RUSTDOCFLAGS", "-D warnings")],
        counted: true,
    },
    Check {
        name: "tests",
        args: &["test", "--workspace", "--no-fail-fast"],
        needs_services: true,
        runs_ignored: false,
        env: &[],
        counted: true,
    },
    Check {
        name: "faults",
        args: &[
            "test",
            "-p",
            "poolside-test-suite",
            "--test",
            "server_faults",
            "--test",
            "replica_faults",
            "--test",
            "pos_service_faults",
            "--test",
            "overload",
            "--test",
            "prometheus",
            "--test",
            "redis_failover",
            "--test",
            "pgbouncer_limits",
            "--",
            "--ignored",
            "--test-threads=1",
            "--nocapture",
        ],
        needs_services: true,
        runs_ignored: true,
        env: &[],
        counted: true,
    },
    Check {
        name: "proptest",
        args: &[
            "test",
            "--release",
            "-p",
            "poolside-config",
            "--test",
            "properties",
        ],
        needs_services: false,
        runs_ignored: false,
        // Four properties of 250,000 cases each: a million configurations.
        env: &[("POOLSIDE_PROPTEST_CASES", "250000")],
        counted: false,
    },
    Check {
        name: "fuzz",
        args: &[
            "fuzz",
            "run",
            "config_load",
            "--sanitizer",
            "none",
            "--",
            "-max_total_time=60",
            "-print_final_stats=1",
        ],
        needs_services: false,
        runs_ignored: false,
        env: &[],
        counted: false,
    },
    Check {
        name: "cargo-deny",
        args: &[
            "deny",
            "check",
            "--hide-inclusion-graph",
            "bans",
            "licenses",
            "sources",
        ],
        needs_services: false,
        runs_ignored: false,
        env: &[],
        counted: true,
    },
];

/// Passed, failed and ignored tests, summed over cargo's `test result:` lines.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct TestCounts {
    passed: u64,
    failed: u64,
    ignored: u64,
    /// Of the passed and failed, those run by a check that runs ignored tests.
    ran_ignored: u64,
}

impl TestCounts {
    /// Adds the counts of one check; `ran_ignored` when it ran ignored tests.
    fn add(&mut self, other: Self, ran_ignored: bool) {
        self.passed += other.passed;
        self.failed += other.failed;
        self.ignored += other.ignored;
        if ran_ignored {
            self.ran_ignored += other.passed + other.failed;
        }
    }

    /// Adds the counts of one `test result: ok. 11 passed; 0 failed; 2 ignored; ...` line.
    fn add_line(&mut self, line: &str) {
        let Some(rest) = line.trim().strip_prefix("test result: ") else {
            return;
        };
        for part in rest.split([';', '.']) {
            let mut words = part.split_whitespace();
            let (Some(n), Some(what)) = (words.next(), words.next()) else {
                continue;
            };
            let Ok(n) = n.parse::<u64>() else { continue };
            match what {
                "passed" => self.passed += n,
                "failed" => self.failed += n,
                "ignored" => self.ignored += n,
                _ => {}
            }
        }
    }
}

/// Runs every check; exit 0 only when all pass. The last line printed is the test
/// count, `tests: N passed, N failed, N skipped`.
pub(crate) fn run() -> Result<ExitCode> {
    ensure_cargo_tool("deny", "cargo-deny")?;
    ensure_cargo_tool("fuzz", "cargo-fuzz")?;
    ensure_tools()?;
    crate::kubernetes_validate::ensure()?;
    // Taken now: the test build rebuilds xtask in place, after which this process's
    // executable reads as "(deleted)"; the path then names the rebuilt binary.
    let xtask = std::env::current_exe().context("locating the xtask binary")?;
    report_disk_space();
    println!("== services up");
    let stop = services::StartedServices::up(services::Set::Everything)?;
    let mut counts = TestCounts::default();
    let mut results = Vec::new();
    for check in CHECKS {
        let (passed, secs) = run_check(check, &xtask, &mut counts)?;
        results.push((check.name, passed, secs));
    }
    drop(stop);
    // The summary goes to stderr, after every check's own output: a CI log that keeps
    // only its tail still says which check failed.
    eprintln!("== summary");
    for &(name, passed, secs) in &results {
        let verdict = if passed { "passed" } else { "FAILED" };
        eprintln!("   {name}: {verdict} ({secs}s)");
    }
    report_disk_space();
    let failed: Vec<&str> = results
        .iter()
        .filter(|(_, passed, _)| !passed)
        .map(|(name, _, _)| *name)
        .collect();
    if failed.is_empty() {
        println!("== all checks passed");
    } else {
        println!("== failed: {}", failed.join(", "));
        eprintln!("== failed: {}", failed.join(", "));
    }
    println!(
        "tests: {} passed, {} failed, {} skipped",
        counts.passed,
        counts.failed,
        counts.ignored.saturating_sub(counts.ran_ignored)
    );
    Ok(if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Runs one check, echoing its output and counting tests: whether it passed, and how
/// many seconds it took.
fn run_check(check: &Check, xtask: &Path, counts: &mut TestCounts) -> Result<(bool, u64)> {
    println!("== {}: cargo {}", check.name, check.args.join(" "));
    let started = Instant::now();
    let mut command = cargo();
    command
        .args(check.args)
        .current_dir(paths::workspace_root())
        .stdout(Stdio::piped());
    if check.needs_services {
        command.envs(services::env_vars());
    }
    if check.runs_ignored {
        command.env("POOLSIDE_XTASK", xtask);
    }
    command.envs(check.env.iter().copied());
    let mut child = command
        .spawn()
        .with_context(|| format!("running cargo {}", check.args.join(" ")))?;
    if let Some(stdout) = child.stdout.take() {
        let mut check_counts = TestCounts::default();
        for line in BufReader::new(stdout).lines() {
            let line = line?;
            check_counts.add_line(&line);
            println!("{line}");
        }
        if check.counted {
            counts.add(check_counts, check.runs_ignored);
        }
    }
    let status = child.wait()?;
    let secs = started.elapsed().as_secs();
    if status.success() {
        println!("== {}: passed ({secs}s)", check.name);
    } else {
        println!("== {}: FAILED ({status}, {secs}s)", check.name);
    }
    Ok((status.success(), secs))
}

/// Prints the free space where the build writes (`df -h`), to stderr: a build that
/// runs out of disk fails with errors that do not say so first.
fn report_disk_space() {
    let target = paths::workspace_root().join("target");
    let dir = if target.exists() {
        target
    } else {
        paths::workspace_root()
    };
    match std::process::Command::new("df")
        .arg("-h")
        .arg(&dir)
        .output()
    {
        Ok(out) => eprint!("== disk space\n{}", String::from_utf8_lossy(&out.stdout)),
        Err(err) => eprintln!("== disk space: df failed: {err}"),
    }
}

/// Programs the tests run, and the Debian packages that ship them.
const TOOLS: &[Requirement] = &[
    Requirement {
        program: "promtool",
        package: "prometheus",
    },
    Requirement {
        program: "prometheus",
        package: "prometheus",
    },
];

/// Installs the tools the tests run (`promtool` checks the exporter's output and the
/// alert rules) when they are missing.
fn ensure_tools() -> Result<()> {
    let missing: Vec<Requirement> = TOOLS
        .iter()
        .copied()
        .filter(|tool| install::find_program(tool.program).is_none())
        .collect();
    install::install(&missing)
}

/// Installs `cargo <subcommand>` (crate `krate`) from crates.io when it is missing.
fn ensure_cargo_tool(subcommand: &str, krate: &str) -> Result<()> {
    let present = cargo()
        .args([subcommand, "--version"])
        .output()
        .is_ok_and(|out| out.status.success());
    if present {
        return Ok(());
    }
    println!(
        "== {krate} is missing: installing it from crates.io (cargo install --locked {krate})"
    );
    let status = cargo()
        .args(["install", "--locked", krate])
        .status()
        .with_context(|| format!("running cargo install {krate}"))?;
    anyhow::ensure!(status.success(), "cargo install {krate} failed ({status})");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::TestCounts;

    #[test]
    fn counts_sum_over_result_lines() {
        let mut counts = TestCounts::default();
        for line in [
            "test result: ok. 11 passed; 0 failed; 2 ignored; 0 measured; 0 filtered out; finished in 0.00s",
            "running 3 tests",
            "test result: FAILED. 1 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out; finished in 1.5s",
        ] {
            counts.add_line(line);
        }
        assert_eq!(
            counts,
            TestCounts {
                passed: 12,
                failed: 2,
                ignored: 2,
                ran_ignored: 0
            }
        );
    }
}
