//! Every TCP connection to PostgreSQL opened for a pool, on each path (exclusive,
//! pipelined, batched reads), has keepalive on, its first probe due after a minute
//! idle where the driver's default is 2 h (seen as the kernel's keepalive timer on
//! each of this process's connections); a connection string's own `keepalives_idle`
//! wins. One test, so that the connections seen are its pools' alone.

use std::time::Duration;

use poolside_core::PgPool;
use poolside_tests::tcp_sockets::{OwnTcpSocket, own_tcp_sockets};
use poolside_tests::{required_env, services_config};

/// Uses every path of a pool on `url`, and returns this process's connections to its
/// port while they are idle.
async fn sockets_of_a_pool_on(url: &str) -> Vec<OwnTcpSocket> {
    let config = services_config(&[
        ("DATABASE_URL", url),
        ("POOLSIDE_POSTGRES__READ_CONNECTIONS", "1"),
    ]);
    let pool = PgPool::connect(&config.postgres)
        .await
        .expect("the pool connects");
    let mut exclusive = pool.get().await.expect("a connection");
    exclusive
        .query_one("SELECT 1", &[])
        .await
        .expect("exclusive");
    pool.query_one("SELECT 2", &[]).await.expect("pipelined");
    pool.read_query_one("SELECT 3::int4", &[])
        .await
        .expect("batched read");
    // Idle, so that the keepalive timer is the one pending.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let port = url::Url::parse(url).expect("a URL").port().expect("a port");
    let sockets: Vec<_> = own_tcp_sockets()
        .into_iter()
        .filter(|socket| socket.remote_port == port)
        .collect();
    drop(exclusive);
    pool.close(Duration::from_secs(2)).await;
    sockets
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_connection_to_postgres_probes_after_a_minute_idle_unless_the_url_says() {
    let url = required_env("DATABASE_URL");
    let sockets = sockets_of_a_pool_on(&url).await;
    assert!(
        sockets.len() >= 3,
        "an exclusive, a pipelined and a read connection: {sockets:?}"
    );
    assert!(
        sockets
            .iter()
            .all(|s| s.keepalive_timer && s.timer_left <= Duration::from_secs(60)),
        "each with keepalive due within 60 s: {sockets:?}"
    );

    let separator = if url.contains('?') { '&' } else { '?' };
    let own = format!("{url}{separator}keepalives_idle=600");
    let sockets: Vec<_> = sockets_of_a_pool_on(&own)
        .await
        .into_iter()
        // The first pool's, closed but perhaps not yet gone.
        .filter(|s| s.timer_left > Duration::from_secs(60))
        .collect();
    assert!(
        sockets.len() >= 3,
        "the URL's 600 s on each of the second pool's connections: {sockets:?}"
    );
}
