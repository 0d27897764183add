//! `RedisPool` in `cluster` mode over TLS (`rediss://`), against the cluster that
//! `cargo xtask services up redis-cluster` starts: its nodes serve TLS beside plain
//! TCP, with the test CA's certificate for 127.0.0.1, and answer a TLS client with
//! their TLS ports (in `CLUSTER NODES`, MOVED and ASK). Commands over every slot, a
//! multi-key command split by slot, an exclusive connection, a subscriber and the
//! topology all go over TLS; a certificate from a CA the URLs do not trust is
//! refused, saying so. A client certificate (`sslcert`, `sslkey`) goes to every node,
//! which refuses one its CA did not sign (`tls-auth-clients optional`); one renewed in
//! place reaches the pool's new cluster connections with no restart.

use poolside_core::{ErrorKind, RedisConnection, RedisPool};
use poolside_tests::cluster_keys::sets_and_reads_back;
use poolside_tests::redis_pubsub::hears_its_own_publish;
use poolside_tests::renewed_client_cert::RenewedClientCert;
use poolside_tests::{redis_cluster_tls_config, redis_cluster_tls_config_with, required_env};

/// A key unique to this run, with `i` in it.
fn key(i: usize) -> String {
    format!("cluster-tls:{}:{i}", std::process::id())
}

/// The nodes' TLS ports, from `REDIS_CLUSTER_TLS_NODES`.
fn tls_ports() -> Vec<u16> {
    required_env("REDIS_CLUSTER_TLS_NODES")
        .split(',')
        .map(|url| url::Url::parse(url).expect("a URL").port().expect("a port"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_over_tls_serves_every_path() {
    let pool = RedisPool::connect(&redis_cluster_tls_config("DATABASE_TLS_CA", None, &[]))
        .await
        .expect("connects over TLS");

    let keys: Vec<String> = (0..100).map(key).collect();
    sets_and_reads_back(&pool, &keys).await;

    let mut conn = pool.exclusive().await.expect("an exclusive connection");
    assert!(matches!(&*conn, RedisConnection::Cluster(_)));
    let deleted: u64 = redis::cmd("UNLINK")
        .arg(&keys)
        .query_async(&mut *conn)
        .await
        .expect("UNLINK across slots");
    assert_eq!(deleted, 100);
    drop(conn);

    // The nodes answer a TLS client with their TLS ports: every node the cluster
    // client learnt, it reaches over TLS.
    let topology = pool.topology().await.expect("the topology");
    assert_eq!(
        topology.cluster_state.as_deref(),
        Some("ok"),
        "{topology:?}"
    );
    let tls = tls_ports();
    assert_eq!(topology.nodes.len(), tls.len(), "{topology:?}");
    for node in &topology.nodes {
        let port: u16 = node
            .address
            .rsplit_once(':')
            .and_then(|(_, port)| port.parse().ok())
            .expect("host:port");
        assert!(tls.contains(&port), "{} is not a TLS port", node.address);
    }

    hears_its_own_publish(&pool, &key(1000)).await;
    assert_eq!(pool.stats().errors, 0, "{:?}", pool.stats());
}

#[tokio::test]
async fn a_certificate_from_another_ca_is_refused() {
    let config = redis_cluster_tls_config(
        "DATABASE_TLS_OTHER_CA",
        None,
        &[("POOLSIDE_REDIS__CONNECTION_TIMEOUT", "2s")],
    );
    let error = RedisPool::connect(&config)
        .await
        .expect_err("the nodes' certificate is not from the CA the URLs trust");
    assert_eq!(error.kind(), ErrorKind::Connect, "{error}");
    let message = error.to_string();
    assert!(message.contains("over TLS"), "{message}");
    assert!(
        message.contains("invalid peer certificate")
            && message.contains("sslrootcert names the CA that signed"),
        "{message}"
    );
    assert!(!message.contains("maxclients"), "{message}");
    assert!(!message.contains("poolside@"), "no password: {message}");
    println!("{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_certificate_goes_to_every_node_and_an_untrusted_one_is_refused() {
    let pool = RedisPool::connect(&redis_cluster_tls_config(
        "DATABASE_TLS_CA",
        Some("TLS_CLIENT"),
        &[],
    ))
    .await
    .expect("connects with the client certificate");
    // 100 keys cover the slots of every primary.
    let keys: Vec<String> = (2000..2100).map(key).collect();
    sets_and_reads_back(&pool, &keys).await;
    let deleted: u64 = pool
        .command(redis::cmd("UNLINK").arg(&keys))
        .await
        .expect("UNLINK across slots");
    assert_eq!(deleted, 100);

    // The nodes check a certificate they are given: one from another CA is refused.
    let config = redis_cluster_tls_config(
        "DATABASE_TLS_CA",
        Some("TLS_OTHER_CLIENT"),
        &[("POOLSIDE_REDIS__CONNECTION_TIMEOUT", "2s")],
    );
    let error = RedisPool::connect(&config)
        .await
        .expect_err("the nodes did not sign this client certificate");
    assert_eq!(error.kind(), ErrorKind::Connect, "{error}");
    assert!(error.to_string().contains("sslcert"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_certificate_renewed_in_place_reaches_new_cluster_connections() {
    let files = RenewedClientCert::refused_at_first("redis-cluster-client-cert");
    let params = format!(
        "sslrootcert={}&{}",
        required_env("DATABASE_TLS_CA"),
        files.params()
    );
    let pool = RedisPool::connect_lazy(&redis_cluster_tls_config_with(
        &params,
        &[
            ("POOLSIDE_REDIS__CONNECTION_TIMEOUT", "2s"),
            ("POOLSIDE_REDIS__RETRY_DELAY", "100ms"),
        ],
    ))
    .expect("a pool, not connected yet");
    files.refused_then_served_when_renewed(&pool).await;
    // 100 keys cover the slots of every primary: each node took the certificate.
    let keys: Vec<String> = (3000..3100).map(key).collect();
    sets_and_reads_back(&pool, &keys).await;
    hears_its_own_publish(
        &pool,
        &format!("cluster-tls-renewed:{}", std::process::id()),
    )
    .await;

    // A connection opened with these files goes back to the pool; then the files
    // change again. It is not handed out any more (it would reconnect a node with
    // the files it was opened with): a new one opens, with the files of now, which
    // the nodes refuse.
    drop(pool.exclusive().await.expect("an exclusive connection"));
    files.replace_with_refused();
    let error = pool
        .exclusive()
        .await
        .expect_err("no connection opened with the replaced files");
    assert_eq!(error.kind(), ErrorKind::Connect, "{error}");
}
