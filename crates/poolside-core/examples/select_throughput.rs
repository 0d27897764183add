//! Throughput of pgbench's `-S` select by key on both paths of `PgPool`.
//!
//! Run with: `cargo run --release -p poolside-core --example select_throughput -- TASKS POOL SECONDS`
//! against a database initialised with `pgbench -i` (URL from `DATABASE_URL`). For
//! quick figures while developing; `cargo xtask loadtest` is the measurement of record.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use poolside_core::PgPool;

const SELECT: &str = "SELECT abalance FROM pgbench_accounts WHERE aid = $1";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .map(|a| a.parse())
        .collect::<Result<_, _>>()?;
    let (tasks, pool_size, seconds) = match args.as_slice() {
        [t, p, s] => (*t, *p, *s),
        _ => (16, 16, 5),
    };
    let url = std::env::var("DATABASE_URL").map_err(|_| "set DATABASE_URL")?;
    let loaded = poolside_config::ConfigLoader::from_env(
        [
            ("DATABASE_URL", url),
            ("POOLSIDE_POSTGRES__MAX_SIZE", pool_size.to_string()),
            ("POOLSIDE_POSTGRES__MIN_IDLE", pool_size.to_string()),
        ]
        .into_iter()
        .collect(),
    )
    .load()?;
    let pool = PgPool::connect(&loaded.config.postgres).await?;
    let rows: i64 = pool
        .query_one("SELECT count(*) FROM pgbench_accounts", &[])
        .await?
        .get(0);
    let rows = i32::try_from(rows)?;
    for pipelined in [true, false] {
        let stop = Arc::new(AtomicBool::new(false));
        let done = Arc::new(AtomicU64::new(0));
        let handles: Vec<_> = (0..tasks)
            .map(|_| {
                let (pool, stop, done) = (pool.clone(), Arc::clone(&stop), Arc::clone(&done));
                tokio::spawn(async move {
                    while !stop.load(Ordering::Relaxed) {
                        let aid = fastrand::i32(1..=rows);
                        let result = if pipelined {
                            pool.query_one(SELECT, &[&aid]).await.map(drop)
                        } else {
                            match pool.get().await {
                                Ok(mut conn) => conn.query_one(SELECT, &[&aid]).await.map(drop),
                                Err(e) => Err(e),
                            }
                        };
                        result.expect("select");
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        let started = Instant::now();
        tokio::time::sleep(Duration::from_secs(seconds)).await;
        stop.store(true, Ordering::Relaxed);
        for handle in handles {
            handle.await?;
        }
        let rate = done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
        let path = if pipelined { "pipelined" } else { "exclusive" };
        println!("{path:>9}: {tasks} tasks, pool {pool_size}: {rate:.0} ops/s");
    }
    Ok(())
}
