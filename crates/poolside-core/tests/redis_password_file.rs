//! `redis.password_file`: a Redis password rotated without a restart. The password is
//! read from the file for each new connection (the pool's, and the ones the cluster
//! client opens to its nodes by itself); connections already open stay authenticated.
//! One server: a private `redis-server` with an ACL user whose password is rotated.
//! A cluster and a Sentinel group: the same on every data node of the services' ones,
//! with a user of this test's own, deleted at the end (in the Sentinel group the
//! sentinels know the user too, with a password of their own that stays).

use std::path::PathBuf;
use std::time::Duration;

use poolside_config::RedisConfig;
use poolside_core::{ErrorKind, RedisPool};
use poolside_tests::mounted_file::replace_file;
use poolside_tests::private_redis::PrivateRedis;
use poolside_tests::redis_pubsub::hears_its_own_publish;
use poolside_tests::{redis_cluster_config, required_env};

const FIRST: &str = "f1rst-redis-passw0rd";
const SECOND: &str = "s3cond-redis-passw0rd";
const WRONG: &str = "wr0ng-redis-passw0rd";

/// A password file of this test's own, removed on drop.
struct PasswordFile(PathBuf);

impl PasswordFile {
    fn new(name: &str, password: &str) -> Self {
        let path = std::env::temp_dir().join(format!(
            "poolside-redis-password-{name}-{}",
            std::process::id()
        ));
        let file = Self(path);
        file.write(password);
        file
    }

    /// Writes `password` as a secret's volume does.
    fn write(&self, password: &str) {
        replace_file(&self.0, format!("{password}\n").as_bytes());
    }

    fn path(&self) -> String {
        self.0.display().to_string()
    }
}

impl Drop for PasswordFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// `ACL SETUSER` of `user`, on, with `password` only, over every key, channel and
/// command.
fn acl_user(user: &str, password: &str) -> Vec<String> {
    [
        "ACL",
        "SETUSER",
        user,
        "on",
        &format!(">{password}"),
        "~*",
        "&*",
        "+@all",
    ]
    .map(str::to_owned)
    .to_vec()
}

/// `ACL SETUSER` giving `user` the password `to` in place of `from`.
fn rotation(user: &str, from: &str, to: &str) -> Vec<String> {
    [
        "ACL",
        "SETUSER",
        user,
        &format!(">{to}"),
        &format!("<{from}"),
    ]
    .map(str::to_owned)
    .to_vec()
}

fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// `urls` (comma-separated) with `user` and `password` (none: no password) in each.
fn as_user(urls: &str, user: &str, password: Option<&str>) -> String {
    urls.split(',')
        .map(|url| {
            let mut url = url::Url::parse(url).expect("a URL");
            url.set_username(user).expect("a user");
            url.set_password(password).expect("a password");
            url.to_string()
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// `config` loaded from `vars` with the services' `DATABASE_URL`.
fn redis_config(vars: &[(&str, &str)]) -> RedisConfig {
    let pg = required_env("DATABASE_URL");
    let mut all = vec![("DATABASE_URL", pg.as_str())];
    all.extend_from_slice(vars);
    poolside_tests::load_config(&all)
        .config
        .redis
        .expect("a redis section")
}

/// The user the pool's commands run as.
async fn whoami(pool: &RedisPool) -> Result<String, poolside_core::RedisError> {
    pool.command(redis::cmd("ACL").arg("WHOAMI")).await
}

/// A moment for the pool's side to see the connections that Redis closed (`CLIENT
/// KILL`) end, as it would long before a command came in a real service. A command
/// sent on a closed connection before its end is seen fails as `Connect`, maybe
/// sent, and the pool rightly does not send it again: that race is not what these
/// tests check, and a busy machine meets it.
async fn pool_sees_the_kill() {
    tokio::time::sleep(Duration::from_millis(200)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_server_takes_a_rotated_password_for_new_connections() {
    let redis = PrivateRedis::start("password-file", &[]);
    let user = "rotating";
    redis
        .cli(&strs(&acl_user(user, FIRST)))
        .expect("ACL SETUSER");
    let file = PasswordFile::new("single", FIRST);
    let url = format!("{}?user={user}", redis.url());
    let path = file.path();
    let pool = RedisPool::connect(&redis_config(&[
        ("POOLSIDE_REDIS__URL", &url),
        ("POOLSIDE_REDIS__PASSWORD_FILE", &path),
        ("POOLSIDE_REDIS__RETRY_DELAY", "100ms"),
    ]))
    .await
    .expect("connects with the file's password");
    assert_eq!(whoami(&pool).await.expect("ACL WHOAMI"), user);

    // The operator rotates: the server takes the new password only, the file gets it.
    redis
        .cli(&strs(&rotation(user, FIRST, SECOND)))
        .expect("rotates");
    file.write(SECOND);
    assert_eq!(
        whoami(&pool)
            .await
            .expect("the open connection stays authenticated"),
        user
    );
    // Every connection closed: the next ones authenticate with the new password.
    redis
        .cli(&["CLIENT", "KILL", "USER", user])
        .expect("CLIENT KILL");
    pool_sees_the_kill().await;
    assert_eq!(whoami(&pool).await.expect("a new shared connection"), user);
    let mut exclusive = pool.exclusive().await.expect("a new exclusive connection");
    let me: String = redis::cmd("ACL")
        .arg("WHOAMI")
        .query_async(&mut *exclusive)
        .await
        .expect("ACL WHOAMI");
    assert_eq!(me, user);
    drop(exclusive);
    hears_its_own_publish(&pool, "rotation").await;
    assert_eq!(pool.stats().errors, 0, "{:?}", pool.stats());

    // A file holding a password the server does not take: new connections fail as
    // Auth, naming the file, never the password.
    file.write(WRONG);
    redis
        .cli(&["CLIENT", "KILL", "USER", user])
        .expect("CLIENT KILL");
    pool_sees_the_kill().await;
    let error = whoami(&pool)
        .await
        .expect_err("the file's password is refused");
    assert_eq!(error.kind(), ErrorKind::Auth, "{error}");
    let message = error.to_string();
    assert!(
        message.contains("redis.password_file") && message.contains(&path),
        "{message}"
    );
    for password in [FIRST, SECOND, WRONG] {
        assert!(!message.contains(password), "{message}");
    }
    // Set right again: served once the reconnect delay has passed.
    file.write(SECOND);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(whoami(&pool).await.expect("the right password again"), user);
}

/// Runs `args` on every node of the services' cluster, as its `default` user.
async fn on_every_node(args: &[&str]) {
    let urls = required_env("REDIS_CLUSTER_NODES");
    on_each(&urls.split(',').collect::<Vec<_>>(), args).await;
}

/// Runs `args` on each of `urls`' servers.
async fn on_each(urls: &[&str], args: &[&str]) {
    for url in urls {
        let client = redis::Client::open(*url).expect("a node's URL");
        let mut conn = client
            .get_multiplexed_async_connection()
            .await
            .expect("connects to the node");
        let _: redis::Value = redis::cmd(args[0])
            .arg(&args[1..])
            .query_async(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{args:?} on {url}: {e}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_takes_a_rotated_password_for_the_nodes_it_reconnects() {
    let user = format!("poolside-rotating-{}", std::process::id());
    on_every_node(&strs(&acl_user(&user, FIRST))).await;
    let file = PasswordFile::new("cluster", FIRST);
    // The services' node URLs, with this user and no password.
    let nodes = as_user(&required_env("REDIS_CLUSTER_NODES"), &user, None);
    let path = file.path();
    let defaults = redis_cluster_config(&[]);
    assert!(defaults.cluster_nodes.len() > 1, "the services' cluster");
    let pool = RedisPool::connect(&redis_config(&[
        ("POOLSIDE_REDIS__MODE", "cluster"),
        ("POOLSIDE_REDIS__CLUSTER_NODES", &nodes),
        ("POOLSIDE_REDIS__PASSWORD_FILE", &path),
    ]))
    .await
    .expect("connects with the file's password");
    let keys: Vec<String> = (0..50)
        .map(|i| format!("password-file:{}:{i}", std::process::id()))
        .collect();
    let set_all = |pool: RedisPool, keys: Vec<String>| async move {
        for k in &keys {
            let () = pool
                .command(redis::cmd("SET").arg(k).arg(1).arg("PX").arg(60_000))
                .await?;
        }
        Ok::<_, poolside_core::RedisError>(())
    };
    set_all(pool.clone(), keys.clone())
        .await
        .expect("SET over every primary");

    on_every_node(&strs(&rotation(&user, FIRST, SECOND))).await;
    file.write(SECOND);
    // Every node closes this user's connections: the cluster client opens them again
    // by itself, with the password of now.
    on_every_node(&["CLIENT", "KILL", "USER", &user]).await;
    let mut last = None;
    for _ in 0..3 {
        match set_all(pool.clone(), keys.clone()).await {
            Ok(()) => {
                last = None;
                break;
            }
            // A command in flight when its node closed the connection.
            Err(e) => last = Some(e),
        }
    }
    assert!(last.is_none(), "after the rotation: {last:?}");
    let got: Vec<Option<u32>> = pool
        .command(redis::cmd("MGET").arg(&keys))
        .await
        .expect("MGET across slots");
    assert!(got.iter().all(|v| *v == Some(1)), "{got:?}");
    let _: u64 = pool
        .command(redis::cmd("UNLINK").arg(&keys))
        .await
        .expect("UNLINK");
    pool.close(Duration::from_secs(2)).await;
    on_every_node(&["ACL", "DELUSER", &user]).await;
}

/// The services' Sentinel group: its sentinels' URLs (as the `default` user), and its
/// data nodes' (the primary's, then its replicas', from `ROLE`).
async fn sentinel_group() -> (Vec<String>, Vec<String>) {
    let sentinels: Vec<String> = required_env("REDIS_SENTINELS")
        .split(',')
        .map(str::to_owned)
        .collect();
    let client = redis::Client::open(sentinels[0].as_str()).expect("a sentinel's URL");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("connects to a sentinel");
    let (host, port): (String, u16) = redis::cmd("SENTINEL")
        .arg("get-master-addr-by-name")
        .arg(required_env("REDIS_MASTER_NAME"))
        .query_async(&mut conn)
        .await
        .expect("the primary's address");
    let password = url::Url::parse(&sentinels[0])
        .expect("a URL")
        .password()
        .expect("the services' password")
        .to_owned();
    let node = |host: &str, port: u16| format!("redis://default:{password}@{host}:{port}");
    let primary = node(&host, port);
    let mut conn = redis::Client::open(primary.as_str())
        .expect("the primary's URL")
        .get_multiplexed_async_connection()
        .await
        .expect("connects to the primary");
    let role: (String, u64, Vec<(String, String, String)>) = redis::cmd("ROLE")
        .query_async(&mut conn)
        .await
        .expect("the primary's ROLE");
    let mut data = vec![primary];
    data.extend(
        role.2
            .iter()
            .map(|(host, port, _)| node(host, port.parse().expect("a port"))),
    );
    (sentinels, data)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sentinel_group_takes_a_rotated_password_for_its_primary() {
    const SENTINEL_PASSWORD: &str = "s3ntinel-passw0rd";
    let user = format!("poolside-rotating-s-{}", std::process::id());
    let (sentinels, data) = sentinel_group().await;
    let sentinels: Vec<&str> = sentinels.iter().map(String::as_str).collect();
    let data: Vec<&str> = data.iter().map(String::as_str).collect();
    assert!(data.len() > 1, "a primary and its replica: {data:?}");
    on_each(
        &sentinels,
        &[
            "ACL",
            "SETUSER",
            &user,
            "on",
            &format!(">{SENTINEL_PASSWORD}"),
            "+@all",
        ],
    )
    .await;
    on_each(&data, &strs(&acl_user(&user, FIRST))).await;
    let file = PasswordFile::new("sentinel", FIRST);
    let sentinel_urls = as_user(&sentinels.join(","), &user, Some(SENTINEL_PASSWORD));
    let path = file.path();
    let master = required_env("REDIS_MASTER_NAME");
    let pool = RedisPool::connect(&redis_config(&[
        ("POOLSIDE_REDIS__MODE", "sentinel"),
        ("POOLSIDE_REDIS__SENTINELS", &sentinel_urls),
        ("POOLSIDE_REDIS__MASTER_NAME", &master),
        ("POOLSIDE_REDIS__PASSWORD_FILE", &path),
    ]))
    .await
    .expect("connects with the file's password");
    assert_eq!(whoami(&pool).await.expect("ACL WHOAMI"), user);

    on_each(&data, &strs(&rotation(&user, FIRST, SECOND))).await;
    file.write(SECOND);
    on_each(&data, &["CLIENT", "KILL", "USER", &user]).await;
    pool_sees_the_kill().await;
    assert_eq!(whoami(&pool).await.expect("a new shared connection"), user);
    let mut exclusive = pool.exclusive().await.expect("a new exclusive connection");
    let role: Vec<redis::Value> = redis::cmd("ROLE")
        .query_async(&mut *exclusive)
        .await
        .expect("ROLE");
    assert_eq!(
        role.first(),
        Some(&redis::Value::BulkString(b"master".to_vec())),
        "on the primary"
    );
    drop(exclusive);
    hears_its_own_publish(&pool, "rotation").await;
    assert_eq!(pool.stats().errors, 0, "{:?}", pool.stats());
    pool.close(Duration::from_secs(2)).await;
    on_each(&data, &["ACL", "DELUSER", &user]).await;
    on_each(&sentinels, &["ACL", "DELUSER", &user]).await;
}
