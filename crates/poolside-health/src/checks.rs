//! One check of each dependency: a round trip with its own timeout, its latency, and
//! what went wrong. A PostgreSQL check that fails to reach the server makes the pool
//! reconnect; one that fails because the pool is busy does not (reconnecting under
//! load would only add to it).

use std::time::{Duration, Instant, SystemTime};

use poolside_core::{ErrorKind, PgPool};

use crate::model::Status;

/// The last result of one dependency's check.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckResult {
    /// Pass, or fail with `output`.
    pub status: Status,
    /// How long the round trip took (up to the timeout).
    pub latency: Duration,
    /// What went wrong (never a secret: poolside's errors are redacted).
    pub output: Option<String>,
    /// When the check finished.
    pub at: SystemTime,
}

impl CheckResult {
    fn of(started: Instant, result: Result<(), String>) -> Self {
        Self {
            status: if result.is_ok() {
                Status::Pass
            } else {
                Status::Fail
            },
            latency: started.elapsed(),
            output: result.err(),
            at: SystemTime::now(),
        }
    }
}

fn timed_out(timeout: Duration) -> String {
    format!("no answer within {timeout:?} (health.check_timeout)")
}

/// `SELECT 1` on the pipelined path (no exclusive checkout, so a busy pool's check
/// does not queue behind its work), within `timeout`.
pub(crate) async fn check_postgres(pool: &PgPool, timeout: Duration) -> CheckResult {
    let started = Instant::now();
    let result = match tokio::time::timeout(timeout, pool.query_one("SELECT 1", &[])).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(error)) => {
            if matches!(error.kind(), ErrorKind::Connect) {
                tracing::warn!(target: "poolside::health", error = %error, "postgres check failed: reconnecting the pool");
                pool.reconnect();
            }
            Err(error.to_string())
        }
        Err(_) => Err(timed_out(timeout)),
    };
    CheckResult::of(started, result)
}

/// `PING` within `timeout`.
#[cfg(feature = "redis")]
pub(crate) async fn check_redis(pool: &poolside_core::RedisPool, timeout: Duration) -> CheckResult {
    let started = Instant::now();
    let command = poolside_core::redis::cmd("PING");
    let ping = pool.command::<String>(&command);
    let result = match tokio::time::timeout(timeout, ping).await {
        Ok(Ok(answer)) if answer == "PONG" => Ok(()),
        Ok(Ok(answer)) => Err(format!("PING answered {answer:?}")),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err(timed_out(timeout)),
    };
    CheckResult::of(started, result)
}
