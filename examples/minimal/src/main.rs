//! The smallest useful poolside program: configuration from the environment
//! (`DATABASE_URL`, optional `REDIS_URL`, `POOLSIDE_*`), one query through the standard
//! stack, the health summary and status printed, then a clean shutdown.

use std::process::ExitCode;
use std::time::Duration;

use poolside::Poolside;

#[tokio::main]
async fn main() -> ExitCode {
    let db = match Poolside::from_env().await {
        Ok(db) => db,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    let answer = db
        .op("add_one")
        .idempotent()
        .query_one("SELECT $1::int4 + 1", &[&41_i32])
        .await;
    let code = match answer {
        Ok(row) => {
            println!("answer: {}", row.get::<_, i32>(0));
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    };
    db.warm_up().await.ok();
    let health = db.health();
    println!(
        "health: {:?} (HTTP {})",
        health.status,
        health.status.http_code()
    );
    print!("{}", db.status());
    let still_in_use = db.shutdown(Duration::from_secs(5)).await;
    println!("shut down ({still_in_use} connections were still in use)");
    code
}
