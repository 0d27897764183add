//! `RedisPool` over TLS (`rediss://`) to the services' Redis, whose TLS port serves the
//! test CA's certificate for 127.0.0.1: commands, an exclusive connection and a
//! subscriber all go over it; a connection the server closes is let go before a
//! command is sent on it, as over plain TCP; a certificate from a CA the URL does
//! not trust is refused, saying what to check; and a CA file updated in place is read
//! again for new connections. A client certificate (`sslcert`, `sslkey`) is
//! presented, and renewed in place without a restart: the server
//! (`tls-auth-clients optional`) refuses one its CA did not sign.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use poolside_core::{ErrorKind, RedisPool};
use poolside_tests::mounted_file::{first_success, replace_file};
use poolside_tests::renewed_client_cert::RenewedClientCert;
use poolside_tests::{redis_config, required_env};

/// `REDIS_TLS_URL` trusting the CA file in variable `ca`.
fn tls_url(ca: &str) -> String {
    format!(
        "{}?sslrootcert={}",
        required_env("REDIS_TLS_URL"),
        required_env(ca)
    )
}

/// The key prefix of this test run.
fn prefix(test: &str) -> String {
    format!("poolside-test:{}:{test}", std::process::id())
}

/// The `host:port` of `REDIS_TLS_URL`, as `CLIENT LIST` shows it in `laddr`.
fn tls_addr() -> String {
    let url = required_env("REDIS_TLS_URL");
    let url = url::Url::parse(&url).expect("REDIS_TLS_URL parses");
    format!(
        "{}:{}",
        url.host_str().expect("a host"),
        url.port().expect("a port")
    )
}

/// Clients connected to the TLS port now, by `CLIENT LIST` over the plain one.
async fn tls_clients(plain: &RedisPool) -> usize {
    let list: String = plain
        .command(redis::cmd("CLIENT").arg("LIST"))
        .await
        .expect("CLIENT LIST");
    let laddr = format!("laddr={} ", tls_addr());
    list.lines().filter(|line| line.contains(&laddr)).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_exclusive_connections_and_subscribers_go_over_tls() {
    let pool = RedisPool::connect(&redis_config(&tls_url("DATABASE_TLS_CA"), &[]))
        .await
        .expect("connects over TLS");
    let plain = RedisPool::connect(&redis_config(&required_env("REDIS_URL"), &[]))
        .await
        .expect("connects");
    let key = prefix("tls");
    let () = pool
        .command(redis::cmd("SET").arg(&key).arg("v"))
        .await
        .expect("set");
    let mut exclusive = pool.exclusive().await.expect("an exclusive connection");
    let got: String = redis::cmd("GET")
        .arg(&key)
        .query_async(&mut *exclusive)
        .await
        .expect("get");
    assert_eq!(got, "v");
    drop(exclusive);
    assert!(
        tls_clients(&plain).await >= 2,
        "the pool's connections are on the TLS port"
    );

    let channel = prefix("tls-channel");
    let mut subscriber = pool.pubsub().await.expect("a subscriber over TLS");
    subscriber.subscribe(&channel).await.expect("subscribes");
    let published: i64 = pool
        .command(redis::cmd("PUBLISH").arg(&channel).arg("hello"))
        .await
        .expect("publish");
    assert_eq!(published, 1);
    let message = tokio::time::timeout(Duration::from_secs(5), subscriber.on_message().next())
        .await
        .expect("the message arrives")
        .expect("a message");
    assert_eq!(message.get_payload::<String>().expect("text"), "hello");
    drop(subscriber);

    // The server closes every TLS connection; the next commands go out on new ones.
    let _: i64 = plain
        .command(
            redis::cmd("CLIENT")
                .arg("KILL")
                .arg("LADDR")
                .arg(tls_addr()),
        )
        .await
        .expect("kills the TLS clients");
    let began = Instant::now();
    while tls_clients(&plain).await > 0 {
        assert!(began.elapsed() < Duration::from_secs(5), "TLS clients stay");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let errors = pool.stats().errors;
    let got: String = pool
        .command(redis::cmd("GET").arg(&key))
        .await
        .expect("a command after the server closed the connection");
    assert_eq!(got, "v");
    assert_eq!(pool.stats().errors, errors, "no command met the closed one");
    let () = pool
        .command(redis::cmd("DEL").arg(&key))
        .await
        .expect("del");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_the_url_does_not_trust_is_refused_with_what_to_check() {
    let error = RedisPool::connect(&redis_config(
        &tls_url("DATABASE_TLS_OTHER_CA"),
        &[("REDIS_CONNECTION_TIMEOUT", "2000")],
    ))
    .await
    .expect_err("the server's certificate is from the test CA, not this one");
    assert_eq!(error.kind(), ErrorKind::Connect, "{error}");
    for part in ["TLS handshake", "sslrootcert"] {
        assert!(error.to_string().contains(part), "{part:?} in: {error}");
    }
}

/// A pool on `url` that connects on first use and retries connects 100 ms apart.
fn lazy_pool(url: &str) -> RedisPool {
    RedisPool::connect_lazy(&redis_config(
        url,
        &[
            ("REDIS_CONNECTION_TIMEOUT", "2000"),
            ("POOLSIDE_REDIS__RETRY_DELAY", "100ms"),
        ],
    ))
    .expect("a pool, not connected yet")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ca_file_updated_in_place_is_trusted_by_new_connections() {
    let ca = std::fs::read(required_env("DATABASE_TLS_CA")).expect("the test CA");
    let other_ca = std::fs::read(required_env("DATABASE_TLS_OTHER_CA")).expect("another CA");
    let file = std::env::temp_dir().join(format!("poolside-redis-ca-{}.pem", std::process::id()));
    let write = |pem: &[u8]| replace_file(&file, pem);
    write(&other_ca);
    let url = format!(
        "{}?sslrootcert={}",
        required_env("REDIS_TLS_URL"),
        file.display()
    );
    let pool = lazy_pool(&url);
    let refused = pool
        .command::<String>(&redis::cmd("PING"))
        .await
        .expect_err("the file holds another CA only");
    assert!(refused.to_string().contains("TLS handshake"), "{refused}");

    // The operator adds the server's CA to the bundle: no restart.
    write(&[other_ca.as_slice(), ca.as_slice()].concat());
    let served = first_success(async || pool.command::<String>(&redis::cmd("PING")).await).await;
    assert_eq!(
        served.as_deref(),
        Some("PONG"),
        "served once the bundle has the CA"
    );
    let _ = std::fs::remove_file(&file);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_certificate_is_presented_and_renewed_in_place() {
    let files = RenewedClientCert::refused_at_first("redis-client-cert");
    let url = format!("{}&{}", tls_url("DATABASE_TLS_CA"), files.params());
    let pool = lazy_pool(&url);
    files.refused_then_served_when_renewed(&pool).await;
    let mut conn = pool.exclusive().await.expect("an exclusive connection");
    let pong: String = redis::cmd("PING")
        .query_async(&mut *conn)
        .await
        .expect("PING on it");
    assert_eq!(pong, "PONG");
}
