//! `RedisPool` while Redis pauses its clients (`CLIENT PAUSE`, which operators and
//! managed services' maintenance run, and Redis's own `FAILOVER`): commands wait
//! through a pause shorter than `redis.command_timeout` and succeed; a checkout the
//! pause outlasts says the server did not answer, not that the pool is too small;
//! and the pool serves again at once when the pause ends.
//!
//! The test runs a Redis of its own (on a Unix socket), as a pause would stall every
//! other test on the shared one; it stops it, by its pid, at the end.

use std::time::{Duration, Instant};

use poolside_core::{ErrorKind, RedisPool};
use poolside_tests::private_redis::PrivateRedis;
use poolside_tests::redis_config;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_wait_through_a_client_pause_and_a_checkout_it_outlasts_names_the_server() {
    let redis = PrivateRedis::start("paused", &[]);
    let pool = RedisPool::connect(&redis_config(
        &redis.url(),
        &[
            ("POOLSIDE_REDIS__MAX_SIZE", "3"),
            ("POOLSIDE_REDIS__CONNECTION_TIMEOUT", "1s"),
            ("POOLSIDE_REDIS__COMMAND_TIMEOUT", "3s"),
        ],
    ))
    .await
    .expect("connects to the private Redis");
    let () = pool
        .command(redis::cmd("SET").arg("k").arg("v"))
        .await
        .expect("set");
    // An idle connection beside the shared one, which the next checkout pings.
    drop(pool.exclusive().await.expect("an exclusive connection"));

    // Shorter than command_timeout: the commands sent meanwhile wait and succeed.
    redis
        .cli(&["CLIENT", "PAUSE", "1000"])
        .expect("pauses the clients");
    let paused = Instant::now();
    let (get, set) = (
        redis::cmd("GET").arg("k").clone(),
        redis::cmd("SET").arg("k").arg("w").clone(),
    );
    let (read, write) = tokio::join!(
        pool.command::<Option<String>>(&get),
        pool.command::<()>(&set),
    );
    assert!(
        paused.elapsed() >= Duration::from_millis(800),
        "the pause held them: {:?}",
        paused.elapsed()
    );
    assert_eq!(
        read.expect("a read waits through the pause").as_deref(),
        Some("v")
    );
    write.expect("a write waits through the pause");
    assert_eq!(pool.stats().errors, 0, "{:?}", pool.stats());

    // Longer than connection_timeout: a checkout that has room, but whose ping of the
    // idle connection goes unanswered, says so; raising max_size would not help.
    redis
        .cli(&["CLIENT", "PAUSE", "2000"])
        .expect("pauses the clients");
    let paused = Instant::now();
    let error = pool
        .exclusive()
        .await
        .expect_err("no connection answers during the pause");
    assert_eq!(error.kind(), ErrorKind::PoolTimeout, "{error}");
    let message = error.to_string();
    for part in ["answered neither", "CLIENT PAUSE", "redis.sock"] {
        assert!(message.contains(part), "{part:?} in: {message}");
    }
    assert!(!message.contains("max_size"), "{message}");

    // Served again once the pause ends.
    tokio::time::sleep(Duration::from_millis(2100).saturating_sub(paused.elapsed())).await;
    let mut exclusive = pool
        .exclusive()
        .await
        .expect("an exclusive connection after the pause");
    let held: Option<String> = redis::cmd("GET")
        .arg("k")
        .query_async(&mut *exclusive)
        .await
        .expect("get on it");
    assert_eq!(held.as_deref(), Some("w"));
    let shared: Option<String> = pool
        .command(redis::cmd("GET").arg("k"))
        .await
        .expect("a shared command after the pause");
    assert_eq!(shared.as_deref(), Some("w"));
}
