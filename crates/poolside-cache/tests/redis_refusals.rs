//! `RedisCache` on a Redis that is up but refuses to serve: at `maxmemory` with no
//! eviction (`OOM` on writes), and busy with a script past `busy-reply-threshold`
//! (`BUSY` on everything). A cache in miss mode carries on through both, as it does
//! with Redis down; in error mode the caller gets the refusal's kind and what to do.
//!
//! The test runs a Redis of its own (Debian's `redis-server`, on a Unix socket in a
//! directory of its own), since both states would stall every other test on the
//! shared one; it stops that server, by its pid, when it ends.

use std::process::Stdio;
use std::time::{Duration, Instant};

use poolside_cache::{OnUnavailable, RedisCache};
use poolside_core::{ErrorKind, RedisPool};
use poolside_tests::private_redis::PrivateRedis;
use poolside_tests::redis_config;

/// A cache in each mode over one pool on `redis`.
async fn caches(redis: &PrivateRedis) -> (RedisCache, RedisCache) {
    let pool = RedisPool::connect(&redis_config(&redis.url(), &[]))
        .await
        .expect("connects to the private Redis");
    (
        RedisCache::new(Some(pool.clone()), OnUnavailable::Miss),
        RedisCache::new(Some(pool), OnUnavailable::Error),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_that_refuses_to_serve_leaves_a_miss_mode_cache_working() {
    let redis = PrivateRedis::start("refusals", &["--busy-reply-threshold", "100"]);
    let (lenient, strict) = caches(&redis).await;
    lenient
        .set("before", &1_u32, None)
        .await
        .expect("an ordinary write");

    // At maxmemory, with Redis's default policy (noeviction): writes are refused.
    redis
        .cli(&["CONFIG", "SET", "maxmemory", "1"])
        .expect("sets maxmemory");
    let errors = lenient.stats().errors;
    lenient
        .set("full", &2_u32, None)
        .await
        .expect("in miss mode a refused write is skipped, not an error to the caller");
    assert_eq!(
        lenient.stats().errors,
        errors + 1,
        "and counted as an error"
    );
    let refused = strict
        .set("full", &2_u32, None)
        .await
        .expect_err("refused: OOM");
    assert_eq!(refused.kind(), ErrorKind::Overloaded, "{refused}");
    assert!(
        refused.to_string().contains("maxmemory-policy"),
        "{refused}"
    );
    assert_eq!(
        strict.get::<u32>("before").await.expect("reads still work"),
        Some(1)
    );
    redis
        .cli(&["CONFIG", "SET", "maxmemory", "0"])
        .expect("lifts it");
    strict
        .set("after", &3_u32, None)
        .await
        .expect("writes again");

    // A script that never ends: past busy-reply-threshold (100 ms here) Redis answers
    // every other command with BUSY, until SCRIPT KILL.
    let mut script = redis
        .cli_command(&["EVAL", "while true do end", "0"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-cli runs");
    let began = Instant::now();
    let busy = loop {
        match strict.get::<u32>("before").await {
            Err(error) => break error,
            Ok(_) => {
                assert!(
                    began.elapsed() < Duration::from_secs(10),
                    "the script never made Redis busy"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    assert_eq!(busy.kind(), ErrorKind::Connect, "{busy}");
    assert!(busy.to_string().contains("send it again shortly"), "{busy}");
    let errors = lenient.stats().errors;
    let started = Instant::now();
    assert_eq!(
        lenient
            .get::<u32>("before")
            .await
            .expect("a miss, not an error"),
        None
    );
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "the miss took {:?}",
        started.elapsed()
    );
    assert_eq!(lenient.stats().errors, errors + 1);
    redis.cli(&["SCRIPT", "KILL"]).expect("kills the script");
    let _ = script.wait();
    // The script ends at its next check for events, so a read may still meet BUSY
    // once; the shared connection is kept, so it is served on it within moments.
    let killed = Instant::now();
    let served = loop {
        match strict.get::<u32>("before").await {
            Ok(value) => break value,
            Err(error) if killed.elapsed() < Duration::from_secs(1) => {
                assert_eq!(error.kind(), ErrorKind::Connect, "{error}");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Err(error) => panic!("not served within 1 s of SCRIPT KILL: {error}"),
        }
    };
    assert_eq!(served, Some(1));
}
