//! One read replica: its pool, what the last sample saw of it, and its counts.

use parking_lot::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::Lsn;
use super::history::PrimaryHistory;
use crate::pg::{PgError, PgPool};

/// What the last sample saw of a replica (its replay position possibly moved on by a
/// read that needed a later one).
#[derive(Debug, Clone, Default)]
pub(super) struct Sampled {
    /// Whether it answered as a server in recovery (a standby).
    pub(super) up: bool,
    /// Why not, when it is not.
    pub(super) problem: Option<String>,
    /// `pg_last_wal_replay_lsn()`.
    pub(super) replayed: Option<Lsn>,
    /// How far behind the primary it replays (see [`PrimaryHistory::lag`]); `None`
    /// when the primary's position is unknown.
    pub(super) lag: Option<Duration>,
    /// Bytes of WAL the primary had written and it had not replayed.
    pub(super) lag_bytes: Option<u64>,
    pub(super) at: Option<Instant>,
}

/// One replica, as the router sees it.
#[derive(Debug)]
pub(super) struct Replica {
    /// `host:port`, no credentials.
    pub(super) name: String,
    pub(super) pool: PgPool,
    pub(super) sampled: Mutex<Sampled>,
    /// Read-only statements it ran.
    pub(super) reads: AtomicU64,
    /// Of those, how many failed there and ran on the primary instead.
    pub(super) failed_over: AtomicU64,
}

/// A replica as [`Replicas::stats`](super::Replicas::stats) shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ReplicaStats {
    /// `host:port`.
    pub name: String,
    /// Whether it takes reads now: up, in recovery, and within `postgres.replica_max_lag`.
    pub fit: bool,
    /// Why it takes no reads, when it does not.
    pub problem: Option<String>,
    /// The WAL position it had replayed when last sampled.
    pub replayed: Option<Lsn>,
    /// Replay lag in seconds when last sampled.
    pub lag_seconds: Option<f64>,
    /// Replay lag in bytes of WAL when last sampled.
    pub lag_bytes: Option<u64>,
    /// How long ago it was last sampled; `None` before the first sample.
    pub sampled_seconds_ago: Option<f64>,
    /// Read-only statements it ran.
    pub reads: u64,
    /// Of those, how many failed there and ran on the primary instead.
    pub failed_over: u64,
}

/// The replica's state and the WAL it replayed, in one round trip.
const SAMPLE_SQL: &str = "SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text";

impl Replica {
    pub(super) fn new(name: String, pool: PgPool) -> Self {
        Self {
            name,
            pool,
            // Not up until a sample says so: no read goes to a replica never seen.
            sampled: Mutex::new(Sampled::default()),
            reads: AtomicU64::new(0),
            failed_over: AtomicU64::new(0),
        }
    }

    /// Samples the replica within `timeout`, its lag judged against the primary's
    /// `history` (`None` when the primary's position could not be read).
    pub(super) async fn sample(&self, history: Option<&PrimaryHistory>, timeout: Duration) {
        let sampled = match tokio::time::timeout(timeout, self.read_state(history)).await {
            Ok(Ok(sampled)) => sampled,
            Ok(Err(error)) => Sampled::down(error.to_string()),
            Err(_) => Sampled::down(format!("no answer within {timeout:?}")),
        };
        *self.sampled.lock() = sampled;
    }

    async fn read_state(&self, history: Option<&PrimaryHistory>) -> Result<Sampled, PgError> {
        let row = self.pool.query_one(SAMPLE_SQL, &[]).await?;
        if !row.get::<_, bool>(0) {
            return Ok(Sampled::down(
                "not in recovery (promoted, or not a standby): it may take writes and no \
                 longer follows the primary"
                    .to_owned(),
            ));
        }
        let replayed = row
            .get::<_, Option<String>>(1)
            .and_then(|text| text.parse::<Lsn>().ok());
        let now = Instant::now();
        let lag = history.zip(replayed).and_then(|(h, r)| h.lag(r, now));
        let lag_bytes = history
            .and_then(PrimaryHistory::latest)
            .zip(replayed)
            .map(|(primary, replayed)| primary.0.saturating_sub(replayed.0));
        Ok(Sampled {
            up: true,
            problem: None,
            replayed,
            lag,
            lag_bytes,
            at: Some(now),
        })
    }

    /// Whether a read carrying `after` may go here now, or why not.
    pub(super) fn verdict(
        &self,
        max_lag: Duration,
        after: Option<Lsn>,
    ) -> Result<(), (Refusal, String)> {
        self.sampled.lock().verdict(max_lag, after)
    }

    /// Reads its replay position again, within `timeout` (keeping the later of it and
    /// the sampled one: replay only moves forward). A failure changes nothing: the
    /// next sample judges the replica.
    pub(super) async fn refresh_replayed(&self, timeout: Duration) {
        let query = self
            .pool
            .query_one("SELECT pg_last_wal_replay_lsn()::text", &[]);
        if let Ok(Ok(row)) = tokio::time::timeout(timeout, query).await
            && let Some(replayed) = row
                .get::<_, Option<String>>(0)
                .and_then(|text| text.parse::<Lsn>().ok())
        {
            let mut sampled = self.sampled.lock();
            sampled.replayed = sampled.replayed.max(Some(replayed));
        }
    }

    /// Marks it down until the next sample says otherwise: a read failed there for
    /// want of a connection.
    pub(super) fn mark_down(&self, why: &PgError) {
        *self.sampled.lock() = Sampled::down(format!("a read failed: {why}"));
    }

    pub(super) fn stats(&self, max_lag: Duration) -> ReplicaStats {
        let sampled = self.sampled.lock().clone();
        let problem = sampled.verdict(max_lag, None).err().map(|(_, why)| why);
        ReplicaStats {
            name: self.name.clone(),
            fit: problem.is_none(),
            problem,
            replayed: sampled.replayed,
            lag_seconds: sampled.lag.map(|lag| lag.as_secs_f64()),
            lag_bytes: sampled.lag_bytes,
            sampled_seconds_ago: sampled.at.map(|at| at.elapsed().as_secs_f64()),
            reads: self.reads.load(Ordering::Relaxed),
            failed_over: self.failed_over.load(Ordering::Relaxed),
        }
    }
}

/// Why a read did not go to a replica.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Refusal {
    /// Down, unreachable, promoted, or never sampled.
    Down,
    /// Replaying more than `postgres.replica_max_lag` behind.
    Lagging,
    /// Not yet replayed up to the read's token.
    BehindToken,
}

impl Sampled {
    fn down(problem: String) -> Self {
        Self {
            problem: Some(problem),
            at: Some(Instant::now()),
            ..Self::default()
        }
    }

    /// Whether a read carrying `after` may go to this replica, or why not.
    pub(super) fn verdict(
        &self,
        max_lag: Duration,
        after: Option<Lsn>,
    ) -> Result<(), (Refusal, String)> {
        if !self.up {
            let why = self
                .problem
                .clone()
                .unwrap_or_else(|| "not sampled yet".to_owned());
            return Err((Refusal::Down, why));
        }
        match self.lag {
            Some(lag) if lag <= max_lag => {}
            Some(lag) => {
                return Err((
                    Refusal::Lagging,
                    format!("replays {lag:.1?} behind, over postgres.replica_max_lag {max_lag:?}"),
                ));
            }
            None => return Err((Refusal::Lagging, "its replay lag is unknown".to_owned())),
        }
        match (after, self.replayed) {
            (Some(after), Some(replayed)) if replayed < after => Err((
                Refusal::BehindToken,
                format!("replayed up to {replayed}, not yet {after}"),
            )),
            (Some(after), None) => Err((
                Refusal::BehindToken,
                format!("its replay position is unknown, the read needs {after}"),
            )),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn up(lag_ms: u64, replayed: u64) -> Sampled {
        Sampled {
            up: true,
            lag: Some(Duration::from_millis(lag_ms)),
            replayed: Some(Lsn(replayed)),
            ..Sampled::default()
        }
    }

    #[test]
    fn reads_go_to_a_replica_that_is_up_close_enough_and_past_the_token() {
        let max = Duration::from_secs(1);
        assert_eq!(up(0, 100).verdict(max, None), Ok(()));
        assert_eq!(up(1000, 100).verdict(max, Some(Lsn(100))), Ok(()));
        assert_eq!(
            up(1001, 100).verdict(max, None).map_err(|e| e.0),
            Err(Refusal::Lagging)
        );
        assert_eq!(
            up(0, 99).verdict(max, Some(Lsn(100))).map_err(|e| e.0),
            Err(Refusal::BehindToken)
        );
        assert_eq!(
            Sampled::default().verdict(max, None).map_err(|e| e.0),
            Err(Refusal::Down),
            "never sampled: no reads"
        );
        let down = Sampled::down("refused".into());
        assert_eq!(
            down.verdict(max, None),
            Err((Refusal::Down, "refused".into()))
        );
    }
}
