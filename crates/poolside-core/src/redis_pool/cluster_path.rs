//! The cluster's side of [`RedisPool`]'s shared path: how many connections it shares
//! there, each bounded by a [`ClusterRoom`]; where a request goes when the first is
//! full; and multi-key commands sent in parts of one slot each (`multi_slot.rs`). On
//! one server or a Sentinel group the pool shares one connection, unbounded, and sends
//! every command whole.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use futures_util::{StreamExt as _, TryStreamExt as _};
use poolside_config::{RedisConfig, RedisMode};
use tokio::sync::OwnedSemaphorePermit;

use super::RedisError;
use super::cluster_room::ClusterRoom;
use super::multi_slot::{Parts, split};
use super::pool::{Lease, Path, RedisPool};
use crate::ErrorKind;
use crate::fair_pool::Sizes;

/// How many connections the pool may share: one; on a cluster with a bound on the
/// requests in flight on each (`redis.cluster_in_flight`), up to four (half the pool),
/// the ones past the first leased only while those before are full.
pub(super) fn shared_connections(config: &RedisConfig) -> usize {
    match config.mode {
        RedisMode::Cluster if config.cluster_in_flight > 0 => {
            (config.max_size as usize / 2).clamp(1, 4)
        }
        _ => 1,
    }
}

impl RedisPool {
    /// On a cluster, `cmd` in parts of one slot each, when its keys fall in several
    /// (see [`command`](Self::command)); `None` when it goes as it is.
    pub(super) fn parts(&self, cmd: &redis::Cmd) -> Option<Parts> {
        match self.inner.config.mode {
            RedisMode::Cluster => split(cmd),
            _ => None,
        }
    }

    /// How many of a command's `parts` go out at once: half of
    /// `redis.cluster_in_flight` (so that one command leaves room for others), or all
    /// of them without the bound (the command counts once against
    /// `redis.max_queued_commands`, however many parts it has).
    pub(super) fn parts_at_once(&self, parts: usize) -> usize {
        match usize::try_from(self.inner.config.cluster_in_flight) {
            Ok(0) | Err(_) => parts.max(1),
            Ok(in_flight) => in_flight.div_ceil(2),
        }
    }

    /// Sends the parts of a command split by slot on the shared connections, a few
    /// at once, each sent again alone if a connection failed it unsent, and puts their
    /// answers together. The command counts once in the pool's figures.
    pub(super) async fn command_in_parts(&self, parts: &Parts) -> Result<redis::Value, RedisError> {
        let _admitted = self.admit()?;
        // Collected, so that no closure over a borrowed part is in this future's type
        // (which would keep it from being `Send` for any caller's lifetime).
        let sends: Vec<_> = parts
            .commands()
            .iter()
            .map(|part| {
                self.send_admitted(Path::Shared, move |mut conn| async move {
                    part.query_async(&mut conn).await
                })
            })
            .collect();
        let answers: Result<Vec<redis::Value>, RedisError> = futures_util::stream::iter(sends)
            .buffered(self.parts_at_once(parts.commands().len()))
            .try_collect()
            .await;
        let answer = answers.and_then(|answers| {
            parts.answer(answers).map_err(|e| {
                RedisError::from_driver(e, "putting together the answers of a split Redis command")
            })
        });
        if answer.is_err() {
            self.inner.counters.errors.fetch_add(1, Ordering::Relaxed);
        }
        answer
    }

    /// For a request on a cluster, when `first` (the first shared connection) had no
    /// room for it: the next shared connection with room, and its place (one is leased
    /// only when those before it are full and the pool has a connection to spare); with
    /// all full, a place on whichever frees one first, within `redis.command_timeout`.
    /// Places freed by requests that timed out on a stalled connection are not used:
    /// its successor is taken.
    pub(super) async fn shared_with_room(
        &self,
        mut first: Arc<Lease>,
    ) -> Result<(Arc<Lease>, Option<OwnedSemaphorePermit>), RedisError> {
        let timeout = self.inner.config.command_timeout;
        let deadline = Instant::now() + timeout;
        loop {
            let Some(room) = &first.room else {
                return Ok((first, None));
            };
            // The full connections, and the wait for room on each, side by side.
            let mut waits = vec![Box::pin(room.wait())];
            let mut full = vec![first];
            for index in 1..self.inner.shared.len() {
                if !self.inner.shared.holds(index) && !self.spare_connection() {
                    break;
                }
                let overflow = self.shared(index).await?;
                let Some(room) = &overflow.room else { continue };
                if let Some(place) = room.try_enter() {
                    return Ok((overflow, Some(place)));
                }
                waits.push(Box::pin(room.wait()));
                full.push(overflow);
            }
            let within = deadline.saturating_duration_since(Instant::now());
            let freed = tokio::time::timeout(within, futures_util::future::select_all(waits));
            let Ok((Ok(place), index, _)) = freed.await else {
                self.inner.counters.timeouts.fetch_add(1, Ordering::Relaxed);
                return Err(RedisError::new(
                    ErrorKind::Cancelled,
                    format!(
                        "no room on the shared cluster connections within redis.command_timeout \
                         ({timeout:?}): redis.cluster_in_flight ({}) requests were in flight on \
                         each all along (the cluster is slow, or more commands come at \
                         once than the bound allows: raise redis.cluster_in_flight, or \
                         redis.max_size to share up to four connections)",
                        self.inner.config.cluster_in_flight
                    ),
                ));
            };
            let lease = full.swap_remove(index);
            if !lease.checkout.abandoned() {
                return Ok((lease, Some(place)));
            }
            drop(place);
            first = self.shared(0).await?;
            if let Some(place) = first.room.as_ref().and_then(ClusterRoom::try_enter) {
                return Ok((first, Some(place)));
            }
        }
    }

    /// Whether a checkout would find a connection idle or room to open one.
    fn spare_connection(&self) -> bool {
        let sizes = Sizes::of(self.inner.fair.state().as_ref());
        sizes.idle > 0 || sizes.total < self.inner.config.max_size
    }
}
