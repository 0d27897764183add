//! On a cluster, a write sent in parts is acknowledged by a `WAIT` on the node of
//! each part, behind it, and on no other node: a `WAIT` sent on its own would go out
//! through the cluster client's fan-out, which skips a primary it holds no connection
//! to (the one that took a write and then died). A write the cluster runs on every
//! primary reaches each, a `WAIT` behind it. The test counts the `WAIT`s each primary
//! runs (`INFO commandstats`), so it is a binary of its own, of one test: other
//! writes, run beside it, would add to the counts.

use std::collections::HashMap;

use poolside_core::RedisPool;
use poolside_tests::{redis_cluster_config, required_env};

/// A primary's URL, and a plain connection to it.
type Primary = (String, redis::aio::MultiplexedConnection);

/// A plain connection to each primary of the cluster, by URL.
async fn primaries() -> Vec<Primary> {
    let mut primaries = Vec::new();
    for url in required_env("REDIS_CLUSTER_NODES").split(',') {
        let client = redis::Client::open(url).expect("a node's URL");
        let mut conn = client
            .get_multiplexed_async_connection()
            .await
            .expect("connects to a cluster node");
        let role: Vec<redis::Value> = redis::cmd("ROLE")
            .query_async(&mut conn)
            .await
            .expect("ROLE");
        if role.first() == Some(&redis::Value::BulkString(b"master".to_vec())) {
            primaries.push((url.to_owned(), conn));
        }
    }
    assert_eq!(primaries.len(), 3, "the cluster has three primaries");
    primaries
}

/// How many `WAIT`s each primary has run.
async fn waits_run(primaries: &mut [Primary]) -> Vec<u64> {
    let mut counts = Vec::new();
    for (_, conn) in primaries.iter_mut() {
        let info: String = redis::cmd("INFO")
            .arg("commandstats")
            .query_async(conn)
            .await
            .expect("INFO commandstats");
        let calls = info
            .lines()
            .find_map(|line| line.strip_prefix("cmdstat_wait:calls="))
            .and_then(|rest| rest.split(',').next())
            .map_or(0, |calls| calls.parse().expect("a count of calls"));
        counts.push(calls);
    }
    counts
}

/// Keys with a slot each, `wanted[i]` of them held by primary `i`.
async fn keys_held(primaries: &mut [Primary], wanted: &[usize]) -> Vec<String> {
    let mut held: HashMap<usize, Vec<String>> = HashMap::new();
    for i in 0..10_000 {
        let key = format!("{{cluster-wait:{}:{i}}}", std::process::id());
        for (index, (_, conn)) in primaries.iter_mut().enumerate() {
            // Only the primary holding the key's slot answers; the others say MOVED.
            let answer: redis::RedisResult<i64> =
                redis::cmd("EXISTS").arg(&key).query_async(conn).await;
            if answer.is_ok() {
                held.entry(index).or_default().push(key.clone());
            }
        }
        if (0..wanted.len()).all(|p| held.get(&p).map_or(0, Vec::len) >= wanted[p]) {
            break;
        }
    }
    (0..wanted.len())
        .flat_map(|p| {
            held.remove(&p)
                .unwrap_or_default()
                .into_iter()
                .take(wanted[p])
        })
        .collect()
}

#[tokio::test]
async fn each_write_waits_on_the_nodes_it_reached_and_no_other() {
    let pool = RedisPool::connect(&redis_cluster_config(&[]))
        .await
        .expect("connects");
    let mut primaries = primaries().await;
    a_write_in_parts_waits_on_the_node_of_each_part(&pool, &mut primaries).await;
    a_write_for_every_primary_reaches_each_with_its_wait(&pool, &mut primaries).await;
}

async fn a_write_in_parts_waits_on_the_node_of_each_part(
    pool: &RedisPool,
    primaries: &mut [Primary],
) {
    // Two parts on the first primary, one on the second, none on the third.
    let wanted = [2, 1, 0];
    let keys = keys_held(primaries, &wanted).await;
    assert_eq!(keys.len(), 3, "keys on the first two primaries");

    let pairs: Vec<(&str, u8)> = keys.iter().map(|k| (k.as_str(), 1)).collect();
    let before = waits_run(primaries).await;
    let () = pool
        .write(redis::cmd("MSET").arg(&pairs))
        .await
        .expect("MSET in parts, each acknowledged");
    let after = waits_run(primaries).await;
    let ran: Vec<u64> = after.iter().zip(&before).map(|(a, b)| a - b).collect();
    assert_eq!(ran, [2, 1, 0], "a WAIT behind each part, on its node");

    let pipelines: Vec<redis::Pipeline> = keys
        .iter()
        .map(|k| {
            let mut pipeline = redis::pipe();
            pipeline.incr(k, 1);
            pipeline
        })
        .collect();
    let before = waits_run(primaries).await;
    let answers: Vec<Vec<i64>> = pool
        .write_pipelines(&pipelines)
        .await
        .expect("three pipelines, each acknowledged");
    assert_eq!(answers, [[2], [2], [2]]);
    let after = waits_run(primaries).await;
    let ran: Vec<u64> = after.iter().zip(&before).map(|(a, b)| a - b).collect();
    assert_eq!(ran, [2, 1, 0], "a WAIT behind each pipeline, on its node");

    let deleted: u64 = pool
        .write(redis::cmd("DEL").arg(&keys))
        .await
        .expect("DEL in parts");
    assert_eq!(deleted, 3);
}

async fn a_write_for_every_primary_reaches_each_with_its_wait(
    pool: &RedisPool,
    primaries: &mut [Primary],
) {
    let library = format!("poolside_wait_{}", std::process::id());
    let code = format!(
        "#!lua name={library}\nredis.register_function('{library}_one', function() return 1 end)"
    );
    let before = waits_run(primaries).await;
    let loaded: String = pool
        .write(redis::cmd("FUNCTION").arg("LOAD").arg(&code))
        .await
        .expect("FUNCTION LOAD on every primary, acknowledged");
    assert_eq!(loaded, library);
    let after = waits_run(primaries).await;
    let ran: Vec<u64> = after.iter().zip(&before).map(|(a, b)| a - b).collect();
    assert_eq!(ran, [1, 1, 1], "a WAIT behind it on each primary");
    assert_eq!(libraries_named(primaries, &library).await, [1, 1, 1]);

    // A pipeline goes to one node: one holding such a write is refused, on every path.
    let mut flush = redis::pipe();
    flush.cmd("FLUSHDB");
    let refused = |answer: Result<(), poolside_core::RedisError>| {
        answer.is_err_and(|e| {
            e.to_string()
                .contains("send that one with RedisPool::write()")
        })
    };
    assert!(refused(pool.write_pipeline(&flush).await), "write_pipeline");
    assert!(refused(pool.pipeline(&flush).await), "pipeline");
    let mut conn = pool.exclusive().await.expect("an exclusive connection");
    let on_exclusive = flush.query_async::<()>(&mut *conn).await;
    assert!(
        on_exclusive.is_err_and(|e| e.to_string().contains("RedisPool::write()")),
        "an exclusive connection"
    );
    drop(conn);

    // With no replicas to wait for: on each primary all the same, no WAIT.
    let unreplicated = RedisPool::connect(&redis_cluster_config(&[(
        "POOLSIDE_REDIS__WAIT_REPLICAS",
        "0",
    )]))
    .await
    .expect("connects");
    let before = waits_run(primaries).await;
    let () = unreplicated
        .write(redis::cmd("FUNCTION").arg("DELETE").arg(&library))
        .await
        .expect("FUNCTION DELETE on every primary");
    assert_eq!(waits_run(primaries).await, before, "no WAIT");
    assert_eq!(libraries_named(primaries, &library).await, [0, 0, 0]);
}

/// How many function libraries named `library` each primary holds.
async fn libraries_named(primaries: &mut [Primary], library: &str) -> Vec<usize> {
    let mut counts = Vec::new();
    for (_, conn) in primaries.iter_mut() {
        let listed: Vec<redis::Value> = redis::cmd("FUNCTION")
            .arg("LIST")
            .arg("LIBRARYNAME")
            .arg(library)
            .query_async(conn)
            .await
            .expect("FUNCTION LIST");
        counts.push(listed.len());
    }
    counts
}
