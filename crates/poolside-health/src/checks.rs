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
/// does not queue behind its work), within `timeout`. A failure is logged as a
/// warning when the last check passed (or none ran), and below that while it lasts.
pub(crate) async fn check_postgres(
    pool: &PgPool,
    timeout: Duration,
    was_failing: bool,
) -> CheckResult {
    let started = Instant::now();
    let result = match tokio::time::timeout(timeout, pool.query_one("SELECT 1", &[])).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(error)) => {
            if matches!(error.kind(), ErrorKind::Connect) {
                let reconnecting = "postgres check failed: reconnecting the pool";
                if was_failing {
                    tracing::debug!(target: "poolside::health", error = %error, "{reconnecting}");
                } else {
                    tracing::warn!(target: "poolside::health", error = %error, "{reconnecting}");
                }
                pool.reconnect();
            }
            Err(error.to_string())
        }
        Err(_) => Err(timed_out(timeout)),
    };
    CheckResult::of(started, result)
}

/// `PING` within `timeout`; then, past one server, the topology
/// ([`RedisPool::topology`](poolside_core::RedisPool::topology)): a replica that is
/// not in step, a cluster node down or a slot unserved is a warning (commands still
/// run), not a failure.
#[cfg(feature = "redis")]
pub(crate) async fn check_redis(pool: &poolside_core::RedisPool, timeout: Duration) -> CheckResult {
    let started = Instant::now();
    let command = poolside_core::redis::cmd("PING");
    let check = async {
        let answer = pool
            .command::<String>(&command)
            .await
            .map_err(|e| e.to_string())?;
        if answer != "PONG" {
            return Err(format!("PING answered {answer:?}"));
        }
        if pool.mode() == poolside_config::RedisMode::Single {
            return Ok(None);
        }
        // The topology is best effort: PING passed, so Redis serves.
        Ok(pool
            .topology()
            .await
            .ok()
            .filter(|t| !t.is_healthy())
            .map(|t| {
                let down: Vec<String> = t
                    .nodes
                    .iter()
                    .filter(|node| !node.up)
                    .map(|node| format!("{} {} down", node.role, node.address))
                    .collect();
                match t.cluster_state.as_deref() {
                    Some(state) if state != "ok" => {
                        format!("cluster_state {state}; {}", down.join(", "))
                    }
                    _ => down.join(", "),
                }
            }))
    };
    match tokio::time::timeout(timeout, check).await {
        Ok(Ok(None)) => CheckResult::of(started, Ok(())),
        Ok(Ok(Some(warning))) => CheckResult {
            status: Status::Warn,
            ..CheckResult::of(started, Err(warning))
        },
        Ok(Err(error)) => CheckResult::of(started, Err(error)),
        Err(_) => CheckResult::of(started, Err(timed_out(timeout))),
    }
}
