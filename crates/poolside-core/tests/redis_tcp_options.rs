//! Every TCP connection to Redis opened for a pool, in each mode, carries the pool's
//! options: keepalive probes (seen as the kernel's keepalive timer on each of this
//! process's connections) and `TCP_NODELAY`, set with them (the redis crate 1.x
//! leaves Nagle's algorithm on, which holds a multiplexed connection's writes back a
//! round trip each over a network). The shared, exclusive and subscriber connections
//! of one server; a cluster's nodes; a Sentinel group's primary and the sentinels the
//! pool watches for failovers.

use std::collections::HashSet;
use std::time::Duration;

use poolside_core::RedisPool;
use poolside_tests::redis_pubsub::hears_its_own_publish;
use poolside_tests::tcp_sockets::own_tcp_sockets;
use poolside_tests::{redis_cluster_config, redis_config, redis_sentinel_config, required_env};

/// The ports of the URLs in variable `name` (comma-separated).
fn ports(name: &str) -> HashSet<u16> {
    required_env(name)
        .split(',')
        .map(|url| url::Url::parse(url).expect("a URL").port().expect("a port"))
        .collect()
}

/// Uses every path of `pool`, then checks that each of this process's connections to
/// `ports` has keepalive on, and that there are at least `expected` of them. Tests
/// in this file run one at a time, so the connections are this pool's.
async fn check(pool: &RedisPool, ports: &HashSet<u16>, expected: usize) {
    let _: String = pool.command(&redis::cmd("PING")).await.expect("PING");
    let mut exclusive = pool.exclusive().await.expect("an exclusive connection");
    let _: String = redis::cmd("PING")
        .query_async(&mut *exclusive)
        .await
        .expect("PING");
    hears_its_own_publish(pool, "tcp-options").await;
    // The subscriber's connection, open while the sockets are read.
    let subscriber = pool.pubsub().await.expect("a subscriber");
    // Idle, so that the keepalive timer is the one pending.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let sockets: Vec<_> = own_tcp_sockets()
        .into_iter()
        .filter(|socket| ports.contains(&socket.remote_port))
        .collect();
    assert!(
        sockets.len() >= expected,
        "{} connections to {ports:?}, expected at least {expected}: {sockets:?}",
        sockets.len()
    );
    let without: Vec<_> = sockets.iter().filter(|s| !s.keepalive_timer).collect();
    assert!(
        without.is_empty(),
        "without keepalive: {without:?} of {sockets:?}"
    );
    drop((exclusive, subscriber));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_connection_to_redis_has_the_pools_tcp_options() {
    let url = required_env("REDIS_URL");
    let single = RedisPool::connect(&redis_config(&url, &[]))
        .await
        .expect("connects");
    // Shared, exclusive, subscriber.
    check(&single, &ports("REDIS_URL"), 3).await;
    single.close(Duration::from_secs(2)).await;

    let cluster = RedisPool::connect(&redis_cluster_config(&[]))
        .await
        .expect("connects");
    // Each of the three primaries from the shared cluster connection, at least.
    check(&cluster, &ports("REDIS_CLUSTER_NODES"), 3).await;
    cluster.close(Duration::from_secs(2)).await;

    let sentinel = RedisPool::connect(&redis_sentinel_config(&[]))
        .await
        .expect("connects");
    // The primary's shared, exclusive and subscriber connections, and the
    // failover watcher's subscription to a sentinel.
    let mut group = ports("REDIS_SENTINELS");
    let topology = sentinel.topology().await.expect("the group's nodes");
    group.extend(topology.nodes.iter().map(|node| {
        let (_, port) = node.address.rsplit_once(':').expect("host:port");
        port.parse::<u16>().expect("a port")
    }));
    check(&sentinel, &group, 4).await;
}
