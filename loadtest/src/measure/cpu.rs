//! CPU time spent while a run goes on: this process's (the client and the pools in
//! it), its finished children's (pgbench, redis-benchmark), each PostgreSQL server's
//! (its postmaster and every process it started: backends, WAL sender and receiver,
//! the startup process replaying WAL) and Redis's (every node's, on a cluster), read
//! from `/proc`. Over a run,
//! divided by its operations: CPU per operation, which stays meaningful where a rate on
//! two shared cores swings.
//!
//! The clock is installed once ([`install`]); every measurement then samples it
//! ([`sample`]) at the start and end of what it measures.

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use serde::Serialize;

/// Seconds of CPU (user and system) of this process, its waited-for children and each
/// server, now.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct CpuTimes {
    pub(crate) client: f64,
    /// Children this process has waited for: the external tools' runs.
    pub(crate) children: f64,
    pub(crate) primary: Option<f64>,
    pub(crate) standby: Option<f64>,
    pub(crate) redis: Option<f64>,
}

/// CPU times at the start and at the end of a measured stretch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct CpuSpan {
    pub(crate) before: CpuTimes,
    pub(crate) after: CpuTimes,
}

impl CpuSpan {
    /// The span from `before` to now, when the clock is installed.
    pub(crate) fn since(before: Option<CpuTimes>) -> Option<Self> {
        Some(Self {
            before: before?,
            after: sample()?,
        })
    }

    /// Microseconds per operation of `pick`'s process (or tree) over `operations`;
    /// `None` where it was not read or nothing ran.
    pub(crate) fn per_op(
        &self,
        operations: u64,
        pick: impl Fn(&CpuTimes) -> Option<f64>,
    ) -> Option<f64> {
        let spent = pick(&self.after)? - pick(&self.before)?;
        (operations > 0).then(|| spent.max(0.0) * 1e6 / operations as f64)
    }
}

static CLOCK: OnceLock<CpuClock> = OnceLock::new();

/// Installs the clock every measurement samples; the first call wins.
pub(crate) fn install(clock: CpuClock) {
    let _ = CLOCK.set(clock);
}

/// The CPU times now, when a clock is installed.
pub(crate) fn sample() -> Option<CpuTimes> {
    CLOCK.get().map(CpuClock::now)
}

/// CPU microseconds per operation over a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub(crate) struct CpuPerOp {
    pub(crate) client_us: f64,
    pub(crate) primary_us: Option<f64>,
    pub(crate) standby_us: Option<f64>,
}

/// Reads the CPU times of this process and of the servers whose postmasters are
/// `primary` and `standby`, and of Redis (the pids of its servers: one, or a cluster's
/// nodes).
#[derive(Debug, Clone)]
pub(crate) struct CpuClock {
    ticks_per_second: f64,
    primary: Option<u32>,
    standby: Option<u32>,
    redis: Vec<u32>,
}

impl CpuClock {
    /// A clock over this process, the given postmasters and Redis's servers.
    pub(crate) fn new(primary: Option<u32>, standby: Option<u32>, redis: Vec<u32>) -> Self {
        let ticks = Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|out| String::from_utf8(out.stdout).ok())
            .and_then(|text| text.trim().parse::<f64>().ok())
            .unwrap_or(100.0);
        Self {
            ticks_per_second: ticks,
            primary,
            standby,
            redis,
        }
    }

    /// The times now.
    pub(crate) fn now(&self) -> CpuTimes {
        let processes = all_processes();
        // A server's root and its live children, plus the children it has reaped: a
        // backend that ended (a client that disconnected, as pgbench's do) leaves its
        // CPU in its postmaster's cutime and cstime.
        let tree = |root: Option<u32>| {
            root.map(|root| {
                processes
                    .iter()
                    .filter(|p| p.pid == root || p.ppid == root)
                    .map(|p| {
                        if p.pid == root {
                            p.ticks + p.children_ticks
                        } else {
                            p.ticks
                        }
                    })
                    .sum::<u64>() as f64
                    / self.ticks_per_second
            })
        };
        let own = std::process::id();
        let own = processes.iter().find(|p| p.pid == own);
        let seconds = |ticks: u64| ticks as f64 / self.ticks_per_second;
        CpuTimes {
            client: own.map_or(0.0, |p| seconds(p.ticks)),
            children: own.map_or(0.0, |p| seconds(p.children_ticks)),
            primary: tree(self.primary),
            standby: tree(self.standby),
            redis: (!self.redis.is_empty())
                .then(|| self.redis.iter().filter_map(|&root| tree(Some(root))).sum()),
        }
    }
}

impl CpuTimes {
    /// CPU per operation between `self` (before) and `after`, over `operations`.
    pub(crate) fn per_op(&self, after: &CpuTimes, operations: u64) -> CpuPerOp {
        let per =
            |before: f64, after: f64| (after - before).max(0.0) * 1e6 / operations.max(1) as f64;
        CpuPerOp {
            client_us: per(self.client, after.client),
            primary_us: self.primary.zip(after.primary).map(|(b, a)| per(b, a)),
            standby_us: self.standby.zip(after.standby).map(|(b, a)| per(b, a)),
        }
    }
}

/// A PostgreSQL data directory's postmaster pid (the first line of `postmaster.pid`).
pub(crate) fn postmaster_pid(data_dir: &Path) -> Option<u32> {
    std::fs::read_to_string(data_dir.join("postmaster.pid"))
        .ok()?
        .lines()
        .next()?
        .trim()
        .parse()
        .ok()
}

/// The postmaster of `backend`, a PostgreSQL backend on this machine: its parent, when
/// that is a PostgreSQL process too.
pub(crate) fn postmaster_of_backend(backend: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{backend}/stat")).ok()?;
    let parent = parse_stat(backend, &stat)?.ppid;
    let name = std::fs::read_to_string(format!("/proc/{parent}/comm")).ok()?;
    (name.trim() == "postgres").then_some(parent)
}

#[derive(Debug)]
struct Process {
    pid: u32,
    ppid: u32,
    /// utime + stime, in clock ticks.
    ticks: u64,
    /// cutime + cstime: the children it has waited for.
    children_ticks: u64,
}

fn all_processes() -> Vec<Process> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            parse_stat(
                pid,
                &std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?,
            )
        })
        .collect()
}

/// `/proc/PID/stat`: the command name, in parentheses, may hold spaces; the fields
/// after it start with the state (field 3), so ppid is the 2nd, utime the 12th,
/// stime the 13th, and cutime and cstime the 14th and 15th.
fn parse_stat(pid: u32, stat: &str) -> Option<Process> {
    let (_, rest) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(Process {
        pid,
        ppid: fields.get(1)?.parse().ok()?,
        ticks: fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?,
        children_ticks: fields.get(13)?.parse::<u64>().ok()?
            + fields.get(14)?.parse::<u64>().ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_stat_line_whose_name_holds_spaces_and_parentheses() {
        let stat = "4242 (postgres: a (b) c) S 9255 4242 4242 0 -1 4194560 500 0 0 0 \
                    130 27 0 0 20 0 1 0 12345 0 0";
        let process = parse_stat(4242, stat).expect("parses");
        assert_eq!(
            (process.ppid, process.ticks, process.children_ticks),
            (9255, 157, 0)
        );
        let own = std::process::id();
        assert!(
            all_processes().iter().any(|p| p.pid == own),
            "this test's own process is read from /proc"
        );
        let per = CpuTimes {
            client: 1.0,
            ..CpuTimes::default()
        }
        .per_op(
            &CpuTimes {
                client: 1.5,
                ..CpuTimes::default()
            },
            1000,
        );
        assert!((per.client_us - 500.0).abs() < 1e-9, "{per:?}");
        let span = CpuSpan {
            before: CpuTimes {
                redis: Some(2.0),
                ..CpuTimes::default()
            },
            after: CpuTimes {
                redis: Some(2.25),
                ..CpuTimes::default()
            },
        };
        assert_eq!(span.per_op(500, |t| t.redis), Some(500.0));
        assert_eq!(span.per_op(500, |t| t.primary), None, "not read");
        assert_eq!(span.per_op(0, |t| t.redis), None, "nothing ran");
    }
}
