//! Whether tokio-postgres clients alone, with no pool, stall under a given Tokio runtime:
//! each task runs pgbench's `-S` select by key on a client of its own, and each run
//! reports its slowest statement.
//!
//! Run with: `cargo run --release -p poolside-core --example driver_stalls -- CONNECTIONS
//! TASKS SECONDS RUNS WORKERS` (`WORKERS` 0 for a current-thread runtime), after
//! `cargo xtask services up`, `eval "$(cargo xtask services env)"` and a load test
//! (which creates pgbench's tables). It exists to tell a pool's stalls from the
//! driver's and the runtime's (ARCHITECTURE.md, under Measured).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio_postgres::{Client, NoTls, Statement};

/// What one run saw.
#[derive(Debug, Default)]
struct Run {
    statements: AtomicU64,
    slowest_micros: AtomicU64,
    over_100_ms: AtomicU64,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .map(|a| a.parse())
        .collect::<Result<_, _>>()?;
    let [connections, tasks, seconds, runs, workers] = args[..] else {
        return Err("give CONNECTIONS TASKS SECONDS RUNS WORKERS, e.g. 20 16 5 8 2".into());
    };
    if connections == 0 || seconds == 0 {
        return Err("CONNECTIONS and SECONDS must be at least 1".into());
    }
    let runtime = match workers {
        0 => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?,
        n => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(usize::try_from(n)?)
            .enable_all()
            .build()?,
    };
    let url = std::env::var("DATABASE_URL").map_err(|_| "set DATABASE_URL")?;
    runtime.block_on(async {
        for run in 1..=runs {
            let seen = measure(&url, connections, tasks, Duration::from_secs(seconds)).await?;
            println!(
                "run {run}: {} statements/s, slowest {} ms, {} over 100 ms",
                seen.statements.load(Ordering::Relaxed) / seconds,
                seen.slowest_micros.load(Ordering::Relaxed) / 1000,
                seen.over_100_ms.load(Ordering::Relaxed),
            );
        }
        Ok(())
    })
}

/// Opens `connections` clients and runs `tasks` tasks on them, task `i` on client
/// `i % connections`, for `duration`.
async fn measure(
    url: &str,
    connections: u64,
    tasks: u64,
    duration: Duration,
) -> Result<Arc<Run>, Box<dyn std::error::Error>> {
    let mut clients: Vec<Arc<(Client, Statement)>> = Vec::new();
    for _ in 0..connections {
        let (client, connection) = tokio_postgres::connect(url, NoTls).await?;
        tokio::spawn(connection);
        let statement = client
            .prepare("SELECT abalance FROM pgbench_accounts WHERE aid = $1")
            .await?;
        clients.push(Arc::new((client, statement)));
    }
    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(Run::default());
    let mut handles = Vec::new();
    for task in 0..tasks {
        let client = Arc::clone(&clients[(task % connections) as usize]);
        let (stop, seen) = (Arc::clone(&stop), Arc::clone(&seen));
        handles.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let account = fastrand::i32(1..=100_000);
                let started = Instant::now();
                client.0.query_one(&client.1, &[&account]).await?;
                let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
                seen.statements.fetch_add(1, Ordering::Relaxed);
                seen.slowest_micros.fetch_max(micros, Ordering::Relaxed);
                if micros > 100_000 {
                    seen.over_100_ms.fetch_add(1, Ordering::Relaxed);
                }
            }
            Ok::<_, tokio_postgres::Error>(())
        }));
    }
    tokio::time::sleep(duration).await;
    stop.store(true, Ordering::Relaxed);
    for handle in handles {
        handle.await??;
    }
    Ok(seen)
}
