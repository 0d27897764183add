//! `RedisPool` in `sentinel` and `cluster` mode, against the real Sentinel group and
//! cluster that `cargo xtask services up redis-sentinel|redis-cluster` start: the
//! shared path, exclusive checkouts, pipelines, multi-key commands across slots, and
//! pub/sub. (The failovers are in the fault tests: they change what other tests see.)

use std::time::Duration;

use poolside_config::{RedisConfig, RedisMode};
use poolside_core::{RedisConnection, RedisPool};
use poolside_tests::cluster_keys::sets_and_reads_back;
use poolside_tests::{redis_cluster_config, redis_sentinel_config};

fn sentinel_config() -> RedisConfig {
    redis_sentinel_config(&[])
}

fn cluster_config() -> RedisConfig {
    redis_cluster_config(&[])
}

/// A key unique to this run, with `i` in it.
fn key(prefix: &str, i: usize) -> String {
    format!("modes:{prefix}:{}:{i}", std::process::id())
}

#[tokio::test]
async fn sentinel_mode_runs_commands_on_the_primary_the_sentinels_name() {
    let config = sentinel_config();
    assert_eq!(config.mode, RedisMode::Sentinel);
    let pool = RedisPool::connect(&config).await.expect("connects");
    let role: Vec<redis::Value> = pool.command(&redis::cmd("ROLE")).await.expect("ROLE");
    assert_eq!(
        role.first(),
        Some(&redis::Value::BulkString(b"master".to_vec())),
        "the pool talks to the primary"
    );
    let k = key("sentinel", 0);
    let () = pool
        .command(redis::cmd("SET").arg(&k).arg("v").arg("PX").arg(60_000))
        .await
        .expect("SET");
    let got: String = pool.command(redis::cmd("GET").arg(&k)).await.expect("GET");
    assert_eq!(got, "v");

    let mut conn = pool.exclusive().await.expect("an exclusive connection");
    assert!(matches!(&*conn, RedisConnection::Server(_)));
    let n: i64 = redis::cmd("INCR")
        .arg(key("sentinel", 1))
        .query_async(&mut *conn)
        .await
        .expect("INCR on the exclusive connection");
    assert_eq!(n, 1);
    drop(conn);
    assert!(
        pool.stats().errors == 0,
        "no command failed: {:?}",
        pool.stats()
    );
}

#[tokio::test]
async fn cluster_mode_spreads_keys_over_slots_and_splits_multi_key_commands() {
    let config = cluster_config();
    let pool = RedisPool::connect(&config).await.expect("connects");
    let keys: Vec<String> = (0..200).map(|i| key("cluster", i)).collect();
    let slots: std::collections::HashSet<_> = keys
        .iter()
        .map(redis::cluster_routing::Slot::for_key)
        .collect();
    assert!(slots.len() > 100, "the keys fall in many slots");

    // One MGET over every slot: split by slot, answered in order.
    sets_and_reads_back(&pool, &keys).await;
    let deleted: u64 = pool
        .command(redis::cmd("UNLINK").arg(&keys[..100]))
        .await
        .expect("UNLINK across slots");
    assert_eq!(deleted, 100);

    // On an exclusive connection too, in parts of one slot (an MGET in chunks of 16
    // slots the cluster client splits), answered as one command.
    let mut conn = pool.exclusive().await.expect("an exclusive connection");
    assert!(matches!(&*conn, RedisConnection::Cluster(_)));
    let exists: u64 = redis::cmd("EXISTS")
        .arg(&keys)
        .query_async(&mut *conn)
        .await
        .expect("EXISTS across slots");
    assert_eq!(exists, 100);
    let pairs: Vec<(&str, usize)> = keys[..100].iter().map(String::as_str).zip(1000..).collect();
    let () = redis::cmd("MSET")
        .arg(&pairs)
        .query_async(&mut *conn)
        .await
        .expect("MSET across slots");
    let got: Vec<Option<usize>> = redis::cmd("MGET")
        .arg(&keys)
        .query_async(&mut *conn)
        .await
        .expect("MGET across slots");
    let expected: Vec<Option<usize>> = (1000..1100).chain(100..200).map(Some).collect();
    assert_eq!(got, expected, "every value at its key's place");
    let deleted: u64 = redis::cmd("DEL")
        .arg(&keys)
        .arg(&keys[..3])
        .query_async(&mut *conn)
        .await
        .expect("DEL across slots");
    assert_eq!(deleted, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_cluster_a_burst_past_the_room_of_one_connection_spills_onto_another() {
    // Four slots' worth in flight on each shared connection; max_size 10 lets the
    // pool share four. 64 commands at once: some on the first, the rest on others
    // leased for them or waiting their turn; all answered. Once the burst is over,
    // the others go back to the pool (open, idle), and only the first stays leased.
    let config = redis_cluster_config(&[("POOLSIDE_REDIS__CLUSTER_IN_FLIGHT", "4")]);
    let pool = RedisPool::connect(&config).await.expect("connects");
    let keys: Vec<String> = (0..64).map(|i| key("room", i)).collect();
    sets_and_reads_back(&pool, &keys).await;
    let reads: Vec<_> = keys
        .iter()
        .map(|k| {
            let (pool, k) = (pool.clone(), k.clone());
            tokio::spawn(async move { pool.command::<String>(redis::cmd("GET").arg(k)).await })
        })
        .collect();
    for read in reads {
        read.await.expect("no panic").expect("GET");
    }
    let stats = pool.stats();
    assert!(
        stats.total > 1,
        "the burst stayed on one connection: {stats:?}"
    );
    assert!(stats.total <= 4, "{stats:?}");
    assert_eq!((stats.shared, stats.active), (1, 1), "{stats:?}");
    assert_eq!(stats.errors, 0, "{stats:?}");
}

/// The commands `pool` has sent so far.
fn sent(pool: &RedisPool) -> u64 {
    pool.stats().commands
}

#[tokio::test]
async fn on_a_cluster_a_multi_key_command_over_several_slots_answers_as_one() {
    // Keys of six hash tags, interleaved: writes and counts in a part a tag, an MGET in
    // chunks of two slots, or whole without the bound (the split itself is
    // multi_slot.rs's to test); each value back at its key's place; counts summed; a
    // write's parts acknowledged by a replica; each command counted once.
    for in_flight in ["4", "0"] {
        let config = redis_cluster_config(&[("POOLSIDE_REDIS__CLUSTER_IN_FLIGHT", in_flight)]);
        let pool = RedisPool::connect(&config).await.expect("connects");
        let tags = 6;
        let keys: Vec<String> = (0..60)
            .map(|i| {
                format!(
                    "{{{}:{}}}:{in_flight}:{i}",
                    key("parts", i % tags),
                    i % tags
                )
            })
            .collect();
        let slots: std::collections::HashSet<_> = keys
            .iter()
            .map(redis::cluster_routing::Slot::for_key)
            .collect();
        assert_eq!(slots.len(), tags, "one slot a tag");
        let pairs: Vec<(&str, usize)> = keys.iter().map(String::as_str).zip(0..).collect();
        let before = sent(&pool);
        let () = pool
            .command(redis::cmd("MSET").arg(&pairs))
            .await
            .expect("MSET in parts");
        assert_eq!(sent(&pool) - before, 1, "one command, however many parts");

        let before = sent(&pool);
        let missing = key("parts", 999);
        let got: Vec<Option<usize>> = pool
            .command(redis::cmd("MGET").arg(&keys).arg(&missing))
            .await
            .expect("MGET in parts");
        let mut expected: Vec<Option<usize>> = (0..60).map(Some).collect();
        expected.push(None);
        assert_eq!(got, expected, "every value at its key's place");
        assert_eq!(sent(&pool) - before, 1);
        let exists: u64 = pool
            .command(redis::cmd("EXISTS").arg(&keys).arg(&keys[..10]))
            .await
            .expect("EXISTS in parts");
        assert_eq!(exists, 70, "each part's count, summed");
        let deleted: u64 = pool
            .write(redis::cmd("UNLINK").arg(&keys))
            .await
            .expect("UNLINK in parts, each acknowledged by a replica");
        assert_eq!(deleted, 60);
        let exists: u64 = pool
            .command(redis::cmd("EXISTS").arg(&keys))
            .await
            .expect("EXISTS");
        assert_eq!(exists, 0);
        assert_eq!(pool.stats().errors, 0, "{:?}", pool.stats());
    }
}

#[tokio::test]
async fn write_pipelines_sends_pipelines_of_several_slots_together_and_acknowledged() {
    let unreplicated = redis_cluster_config(&[("POOLSIDE_REDIS__WAIT_REPLICAS", "0")]);
    for config in [sentinel_config(), cluster_config(), unreplicated] {
        let mode = format!("{}, wait {}", config.mode, config.replicas_to_wait_for());
        let pool = RedisPool::connect(&config).await.expect("connects");
        let tag = |t: &str| format!("{{{}}}", key(&format!("pipes:{mode}:{t}"), 0));
        let (a, b) = (tag("a"), tag("b"));
        let mut first = redis::pipe();
        first
            .set(format!("{a}:1"), 1)
            .ignore()
            .set(format!("{a}:2"), 2)
            .ignore()
            .incr(format!("{a}:n"), 5);
        let mut second = redis::pipe();
        second.incr(format!("{b}:n"), 7);
        let before = sent(&pool);
        let answers: Vec<Vec<i64>> = pool
            .write_pipelines(&[first, second])
            .await
            .expect("two pipelines, each acknowledged by a replica");
        assert_eq!(
            sent(&pool) - before,
            1,
            "{mode}: one command in the figures"
        );
        assert_eq!(
            answers,
            [vec![5], vec![7]],
            "{mode}: each pipeline's answers"
        );
        let got: Vec<Option<i64>> = pool
            .command(redis::cmd("MGET").arg(&[
                format!("{a}:1"),
                format!("{a}:2"),
                format!("{b}:n"),
            ]))
            .await
            .expect("MGET");
        assert_eq!(got, [Some(1), Some(2), Some(7)], "{mode}");
        let mut transaction = redis::pipe();
        transaction.atomic().set(format!("{a}:3"), 3);
        let refused = pool.write_pipelines::<()>(&[transaction]).await;
        assert!(
            refused.is_err_and(|e| e.to_string().contains(".atomic()")),
            "{mode}: a transaction cannot carry WAIT"
        );
        let _: u64 = pool
            .write(redis::cmd("DEL").arg(&[
                format!("{a}:1"),
                format!("{a}:2"),
                format!("{a}:n"),
                format!("{b}:n"),
            ]))
            .await
            .expect("DEL");
    }
}

#[tokio::test]
async fn pubsub_hears_what_the_pool_publishes_in_each_mode() {
    use futures_util::StreamExt as _;
    for config in [sentinel_config(), cluster_config()] {
        let pool = RedisPool::connect(&config).await.expect("connects");
        let channel = key(config.mode.name(), 99);
        let mut pubsub = pool.pubsub().await.expect("a pub/sub connection");
        pubsub.subscribe(&channel).await.expect("subscribes");
        let mut messages = pubsub.on_message();
        let _: i64 = pool
            .command(redis::cmd("PUBLISH").arg(&channel).arg("hello"))
            .await
            .expect("PUBLISH");
        let message = tokio::time::timeout(Duration::from_secs(5), messages.next())
            .await
            .unwrap_or_else(|_| panic!("no message in {} mode", config.mode))
            .expect("a message");
        let payload: String = message.get_payload().expect("a text payload");
        assert_eq!(payload, "hello", "{} mode", config.mode);
    }
}

#[tokio::test]
async fn a_write_is_acknowledged_only_once_the_replicas_have_it() {
    for config in [sentinel_config(), cluster_config()] {
        assert_eq!(config.replicas_to_wait_for(), 1, "{} mode", config.mode);
        let pool = RedisPool::connect(&config).await.expect("connects");
        let keys: Vec<String> = (0..20).map(|i| key("durable", i)).collect();
        for k in &keys {
            let () = pool
                .write(redis::cmd("SET").arg(k).arg(1).arg("PX").arg(60_000))
                .await
                .unwrap_or_else(|e| panic!("{} mode: {e}", config.mode));
        }
        // Split over the cluster's nodes, then WAIT on each.
        let deleted: u64 = pool
            .write(redis::cmd("UNLINK").arg(&keys))
            .await
            .expect("UNLINK across slots");
        assert_eq!(deleted, 20, "{} mode", config.mode);

        // Two replicas are asked for where each primary has one: not acknowledged.
        let mut strict = config.clone();
        strict.wait_replicas = Some(2);
        strict.wait_timeout = Duration::from_millis(200);
        let pool = RedisPool::connect(&strict).await.expect("connects");
        let error = pool
            .write::<()>(redis::cmd("SET").arg(key("durable", 99)).arg(1))
            .await
            .expect_err("one replica is not two");
        assert_eq!(error.kind(), poolside_core::ErrorKind::Unavailable);
        assert!(
            error.to_string().contains("1 of the 2 replica(s)"),
            "{error}"
        );

        // A write in parts (about ten a primary): the first WAIT that counts too few
        // fails it, not the ten queued on a node one after the other (2 s). Counted
        // once; the pool goes on.
        let keys: Vec<String> = (0..30)
            .map(|i| format!("{{{}}}", key("short", i)))
            .collect();
        let pairs: Vec<(&str, u8)> = keys.iter().map(|k| (k.as_str(), 1)).collect();
        let started = std::time::Instant::now();
        let error = pool
            .write::<()>(redis::cmd("MSET").arg(&pairs))
            .await
            .expect_err("one replica is not two");
        let took = started.elapsed();
        assert!(
            error.to_string().contains("1 of the 2 replica(s)"),
            "{error}"
        );
        assert!(
            took < Duration::from_secs(1),
            "{} mode: took {took:?}",
            config.mode
        );
        let stats = pool.stats();
        assert_eq!(
            (stats.errors, stats.unreplicated_writes),
            (2, 2),
            "{stats:?}"
        );
        let _: Option<String> = pool
            .command(redis::cmd("GET").arg(&keys[0]))
            .await
            .expect("the pool goes on");
        let _: u64 = pool
            .command(redis::cmd("DEL").arg(&keys))
            .await
            .expect("DEL");
    }
}

#[tokio::test]
async fn a_master_name_the_sentinels_do_not_monitor_is_named() {
    let config = redis_sentinel_config(&[
        ("POOLSIDE_REDIS__MASTER_NAME", "not-monitored"),
        ("POOLSIDE_REDIS__CONNECTION_TIMEOUT", "2s"),
    ]);
    let error = RedisPool::connect(&config)
        .await
        .expect_err("no primary by that name");
    assert_eq!(error.kind(), poolside_core::ErrorKind::Connect, "{error}");
    assert!(
        error
            .to_string()
            .contains("named no primary for redis.master_name"),
        "{error}"
    );
}

/// A blocking command goes on a connection of its own in every mode, and is answered
/// when another caller's command, on the shared connection, gives it something.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocking_command_is_answered_in_each_mode() {
    for config in [sentinel_config(), cluster_config()] {
        let mode = config.mode;
        let pool = RedisPool::connect(&config).await.expect("connects");
        let list = key("blocking", 0);
        let popped = {
            let (pool, list) = (pool.clone(), list.clone());
            tokio::spawn(async move {
                let blpop = redis::cmd("BLPOP").arg(&list).arg(1.5).clone();
                pool.command::<Option<(String, String)>>(&blpop).await
            })
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        let _: u64 = pool
            .command(redis::cmd("LPUSH").arg(&list).arg("job"))
            .await
            .expect("LPUSH");
        let popped = popped.await.expect("task").expect("BLPOP");
        assert_eq!(popped, Some((list, "job".to_owned())), "{mode:?}");
    }
}

/// A `WATCH` left on an exclusive connection ends before it serves again, in each mode
/// (on a cluster the `UNWATCH` of the check reaches every primary): the next user's
/// atomic pipeline is not aborted by a key it never watched.
#[tokio::test]
async fn a_watch_left_on_an_exclusive_connection_ends_in_each_mode() {
    for config in [sentinel_config(), cluster_config()] {
        let mode = config.mode;
        let mut one = config.clone();
        one.max_size = 1;
        let pool = RedisPool::connect(&one).await.expect("connects");
        // One slot, so that the transaction goes to one node.
        let (watched, written) = (key("{watch}:watched", 0), key("{watch}:written", 0));
        let mut conn = pool.exclusive().await.expect("exclusive");
        let () = redis::cmd("WATCH")
            .arg(&watched)
            .query_async(&mut *conn)
            .await
            .expect("watch");
        drop(conn);
        let mut conn = pool.exclusive().await.expect("the same connection, again");
        let () = redis::cmd("SET")
            .arg(&watched)
            .arg("changed")
            .query_async(&mut *conn)
            .await
            .expect("set");
        let () = redis::pipe()
            .atomic()
            .set(&written, "kept")
            .ignore()
            .query_async(&mut *conn)
            .await
            .expect("exec");
        drop(conn);
        let value: Option<String> = pool
            .command(redis::cmd("GET").arg(&written))
            .await
            .expect("get");
        assert_eq!(value.as_deref(), Some("kept"), "{mode:?}");
        let _: u64 = pool
            .command(redis::cmd("DEL").arg(&watched).arg(&written))
            .await
            .expect("del");
    }
}
