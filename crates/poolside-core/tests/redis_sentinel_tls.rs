//! `RedisPool` in `sentinel` mode over TLS (`rediss://` sentinel URLs), against the
//! TLS group `cargo xtask services up redis-sentinel` starts: a primary, a replica and
//! a sentinel that speak TLS to each other and to clients, so that the sentinel names
//! the primary by its TLS port, with the test CA's certificate for 127.0.0.1.
//!
//! The lookup of the primary (the sentinel client's own TLS) and the pool's
//! connections to it (poolside's TLS) present the URLs' client certificate, and follow
//! a failover the sentinel announces over TLS. A client certificate or a server
//! certificate from a CA the other side does not trust is refused, saying what to
//! check.

use std::time::{Duration, Instant};

use poolside_core::{ErrorKind, RedisConnection, RedisPool};
use poolside_tests::cluster_keys::sets_and_reads_back;
use poolside_tests::redis_pubsub::hears_its_own_publish;
use poolside_tests::{redis_sentinel_tls_config, required_env};

/// How long the sentinel may take to promote the replica, and the pool to follow.
const FAILOVER_WITHIN: Duration = Duration::from_secs(30);

/// A key unique to this run, with `name` in it.
fn key(name: &str) -> String {
    format!("sentinel-tls:{}:{name}", std::process::id())
}

/// A client of the TLS sentinel of its own (the redis crate's TLS, trusting the test
/// CA), to ask it what the pool is not asked.
fn sentinel() -> redis::Client {
    // The redis crate's TLS takes the process's crypto provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let url = required_env("REDIS_SENTINELS_TLS");
    let first = url.split(',').next().expect("a sentinel URL");
    let ca = std::fs::read(required_env("DATABASE_TLS_CA")).expect("the test CA");
    let certificates = redis::TlsCertificates {
        client_tls: None,
        root_cert: Some(ca),
    };
    redis::Client::build_with_tls(first, certificates).expect("a sentinel client")
}

/// The port the sentinel names the primary at (a TLS port).
async fn primary_port(sentinel: &redis::Client) -> u16 {
    let mut conn = sentinel
        .get_multiplexed_async_connection()
        .await
        .expect("the sentinel answers over TLS");
    let (_host, port): (String, u16) = redis::cmd("SENTINEL")
        .arg("get-master-addr-by-name")
        .arg(required_env("REDIS_MASTER_NAME_TLS"))
        .query_async(&mut conn)
        .await
        .expect("the sentinel names the primary");
    port
}

/// The local port of an exclusive connection of `pool`, as the server sees it
/// (`CLIENT INFO`'s `laddr`), and whether the server is a primary (`ROLE`); `None`
/// when the pool or the server fails.
async fn served_by(pool: &RedisPool) -> Option<(u16, bool)> {
    let mut conn = pool.exclusive().await.ok()?;
    assert!(matches!(&*conn, RedisConnection::Server(_)));
    let info: String = redis::cmd("CLIENT")
        .arg("INFO")
        .query_async(&mut *conn)
        .await
        .ok()?;
    let role: Vec<redis::Value> = redis::cmd("ROLE").query_async(&mut *conn).await.ok()?;
    let port = info
        .split(' ')
        .find_map(|field| field.strip_prefix("laddr="))
        .and_then(|addr| addr.rsplit_once(':'))
        .and_then(|(_, port)| port.parse().ok())
        .expect("CLIENT INFO gives laddr");
    let primary = role.first() == Some(&redis::Value::BulkString(b"master".to_vec()));
    Some((port, primary))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sentinel_group_over_tls_serves_every_path_and_follows_a_failover() {
    let pool = RedisPool::connect(&redis_sentinel_tls_config(
        "DATABASE_TLS_CA",
        Some("TLS_CLIENT"),
        &[],
    ))
    .await
    .expect("connects over TLS");
    let sentinel = sentinel();

    let before = primary_port(&sentinel).await;
    assert_eq!(
        served_by(&pool).await,
        Some((before, true)),
        "the pool's connections go to the TLS port the sentinel names"
    );
    sets_and_reads_back(&pool, &[key("before")]).await;
    hears_its_own_publish(&pool, &key("channel")).await;

    // The sentinel refuses a failover while the replica is not in sync yet (after a
    // failover of an earlier run): asked again until it takes it.
    let began = Instant::now();
    let mut conn = sentinel
        .get_multiplexed_async_connection()
        .await
        .expect("the sentinel answers over TLS");
    loop {
        let asked: redis::RedisResult<()> = redis::cmd("SENTINEL")
            .arg("FAILOVER")
            .arg(required_env("REDIS_MASTER_NAME_TLS"))
            .query_async(&mut conn)
            .await;
        match asked {
            Ok(()) => break,
            Err(e) if began.elapsed() < FAILOVER_WITHIN => {
                println!("SENTINEL FAILOVER: {e}; asking again");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => panic!("the sentinel did not fail over: {e}"),
        }
    }

    // The pool follows: its new connections go to the new primary's TLS port.
    let after = loop {
        let now = primary_port(&sentinel).await;
        if now != before
            && let Some((port, true)) = served_by(&pool).await
            && port == now
        {
            break now;
        }
        assert!(
            began.elapsed() < FAILOVER_WITHIN,
            "the pool did not reach the new primary within {FAILOVER_WITHIN:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    println!(
        "failed over from :{before} to :{after}; the pool followed in {} ms",
        began.elapsed().as_millis()
    );
    sets_and_reads_back(&pool, &[key("after")]).await;
    // The announcement came over TLS, from the sentinel the pool subscribes to.
    let topology = pool.topology().await.expect("the topology");
    assert!(topology.failovers >= 1, "{topology:?}");
}

#[tokio::test]
async fn an_untrusted_client_certificate_or_server_certificate_is_refused() {
    let timeout = [("POOLSIDE_REDIS__CONNECTION_TIMEOUT", "2s")];
    let config = redis_sentinel_tls_config("DATABASE_TLS_CA", Some("TLS_OTHER_CLIENT"), &timeout);
    let error = RedisPool::connect(&config)
        .await
        .expect_err("the sentinel's CA did not sign the client certificate");
    assert_eq!(error.kind(), ErrorKind::Connect, "{error}");
    let message = error.to_string();
    assert!(message.contains("over TLS"), "{message}");
    assert!(message.contains("sslcert"), "{message}");
    println!("{message}");

    let config = redis_sentinel_tls_config("DATABASE_TLS_OTHER_CA", None, &timeout);
    let error = RedisPool::connect(&config)
        .await
        .expect_err("the sentinel's certificate is not from the CA the URLs trust");
    assert_eq!(error.kind(), ErrorKind::Connect, "{error}");
    let message = error.to_string();
    assert!(
        message.contains("invalid peer certificate") && message.contains("sslrootcert"),
        "{message}"
    );
    assert!(!message.contains("poolside@"), "no password: {message}");
    println!("{message}");
}
