//! Read replicas: read-only pools on streaming standbys, the rules that send a
//! read-only statement to one of them, and the tower layer that applies the rules in
//! front of the primary's stack. The routing rules are on [`Replicas`].

mod history;
mod layer;
mod lsn;
mod replica;
mod service;
mod summed;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use poolside_config::{PostgresConfig, SecretUrl};
use serde::Serialize;

pub use layer::ReplicaLayer;
pub use lsn::{Lsn, LsnParseError};
pub use replica::ReplicaStats;
pub use service::ReplicaService;

use super::{PgError, PgPool};
use history::PrimaryHistory;
use replica::{Refusal, Replica};

/// The read replicas of one primary. Cloning is cheap: clones share the pools.
///
/// - A statement goes to a replica only when it is marked read-only
///   ([`PgRequest::read_only`](crate::PgRequest::read_only)); everything else goes to
///   the primary.
/// - A replica takes reads only when its last sample (every
///   `postgres.replica_check_interval`) found it up, in recovery, and replaying at most
///   `postgres.replica_max_lag` behind. A replica never sampled takes none.
/// - A read carrying a token ([`Lsn`], the primary's WAL position after a write) goes
///   to a replica only once that replica has replayed past it; otherwise to the
///   primary. The sample is older than the replica's real position, never newer, so
///   a read never misses a write whose token it carries.
/// - A read that fails on a replica for want of a connection (down, refused,
///   promoted, a recovery conflict) runs on the primary instead and marks the replica
///   down until the next sample: no read fails because a replica did. Replica failures
///   never reach the primary's breaker, which sits below this layer.
///
/// # Examples
///
/// ```no_run
/// # async fn run(config: poolside_config::PostgresConfig) -> Result<(), poolside_core::PgError> {
/// use poolside_core::{PgPool, PgRequest, ReplicaLayer, Replicas};
/// use tower::{Layer, ServiceExt};
///
/// let primary = PgPool::connect(&config).await?;
/// let replicas = Replicas::connect_lazy(&config)?;
/// // Samples every replica each `postgres.replica_check_interval`.
/// tokio::spawn(replicas.clone().monitor(primary.clone()));
/// let service = ReplicaLayer::new(replicas).layer(primary);
/// let request = PgRequest::query("get_product", "SELECT 1", &[]).read_only();
/// let rows = service.oneshot(request).await?.into_rows();
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Replicas {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    replicas: Vec<Replica>,
    max_lag: Duration,
    check_interval: Duration,
    /// Where the next read starts looking (round robin).
    next: AtomicUsize,
    /// Reads sent to the primary, by why.
    to_primary: [AtomicU64; 4],
    /// The primary's position at each sample, for the replicas' lag.
    history: parking_lot::Mutex<PrimaryHistory>,
}

/// Why a read-only statement ran on the primary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum PrimaryReason {
    /// Every replica was down, unreachable, promoted or not sampled yet.
    ReplicasDown,
    /// Every replica that was up replayed more than `postgres.replica_max_lag` behind.
    ReplicasLagging,
    /// No replica had replayed up to the read's token yet.
    BehindToken,
    /// It failed on a replica for want of a connection and ran on the primary.
    ReplicaFailed,
}

impl PrimaryReason {
    const ALL: [PrimaryReason; 4] = [
        PrimaryReason::ReplicasDown,
        PrimaryReason::ReplicasLagging,
        PrimaryReason::BehindToken,
        PrimaryReason::ReplicaFailed,
    ];

    /// Its name in metrics and the detailed health view.
    pub fn as_str(self) -> &'static str {
        match self {
            PrimaryReason::ReplicasDown => "replicas_down",
            PrimaryReason::ReplicasLagging => "replicas_lagging",
            PrimaryReason::BehindToken => "behind_token",
            PrimaryReason::ReplicaFailed => "replica_failed",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The replicas now: each one's state and counts, and the reads sent to the primary.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ReplicasStats {
    /// `postgres.replica_max_lag`, in seconds.
    pub max_lag_seconds: f64,
    /// Each replica, in `postgres.replicas` order.
    pub replicas: Vec<ReplicaStats>,
    /// Read-only statements that ran on the primary, by reason.
    pub to_primary: HashMap<&'static str, u64>,
}

impl Replicas {
    /// Builds a read-only pool per URL of `config.replicas`, each with `config`'s other
    /// settings, without connecting: a replica down at start-up takes no reads until a
    /// sample finds it up. Fails only on a URL that does not parse.
    ///
    /// Must run inside a Tokio runtime.
    pub fn connect_lazy(config: &PostgresConfig) -> Result<Self, PgError> {
        let replicas = config
            .replicas
            .iter()
            .map(|url| {
                let pool = PgPool::connect_lazy(&replica_config(config, url))?;
                Ok(Replica::new(pool.target().to_owned(), pool))
            })
            .collect::<Result<Vec<_>, PgError>>()?;
        Ok(Self {
            inner: Arc::new(Inner {
                replicas,
                max_lag: config.replica_max_lag,
                check_interval: config.replica_check_interval,
                next: AtomicUsize::new(0),
                to_primary: Default::default(),
                history: parking_lot::Mutex::default(),
            }),
        })
    }

    /// Samples every replica once, against `primary`'s WAL position: whether it is up
    /// and in recovery, what it replayed, and how far behind it is.
    async fn sample(&self, primary: &PgPool) {
        let timeout = self.inner.check_interval.max(Duration::from_secs(1));
        let position = tokio::time::timeout(timeout, primary.wal_position())
            .await
            .ok()
            .and_then(Result::ok);
        // A copy, so that no lock is held across the samples' round trips.
        let history = position.map(|position| {
            let mut history = self.inner.history.lock();
            history.record(std::time::Instant::now(), position);
            history.clone()
        });
        let samples = self
            .inner
            .replicas
            .iter()
            .map(|replica| replica.sample(history.as_ref(), timeout));
        futures_util::future::join_all(samples).await;
    }

    /// Samples every replica each `postgres.replica_check_interval`, forever: spawn
    /// it, and abort it at shutdown.
    pub async fn monitor(self, primary: PgPool) {
        let mut ticks = tokio::time::interval(self.inner.check_interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            self.sample(&primary).await;
        }
    }

    /// The replica a read carrying `after` goes to, round robin over the fit ones, or
    /// why it goes to the primary. When the only thing against a replica is that its
    /// last sample had not replayed up to `after`, its replay position is read again
    /// (one short round trip there) before the read gives up on it.
    async fn pick(&self, after: Option<Lsn>) -> Result<&Replica, PrimaryReason> {
        let replicas = &self.inner.replicas;
        let start = self.inner.next.fetch_add(1, Ordering::Relaxed);
        let mut worst = PrimaryReason::ReplicasDown;
        let mut behind = None;
        for i in 0..replicas.len() {
            let replica = &replicas[(start + i) % replicas.len()];
            match replica.verdict(self.inner.max_lag, after) {
                Ok(()) => return Ok(replica),
                // The reason closest to fit wins: behind a token, then lagging.
                Err((Refusal::BehindToken, _)) => {
                    worst = PrimaryReason::BehindToken;
                    behind.get_or_insert(replica);
                }
                Err((Refusal::Lagging, _)) if worst == PrimaryReason::ReplicasDown => {
                    worst = PrimaryReason::ReplicasLagging;
                }
                Err(_) => {}
            }
        }
        if let Some(replica) = behind {
            replica.refresh_replayed(self.inner.check_interval).await;
            if replica.verdict(self.inner.max_lag, after).is_ok() {
                return Ok(replica);
            }
        }
        Err(worst)
    }

    fn count_primary(&self, reason: PrimaryReason) {
        self.inner.to_primary[reason.index()].fetch_add(1, Ordering::Relaxed);
    }

    /// The replicas now.
    pub fn stats(&self) -> ReplicasStats {
        let inner = &*self.inner;
        ReplicasStats {
            max_lag_seconds: inner.max_lag.as_secs_f64(),
            replicas: inner
                .replicas
                .iter()
                .map(|r| r.stats(inner.max_lag))
                .collect(),
            to_primary: PrimaryReason::ALL
                .iter()
                .map(|r| {
                    (
                        r.as_str(),
                        inner.to_primary[r.index()].load(Ordering::Relaxed),
                    )
                })
                .collect(),
        }
    }

    /// Closes every replica's pool (see [`PgPool::close`]).
    pub async fn close(&self, deadline: Duration) {
        let closes = self.inner.replicas.iter().map(|r| r.pool.close(deadline));
        futures_util::future::join_all(closes).await;
    }
}

/// A replica's pool settings: the primary's, with the replica's URL.
fn replica_config(config: &PostgresConfig, url: &SecretUrl) -> PostgresConfig {
    let mut replica = config.clone();
    replica.url = url.clone();
    replica.replicas = Vec::new();
    replica
}
