//! pgbench as a baseline: the same work (its builtin `-S` select by key, or the sale
//! as a script), the same client count, in three modes (`-M simple`, `-M prepared`,
//! and `-C`, a new connection per transaction), and `-M extended` through PgBouncer.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::workload::Workload;

/// A pgbench mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Simple,
    Prepared,
    Connect,
    /// `-M extended`: unnamed statements, what runs through PgBouncer's transaction mode.
    Extended,
    /// `-M prepared` in pipeline mode: [`PIPELINE_STATEMENTS`] selects per Sync over
    /// [`PIPELINE_CONNECTIONS`] connections, whatever the task count: the physical
    /// reference for reads, what the wire carries when the driver is not the limit.
    Pipeline,
}

/// Statements per Sync in `pgbench-pipeline`.
pub(crate) const PIPELINE_STATEMENTS: usize = 20;
/// Connections of `pgbench-pipeline`.
pub(crate) const PIPELINE_CONNECTIONS: usize = 4;

/// The select of `-S` as a pipeline of [`PIPELINE_STATEMENTS`], each on its own random
/// key of `accounts`: `pgbench-pipeline`'s script.
pub(crate) fn pipeline_script(accounts: i32) -> String {
    let mut script = String::new();
    for n in 1..=PIPELINE_STATEMENTS {
        script.push_str(&format!("\\set aid{n} random(1, {accounts})\n"));
    }
    script.push_str("\\startpipeline\n");
    for n in 1..=PIPELINE_STATEMENTS {
        script.push_str(&format!(
            "SELECT abalance FROM pgbench_accounts WHERE aid = :aid{n};\n"
        ));
    }
    script.push_str("\\endpipeline\n");
    script
}

impl Mode {
    /// The modes run straight against the server.
    pub(crate) const ALL: [Mode; 3] = [Mode::Simple, Mode::Prepared, Mode::Connect];

    /// The system's name in the results.
    pub(crate) fn system(self) -> &'static str {
        match self {
            Mode::Simple => "pgbench-simple",
            Mode::Prepared => "pgbench-prepared",
            Mode::Connect => "pgbench-connect",
            Mode::Extended => "pgbench-extended",
            Mode::Pipeline => "pgbench-pipeline",
        }
    }

    /// The modes `steady` runs beside the pools on `workload`: the pipeline only reads.
    pub(crate) fn for_workload(workload: Workload) -> &'static [Mode] {
        if workload == Workload::Select {
            &[Mode::Simple, Mode::Prepared, Mode::Connect, Mode::Pipeline]
        } else {
            &Self::ALL
        }
    }

    /// Statements one pgbench transaction of this mode runs.
    pub(crate) fn statements_per_transaction(self) -> usize {
        match self {
            Mode::Pipeline => PIPELINE_STATEMENTS,
            _ => 1,
        }
    }

    fn args(self) -> &'static [&'static str] {
        match self {
            Mode::Simple => &["-M", "simple"],
            Mode::Prepared => &["-M", "prepared"],
            Mode::Connect => &["-M", "simple", "-C"],
            Mode::Extended => &["-M", "extended"],
            Mode::Pipeline => &["-M", "prepared"],
        }
    }
}

/// What pgbench reported.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PgbenchResult {
    pub(crate) tps: f64,
    pub(crate) latency_avg_ms: Option<f64>,
    /// Transactions completed.
    pub(crate) processed: u64,
    pub(crate) failed: u64,
    /// The command as run, password masked.
    pub(crate) command: String,
}

/// pgbench, found on `PATH` (`cargo xtask loadtest` puts the PostgreSQL server's `bin`
/// directory first).
fn pgbench() -> Result<PathBuf> {
    crate::workspace::find_program("pgbench")
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

/// What each pgbench client runs.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Script<'a> {
    /// The builtin select by key (`-S`).
    Select,
    /// A script file (`-f`).
    File(&'a Path),
}

/// How much pgbench runs.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Amount {
    /// `-c clients -T seconds` (whole seconds, at least one).
    For { clients: usize, duration: Duration },
    /// One client, `-t transactions`, one after another.
    Sequential { transactions: usize },
}

/// Runs pgbench in `mode` on `script` for `amount`.
pub(crate) fn run(
    url: &str,
    mode: Mode,
    script: Script<'_>,
    amount: Amount,
) -> Result<PgbenchResult> {
    let mut args: Vec<String> = vec!["-n".into()];
    match script {
        Script::Select => args.push("-S".into()),
        Script::File(path) => args.extend(["-f".into(), path.display().to_string()]),
    }
    args.extend(mode.args().iter().map(|a| (*a).to_owned()));
    match amount {
        Amount::For { clients, duration } => args.extend([
            "-c".into(),
            clients.to_string(),
            "-j".into(),
            "2".into(),
            "-T".into(),
            duration.as_secs().max(1).to_string(),
        ]),
        Amount::Sequential { transactions } => {
            args.extend([
                "-c".into(),
                "1".into(),
                "-t".into(),
                transactions.to_string(),
            ]);
        }
    }
    let shown = poolside_config::redact_text(&format!("pgbench {} {url}", args.join(" ")));
    let output = Command::new(pgbench()?)
        .args(&args)
        .arg(url)
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
    // `-t` runs print "processed: 500/500": the figure is before the slash.
    let number_after = |prefix: &str| {
        report.lines().find_map(|line| {
            let rest = line.trim().strip_prefix(prefix)?;
            rest.split(|c: char| c.is_whitespace() || c == '/')
                .next()?
                .parse::<f64>()
                .ok()
        })
    };
    let tps = number_after("tps = ").context("pgbench printed no tps")?;
    Ok(PgbenchResult {
        tps,
        latency_avg_ms: number_after("latency average = "),
        processed: number_after("number of transactions actually processed: ")
            .map_or(0, |n| n as u64),
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
        assert_eq!((result.processed, result.failed), (240_000, 0));
        let sequential = parse(
            &report.replace("processed: 240000", "processed: 500/500"),
            String::new(),
        )
        .expect("parses");
        assert_eq!(sequential.processed, 500);
        assert!(parse("garbage", String::new()).is_err());
    }
}
