//! Connection inputs that cannot work, each through the facade as a service would meet
//! them at start: a malformed URL, an unknown host, a port where another protocol
//! (Redis) answers, a port where nothing listens, a wrong password, a database that does
//! not exist. Each gives a clear error naming the host or the key, without the
//! password, within the connection timeout (a wrong password within 1 s), and the
//! process goes on.

use std::time::{Duration, Instant};

use poolside_tests::required_env;

/// The connection timeout the cases run with: every error must come well before it.
const TIMEOUT: &str = "5s";
const PASSWORD: &str = "Sw0rdfish-in-the-url";

async fn start(url: &str) -> (Result<poolside::Poolside, String>, Duration) {
    let env: poolside::config::EnvSnapshot = [
        ("DATABASE_URL", url),
        ("POOLSIDE_PROFILE", "test"),
        ("POOLSIDE_POSTGRES__CONNECTION_TIMEOUT", TIMEOUT),
    ]
    .into_iter()
    .collect();
    let started = Instant::now();
    let result = match poolside::config::ConfigLoader::from_env(env).load() {
        Err(e) => Err(e.to_string()),
        Ok(loaded) => poolside::Poolside::builder()
            .config(loaded.config)
            .without_prometheus_recorder()
            .build()
            .await
            .map_err(|e| e.to_string()),
    };
    (result, started.elapsed())
}

#[tokio::test]
async fn each_bad_input_fails_fast_with_a_clear_error_and_no_password() {
    let good = required_env("DATABASE_URL");
    let redis_port = required_env("REDIS_URL")
        .rsplit_once(':')
        .and_then(|(_, rest)| rest.split('/').next().map(str::to_owned))
        .expect("a port in REDIS_URL");
    let (db_base, _) = good.rsplit_once('/').expect("a database in the URL");
    let cases: [(String, String, Duration); 6] = [
        (
            format!("postgres://app:{PASSWORD}@127.0.0.1:notaport/app"),
            "postgres.url".to_owned(),
            Duration::from_millis(100),
        ),
        (
            format!("postgres://app:{PASSWORD}@no-such-host.invalid:5432/app"),
            "no-such-host.invalid".to_owned(),
            Duration::from_secs(4),
        ),
        (
            format!("postgres://app:{PASSWORD}@127.0.0.1:{redis_port}/app"),
            format!("127.0.0.1:{redis_port}"),
            // Redis never answers the handshake: the connection timeout is the answer.
            Duration::from_millis(5500),
        ),
        (
            format!("postgres://app:{PASSWORD}@127.0.0.1:1/app"),
            "Connection refused".to_owned(),
            Duration::from_secs(1),
        ),
        (
            good.replacen(":poolside@", &format!(":{PASSWORD}@"), 1),
            "28P01".to_owned(),
            Duration::from_secs(1),
        ),
        (
            format!("{db_base}/no_such_database"),
            "3D000".to_owned(),
            Duration::from_secs(1),
        ),
    ];
    for (url, expected, limit) in cases {
        let (result, took) = start(&url).await;
        let message = result.expect_err("cannot start");
        println!("{took:>10.3?}  {message}");
        assert!(
            message.contains(&expected),
            "{expected:?} not in: {message}"
        );
        assert!(!message.contains(PASSWORD), "the password in: {message}");
        assert!(took < limit, "{took:?} (limit {limit:?}) for: {message}");
    }
}
