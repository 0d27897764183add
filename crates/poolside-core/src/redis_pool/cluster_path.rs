//! The cluster's side of [`RedisPool`]'s shared path: how many connections it shares
//! there, each bounded by a [`ClusterRoom`](super::cluster_room::ClusterRoom); where a
//! request goes when the first is full; and multi-key commands sent in parts
//! (`multi_slot.rs`). On one server or a Sentinel group the pool shares one
//! connection, unbounded, and sends every command whole.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use futures_util::{StreamExt as _, TryStreamExt as _};
use poolside_config::{RedisConfig, RedisMode};
use tokio::sync::OwnedSemaphorePermit;

use super::cluster_room::ClusterRoom;
use super::multi_slot::{Parts, Plan, plan, split};
use super::pool::{Lease, Path, RedisPool};
use super::{RedisConnection, RedisError};
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
    /// How `cmd` goes (see [`command`](Self::command)) when not whole to one slot: on
    /// a cluster, as [`plan`] says, an `MGET` whole over half of
    /// `redis.cluster_in_flight` slots at most (with no bound, any). `None` for a
    /// command of one slot (or none), and for every command elsewhere.
    pub(super) fn plan(&self, cmd: &redis::Cmd) -> Option<Plan> {
        if self.inner.config.mode != RedisMode::Cluster {
            return None;
        }
        let most = self
            .half_room()
            .map_or(u16::MAX, |half| u16::try_from(half).unwrap_or(u16::MAX));
        match plan(cmd, most) {
            Plan::Whole { slots: 1 } => None,
            plan => Some(plan),
        }
    }

    /// On a cluster, a write over keys in several slots in parts of one slot each;
    /// `None` when it goes as it is.
    pub(super) fn write_parts(&self, cmd: &redis::Cmd) -> Option<Parts> {
        match self.inner.config.mode {
            RedisMode::Cluster => split(cmd, 1),
            _ => None,
        }
    }

    /// How many of a command's `parts` go out at once: half of
    /// `redis.cluster_in_flight` (so that one command leaves room for others; a chunk
    /// of an `MGET` waits for a place a slot all the same), or all of them without the
    /// bound (the command counts once against `redis.max_queued_commands`, however many
    /// parts it has).
    pub(super) fn parts_at_once(&self, parts: usize) -> usize {
        self.half_room()
            .and_then(|half| usize::try_from(half).ok())
            .unwrap_or(parts.max(1))
    }

    /// Half of `redis.cluster_in_flight`, rounded up: what one command may take of a
    /// shared cluster connection's room. `None` without the bound (0).
    fn half_room(&self) -> Option<u32> {
        let in_flight = self.inner.config.cluster_in_flight;
        (in_flight > 0).then(|| in_flight.div_ceil(2))
    }

    /// Sends `cmd` as `plan` says (whole, over several slots, or in parts on the
    /// shared connections, a few at once, each sent again alone if a connection failed
    /// it unsent), and puts the answers together. When the cluster client left out a
    /// node of an `MGET` it split itself (a read), the command goes again in parts of
    /// one slot. It counts once in the pool's figures.
    pub(super) async fn command_as_planned(
        &self,
        cmd: &redis::Cmd,
        plan: Plan,
    ) -> Result<redis::Value, RedisError> {
        let _admitted = self.admit()?;
        let mut answer = match &plan {
            Plan::Whole { slots } => {
                let call =
                    |mut conn: RedisConnection| async move { cmd.query_async(&mut conn).await };
                self.send_admitted(Path::Shared { slots: *slots }, &call)
                    .await
            }
            Plan::Parts(parts) => self.send_parts(parts).await,
        };
        if answer.as_ref().is_err_and(RedisError::node_left_out)
            && let Some(parts) = split(cmd, 1)
        {
            answer = self.send_parts(&parts).await;
        }
        if answer.is_err() {
            self.inner.counters.errors.fetch_add(1, Ordering::Relaxed);
        }
        answer
    }

    /// The parts of an admitted command, sent as [`command_as_planned`] says, their
    /// answers put together.
    ///
    /// [`command_as_planned`]: Self::command_as_planned
    async fn send_parts(&self, parts: &Parts) -> Result<redis::Value, RedisError> {
        // Each part's call, then its send: collected, so that no closure over a
        // borrowed part is in this future's type (which would keep it from being
        // `Send` for any caller's lifetime).
        let calls: Vec<_> = parts
            .commands()
            .iter()
            .map(|(part, slots)| {
                let call = move |mut conn: RedisConnection| async move {
                    part.query_async(&mut conn).await
                };
                (Path::Shared { slots: *slots }, call)
            })
            .collect();
        let sends: Vec<_> = calls
            .iter()
            .map(|(path, call)| self.send_admitted(*path, call))
            .collect();
        let answers: Vec<redis::Value> = futures_util::stream::iter(sends)
            .buffered(self.parts_at_once(parts.commands().len()))
            .try_collect()
            .await?;
        parts.answer(answers).map_err(|e| {
            RedisError::from_driver(e, "putting together the answers of a split Redis command")
        })
    }

    /// For a request reaching `slots` slots on a cluster, when `first` (the first
    /// shared connection) had no room for it: the next shared connection with room,
    /// and its places (one is leased only when those before it are full and the pool
    /// has a connection to spare); with all full, places on whichever frees them first,
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
                if let Some(place) = room.try_enter(slots) {
                    return Ok((overflow, Some(place)));
                }
                waits.push(Box::pin(room.wait(slots)));
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
            if let Some(place) = first.room.as_ref().and_then(|room| room.try_enter(slots)) {
                return Ok((first, Some(place)));
            }
        }
    }

    /// Lets `lease` go back to the pool when it is a shared connection past the first
    /// and nothing is in flight on it: leased for a burst, it is not kept from
    /// exclusive checkouts (`write`, `exclusive`) once the burst is over. The
    /// connection stays open in the pool, for the next burst to lease again.
    pub(super) fn let_go_if_spare(&self, lease: &Arc<Lease>) {
        if lease.room.as_ref().is_some_and(ClusterRoom::is_empty) {
            self.inner.shared.evict_past_first(lease);
        }
    }

    /// Whether a checkout would find a connection idle or room to open one.
    fn spare_connection(&self) -> bool {
        let sizes = Sizes::of(self.inner.fair.state().as_ref());
        sizes.idle > 0 || sizes.total < self.inner.config.max_size
    }
}
