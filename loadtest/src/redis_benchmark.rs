//! redis-benchmark as a baseline: `GET` or `SET` of 100-byte values on 10,000 keys
//! (`-r 10000 -d 100`), the same client count as the tasks of the systems under test;
//! on a cluster with `--cluster`, each request sent to the node of its key.

use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::workload::{Workload, redis as data};

/// What redis-benchmark reported.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RedisBenchmarkResult {
    pub(crate) requests_per_sec: f64,
    pub(crate) avg_ms: f64,
    pub(crate) p50_ms: f64,
    pub(crate) p95_ms: f64,
    pub(crate) p99_ms: f64,
    pub(crate) max_ms: f64,
    /// The command as run, password masked.
    pub(crate) command: String,
}

/// Runs `requests` requests of `workload` from `clients` clients; with `cluster`, on
/// the cluster that the first of `url`'s comma-separated nodes belongs to.
pub(crate) fn run(
    url: &str,
    workload: Workload,
    clients: usize,
    requests: u64,
    cluster: bool,
) -> Result<RedisBenchmarkResult> {
    let url = url.split(',').next().unwrap_or(url).trim();
    let test = match workload {
        Workload::RedisGet => "get",
        Workload::RedisSet => "set",
        other => bail!("redis-benchmark does not run the {} workload", other.name()),
    };
    let program = crate::workspace::find_program("redis-benchmark")
        .context("redis-benchmark is not installed (Debian package redis-tools)")?;
    let mut args = vec![
        "-u".to_owned(),
        url.to_owned(),
        "-c".into(),
        clients.to_string(),
        "-n".into(),
        requests.to_string(),
        "-r".into(),
        data::KEYS.to_string(),
        "-d".into(),
        data::VALUE_SIZE.to_string(),
        "-t".into(),
        test.into(),
        "--csv".into(),
    ];
    if cluster {
        args.push("--cluster".into());
    }
    let shown = poolside_config::redact_text(&format!("redis-benchmark {}", args.join(" ")));
    let output = Command::new(program)
        .args(&args)
        .output()
        .with_context(|| format!("running {shown}"))?;
    if !output.status.success() {
        bail!(
            "{shown} failed: {}",
            poolside_config::redact_text(&String::from_utf8_lossy(&output.stderr))
        );
    }
    parse(&String::from_utf8_lossy(&output.stdout), shown)
}

/// Reads the result line of `--csv` output.
fn parse(csv: &str, command: String) -> Result<RedisBenchmarkResult> {
    let line = csv
        .lines()
        .find(|l| l.starts_with("\"GET\"") || l.starts_with("\"SET\""))
        .context("redis-benchmark printed no result line")?;
    let numbers: Vec<f64> = line
        .split(',')
        .skip(1)
        .map(|field| field.trim_matches('"').parse::<f64>())
        .collect::<Result<_, _>>()
        .with_context(|| format!("reading redis-benchmark's line {line:?}"))?;
    let [rps, avg, _min, p50, p95, p99, max] = numbers[..] else {
        bail!("redis-benchmark's line {line:?} does not have the 7 figures of Redis 7");
    };
    Ok(RedisBenchmarkResult {
        requests_per_sec: rps,
        avg_ms: avg,
        p50_ms: p50,
        p95_ms: p95,
        p99_ms: p99,
        max_ms: max,
        command,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_redis_7_csv() {
        let csv = "\"test\",\"rps\",\"avg_latency_ms\",\"min_latency_ms\",\"p50_latency_ms\",\"p95_latency_ms\",\"p99_latency_ms\",\"max_latency_ms\"\n\
                   \"GET\",\"66006.60\",\"0.389\",\"0.200\",\"0.391\",\"0.479\",\"0.535\",\"0.735\"\n";
        let result = parse(csv, "redis-benchmark".into()).expect("parses");
        assert_eq!(result.requests_per_sec, 66006.60);
        assert_eq!(
            (result.p50_ms, result.p99_ms, result.max_ms),
            (0.391, 0.535, 0.735)
        );
        assert!(parse("\"GET\",\"1\"", String::new()).is_err());
        assert!(parse("nothing", String::new()).is_err());
    }
}
