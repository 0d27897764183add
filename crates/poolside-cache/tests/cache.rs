//! `RedisCache` against the real Redis that `cargo xtask services` starts, and without
//! one.

use std::time::{Duration, Instant};

use poolside_cache::{KeyTtl, OnUnavailable, RedisCache};
use poolside_core::{ErrorKind, RedisPool};
use poolside_tests::{redis_config, required_env};
use serde::{Deserialize, Serialize};

async fn cache() -> RedisCache {
    let pool = RedisPool::connect(&redis_config(&required_env("REDIS_URL"), &[]))
        .await
        .expect("connects");
    RedisCache::new(Some(pool), OnUnavailable::Error)
}
/// A key prefix of this test run's own.
fn prefix(test: &str) -> String {
    format!("poolside-test:{}:{test}", std::process::id())
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Product {
    id: u32,
    name: String,
    price_cents: u64,
}

#[tokio::test]
async fn values_round_trip_as_json_and_bytes_and_hits_are_counted() {
    let cache = cache().await;
    let key = format!("{}:product", prefix("json"));
    let product = Product {
        id: 1,
        name: "Cola".into(),
        price_cents: 250,
    };
    assert_eq!(cache.get::<Product>(&key).await.expect("get"), None);
    cache.set(&key, &product, None).await.expect("set");
    assert_eq!(
        cache.get::<Product>(&key).await.expect("get"),
        Some(product)
    );
    let raw_key = format!("{}:raw", prefix("json"));
    cache
        .set_bytes(&raw_key, &[0, 159, 146, 150], None)
        .await
        .expect("set bytes");
    assert_eq!(
        cache.get_bytes(&raw_key).await.expect("get"),
        Some(vec![0, 159, 146, 150])
    );
    let err = cache.get::<Product>(&raw_key).await.expect_err("not JSON");
    assert_eq!(err.kind(), ErrorKind::Query);
    assert_eq!(
        cache
            .del(&[&key, &raw_key, "poolside-test:no-such-key"])
            .await
            .expect("del"),
        2
    );
    let stats = cache.stats();
    assert_eq!(
        (stats.hits, stats.misses, stats.sets, stats.deletes),
        (3, 1, 2, 2),
        "{stats:?}"
    );
    assert!((stats.hit_rate_percent() - 75.0).abs() < 1e-9);
}

#[tokio::test]
async fn ttls_expire_and_are_reported() {
    let cache = cache().await;
    let key = format!("{}:ttl", prefix("ttl"));
    cache
        .set(&key, &1, Some(Duration::from_millis(300)))
        .await
        .expect("set");
    match cache.ttl(&key).await.expect("ttl") {
        KeyTtl::ExpiresIn(left) => {
            assert!(left <= Duration::from_millis(300) && left > Duration::ZERO)
        }
        other => panic!("{other:?}"),
    }
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert_eq!(cache.get::<i32>(&key).await.expect("get"), None, "expired");
    assert_eq!(cache.ttl(&key).await.expect("ttl"), KeyTtl::Missing);
    cache.set(&key, &1, None).await.expect("set");
    assert_eq!(cache.ttl(&key).await.expect("ttl"), KeyTtl::Persistent);
    assert!(
        cache
            .expire(&key, Duration::from_secs(30))
            .await
            .expect("expire")
    );
    assert!(matches!(
        cache.ttl(&key).await.expect("ttl"),
        KeyTtl::ExpiresIn(_)
    ));
    cache.del(&[&key]).await.expect("del");
}

#[tokio::test]
async fn counters_mget_mset() {
    let cache = cache().await;
    let p = prefix("counters");
    let counter = format!("{p}:n");
    assert_eq!(cache.incr(&counter, 5).await.expect("incr"), 5);
    assert_eq!(cache.incr(&counter, -2).await.expect("incr by -2"), 3);
    let (a, b, missing) = (format!("{p}:a"), format!("{p}:b"), format!("{p}:missing"));
    cache
        .mset(
            &[(a.as_str(), 1), (b.as_str(), 2)],
            Some(Duration::from_secs(30)),
        )
        .await
        .expect("mset");
    let got: Vec<Option<i32>> = cache.mget(&[&a, &missing, &b]).await.expect("mget");
    assert_eq!(got, vec![Some(1), None, Some(2)]);
    for key in [&a, &b] {
        assert!(
            matches!(cache.ttl(key).await.expect("ttl"), KeyTtl::ExpiresIn(_)),
            "{key} has its TTL"
        );
    }
    cache.del(&[&counter, &a, &b]).await.expect("del");
}

#[tokio::test]
async fn delete_by_pattern_scans_and_spares_other_keys() {
    let cache = cache().await;
    let p = prefix("pattern");
    let keys: Vec<String> = (0..1200).map(|i| format!("{p}:products:{i}")).collect();
    let items: Vec<(&str, i32)> = keys.iter().map(|k| (k.as_str(), 1)).collect();
    cache.mset(&items, None).await.expect("mset");
    let other = format!("{p}:orders:1");
    cache.set(&other, &1, None).await.expect("set");
    assert_eq!(
        cache
            .delete_pattern(&format!("{p}:products:*"))
            .await
            .expect("delete"),
        1200
    );
    assert_eq!(cache.get::<i32>(&keys[7]).await.expect("get"), None);
    assert_eq!(
        cache.get::<i32>(&other).await.expect("get"),
        Some(1),
        "other keys are kept"
    );
    cache.del(&[&other]).await.expect("del");
}

#[tokio::test]
async fn without_redis_the_cache_misses_or_says_unavailable_as_asked() {
    let missing = RedisCache::new(None, OnUnavailable::Miss);
    assert_eq!(missing.get::<i32>("k").await.expect("a miss"), None);
    missing.set("k", &1, None).await.expect("writes do nothing");
    assert_eq!(missing.stats().misses, 1);

    let strict = RedisCache::new(None, OnUnavailable::Error);
    let err = strict.get::<i32>("k").await.expect_err("unavailable");
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert!(
        err.to_string().contains("REDIS_URL"),
        "says what to do: {err}"
    );
}

#[tokio::test]
async fn with_redis_down_the_cache_answers_at_once() {
    let down = redis_config("redis://127.0.0.1:1/0", &[]);
    let err = RedisPool::connect(&down)
        .await
        .expect_err("nothing listens on port 1");
    assert_eq!(err.kind(), ErrorKind::Connect, "{err}");
    assert!(err.to_string().contains("127.0.0.1:1"), "{err}");

    let cache = RedisCache::new(
        Some(RedisPool::connect_lazy(&down).expect("builds")),
        OnUnavailable::Miss,
    );
    let started = Instant::now();
    assert_eq!(cache.get::<i32>("k").await.expect("a miss"), None);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(cache.stats().errors, 1);

    let strict = RedisCache::new(
        Some(RedisPool::connect_lazy(&down).expect("builds")),
        OnUnavailable::Error,
    );
    assert_eq!(
        strict.get::<i32>("k").await.expect_err("down").kind(),
        ErrorKind::Connect
    );
}

/// A cache on the real Redis Cluster (`cargo xtask services up redis-cluster`),
/// reached through one of its nodes.
async fn cluster_cache() -> RedisCache {
    let config = poolside_tests::redis_cluster_config(&[]);
    let pool = RedisPool::connect(&config).await.expect("connects");
    RedisCache::new(Some(pool), OnUnavailable::Error)
}

#[tokio::test]
async fn in_a_cluster_multi_key_calls_and_pattern_deletes_span_every_slot() {
    let cache = cluster_cache().await;
    let base = prefix("cluster");
    let keys: Vec<String> = (0..300).map(|i| format!("{base}:{i}")).collect();
    let items: Vec<(&str, u32)> = keys.iter().map(String::as_str).zip(0..).collect();
    // With a TTL (one SET per key) and without (MSET): across slots, no CROSSSLOT.
    cache
        .mset(&items[..150], Some(Duration::from_secs(60)))
        .await
        .expect("mset with a TTL across slots");
    cache
        .mset(&items[150..], None)
        .await
        .expect("mset across slots");
    let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    let got: Vec<Option<u32>> = cache.mget(&refs).await.expect("mget across slots");
    assert_eq!(got, (0..300).map(Some).collect::<Vec<_>>());
    // Keys that share a slot (a hash tag), with missing keys among them and keys of
    // other slots between them: each value comes back in its key's place.
    let tagged: Vec<String> = (0..3).map(|i| format!("{{{base}}}:tagged:{i}")).collect();
    cache
        .mset(
            &[(tagged[0].as_str(), 1000), (tagged[2].as_str(), 1002)],
            None,
        )
        .await
        .expect("mset in one slot");
    let mixed = [&tagged[0], &keys[7], &tagged[1], &keys[250], &tagged[2]].map(String::as_str);
    let got: Vec<Option<u32>> = cache.mget(&mixed).await.expect("mget, some in one slot");
    assert_eq!(got, [Some(1000), Some(7), None, Some(250), Some(1002)]);
    cache.del(&[&tagged[0], &tagged[2]]).await.expect("del");
    // Over more slots than the pool sends in one request on a cluster: in parts, each
    // counted once.
    assert_eq!(cache.del(&refs[..40]).await.expect("del across slots"), 40);

    // The keys sit on every primary; SCAN on each finds them all.
    let deleted = cache
        .delete_pattern(&format!("{base}:*"))
        .await
        .expect("pattern delete");
    assert_eq!(deleted, 260);
    let got: Vec<Option<u32>> = cache.mget(&refs).await.expect("mget");
    assert!(got.iter().all(Option::is_none), "{got:?}");
}
