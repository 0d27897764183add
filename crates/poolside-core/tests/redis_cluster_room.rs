//! On a cluster, a request waiting for room on the shared connections takes the first
//! place freed on any of them. The requests that hold places are `SET`s on nodes whose
//! writes `CLIENT PAUSE ... WRITE` holds (a blocking command would go on a connection
//! of its own; a pause of every command would hold the `PING` that checks a connection
//! out too): a test binary of its own, so that the pauses hold no other test's writes.

use std::time::{Duration, Instant};

use poolside_core::{RedisPool, RedisPrimary};
use poolside_tests::redis_cluster_config;

/// The primary serving `key`, read from `CLUSTER NODES`.
async fn primary_of(pool: &RedisPool, key: &str) -> RedisPrimary {
    let slot: i64 = pool
        .command(redis::cmd("CLUSTER").arg("KEYSLOT").arg(key))
        .await
        .expect("CLUSTER KEYSLOT");
    let nodes: String = pool
        .command(redis::cmd("CLUSTER").arg("NODES"))
        .await
        .expect("CLUSTER NODES");
    for line in nodes.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < 9 || !fields[2].contains("master") || fields[2].contains("fail") {
            continue;
        }
        let serves = fields[8..].iter().any(|range| {
            let (first, last) = range.split_once('-').unwrap_or((range, range));
            matches!((first.parse::<i64>(), last.parse::<i64>()), (Ok(first), Ok(last)) if (first..=last).contains(&slot))
        });
        if serves {
            let address = fields[1].split('@').next().expect("host:port@bus");
            let (host, port) = address.rsplit_once(':').expect("host:port");
            return RedisPrimary::ClusterNode {
                host: host.to_owned(),
                port: port.parse().expect("a port"),
            };
        }
    }
    panic!("no primary serves slot {slot}:\n{nodes}");
}

/// Three keys, each served by another primary.
async fn keys_on_three_primaries(pool: &RedisPool) -> Vec<(String, RedisPrimary)> {
    let mut found: Vec<(String, RedisPrimary)> = Vec::new();
    for i in 0.. {
        let key = format!("room:{}:{i}", std::process::id());
        let primary = primary_of(pool, &key).await;
        if found.iter().all(|(_, seen)| *seen != primary) {
            found.push((key, primary));
        }
        if found.len() == 3 {
            return found;
        }
    }
    unreachable!()
}

/// Holds the writes `node` is sent for `millis`.
async fn pause_writes(pool: &RedisPool, node: &RedisPrimary, millis: u64) {
    let pause = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(millis)
        .arg("WRITE")
        .clone();
    let () = pool.command_on(node, &pause).await.expect("CLIENT PAUSE");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_cluster_a_request_waiting_for_room_takes_the_first_place_freed_on_any_connection() {
    // One place on each of two shared connections (max_size 4): a SET on a node whose
    // writes are held for 3 s holds the first's, one on a node held for 0.3 s the
    // second's. A GET of the third node then waits for room, and goes out when the
    // second frees its place, not when the first does.
    let config = redis_cluster_config(&[
        ("POOLSIDE_REDIS__CLUSTER_IN_FLIGHT", "1"),
        ("POOLSIDE_REDIS__MAX_SIZE", "4"),
        ("POOLSIDE_REDIS__COMMAND_TIMEOUT", "10s"),
    ]);
    let pool = RedisPool::connect(&config).await.expect("connects");
    let keys = keys_on_three_primaries(&pool).await;
    let [
        (long_key, long_node),
        (short_key, short_node),
        (free_key, _),
    ] = &keys[..]
    else {
        unreachable!()
    };
    let set = |key: &str| {
        let (pool, cmd) = (pool.clone(), redis::cmd("SET").arg(key).arg("v").clone());
        tokio::spawn(async move { pool.command::<()>(&cmd).await })
    };
    pause_writes(&pool, long_node, 3000).await;
    let long = set(long_key);
    tokio::time::sleep(Duration::from_millis(200)).await;
    pause_writes(&pool, short_node, 300).await;
    let short = set(short_key);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let began = Instant::now();
    let got: Option<String> = pool
        .command(redis::cmd("GET").arg(free_key))
        .await
        .expect("GET");
    let took = began.elapsed();
    assert_eq!(got, None);
    assert!(
        short.is_finished() && !long.is_finished(),
        "the GET went out on the second connection's freed place"
    );
    assert!(took < Duration::from_secs(2), "the GET waited {took:?}");
    // The second connection, empty again, went back to the pool.
    let stats = pool.stats();
    assert_eq!((stats.total, stats.shared), (2, 1), "{stats:?}");
    for set in [short, long] {
        set.await.expect("no panic").expect("SET");
    }
    let () = pool
        .command(redis::cmd("DEL").arg(long_key).arg(short_key))
        .await
        .expect("DEL");
}
