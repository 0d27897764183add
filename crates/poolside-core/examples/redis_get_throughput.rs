//! Throughput of `GET` through `RedisPool`'s shared connection.
//!
//! Run with: `cargo run --release -p poolside-core --example redis_get_throughput -- TASKS SECONDS`
//! (URL from `REDIS_URL`, `DATABASE_URL` for the config loader). For quick figures
//! while developing; `cargo xtask loadtest --workload redis-get` measures it against
//! redis-benchmark.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use poolside_core::RedisPool;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .map(|a| a.parse())
        .collect::<Result<_, _>>()?;
    let (tasks, seconds) = match args.as_slice() {
        [t, s] => (*t, *s),
        _ => (50, 5),
    };
    let config = poolside_config::Config::load()?.config;
    let redis = config.redis.ok_or("set REDIS_URL")?;
    let pool = RedisPool::connect(&redis).await?;
    let () = pool
        .command(redis::cmd("SET").arg("throughput:key").arg("xxx"))
        .await?;
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            let (pool, stop, done) = (pool.clone(), Arc::clone(&stop), Arc::clone(&done));
            tokio::spawn(async move {
                let get = redis::cmd("GET").arg("throughput:key").to_owned();
                while !stop.load(Ordering::Relaxed) {
                    let _: Vec<u8> = pool.command(&get).await.expect("GET");
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
    println!(
        "RedisPool GET: {tasks} tasks: {rate:.0} ops/s ({:?})",
        pool.stats()
    );
    Ok(())
}
