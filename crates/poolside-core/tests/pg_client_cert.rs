//! Client certificates (`sslcert`, `sslkey`) to the real PostgreSQL, whose services
//! let one role in by certificate only (`cert` authentication, `DATABASE_CERT_URL`):
//! every path presents it, a missing or untrusted one is refused with advice, a pair
//! that does not match fails the pool at start, and a certificate renewed in place is
//! presented by new connections with no restart.

use poolside_core::{ErrorKind, PgError, PgPool, TransactionOptions};
use poolside_tests::mounted_file::first_success;
use poolside_tests::renewed_client_cert::RenewedClientCert;
use poolside_tests::{load_config, required_env};

/// `DATABASE_CERT_URL` presenting the certificate in `cert` with the key in `key`.
fn cert_url(cert: &str, key: &str) -> String {
    format!(
        "{}&sslcert={cert}&sslkey={key}",
        required_env("DATABASE_CERT_URL")
    )
}

fn pool(url: &str) -> Result<PgPool, PgError> {
    let config = load_config(&[
        ("DATABASE_URL", url),
        ("POOLSIDE_POSTGRES__MAX_SIZE", "4"),
        ("POOLSIDE_POSTGRES__READ_CONNECTIONS", "1"),
        ("POOLSIDE_POSTGRES__MIN_IDLE", "0"),
        ("POOLSIDE_POSTGRES__CONNECTION_TIMEOUT", "2s"),
    ])
    .config
    .postgres;
    PgPool::connect_lazy(&config)
}

const CLIENT_DN: &str = "SELECT client_dn FROM pg_stat_ssl WHERE pid = pg_backend_pid()";

#[tokio::test]
async fn every_path_presents_the_client_certificate() {
    let url = cert_url(
        &required_env("TLS_CLIENT_CERT"),
        &required_env("TLS_CLIENT_KEY"),
    );
    let pool = pool(&url).expect("a pool");
    let pipelined: String = pool
        .query_one(CLIENT_DN, &[])
        .await
        .expect("pipelined")
        .get(0);
    let batched: String = pool
        .read_query_one(CLIENT_DN, &[])
        .await
        .expect("batched")
        .get(0);
    let mut conn = pool.get().await.expect("exclusive");
    let exclusive: String = conn
        .query_one(CLIENT_DN, &[])
        .await
        .expect("exclusive")
        .get(0);
    drop(conn);
    let transaction: String = pool
        .transaction(TransactionOptions::default(), async |tx| {
            Ok(tx.query_one(CLIENT_DN, &[]).await?.get::<_, String>(0))
        })
        .await
        .expect("a transaction");
    for dn in [pipelined, batched, exclusive, transaction] {
        assert_eq!(dn, "/CN=poolside_cert");
    }
}

#[tokio::test]
async fn a_missing_or_untrusted_certificate_is_refused_with_advice() {
    let without = pool(&required_env("DATABASE_CERT_URL")).expect("a pool");
    let refused = without
        .query_one("SELECT 1", &[])
        .await
        .expect_err("cert authentication needs a certificate");
    assert_eq!(refused.kind(), ErrorKind::Auth, "{refused}");
    assert!(
        refused.to_string().contains("give sslcert and sslkey"),
        "{refused}"
    );

    let untrusted = pool(&cert_url(
        &required_env("TLS_OTHER_CLIENT_CERT"),
        &required_env("TLS_OTHER_CLIENT_KEY"),
    ))
    .expect("a pool");
    let refused = untrusted
        .query_one("SELECT 1", &[])
        .await
        .expect_err("a certificate the server's CA did not sign");
    assert_eq!(refused.kind(), ErrorKind::Connect, "{refused}");
    assert!(
        refused.to_string().contains("client certificate"),
        "{refused}"
    );
}

#[test]
fn a_certificate_and_a_key_that_are_no_pair_fail_the_pool_at_start() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let _inside = runtime.enter();
    let error = pool(&cert_url(
        &required_env("TLS_CLIENT_CERT"),
        &required_env("TLS_OTHER_CLIENT_KEY"),
    ))
    .expect_err("not a pair");
    assert_eq!(error.kind(), ErrorKind::Connect, "{error}");
    assert!(
        error
            .to_string()
            .contains("are not a certificate and its key"),
        "{error}"
    );
}

#[tokio::test]
async fn a_certificate_renewed_in_place_is_presented_by_new_connections() {
    let files = RenewedClientCert::refused_at_first("pg-client-cert");
    let pool = pool(&cert_url(
        &files.cert.display().to_string(),
        &files.key.display().to_string(),
    ))
    .expect("a pool");
    pool.query_one("SELECT 1", &[])
        .await
        .expect_err("the server's CA did not sign the first certificate");

    // The certificate is renewed: the new one first, then its key, as a secret's
    // files are replaced one by one.
    files.renew();
    let served = first_success(async || pool.query_one(CLIENT_DN, &[]).await).await;
    assert_eq!(
        served.map(|row| row.get::<_, String>(0)).as_deref(),
        Some("/CN=poolside_cert")
    );
}
