//! The cluster's side of [`RedisPool`]'s shared path: how many connections it shares
//! there, each bounded by a [`ClusterRoom`](super::cluster_room::ClusterRoom); where a
//! request goes when the first is full; and multi-key commands sent in parts
//! (`multi_slot.rs`). On one server or a Sentinel group the pool shares one connection,
//! unbounded, and sends every command whole.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use futures_util::{StreamExt as _, TryStreamExt as _};
use poolside_config::{RedisConfig, RedisMode};
use tokio::sync::OwnedSemaphorePermit;

use super::RedisError;
use super::multi_slot::{Parts, slots_of, split};
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
    /// How many slots `cmd` touches on a cluster (one per slot of a multi-key
    /// command's keys); 1 elsewhere, where every command is one request.
    pub(super) fn slots_of(&self, cmd: &redis::Cmd) -> u16 {
        match self.inner.config.mode {
            RedisMode::Cluster => slots_of(cmd),
            _ => 1,
        }
    }

    /// `cmd`, touching `slots` slots, in parts of at most half as many slots as a
    /// shared cluster connection carries at once, when it touches more (see
    /// [`command`](Self::command)); `None` when it goes as it is.
    pub(super) fn parts(&self, cmd: &redis::Cmd, slots: u16) -> Option<Parts> {
        let config = &self.inner.config;
        if config.mode != RedisMode::Cluster || config.cluster_in_flight == 0 {
            return None;
        }
        let most = u16::try_from(config.cluster_in_flight.div_ceil(2)).unwrap_or(u16::MAX);
        (slots > most).then(|| split(cmd, most)).flatten()
    }

    /// Sends the parts of a command split by slot, two for each connection the pool
    /// may share at once (each fills half its room), and puts their answers together.
    pub(super) async fn command_in_parts(&self, parts: &Parts) -> Result<redis::Value, RedisError> {
        // Collected, so that no closure over a borrowed part is in this future's type
        // (which would keep it from being `Send` for any caller's lifetime).
        let sends: Vec<_> = parts
            .commands
            .iter()
            .map(|(part, slots)| {
                self.send(Path::Shared { slots: *slots }, move |mut conn| async move {
                    part.query_async(&mut conn).await
                })
            })
            .collect();
        let answers: Vec<redis::Value> = futures_util::stream::iter(sends)
            .buffered(2 * self.inner.shared.len())
            .try_collect()
            .await?;
        parts.combine.answers(answers).map_err(|e| {
            RedisError::from_driver(e, "putting together the answers of a split Redis command")
        })
    }

    /// For a request over `slots` slots on a cluster, when `first` (the first shared
    /// connection) had no room for it: the next shared connection with room, and its
    /// places (one is leased only when those before it are full and the pool has a
    /// connection to spare); with all full, places on whichever frees room first,
    /// within `redis.command_timeout`. Places freed by requests that timed out on a
    /// stalled connection are not used: its successor is taken.
    pub(super) async fn shared_with_room(
        &self,
        mut first: Arc<Lease>,
        slots: u16,
    ) -> Result<(Arc<Lease>, Option<OwnedSemaphorePermit>), RedisError> {
        let timeout = self.inner.config.command_timeout;
        let deadline = Instant::now() + timeout;
        loop {
            let Some(room) = &first.room else {
                return Ok((first, None));
            };
            // The full connections, and the wait for room on each, side by side.
            let mut waits = vec![Box::pin(room.wait(slots))];
            let mut full = vec![first];
            for index in 1..self.inner.shared.len() {
                if !self.inner.shared.holds(index) && !self.spare_connection() {
                    break;
                }
                let overflow = self.shared(index).await?;
                let Some(room) = &overflow.room else { continue };
                if let Some(places) = room.try_enter(slots) {
                    return Ok((overflow, Some(places)));
                }
                waits.push(Box::pin(room.wait(slots)));
                full.push(overflow);
            }
            let within = deadline.saturating_duration_since(Instant::now());
            let freed = tokio::time::timeout(within, futures_util::future::select_all(waits));
            let Ok((Ok(places), index, _)) = freed.await else {
                self.inner.counters.timeouts.fetch_add(1, Ordering::Relaxed);
                return Err(RedisError::new(
                    ErrorKind::Cancelled,
                    format!(
                        "no room on the shared cluster connections within redis.command_timeout \
                         ({timeout:?}): requests over redis.cluster_in_flight ({}) slots were in \
                         flight on each all along (the cluster is slow, or more commands come at \
                         once than the bound allows: raise redis.cluster_in_flight, or \
                         redis.max_size to share up to four connections)",
                        self.inner.config.cluster_in_flight
                    ),
                ));
            };
            let lease = full.swap_remove(index);
            if !lease.checkout.abandoned() {
                return Ok((lease, Some(places)));
            }
            drop(places);
            first = self.shared(0).await?;
            let places = first.room.as_ref().and_then(|room| room.try_enter(slots));
            if let Some(places) = places {
                return Ok((first, Some(places)));
            }
        }
    }

    /// Whether a checkout would find a connection idle or room to open one.
    fn spare_connection(&self) -> bool {
        let sizes = Sizes::of(self.inner.fair.state().as_ref());
        sizes.idle > 0 || sizes.total < self.inner.config.max_size
    }
}
