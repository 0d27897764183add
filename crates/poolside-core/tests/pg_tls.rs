//! TLS to the real PostgreSQL (`ssl=on` with a certificate from the test CA that
//! `cargo xtask services` makes), with rustls, for every libpq `sslmode`: the session is
//! encrypted when asked (`pg_stat_ssl`), a certificate from an untrusted CA or for
//! another host is refused at once where the mode checks it, and cancel requests travel
//! the same way. The batched read path's own connections are checked alike. A CA file
//! updated in place is read again for new connections.

use std::time::{Duration, Instant};

use poolside_core::{ErrorKind, PgError, PgPool};
use poolside_tests::mounted_file::{first_success, replace_file};
use poolside_tests::{load_config, required_env, statements_running};

/// `DATABASE_URL` with `params` added to its query string.
fn url_with(params: &str) -> String {
    let url = required_env("DATABASE_URL");
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}{params}")
}

/// The services' connection as a key/value string naming `host` but connecting to
/// 127.0.0.1 (`hostaddr`), with `params` appended.
fn key_value_with(host: &str, params: &str) -> String {
    let url = required_env("DATABASE_URL");
    let (userinfo, rest) = url
        .strip_prefix("postgres://")
        .and_then(|rest| rest.split_once('@'))
        .expect("postgres://user:password@host:port/db");
    let (user, password) = userinfo.split_once(':').expect("user:password");
    let (host_port, db) = rest.split_once('/').expect("host:port/db");
    let port = host_port.rsplit_once(':').map_or("5432", |(_, port)| port);
    format!(
        "host={host} hostaddr=127.0.0.1 port={port} user={user} password={password} dbname={db} {params}"
    )
}

async fn pool(url: &str) -> Result<PgPool, PgError> {
    let config = load_config(&[
        ("DATABASE_URL", url),
        ("POOLSIDE_POSTGRES__MAX_SIZE", "4"),
        ("POOLSIDE_POSTGRES__READ_CONNECTIONS", "1"),
        ("POOLSIDE_POSTGRES__MIN_IDLE", "1"),
        ("POOLSIDE_POSTGRES__CONNECTION_TIMEOUT", "5s"),
    ])
    .config
    .postgres;
    PgPool::connect(&config).await
}

/// Whether the pool's sessions are encrypted, asked on every path (the batched read
/// path opens its connections itself).
async fn encrypted(pool: &PgPool) -> bool {
    let sql = "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()";
    let pipelined: bool = pool.query_one(sql, &[]).await.expect("pipelined").get(0);
    let batched: bool = pool.read_query_one(sql, &[]).await.expect("batched").get(0);
    let mut conn = pool.get().await.expect("exclusive");
    let exclusive: bool = conn.query_one(sql, &[]).await.expect("exclusive").get(0);
    assert_eq!((pipelined, batched), (exclusive, exclusive));
    exclusive
}

#[tokio::test]
async fn each_sslmode_encrypts_as_libpq_would() {
    let ca = required_env("DATABASE_TLS_CA");
    for (params, expected) in [
        ("sslmode=disable".to_owned(), false),
        // No sslmode: libpq's default, prefer, which takes TLS when offered.
        ("application_name=poolside-tls".to_owned(), true),
        ("sslmode=prefer".to_owned(), true),
        ("sslmode=require".to_owned(), true),
        (format!("sslmode=verify-ca&sslrootcert={ca}"), true),
        (format!("sslmode=verify-full&sslrootcert={ca}"), true),
    ] {
        let pool = pool(&url_with(&params))
            .await
            .unwrap_or_else(|e| panic!("{params}: {e}"));
        assert_eq!(encrypted(&pool).await, expected, "{params}");
    }
}

#[tokio::test]
async fn verify_full_checks_the_ca_and_the_host_and_fails_at_once() {
    let ca = required_env("DATABASE_TLS_CA");
    let other_ca = required_env("DATABASE_TLS_OTHER_CA");
    // The certificate is for localhost and 127.0.0.1.
    let localhost = url_with(&format!("sslmode=verify-full&sslrootcert={ca}"))
        .replace("@127.0.0.1:", "@localhost:");
    assert!(localhost.contains("@localhost:"), "{localhost}");
    let by_name = pool(&localhost)
        .await
        .expect("localhost is in the certificate");
    assert!(encrypted(&by_name).await);

    for (case, conn, expected) in [
        (
            "an untrusted CA",
            url_with(&format!("sslmode=verify-full&sslrootcert={other_ca}")),
            "certificate",
        ),
        (
            "another host's name",
            key_value_with(
                "db.example.invalid",
                &format!("sslmode=verify-full sslrootcert={ca}"),
            ),
            "certificate",
        ),
    ] {
        let started = Instant::now();
        let error = pool_error(&conn).await;
        assert_eq!(error.kind(), ErrorKind::Connect, "{case}: {error}");
        assert!(
            error.to_string().to_lowercase().contains(expected),
            "{case}: {error}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{case}: refused in {:?}, not at the timeout",
            started.elapsed()
        );
    }

    // verify-ca trusts the CA whatever name the certificate is for.
    let pool = pool(&key_value_with(
        "db.example.invalid",
        &format!("sslmode=verify-ca sslrootcert={ca}"),
    ))
    .await
    .expect("verify-ca does not check the name");
    assert!(encrypted(&pool).await);
}

async fn pool_error(conn: &str) -> PgError {
    match pool(conn).await {
        Ok(_) => panic!("connected: {conn}"),
        Err(e) => e,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_over_tls_is_cancelled_on_the_server() {
    let ca = required_env("DATABASE_TLS_CA");
    let config = load_config(&[
        (
            "DATABASE_URL",
            &url_with(&format!("sslmode=verify-full&sslrootcert={ca}")),
        ),
        ("POOLSIDE_POSTGRES__QUERY_TIMEOUT", "300ms"),
        ("POOLSIDE_POSTGRES__READ_CONNECTIONS", "1"),
    ])
    .config
    .postgres;
    let pool = PgPool::connect(&config).await.expect("connects");
    // The batched read path cancels a batch past the timeout with its own request.
    let marker = "poolside_tls_read_cancel_test";
    let error = pool
        .read_query(&format!("SELECT pg_sleep(5), '{marker}'"), &[])
        .await
        .expect_err("past the query timeout");
    assert_eq!(error.kind(), ErrorKind::Cancelled, "{error}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        statements_running(marker).await,
        0,
        "the read path's cancel request reached the server over TLS"
    );
    let marker = "poolside_tls_cancel_test";
    let mut conn = pool.get().await.expect("exclusive");
    let error = conn
        .query(&format!("SELECT pg_sleep(5), '{marker}'"), &[])
        .await
        .expect_err("past the query timeout");
    assert_eq!(error.kind(), ErrorKind::Cancelled, "{error}");
    drop(conn);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        statements_running(marker).await,
        0,
        "the cancel request reached the server over TLS"
    );
}

#[test]
fn a_missing_root_certificate_file_is_a_configuration_error() {
    let env: poolside_config::EnvSnapshot = [(
        "DATABASE_URL",
        "postgres://app:pw@127.0.0.1/app?sslmode=verify-full&sslrootcert=/no/such/ca.pem",
    )]
    .into_iter()
    .collect();
    let error = poolside_config::ConfigLoader::from_env(env)
        .load()
        .expect_err("no such file");
    let text = error.to_string();
    assert!(text.contains("postgres.url"), "{text}");
    assert!(text.contains("/no/such/ca.pem"), "{text}");
    assert!(!text.contains(":pw@"), "{text}");
}

#[tokio::test]
async fn a_ca_file_updated_in_place_is_trusted_by_new_connections() {
    let ca = std::fs::read(required_env("DATABASE_TLS_CA")).expect("the test CA");
    let other_ca = std::fs::read(required_env("DATABASE_TLS_OTHER_CA")).expect("another CA");
    let file = std::env::temp_dir().join(format!("poolside-ca-bundle-{}.pem", std::process::id()));
    let write = |pem: &[u8]| replace_file(&file, pem);
    write(&other_ca);
    let url = url_with(&format!(
        "sslmode=verify-full&sslrootcert={}",
        file.display()
    ));
    let config = load_config(&[
        ("DATABASE_URL", url.as_str()),
        ("POOLSIDE_POSTGRES__MIN_IDLE", "0"),
        ("POOLSIDE_POSTGRES__CONNECTION_TIMEOUT", "2s"),
    ])
    .config
    .postgres;
    let pool = PgPool::connect_lazy(&config).expect("a pool, not connected yet");
    let refused = pool
        .query_one("SELECT 1", &[])
        .await
        .expect_err("the bundle holds another CA only");
    assert_eq!(refused.kind(), ErrorKind::Connect, "{refused}");

    // The operator adds the server's CA to the bundle: no restart.
    write(&[other_ca.as_slice(), ca.as_slice()].concat());
    let served = first_success(async || pool.query_one("SELECT 1", &[]).await).await;
    assert_eq!(
        served.map(|row| row.get::<_, i32>(0)),
        Some(1),
        "served once the bundle has the server's CA"
    );
    assert!(encrypted(&pool).await);
    let _ = std::fs::remove_file(&file);
}
