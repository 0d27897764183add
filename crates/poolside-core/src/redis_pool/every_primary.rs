//! Writes that a cluster runs on every primary (`FLUSHDB`, `FLUSHALL`, `FUNCTION
//! LOAD`, ...), acknowledged by [`RedisPool::write`] once each primary's replicas have
//! them.
//!
//! Sent with a `WAIT` in one pipeline, such a command would go where a pipeline
//! without keys goes: to one node, picked at random (a `FLUSHDB` emptied a third of a
//! three-primary cluster and answered OK); sent alone, through the cluster client's
//! fan-out, which skips a primary it holds no connection to. So it goes to each
//! primary that `CLUSTER NODES` lists with slots (failed or not), by address, with
//! its `WAIT` behind it (none with `redis.wait_replicas` 0). A primary the cluster
//! client holds no connection to fails the write rather than being skipped.

use redis::cluster_routing::SingleNodeRoutingInfo;

use super::command_name::CommandName;
use super::pool::{Path, RedisPool};
use super::replicated::wait_count;
use super::{RedisConnection, RedisError, RedisPrimary};
use crate::ErrorKind;

/// The writes a cluster runs on every primary: a command's name, and its subcommand's
/// where it has one. The redis crate's own list (its `AllPrimaries` and `AllNodes`
/// routes), the writes of it only.
const EVERY_PRIMARY: [(&str, Option<&str>); 6] = [
    ("FLUSHALL", None),
    ("FLUSHDB", None),
    ("FUNCTION", Some("DELETE")),
    ("FUNCTION", Some("FLUSH")),
    ("FUNCTION", Some("LOAD")),
    ("FUNCTION", Some("RESTORE")),
];

/// Whether a cluster runs `cmd` on every primary (see [`EVERY_PRIMARY`]).
pub(super) fn runs_on_every_primary(cmd: &redis::Cmd) -> bool {
    CommandName::of(cmd).is_some_and(|name| {
        EVERY_PRIMARY
            .iter()
            .any(|(command, subcommand)| name.is(command, *subcommand))
    })
}

impl RedisPool {
    /// `cmd`, a write of [`EVERY_PRIMARY`], on each primary of the cluster with a
    /// `WAIT` behind it (with `redis.wait_replicas` above 0), on one connection of its
    /// own; acknowledged when every `WAIT` counts enough replicas. The first primary's
    /// answer (the others', all having succeeded, are the same).
    pub(super) async fn on_every_primary(
        &self,
        cmd: &redis::Cmd,
    ) -> Result<redis::Value, RedisError> {
        // The failed ones too, whose slots no replica has taken over yet: the write
        // fails there rather than skip them (a replica promoted then would keep what
        // a FLUSHDB was to remove).
        let primaries = self.primaries().await?;
        if primaries.is_empty() {
            return Err(RedisError::new(
                ErrorKind::Unavailable,
                "CLUSTER NODES lists no primary holding slots: a write for every primary \
                 has nowhere to go; check the cluster's state (CLUSTER INFO)",
            ));
        }
        let waits = self.inner.config.replicas_to_wait_for() > 0;
        let mut pipeline = redis::pipe();
        pipeline.add_command(cmd.clone());
        if waits {
            pipeline.add_command(self.wait_command());
        }
        let count = pipeline.len();
        let (pipeline, primaries) = (&pipeline, &primaries);
        // Each primary's answer, and the fewest replicas a `WAIT` counted.
        let (answers, least): (Vec<redis::Value>, u64) = self
            .send(Path::ExclusiveOnce, |conn| async move {
                let RedisConnection::Cluster(cluster) = conn else {
                    return Err(redis::RedisError::from((
                        redis::ErrorKind::Client,
                        "a write for every primary reached a connection to one server",
                    )));
                };
                let sends: Vec<_> = primaries
                    .iter()
                    .filter_map(|primary| match primary {
                        RedisPrimary::ClusterNode { host, port } => Some((host, *port)),
                        RedisPrimary::Server => None,
                    })
                    .map(|(host, port)| {
                        let mut cluster = cluster.clone();
                        let at = SingleNodeRoutingInfo::ByAddress {
                            host: host.clone(),
                            port,
                        };
                        async move { cluster.route_pipeline(pipeline.clone(), 0, count, at).await }
                    })
                    .collect();
                let mut firsts = Vec::with_capacity(sends.len());
                let mut least = u64::MAX;
                for mut answers in futures_util::future::try_join_all(sends).await? {
                    if waits {
                        least = least.min(wait_count(&mut answers));
                    }
                    firsts.extend(answers.pop());
                }
                Ok((firsts, least))
            })
            .await?;
        if waits {
            self.check_replicas(least)?;
        }
        Ok(answers.into_iter().next().unwrap_or(redis::Value::Nil))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knows_the_writes_a_cluster_runs_on_every_primary() {
        assert!(runs_on_every_primary(&redis::cmd("flushdb")));
        assert!(runs_on_every_primary(redis::cmd("FLUSHALL").arg("ASYNC")));
        assert!(runs_on_every_primary(
            redis::cmd("FUNCTION").arg("load").arg("#!lua name=x\n")
        ));
        assert!(!runs_on_every_primary(redis::cmd("FUNCTION").arg("LIST")));
        assert!(!runs_on_every_primary(&redis::cmd("FUNCTION")));
        assert!(!runs_on_every_primary(
            redis::cmd("SET").arg("FLUSHDB").arg(1)
        ));
    }
}
