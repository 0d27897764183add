//! The Redis workloads: `GET` of keys that exist and `SET` of 100-byte values, on the
//! same keys redis-benchmark uses with `-r 10000 -d 100` (`key:000000001234`).

use anyhow::{Context, Result};

/// Distinct keys.
pub(crate) const KEYS: u32 = 10_000;
/// Bytes per value.
pub(crate) const VALUE_SIZE: usize = 100;

/// Key `n`, spelled as redis-benchmark spells it.
pub(crate) fn key_name(n: u32) -> String {
    format!("key:{n:012}")
}

/// The value every key holds.
pub(crate) fn value() -> &'static [u8] {
    &[b'x'; VALUE_SIZE]
}

/// Writes every key, so that `GET` finds a value; returns the server's pid when it runs
/// on this machine (`INFO server`'s `process_id`, checked in `/proc`), for its CPU time.
pub(crate) async fn prepare(url: &str) -> Result<Option<u32>> {
    let client = redis::Client::open(url).context("the Redis URL")?;
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .context("connecting to Redis")?;
    let mut pipe = redis::pipe();
    for n in 0..KEYS {
        pipe.cmd("SET")
            .arg(format!("key:{n:012}"))
            .arg(value())
            .ignore();
    }
    pipe.query_async::<()>(&mut conn)
        .await
        .context("writing the keys of the Redis workloads")?;
    local_pid(&client, &mut conn).await
}

/// The pid of the Redis server `client` talks to, when it runs on this machine
/// (`INFO server`'s `process_id`, checked in `/proc`).
async fn local_pid(
    client: &redis::Client,
    conn: &mut redis::aio::MultiplexedConnection,
) -> Result<Option<u32>> {
    let local = match client.get_connection_info().addr() {
        redis::ConnectionAddr::Tcp(host, _) => {
            matches!(host.as_str(), "127.0.0.1" | "localhost" | "::1")
        }
        redis::ConnectionAddr::Unix(_) => true,
        _ => false,
    };
    if !local {
        return Ok(None);
    }
    let info: String = redis::cmd("INFO")
        .arg("server")
        .query_async(conn)
        .await
        .context("reading Redis's INFO server")?;
    Ok(info
        .lines()
        .find_map(|line| line.strip_prefix("process_id:"))
        .and_then(|pid| pid.trim().parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|name| name.starts_with("redis"))
        }))
}

/// Writes every key into the Redis Cluster at `nodes` (comma-separated URLs), each to
/// the primary of its slot; returns the pids of the nodes among `nodes` that run on
/// this machine, for their CPU time.
pub(crate) async fn prepare_cluster(nodes: &str) -> Result<Vec<u32>> {
    let client =
        redis::cluster::ClusterClient::new(nodes.split(',').map(str::trim).collect::<Vec<_>>())
            .context("the Redis Cluster URLs")?;
    let conn = client
        .get_async_connection()
        .await
        .context("connecting to the Redis Cluster")?;
    let mut writes = Vec::with_capacity(KEYS as usize);
    for n in 0..KEYS {
        let mut set = redis::cmd("SET");
        set.arg(key_name(n)).arg(value());
        writes.push(set);
    }
    for chunk in writes.chunks(500) {
        let sent = chunk.iter().map(|set| {
            let mut conn = conn.clone();
            async move { set.query_async::<()>(&mut conn).await }
        });
        futures_util::future::try_join_all(sent)
            .await
            .context("writing the keys of the Redis workloads into the cluster")?;
    }
    let mut pids = Vec::new();
    for node in nodes.split(',').map(str::trim) {
        let client = redis::Client::open(node).context("a Redis Cluster node's URL")?;
        let mut conn = client
            .get_multiplexed_async_connection()
            .await
            .context("connecting to a Redis Cluster node")?;
        pids.extend(local_pid(&client, &mut conn).await?);
    }
    Ok(pids)
}
