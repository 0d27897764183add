//! pgbench as a baseline: the same `-S` select by key, the same client count, in three
//! modes (`-M simple`, `-M prepared`, and `-C`, a new connection per transaction).

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::services::install;

/// A pgbench mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Simple,
    Prepared,
    Connect,
}

impl Mode {
    pub(crate) const ALL: [Mode; 3] = [Mode::Simple, Mode::Prepared, Mode::Connect];

    /// The system's name in the results.
    pub(crate) fn system(self) -> &'static str {
        match self {
            Mode::Simple => "pgbench-simple",
            Mode::Prepared => "pgbench-prepared",
            Mode::Connect => "pgbench-connect",
        }
    }

    fn args(self) -> &'static [&'static str] {
        match self {
            Mode::Simple => &["-M", "simple"],
            Mode::Prepared => &["-M", "prepared"],
            Mode::Connect => &["-M", "simple", "-C"],
        }
    }
}

/// What pgbench reported.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PgbenchResult {
    pub(crate) tps: f64,
    pub(crate) latency_avg_ms: Option<f64>,
    pub(crate) failed: u64,
    /// The command as run, password masked.
    pub(crate) command: String,
}

fn pgbench() -> Result<PathBuf> {
    install::postgres_bin_dir()
        .map(|dir| dir.join("pgbench"))
        .filter(|p| p.is_file())
        .or_else(|| install::find_program("pgbench"))
        .context("pgbench is not installed (Debian package postgresql-client)")
}

/// Creates pgbench's tables at scale 1 (100,000 accounts): `pgbench -i -s 1`.
pub(crate) fn initialise(url: &str) -> Result<()> {
    let status = Command::new(pgbench()?)
        .args(["-i", "-s", "1", "-q", url])
        .status()
        .context("running pgbench -i")?;
    anyhow::ensure!(status.success(), "pgbench -i -s 1 failed ({status})");
    Ok(())
}

/// Runs pgbench `-S` in `mode` with `clients` clients for `duration`.
pub(crate) fn run(
    url: &str,
    mode: Mode,
    clients: usize,
    duration: Duration,
) -> Result<PgbenchResult> {
    let mut command = Command::new(pgbench()?);
    command
        .args(["-n", "-S"])
        .args(mode.args())
        .args([
            "-c",
            &clients.to_string(),
            "-j",
            "2",
            "-T",
            &duration.as_secs().max(1).to_string(),
        ])
        .arg(url);
    let shown = poolside_config::redact_text(&format!(
        "pgbench -n -S {} -c {clients} -j 2 -T {} {url}",
        mode.args().join(" "),
        duration.as_secs().max(1)
    ));
    let output = command
        .output()
        .with_context(|| format!("running {shown}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "{shown} failed: {}",
            poolside_config::redact_text(&String::from_utf8_lossy(&output.stderr))
        );
    }
    parse(&stdout, shown)
}

/// Reads tps, average latency and failures from pgbench's report.
fn parse(report: &str, command: String) -> Result<PgbenchResult> {
    let number_after = |prefix: &str| {
        report.lines().find_map(|line| {
            let rest = line.trim().strip_prefix(prefix)?;
            rest.split_whitespace().next()?.parse::<f64>().ok()
        })
    };
    let tps = number_after("tps = ").context("pgbench printed no tps")?;
    Ok(PgbenchResult {
        tps,
        latency_avg_ms: number_after("latency average = "),
        failed: number_after("number of failed transactions: ").map_or(0, |n| n as u64),
        command,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_pgbench_15_output() {
        let report = "transaction type: <builtin: select only>\nscaling factor: 1\nnumber of clients: 16\n\
                      number of transactions actually processed: 240000\nnumber of failed transactions: 0 (0.000%)\n\
                      latency average = 0.330 ms\ninitial connection time = 12.1 ms\n\
                      tps = 48421.123 (without initial connection time)\n";
        let result = parse(report, "pgbench".into()).expect("parses");
        assert_eq!(result.tps, 48421.123);
        assert_eq!(result.latency_avg_ms, Some(0.330));
        assert_eq!(result.failed, 0);
        assert!(parse("garbage", String::new()).is_err());
    }
}
