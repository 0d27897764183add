//! `soak`: poolside alone at the first `--concurrency` for `--soak` (a minute by
//! default), sampling every second this process's memory, the pool's open
//! connections and the connections the server sees: all must stay flat.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::{Counts, Measured, Scenario, Session};
use crate::measure::closed_loop;
use crate::progress::Progress;
use crate::report::SoakFigures;
use crate::systems::{LOADTEST_APPLICATION_NAME, System};
use crate::workload::Workload;

/// The sampler's own connection, told apart from the pool's by this name.
const SAMPLER_NAME: &str = "poolside-loadtest-soak";

pub(super) fn run(session: &mut Session<'_>, workload: Workload) {
    let (options, interrupt) = (session.options, session.interrupt);
    let tasks = options.concurrency.first().copied().unwrap_or(50);
    let title = format!(
        "soak / {}: {tasks} tasks for {:?}",
        workload.name(),
        options.soak
    );
    let progress = Progress::start(&title, 1);
    let url = session.target.database_url.clone();
    session.measure(
        &progress,
        Scenario::Soak,
        workload,
        System::Poolside,
        1,
        |operation, counts| async move {
            let done = Arc::new(AtomicBool::new(false));
            let sampler = tokio::spawn(sample(url, counts, Arc::clone(&done)));
            let measurement =
                closed_loop(operation, tasks, options.warm_up, options.soak, interrupt).await;
            done.store(true, Ordering::Relaxed);
            let samples = sampler.await.unwrap_or_default();
            measurement
                .map(|m| Measured {
                    concurrency: tasks,
                    phase: None,
                    measurement: m,
                    soak: figures(&samples),
                    cpu: None,
                    replica_share: None,
                })
                .into_iter()
                .collect()
        },
    );
    progress.finish();
}

/// One second's sample.
#[derive(Debug, Clone, Copy)]
struct Sample {
    rss_mb: f64,
    pool_connections: u64,
    server_connections: u64,
}

/// Samples every second until `done`.
async fn sample(url: Option<String>, counts: Counts, done: Arc<AtomicBool>) -> Vec<Sample> {
    let server = match url {
        Some(url) => connect(&url).await,
        None => None,
    };
    let mut samples = Vec::new();
    while !done.load(Ordering::Relaxed) {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let server_connections = match &server {
            Some(client) => client
                .query_one(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1",
                    &[&LOADTEST_APPLICATION_NAME],
                )
                .await
                .map_or(0, |row| row.get::<_, i64>(0) as u64),
            None => 0,
        };
        samples.push(Sample {
            rss_mb: resident_mb(),
            pool_connections: counts().open.unwrap_or(0),
            server_connections,
        });
    }
    samples
}

async fn connect(url: &str) -> Option<tokio_postgres::Client> {
    let mut config: tokio_postgres::Config = url.parse().ok()?;
    config.application_name(SAMPLER_NAME);
    let (client, connection) = config.connect(tokio_postgres::NoTls).await.ok()?;
    tokio::spawn(connection);
    Some(client)
}

/// This process's resident memory, in MB (`VmRSS` of `/proc/self/status`).
fn resident_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("VmRSS:"))?.to_owned();
            line.split_whitespace().nth(1)?.parse::<f64>().ok()
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// The figures over the samples; the first one is taken after a second of load.
fn figures(samples: &[Sample]) -> Option<SoakFigures> {
    let (first, last) = (samples.first()?, samples.last()?);
    let range = |f: fn(&Sample) -> u64| {
        let values = samples.iter().map(f);
        (values.clone().min().unwrap_or(0), values.max().unwrap_or(0))
    };
    let (pool_min, pool_max) = range(|s| s.pool_connections);
    let (server_min, server_max) = range(|s| s.server_connections);
    Some(SoakFigures {
        rss_start_mb: first.rss_mb,
        rss_end_mb: last.rss_mb,
        rss_max_mb: samples.iter().map(|s| s.rss_mb).fold(0.0, f64::max),
        pool_connections_min: pool_min,
        pool_connections_max: pool_max,
        server_connections_min: server_min,
        server_connections_max: server_max,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_span_the_samples() {
        let sample = |rss_mb, pool_connections, server_connections| Sample {
            rss_mb,
            pool_connections,
            server_connections,
        };
        let f = figures(&[
            sample(10.0, 20, 20),
            sample(14.0, 19, 20),
            sample(12.0, 20, 21),
        ])
        .expect("samples");
        assert_eq!(
            (f.rss_start_mb, f.rss_end_mb, f.rss_max_mb),
            (10.0, 12.0, 14.0)
        );
        assert_eq!((f.pool_connections_min, f.pool_connections_max), (19, 20));
        assert_eq!(
            (f.server_connections_min, f.server_connections_max),
            (20, 21)
        );
        assert!(figures(&[]).is_none());
        assert!(resident_mb() > 0.0, "reads this process's memory");
    }
}
