//! `RedisPool` against the real Redis that `cargo xtask services` starts.

use std::time::{Duration, Instant};

use poolside_core::{ErrorKind, RedisPool};
use poolside_tests::fault_proxy::{FaultProxy, Mode};
use poolside_tests::{redis_config, required_env};

/// A key prefix of this test run's own.
fn prefix(test: &str) -> String {
    format!("poolside-test:{}:{test}", std::process::id())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_commands_share_one_connection() {
    let pool = RedisPool::connect(&redis_config(&required_env("REDIS_URL"), &[]))
        .await
        .expect("connects");
    let key = format!("{}:shared", prefix("shared"));
    let () = pool
        .command(redis::cmd("SET").arg(&key).arg("v"))
        .await
        .expect("set");
    let tasks: Vec<_> = (0..200)
        .map(|_| {
            let (pool, key) = (pool.clone(), key.clone());
            tokio::spawn(async move { pool.command::<String>(redis::cmd("GET").arg(&key)).await })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.expect("task").expect("get"), "v");
    }
    let stats = pool.stats();
    assert_eq!(
        (stats.shared, stats.total),
        (1, 1),
        "one multiplexed connection served all: {stats:?}"
    );
    let () = pool
        .command(redis::cmd("DEL").arg(&key))
        .await
        .expect("del");
}

/// A command that would change the connection for every command sharing it fails
/// before it is sent, on the shared path, in a pipeline and on an exclusive
/// connection; the others' reads stay right. (A `MULTI` sent alone made every other
/// caller's `GET` answer `QUEUED`; a `SELECT 3` moved them all to database 3.)
#[tokio::test]
async fn commands_that_change_the_shared_connection_are_refused_before_they_are_sent() {
    let pool = RedisPool::connect(&redis_config(&required_env("REDIS_URL"), &[]))
        .await
        .expect("connects");
    let key = format!("{}:state", prefix("state"));
    let () = pool
        .command(redis::cmd("SET").arg(&key).arg("v"))
        .await
        .expect("set");
    let refused = [
        redis::cmd("MULTI"),
        redis::cmd("SELECT").arg(3).clone(),
        redis::cmd("CLIENT").arg("REPLY").arg("OFF").clone(),
        redis::cmd("SUBSCRIBE").arg("news").clone(),
    ];
    for cmd in &refused {
        let error = pool
            .command::<redis::Value>(cmd)
            .await
            .expect_err("refused");
        assert!(error.to_string().contains("nothing was sent"), "{error}");
        let mut pipe = redis::pipe();
        pipe.add_command(cmd.clone()).cmd("GET").arg(&key);
        pool.pipeline::<redis::Value>(&pipe)
            .await
            .expect_err("refused in a pipeline");
        let mut conn = pool.exclusive().await.expect("exclusive");
        cmd.query_async::<redis::Value>(&mut *conn)
            .await
            .expect_err("refused on an exclusive connection");
        drop(conn);
        let value: Option<String> = pool
            .command(redis::cmd("GET").arg(&key))
            .await
            .expect("get");
        assert_eq!(value.as_deref(), Some("v"), "after {cmd:?}");
    }
    // MULTI and EXEC as an atomic pipeline sends them, together: allowed.
    let (value,): (String,) = redis::pipe()
        .atomic()
        .cmd("GET")
        .arg(&key)
        .query_async(&mut *pool.exclusive().await.expect("exclusive"))
        .await
        .expect("an atomic pipeline");
    assert_eq!(value, "v");
    let () = pool
        .command(redis::cmd("DEL").arg(&key))
        .await
        .expect("del");
}

#[tokio::test]
async fn an_exclusive_connection_runs_watch_multi_exec() {
    let pool = RedisPool::connect(&redis_config(&required_env("REDIS_URL"), &[]))
        .await
        .expect("connects");
    let key = format!("{}:watched", prefix("exclusive"));
    let mut conn = pool.exclusive().await.expect("exclusive");
    let () = redis::cmd("WATCH")
        .arg(&key)
        .query_async(&mut *conn)
        .await
        .expect("watch");
    let (n,): (i64,) = redis::pipe()
        .atomic()
        .cmd("INCR")
        .arg(&key)
        .cmd("EXPIRE")
        .arg(&key)
        .arg(30)
        .ignore()
        .query_async(&mut *conn)
        .await
        .expect("exec");
    assert_eq!(n, 1);
    drop(conn);
    let () = pool
        .command(redis::cmd("DEL").arg(&key))
        .await
        .expect("del");
}

/// `WATCH` through a pool call is refused before it is sent: on the shared connection
/// it made another caller's atomic pipeline abort once the watched key changed, its
/// `EXEC` answering nil, which reads as success for `()`: the write acknowledged and
/// lost.
#[tokio::test]
async fn watch_through_a_pool_call_is_refused_and_no_other_callers_transaction_is_lost() {
    let pool = RedisPool::connect(&redis_config(&required_env("REDIS_URL"), &[]))
        .await
        .expect("connects");
    let (watched, written) = (
        format!("{}:watched", prefix("watch-shared")),
        format!("{}:written", prefix("watch-shared")),
    );
    let watch = redis::cmd("WATCH").arg(&watched).clone();
    let error = pool
        .command::<()>(&watch)
        .await
        .expect_err("refused on the shared path");
    assert!(
        error.to_string().contains("RedisPool::exclusive"),
        "{error}"
    );
    let mut with_watch = redis::pipe();
    with_watch
        .add_command(watch.clone())
        .cmd("GET")
        .arg(&watched);
    pool.pipeline::<redis::Value>(&with_watch)
        .await
        .expect_err("refused in a pipeline");
    pool.write::<()>(&watch)
        .await
        .expect_err("refused as a write");
    pool.write_pipelines::<redis::Value>(&[with_watch])
        .await
        .expect_err("refused in write_pipelines");
    // Another caller's transaction, after the watched key changed.
    let () = pool
        .command(redis::cmd("SET").arg(&watched).arg("changed"))
        .await
        .expect("set");
    let mut transaction = redis::pipe();
    transaction.atomic().set(&written, "kept").ignore();
    let () = pool.pipeline(&transaction).await.expect("exec");
    let value: Option<String> = pool
        .command(redis::cmd("GET").arg(&written))
        .await
        .expect("get");
    assert_eq!(
        value.as_deref(),
        Some("kept"),
        "the acknowledged write is there"
    );
    let () = pool
        .command(redis::cmd("DEL").arg(&watched).arg(&written))
        .await
        .expect("del");
}

/// A `WATCH` an exclusive connection's user left behind (it read the key and chose not
/// to write) ends before the connection serves again: the next user's atomic pipeline
/// on it is not aborted by a key it never watched.
#[tokio::test]
async fn a_watch_left_on_an_exclusive_connection_does_not_abort_the_next_users_transaction() {
    // One connection, so that the next checkout gets the same one.
    let pool = RedisPool::connect(&redis_config(
        &required_env("REDIS_URL"),
        &[("POOLSIDE_REDIS__MAX_SIZE", "1")],
    ))
    .await
    .expect("connects");
    let (watched, written) = (
        format!("{}:watched", prefix("watch-left")),
        format!("{}:written", prefix("watch-left")),
    );
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
    let value: Option<String> = redis::cmd("GET")
        .arg(&written)
        .query_async(&mut *conn)
        .await
        .expect("get");
    assert_eq!(
        value.as_deref(),
        Some("kept"),
        "the acknowledged write is there"
    );
    let () = redis::cmd("DEL")
        .arg(&watched)
        .arg(&written)
        .query_async(&mut *conn)
        .await
        .expect("del");
}

/// A blocking pop may wait as long as `redis.command_timeout` allows (3 s by default),
/// not the driver's own 500 ms response timeout.
#[tokio::test]
async fn a_blocking_pop_waits_up_to_the_command_timeout() {
    let pool = RedisPool::connect(&redis_config(&required_env("REDIS_URL"), &[]))
        .await
        .expect("connects");
    let key = format!("{}:empty-list", prefix("blocking"));
    let mut conn = pool.exclusive().await.expect("exclusive");
    let started = Instant::now();
    let popped: Option<(String, String)> = redis::cmd("BLPOP")
        .arg(&key)
        .arg(1)
        .query_async(&mut *conn)
        .await
        .expect("BLPOP on an empty list answers nil after its 1 s block");
    assert_eq!(popped, None);
    assert!(started.elapsed() >= Duration::from_millis(900));
}

/// A blocking command that would block past `redis.command_timeout` (a timeout of 0:
/// forever) is refused before it is sent, on every path: it used to fail at the
/// timeout while the server still blocked for its connection, and the next element
/// pushed went to that connection, unread: lost.
#[tokio::test]
async fn a_blocking_command_past_the_command_timeout_is_refused_before_it_is_sent() {
    let pool = RedisPool::connect(&redis_config(
        &required_env("REDIS_URL"),
        &[("POOLSIDE_REDIS__COMMAND_TIMEOUT", "500ms")],
    ))
    .await
    .expect("connects");
    let key = format!("{}:jobs", prefix("blocking-past"));
    for blpop in [
        redis::cmd("BLPOP").arg(&key).arg(0).clone(),
        redis::cmd("BLPOP").arg(&key).arg(2).clone(),
    ] {
        let error = pool
            .command::<Option<(String, String)>>(&blpop)
            .await
            .expect_err("refused");
        assert_eq!(error.kind(), ErrorKind::Query, "{error}");
        assert!(error.to_string().contains("nothing was sent"), "{error}");
        let pipeline = redis::pipe().add_command(blpop.clone()).clone();
        pool.pipeline::<redis::Value>(&pipeline)
            .await
            .expect_err("refused in a pipeline");
        // The job pushed next is there for the next pop.
        let _: u64 = pool
            .command(redis::cmd("LPUSH").arg(&key).arg("job"))
            .await
            .expect("LPUSH");
        let job: Option<String> = pool
            .command(redis::cmd("LPOP").arg(&key))
            .await
            .expect("LPOP");
        assert_eq!(job.as_deref(), Some("job"));
    }
    // A timeout of 0 on an exclusive connection too; one below the timeout goes.
    let mut conn = pool.exclusive().await.expect("exclusive");
    redis::cmd("BLPOP")
        .arg(&key)
        .arg(0)
        .query_async::<redis::Value>(&mut *conn)
        .await
        .expect_err("refused on an exclusive connection");
    let popped: Option<(String, String)> = redis::cmd("BLPOP")
        .arg(&key)
        .arg(0.1)
        .query_async(&mut *conn)
        .await
        .expect("a block below the timeout");
    assert_eq!(popped, None);
}

/// A blocking command whose call is dropped before its answer (a worker's `select!`
/// on shutdown) takes no element pushed once its connection is closed: the connection
/// is let go, not handed to the next caller still blocking on the server for the rest
/// of its block. Each of 10 jobs pushed 100 ms after a dropped `BLPOP ... 1` went to
/// it, unread. (Pushed at once, a job can still meet the block in the moment before
/// the server sees the connection close.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocking_command_whose_call_is_dropped_takes_no_element_pushed_after() {
    let pool = RedisPool::connect(&redis_config(&required_env("REDIS_URL"), &[]))
        .await
        .expect("connects");
    let key = format!("{}:jobs", prefix("blocking-dropped"));
    let blpop = redis::cmd("BLPOP").arg(&key).arg(1).clone();
    for job in 0..10 {
        let call = pool.command::<Option<(String, String)>>(&blpop);
        tokio::time::timeout(Duration::from_millis(50), call)
            .await
            .expect_err("the list is empty: the call is dropped");
        // Well within the BLPOP's 1 s block.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let _: u64 = pool
            .command(redis::cmd("LPUSH").arg(&key).arg(job))
            .await
            .expect("LPUSH");
        let popped: Option<i64> = pool
            .command(redis::cmd("LPOP").arg(&key))
            .await
            .expect("LPOP");
        assert_eq!(popped, Some(job), "the job pushed after the dropped BLPOP");
    }
}

/// A blocking command that times out while the server still blocks for it (its block
/// started late, behind another in its pipeline: each within the timeout, not both)
/// has its connection let go: the job pushed next is not taken by the block, unread.
#[tokio::test]
async fn a_blocking_command_that_timed_out_takes_no_element_pushed_after() {
    let pool = RedisPool::connect(&redis_config(
        &required_env("REDIS_URL"),
        &[("POOLSIDE_REDIS__COMMAND_TIMEOUT", "500ms")],
    ))
    .await
    .expect("connects");
    let key = format!("{}:jobs", prefix("blocking-timed-out"));
    // The second block ends 700 ms after the pipeline went, past its 500 ms timeout.
    let pipeline = redis::pipe()
        .cmd("BLPOP")
        .arg(format!("{key}:none"))
        .arg(0.3)
        .ignore()
        .cmd("BLPOP")
        .arg(&key)
        .arg(0.4)
        .clone();
    let error = pool
        .pipeline::<redis::Value>(&pipeline)
        .await
        .expect_err("answered after the timeout");
    assert_eq!(error.kind(), ErrorKind::Cancelled, "{error}");
    let _: u64 = pool
        .command(redis::cmd("LPUSH").arg(&key).arg("job"))
        .await
        .expect("LPUSH");
    let popped: Option<String> = pool
        .command(redis::cmd("LPOP").arg(&key))
        .await
        .expect("LPOP");
    assert_eq!(popped.as_deref(), Some("job"));
}

/// A command past `redis.command_timeout` fails as `Cancelled`, naming the key, and
/// the shared connection serves the next command.
#[tokio::test]
async fn a_command_past_the_command_timeout_is_cancelled_and_named() {
    let pool = RedisPool::connect(&redis_config(
        &required_env("REDIS_URL"),
        &[("POOLSIDE_REDIS__COMMAND_TIMEOUT", "100ms")],
    ))
    .await
    .expect("connects");
    let busy = "local t0 = redis.call('TIME') local s = t0[1] * 1000000 + t0[2] \
                while true do local t = redis.call('TIME') \
                if t[1] * 1000000 + t[2] - s > 300000 then break end end return 1";
    let started = Instant::now();
    let error = pool
        .command::<i64>(redis::cmd("EVAL").arg(busy).arg(0))
        .await
        .expect_err("300 ms of work with a 100 ms timeout");
    assert!(started.elapsed() < Duration::from_millis(250));
    assert_eq!(error.kind(), ErrorKind::Cancelled, "{error}");
    assert!(
        error.to_string().contains("redis.command_timeout"),
        "{error}"
    );
    assert_eq!(pool.stats().timeouts, 1);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let pong: String = pool.command(&redis::cmd("PING")).await.expect("ping");
    assert_eq!(pong, "PONG");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_past_the_queue_cap_fail_fast() {
    let pool = RedisPool::connect(&redis_config(
        &required_env("REDIS_URL"),
        &[("POOLSIDE_REDIS__MAX_QUEUED_COMMANDS", "5")],
    ))
    .await
    .expect("connects");
    // A script that holds the server for 300 ms, so the next commands queue behind it.
    let busy = "local t0 = redis.call('TIME') local s = t0[1] * 1000000 + t0[2] \
                while true do local t = redis.call('TIME') \
                if t[1] * 1000000 + t[2] - s > 300000 then break end end return 1";
    let blocker = {
        let pool = pool.clone();
        tokio::spawn(async move {
            pool.command::<i64>(redis::cmd("EVAL").arg(busy).arg(0))
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let pool = pool.clone();
            tokio::spawn(async move {
                let started = Instant::now();
                (
                    pool.command::<String>(&redis::cmd("PING")).await,
                    started.elapsed(),
                )
            })
        })
        .collect();
    let mut rejected = 0;
    for task in tasks {
        let (result, took) = task.await.expect("task");
        if let Err(e) = result {
            assert_eq!(e.kind(), ErrorKind::Overloaded, "{e}");
            assert!(
                took < Duration::from_millis(50),
                "refused at once, took {took:?}"
            );
            rejected += 1;
        }
    }
    assert_eq!(blocker.await.expect("task").expect("script"), 1);
    assert!(
        rejected >= 15,
        "only {rejected} of 20 refused with 5 allowed in flight"
    );
    assert_eq!(pool.stats().rejected, rejected);
}

#[tokio::test]
async fn server_info_reports_version_memory_and_clients() {
    let pool = RedisPool::connect(&redis_config(&required_env("REDIS_URL"), &[]))
        .await
        .expect("connects");
    let info = pool.server_info().await.expect("info");
    assert!(info.version.starts_with("7."), "{info:?}");
    assert!(
        info.used_memory_bytes > 0 && info.connected_clients >= 1,
        "{info:?}"
    );
}

#[tokio::test]
async fn a_subscriber_gets_messages_published_through_the_pool() {
    use futures_util::StreamExt;

    let pool = RedisPool::connect(&redis_config(&required_env("REDIS_URL"), &[]))
        .await
        .expect("connects");
    let channel = format!("{}:events", prefix("pubsub"));
    let mut subscriber = pool.pubsub().await.expect("pubsub");
    subscriber.subscribe(&channel).await.expect("subscribe");
    let receivers: i64 = pool
        .command(redis::cmd("PUBLISH").arg(&channel).arg("sale:42"))
        .await
        .expect("publish");
    assert_eq!(receivers, 1);
    let message = tokio::time::timeout(Duration::from_secs(2), subscriber.on_message().next())
        .await
        .expect("a message within 2 s")
        .expect("stream open");
    assert_eq!(message.get_payload::<String>().expect("payload"), "sale:42");
}

/// The services' Redis requires a password (`requirepass`), and has an ACL user that
/// may touch `acl:*` keys only and run no dangerous command. A missing or wrong
/// password fails at once as `Auth`, naming neither password; the ACL user's refusals
/// are `Query` errors (never retried) and leave the pool serving.
#[tokio::test]
async fn a_password_and_an_acl_user_are_required_and_enforced() {
    let url = required_env("REDIS_URL");
    let acl_url = required_env("REDIS_ACL_URL");
    let host = url.split_once('@').map(|(_, host)| host).expect("a host");
    let (acl_user, acl_password) = acl_url
        .strip_prefix("redis://")
        .and_then(|rest| rest.split_once('@'))
        .and_then(|(userinfo, _)| userinfo.split_once(':'))
        .expect("REDIS_ACL_URL names user and password");
    for (case, bad) in [
        ("no password", format!("redis://{host}")),
        (
            "wrong password",
            format!("redis://default:not-the-password@{host}"),
        ),
        (
            "wrong ACL password",
            format!("redis://{acl_user}:{acl_password}-wrong@{host}"),
        ),
    ] {
        let started = Instant::now();
        let result = match RedisPool::connect(&redis_config(&bad, &[])).await {
            Ok(pool) => pool.command::<String>(&redis::cmd("PING")).await.map(drop),
            Err(e) => Err(e),
        };
        let error = result.expect_err(case);
        assert_eq!(error.kind(), ErrorKind::Auth, "{case}: {error}");
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{case}: {:?}",
            started.elapsed()
        );
        let text = format!("{error} {error:?}");
        assert!(
            !text.contains(acl_password) && !text.contains("not-the-password"),
            "{text}"
        );
    }

    let pool = RedisPool::connect(&redis_config(&acl_url, &[]))
        .await
        .expect("the ACL user connects");
    let key = format!("acl:{}", prefix("acl"));
    let () = pool
        .command(redis::cmd("SET").arg(&key).arg("allowed"))
        .await
        .expect("acl:* is the ACL user's");
    for (case, cmd) in [
        (
            "another key",
            redis::cmd("SET").arg("not-acl:key").arg("x").clone(),
        ),
        ("a dangerous command", redis::cmd("FLUSHALL").clone()),
    ] {
        let error = pool.command::<redis::Value>(&cmd).await.expect_err(case);
        assert_eq!(error.kind(), ErrorKind::Query, "{case}: {error}");
        assert!(error.to_string().contains("ACL"), "{case}: {error}");
    }
    let value: String = pool
        .command(redis::cmd("GET").arg(&key))
        .await
        .expect("the pool still serves");
    assert_eq!(value, "allowed");
    let () = pool
        .command(redis::cmd("DEL").arg(&key))
        .await
        .expect("del");
}

/// A proxy to the services' Redis, and the URL that reaches Redis through it.
async fn proxied_redis() -> (FaultProxy, String) {
    FaultProxy::in_front_of(&required_env("REDIS_URL")).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_hanging_concurrent_commands_fail_within_one_connection_timeout() {
    let (proxy, url) = proxied_redis().await;
    proxy.set_mode(Mode::Stall);
    let pool =
        RedisPool::connect_lazy(&redis_config(&url, &[("REDIS_CONNECTION_TIMEOUT", "1000")]))
            .expect("builds");
    let started = Instant::now();
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let pool = pool.clone();
            tokio::spawn(async move {
                let result = pool.command::<String>(&redis::cmd("PING")).await;
                (result, started.elapsed())
            })
        })
        .collect();
    for task in tasks {
        let (result, elapsed) = task.await.expect("task");
        let err = result.expect_err("nothing answers");
        assert_eq!(err.kind(), ErrorKind::Connect, "{err}");
        assert!(
            elapsed < Duration::from_millis(2500),
            "a caller waited {elapsed:?}, well past one 1 s connection timeout: {err}"
        );
    }
    assert_eq!(
        proxy.accepted(),
        1,
        "one connect attempt for all ten callers"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_down_reconnects_are_spaced_by_a_doubling_delay() {
    let (proxy, url) = proxied_redis().await;
    proxy.set_mode(Mode::Refuse);
    let pool = RedisPool::connect_lazy(&redis_config(
        &url,
        &[("REDIS_RETRY_DELAY", "1000"), ("REDIS_MAX_RETRIES", "3")],
    ))
    .expect("builds");
    let ping = || async { pool.command::<String>(&redis::cmd("PING")).await };

    // Each mark is taken just after a failure, so the delay it starts ends before the
    // mark plus the delay, and not before three quarters of it (the jitter); the
    // checks keep hundreds of milliseconds from either edge.
    let err = ping().await.expect_err("Redis is down");
    let first = Instant::now();
    assert_eq!(err.kind(), ErrorKind::Connect, "{err}");
    assert_eq!(proxy.accepted(), 1);
    // Within the first delay (1 s): every command fails at once, and none connects.
    for _ in 0..50 {
        let err = ping().await.expect_err("held off");
        assert_eq!(err.kind(), ErrorKind::Connect, "{err}");
        assert!(err.to_string().contains("not reconnecting"), "{err}");
    }
    assert!(
        first.elapsed() < Duration::from_millis(500),
        "held-off commands fail at once: 50 took {:?}",
        first.elapsed()
    );
    assert_eq!(proxy.accepted(), 1, "no connect while held off");

    // Past it: one more attempt, which fails and doubles the delay to 2 s.
    tokio::time::sleep_until((first + Duration::from_millis(1100)).into()).await;
    ping().await.expect_err("still down");
    let second = Instant::now();
    assert_eq!(proxy.accepted(), 2);
    tokio::time::sleep_until((second + Duration::from_millis(800)).into()).await;
    let err = ping().await.expect_err("held off for 2 s this time");
    assert!(err.to_string().contains("2 failed connect"), "{err}");
    assert_eq!(proxy.accepted(), 2);

    // Redis is back: the next attempt, once the delay has passed, connects.
    proxy.set_mode(Mode::Pass);
    tokio::time::sleep_until((second + Duration::from_millis(2100)).into()).await;
    let pong = ping().await.expect("connects again");
    assert_eq!(pong, "PONG");
    assert_eq!(proxy.accepted(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkout_whose_check_takes_longer_than_100_ms_is_served() {
    // A waiter asks bb8 again while it waits (a connect that failed before it watched
    // would leave it waiting for one nobody starts), and each ask cuts short bb8's
    // check of the idle connection it was handing over. At a fixed 100 ms, on a
    // network with 150 ms one way (another region), no check ever finished and the
    // checkout timed out; at doubling pauses (100, 200, 400 ms) the third one does.
    let (proxy, url) = proxied_redis().await;
    let pool = RedisPool::connect(&redis_config(&url, &[("REDIS_CONNECTION_TIMEOUT", "3000")]))
        .await
        .expect("connects");
    drop(pool.exclusive().await.expect("a connection, left idle"));
    proxy.set_mode(Mode::Delay(Duration::from_millis(150)));
    let began = Instant::now();
    let conn = pool.exclusive().await;
    let took = began.elapsed();
    assert!(conn.is_ok(), "{:?} after {took:?}", conn.err());
    assert!(
        took >= Duration::from_millis(300),
        "the check's PING crosses the network both ways: {took:?}"
    );
    assert!(took < Duration::from_secs(1), "checked out in {took:?}");
    println!("checked out in {took:?}; {:?}", pool.stats());
}

/// Waits (up to a second) until Redis counts a client blocked, as a command of
/// another connection of the pool sees it.
async fn until_a_client_is_blocked(pool: &RedisPool) -> bool {
    for _ in 0..100 {
        let info: String = pool
            .command(redis::cmd("INFO").arg("clients"))
            .await
            .expect("INFO");
        if info.lines().any(|line| {
            line.strip_prefix("blocked_clients:")
                .is_some_and(|n| n.trim() != "0")
        }) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

/// A command that blocks until it is answered goes on a connection of its own: the
/// other callers' commands run while it waits. (On the shared connection, a `BLPOP
/// key 1` held every `GET` of the pool for its second, the `LPUSH` that would end it
/// too.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocking_command_holds_no_other_callers_command() {
    let pool = RedisPool::connect(&redis_config(&required_env("REDIS_URL"), &[]))
        .await
        .expect("connects");
    let key = format!("{}:jobs", prefix("blocking"));
    for way in ["command", "pipeline", "write_pipelines"] {
        let popped = {
            let (pool, key) = (pool.clone(), key.clone());
            tokio::spawn(async move {
                let blpop = redis::cmd("BLPOP").arg(&key).arg(1.5).clone();
                let pipeline = redis::pipe().add_command(blpop.clone()).clone();
                match way {
                    "command" => pool.command::<Option<(String, String)>>(&blpop).await,
                    "pipeline" => {
                        let (popped,) = pool
                            .pipeline::<(Option<(String, String)>,)>(&pipeline)
                            .await?;
                        Ok(popped)
                    }
                    _ => {
                        let mut answers = pool
                            .write_pipelines::<(Option<(String, String)>,)>(&[pipeline])
                            .await?;
                        Ok(answers.pop().and_then(|(popped,)| popped))
                    }
                }
            })
        };
        assert!(
            until_a_client_is_blocked(&pool).await,
            "the BLPOP is waiting"
        );
        let missing: Option<String> = pool
            .command(redis::cmd("GET").arg(format!("{key}:none")))
            .await
            .expect("GET");
        assert_eq!(missing, None);
        assert!(
            !popped.is_finished(),
            "the GET ran while the BLPOP waited ({way})"
        );
        let _: u64 = pool
            .command(redis::cmd("LPUSH").arg(&key).arg("job-1"))
            .await
            .expect("LPUSH");
        let popped = popped.await.expect("task").expect("BLPOP");
        assert_eq!(popped, Some((key.clone(), "job-1".to_owned())), "{way}");
    }
}
