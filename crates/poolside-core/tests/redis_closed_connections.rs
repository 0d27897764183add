//! `RedisPool` when Redis closes its connections while they sit idle: Redis's own
//! `timeout` (which managed services set), and `CLIENT KILL` (an operator, a restart's
//! effect on clients). The next command goes out on a new connection and succeeds: it
//! does not meet the closed one's "broken pipe". And when Redis closes new
//! connections at once (at `maxclients`), the error says so.
//!
//! The test runs a Redis of its own (on a Unix socket), as `timeout` would close the
//! connections of every other test on the shared one; it stops it, by its pid, at the
//! end.

use std::time::{Duration, Instant};

use poolside_core::{ErrorKind, RedisPool};
use poolside_tests::private_redis::PrivateRedis;
use poolside_tests::redis_config;

/// Waits (up to 10 s) until `redis` has no client but the `redis-cli` that asks, then
/// a moment for the pool's side to see its connections end, as it would long before
/// a command came in a real idle spell.
async fn until_every_client_is_closed(redis: &PrivateRedis) {
    let began = Instant::now();
    while redis.info_number("connected_clients") > 1 {
        assert!(
            began.elapsed() < Duration::from_secs(10),
            "Redis kept the pool's connections for 10 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_after_redis_closed_idle_connections_go_out_on_new_ones() {
    let redis = PrivateRedis::start("closed", &[]);
    let pool = RedisPool::connect(&redis_config(&redis.url(), &[]))
        .await
        .expect("connects to the private Redis");
    let () = pool
        .command(redis::cmd("SET").arg("k").arg("v"))
        .await
        .expect("set");
    let mut exclusive = pool.exclusive().await.expect("an exclusive connection");
    let _: String = redis::cmd("PING")
        .query_async(&mut *exclusive)
        .await
        .expect("ping");
    drop(exclusive);

    for close in ["idle timeout", "CLIENT KILL"] {
        if close == "idle timeout" {
            redis
                .cli(&["CONFIG", "SET", "timeout", "1"])
                .expect("sets timeout");
        } else {
            redis
                .cli(&["CLIENT", "KILL", "TYPE", "normal"])
                .expect("kills every client but itself");
        }
        until_every_client_is_closed(&redis).await;
        redis
            .cli(&["CONFIG", "SET", "timeout", "0"])
            .expect("lifts timeout");

        let shared: Option<String> = pool
            .command(redis::cmd("GET").arg("k"))
            .await
            .unwrap_or_else(|e| panic!("after {close}, a shared command: {e}"));
        assert_eq!(shared.as_deref(), Some("v"));
        let mut exclusive = pool
            .exclusive()
            .await
            .unwrap_or_else(|e| panic!("after {close}, an exclusive checkout: {e}"));
        let held: Option<String> = redis::cmd("GET")
            .arg("k")
            .query_async(&mut *exclusive)
            .await
            .unwrap_or_else(|e| panic!("after {close}, an exclusive command: {e}"));
        assert_eq!(held.as_deref(), Some("v"));
        drop(exclusive);

        let stats = pool.stats();
        assert_eq!(stats.errors, 0, "after {close}: {stats:?}");
        // Every client had gone: those now connected, beside redis-cli, are new.
        assert!(
            redis.info_number("connected_clients") >= 3,
            "after {close}, the pool opened a shared and an exclusive connection"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_at_maxclients_is_named_in_the_connect_error() {
    let redis = PrivateRedis::start("maxclients", &[]);
    let pool = RedisPool::connect(&redis_config(
        &redis.url(),
        &[("REDIS_CONNECTION_TIMEOUT", "1000")],
    ))
    .await
    .expect("connects to the private Redis");
    // The shared connection is the one client Redis takes.
    let _: String = pool.command(&redis::cmd("PING")).await.expect("ping");
    redis
        .cli(&["CONFIG", "SET", "maxclients", "1"])
        .expect("sets maxclients");
    let refused = pool
        .exclusive()
        .await
        .expect_err("Redis takes no second client");
    assert_eq!(refused.kind(), ErrorKind::Connect, "{refused}");
    assert!(
        refused.to_string().contains("maxclients"),
        "the error names the likely cause: {refused}"
    );
    let _: String = pool
        .command(&redis::cmd("PING"))
        .await
        .expect("the shared connection still serves");
}
