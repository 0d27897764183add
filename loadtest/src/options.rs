//! The load test's command line: the caller's flags, and those `cargo xtask loadtest`
//! adds for the servers it started.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use poolside_config::RedisMode;

use super::scenarios::Scenario;
use super::workload::Workload;

/// What the load test was asked to do.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    pub(crate) scenarios: Vec<Scenario>,
    pub(crate) workloads: Vec<Workload>,
    /// Only these systems (by their names in the results); `None`: all.
    pub(crate) systems: Option<Vec<String>>,
    /// Measured time per run (and per phase or level).
    pub(crate) duration: Duration,
    /// Unmeasured time before each run.
    pub(crate) warm_up: Duration,
    /// Task counts of `steady`; the first also sets the base of `spike`, `stress`
    /// and `soak`.
    pub(crate) concurrency: Vec<usize>,
    /// Connections per pool.
    pub(crate) pool_size: u32,
    /// Runs of each `steady` measurement, interleaved; the report shows the median.
    pub(crate) repeat: usize,
    /// Length of the `soak` run.
    pub(crate) soak: Duration,
    pub(crate) bursts: usize,
    pub(crate) burst_idle: Duration,
    /// Most tasks `stress` goes up to.
    pub(crate) stress_max_tasks: usize,
    /// A PostgreSQL server of the caller's instead of the embedded one.
    pub(crate) database_url: Option<String>,
    /// A Redis server of the caller's instead of the embedded one; in cluster mode,
    /// the cluster's node URLs, comma-separated.
    pub(crate) redis_url: Option<String>,
    /// `--redis-mode`: one server, or a Redis Cluster.
    pub(crate) redis_mode: RedisMode,
    /// A PgBouncer of the caller's (transaction mode, in front of `database_url`).
    pub(crate) pgbouncer_url: Option<String>,
    /// Where to write the JSON results.
    pub(crate) json: Option<PathBuf>,
    /// Where to draw the chart (SVG).
    pub(crate) plot: Option<PathBuf>,
    /// The standby of `database_url` (the replicas scenario).
    pub(crate) standby_url: Option<String>,
    /// The PostgreSQL data directories, to read the servers' CPU time.
    pub(crate) postgres_data: Option<PathBuf>,
    pub(crate) standby_data: Option<PathBuf>,
    /// The primary's log, which the instances scenario searches for refused connections.
    pub(crate) postgres_log: Option<PathBuf>,
    /// `--servers-needed`: print which servers the run needs, and run nothing.
    pub(crate) servers_needed: bool,
}

/// Which throwaway servers a run needs from `cargo xtask loadtest`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ServersNeeded {
    /// The caller named servers of their own.
    None,
    /// PostgreSQL, Redis and PgBouncer: the standby's replay would take CPU from every
    /// other measurement, so it runs only for the replicas scenario.
    WithoutStandby,
    /// Those and the standby.
    All,
}

impl ServersNeeded {
    /// The word `cargo xtask loadtest` reads.
    pub(crate) fn name(self) -> &'static str {
        match self {
            ServersNeeded::None => "none",
            ServersNeeded::WithoutStandby => "without-standby",
            ServersNeeded::All => "all",
        }
    }
}

pub(crate) const USAGE: &str = "\
usage: cargo xtask loadtest [--quick] [--scenario NAME,...] [--workload NAME,...] [--system NAME,...]
                            [--duration 10s] [--concurrency 50,100,200,1000] [--pool-size 20]
                            [--repeat 1] [--soak 60s] [--database-url URL] [--redis-url URL]
                            [--pgbouncer-url URL]
                            [--json PATH] [--plot PATH.svg]

  scenarios: steady, pgbouncer, instances, oversubscribed, burst, spike, stress,
             sequential, soak (default: all); instances runs under the sale workload:
             8 release-built pos-service processes on one PgBouncer, their product reads
             and sales over HTTP, at each --concurrency (up to 400) spread over them
  workloads: select, sale, redis-get, redis-set (default: all)
  systems:   poolside, poolside-read (select only: the batched read path),
             poolside-read-per-core (select, steady only: the same on one single-threaded
             runtime per core, a pool each, as pgbench's -j threads),
             poolside-facade-per-core (the same through a Poolside per core, the select a
             read-only operation), poolside-layered,
             poolside-metrics, poolside-traced (select only: spans exported through
             OpenTelemetry), poolside-exclusive, deadpool,
             sqlx, raw-bb8, raw-pipelined, deadpool-redis, raw-multiplexed,
             pgbench-simple, pgbench-prepared, pgbench-connect, pgbench-pipeline
             (select only: 20 selects per Sync over 4 connections, the wire's
             reference), redis-benchmark;
             through PgBouncer (scenario pgbouncer): poolside-pgbouncer,
             poolside-pgbouncer-4rt, deadpool-pgbouncer, sqlx-pgbouncer, pgbench-extended
             (default: all; raw-pipelined and raw-multiplexed, the drivers with no
             pool, run in steady only)
  --quick    every scenario and baseline, short runs: about four minutes
  --repeat   runs each steady measurement N times, interleaved; the report shows medians
  TOKIO_WORKER_THREADS=N  the Rust systems' runtime threads (default: one per core;
             pgbench runs -j 2, redis-benchmark one thread)
  --database-url / --redis-url  measure servers of yours instead of starting throwaway
             ones (with only one of them given, the other's workloads are skipped); a
             PostgreSQL URL without sslmode gets sslmode=disable, as the Rust peers
             connect without TLS
  --redis-mode single|cluster  the Redis workloads on one server (default) or on a Redis
             Cluster: poolside-cluster, poolside-cluster-per-core (one single-threaded
             runtime per core, a pool each) and raw-cluster against redis-benchmark
             --cluster with the same clients (with --redis-url, the cluster's node
             URLs, comma-separated)
  --pgbouncer-url  your PgBouncer, in transaction mode in front of --database-url
             (the pgbouncer and instances scenarios are skipped without it)

set by `cargo xtask loadtest` for the servers it starts:
  --standby-url URL  --postgres-data DIR  --standby-data DIR  --postgres-log PATH
  --servers-needed   print none, without-standby or all, and run nothing";

impl Options {
    /// The full run's settings.
    fn full() -> Self {
        Self {
            scenarios: Scenario::ALL.to_vec(),
            workloads: Workload::ALL.to_vec(),
            systems: None,
            duration: Duration::from_secs(10),
            warm_up: Duration::from_secs(1),
            concurrency: vec![50, 100, 200, 1000],
            pool_size: 20,
            repeat: 1,
            soak: Duration::from_secs(60),
            bursts: 3,
            burst_idle: Duration::from_secs(2),
            stress_max_tasks: 6400,
            database_url: None,
            redis_url: None,
            redis_mode: RedisMode::Single,
            pgbouncer_url: None,
            json: None,
            plot: None,
            standby_url: None,
            postgres_data: None,
            standby_data: None,
            postgres_log: None,
            servers_needed: false,
        }
    }

    /// `--quick`: everything, briefly.
    fn quick() -> Self {
        Self {
            duration: Duration::from_millis(1200),
            warm_up: Duration::from_millis(300),
            concurrency: vec![50],
            soak: Duration::from_secs(5),
            bursts: 2,
            burst_idle: Duration::from_millis(300),
            stress_max_tasks: 1600,
            ..Self::full()
        }
    }

    /// Parses the arguments after `loadtest`. `--quick` sets the base; other flags
    /// override it wherever they stand.
    pub(crate) fn parse(args: &[&str]) -> Result<Self> {
        let mut options = if args.contains(&"--quick") {
            Self::quick()
        } else {
            Self::full()
        };
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            let mut value = |name: &str| {
                args.next()
                    .copied()
                    .with_context(|| format!("{name} needs a value\n{USAGE}"))
            };
            match *arg {
                "--quick" => {}
                "--scenario" => {
                    options.scenarios = list(value("--scenario")?, Scenario::parse)?;
                }
                "--workload" => {
                    options.workloads = list(value("--workload")?, Workload::parse)?;
                }
                "--system" => {
                    let names = value("--system")?;
                    options.systems = Some(names.split(',').map(|n| n.trim().to_owned()).collect());
                }
                "--duration" => options.duration = duration("--duration", value("--duration")?)?,
                "--soak" => options.soak = duration("--soak", value("--soak")?)?,
                "--concurrency" => {
                    let text = value("--concurrency")?;
                    options.concurrency = list(text, |n| {
                        n.parse::<usize>().ok().filter(|n| *n > 0).with_context(|| {
                            format!("--concurrency {text:?}: write whole numbers like 50,100,200")
                        })
                    })?;
                }
                "--pool-size" => options.pool_size = number("--pool-size", value("--pool-size")?)?,
                "--repeat" => options.repeat = number("--repeat", value("--repeat")?)?,
                "--database-url" => {
                    options.database_url = Some(plain_unless_told(value("--database-url")?))
                }
                "--redis-url" => options.redis_url = Some(value("--redis-url")?.to_owned()),
                "--redis-mode" => {
                    options.redis_mode = match value("--redis-mode")?.parse() {
                        Ok(mode @ (RedisMode::Single | RedisMode::Cluster)) => mode,
                        Ok(RedisMode::Sentinel) => bail!(
                            "--redis-mode sentinel: a Sentinel group's commands take the \
                             single server's path once the primary is found; measure single \
                             or cluster"
                        ),
                        Err(e) => bail!("--redis-mode: {e}"),
                    };
                }
                "--pgbouncer-url" => {
                    options.pgbouncer_url = Some(plain_unless_told(value("--pgbouncer-url")?))
                }
                "--json" => options.json = Some(PathBuf::from(value("--json")?)),
                "--plot" => {
                    let path = PathBuf::from(value("--plot")?);
                    if path.extension().is_none_or(|e| e != "svg") {
                        bail!(
                            "--plot {}: the chart is drawn as SVG; name a .svg file",
                            path.display()
                        );
                    }
                    options.plot = Some(path);
                }
                "--standby-url" => {
                    options.standby_url = Some(plain_unless_told(value("--standby-url")?))
                }
                "--postgres-data" => {
                    options.postgres_data = Some(PathBuf::from(value("--postgres-data")?));
                }
                "--standby-data" => {
                    options.standby_data = Some(PathBuf::from(value("--standby-data")?));
                }
                "--postgres-log" => {
                    options.postgres_log = Some(PathBuf::from(value("--postgres-log")?));
                }
                "--servers-needed" => options.servers_needed = true,
                other => bail!("unknown argument {other:?}\n{USAGE}"),
            }
        }
        Ok(options)
    }

    /// Whether the system named `name` is to be measured.
    pub(crate) fn includes(&self, name: &str) -> bool {
        self.systems
            .as_ref()
            .is_none_or(|names| names.iter().any(|n| n == name))
    }

    /// Which throwaway servers this run needs: none when the caller named servers of
    /// their own.
    pub(crate) fn servers_needed(&self) -> ServersNeeded {
        if self.database_url.is_some() || self.redis_url.is_some() {
            ServersNeeded::None
        } else if self.scenarios.contains(&Scenario::Replicas)
            && self.workloads.contains(&Workload::Select)
        {
            ServersNeeded::All
        } else {
            ServersNeeded::WithoutStandby
        }
    }
}

fn list<T>(text: &str, parse: impl Fn(&str) -> Result<T>) -> Result<Vec<T>> {
    text.split(',').map(|item| parse(item.trim())).collect()
}

fn duration(flag: &str, text: &str) -> Result<Duration> {
    humantime::parse_duration(text)
        .ok()
        .filter(|d| !d.is_zero())
        .with_context(|| format!("{flag} {text:?}: write it like 10s or 500ms"))
}

fn number<T: std::str::FromStr + PartialOrd + From<u8>>(flag: &str, text: &str) -> Result<T> {
    text.parse::<T>()
        .ok()
        .filter(|n| *n >= T::from(1))
        .with_context(|| format!("{flag} {text:?}: write a whole number from 1"))
}

/// `url` with `sslmode=disable` added when it names no `sslmode`: the peers measured
/// beside poolside (deadpool, raw bb8, tokio-postgres alone) connect without TLS, and
/// poolside and pgbench would otherwise encrypt (libpq's default, `prefer`), paying
/// for it on both sides of every statement.
fn plain_unless_told(url: &str) -> String {
    if url.contains("sslmode=") {
        return url.to_owned();
    }
    if !url.contains("://") {
        // The key=value form.
        return format!("{url} sslmode=disable");
    }
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}sslmode=disable")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_urls_go_without_tls_unless_they_say_otherwise() {
        assert_eq!(
            plain_unless_told("postgres://u@h/db"),
            "postgres://u@h/db?sslmode=disable"
        );
        assert_eq!(
            plain_unless_told("postgres://u@h/db?pgbouncer=true"),
            "postgres://u@h/db?pgbouncer=true&sslmode=disable"
        );
        assert_eq!(
            plain_unless_told("postgres://u@h/db?sslmode=require"),
            "postgres://u@h/db?sslmode=require"
        );
        assert_eq!(
            plain_unless_told("host=h user=u"),
            "host=h user=u sslmode=disable"
        );
        let o = Options::parse(&["--database-url", "postgres://u@h/db"]).expect("valid");
        assert_eq!(
            o.database_url.as_deref(),
            Some("postgres://u@h/db?sslmode=disable")
        );
    }

    #[test]
    fn parses_flags_and_rejects_bad_values() {
        let o = Options::parse(&[
            "--pool-size",
            "16",
            "--concurrency",
            "16,64",
            "--quick",
            "--workload",
            "select,sale",
        ])
        .expect("valid");
        assert_eq!(
            (o.pool_size, o.concurrency),
            (16, vec![16, 64]),
            "flags override --quick wherever they stand"
        );
        assert_eq!(o.duration, Duration::from_millis(1200));
        assert_eq!(o.workloads, vec![Workload::Select, Workload::Sale]);
        assert_eq!(o.scenarios.len(), Scenario::ALL.len());
        let o = Options::parse(&[
            "--scenario",
            "spike,soak",
            "--repeat",
            "3",
            "--system",
            "poolside,deadpool",
        ])
        .expect("valid");
        assert!(o.includes("deadpool") && !o.includes("sqlx"));
        assert_eq!(
            (o.scenarios, o.repeat),
            (vec![Scenario::Spike, Scenario::Soak], 3)
        );
        for bad in [
            &["--pool-size", "0"][..],
            &["--repeat", "0"],
            &["--concurrency", "1,x"],
            &["--duration", "soon"],
            &["--duration", "0s"],
            &["--scenario", "marathon"],
            &["--workload", "delete"],
            &["--plot", "chart.png"],
            &["--bogus"],
            &["--json"],
        ] {
            assert!(Options::parse(bad).is_err(), "{bad:?}");
        }
    }
}
