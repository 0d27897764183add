//! The configuration crate against the real servers: the URLs it produces, with their
//! pool parameters taken out, connect through the drivers poolside builds on.

use std::str::FromStr;
use std::time::Duration;

use poolside_tests::{load_config, required_env};
use tokio_postgres::NoTls;
use tokio_postgres::types::Type;

/// Connects with tokio-postgres to the URL poolside-config produced.
async fn connect(url: &str, connect_timeout: Duration) -> tokio_postgres::Client {
    let mut config = tokio_postgres::Config::from_str(url).expect("the driver parses the URL");
    config.connect_timeout(connect_timeout);
    let (client, connection) = config
        .connect(NoTls)
        .await
        .expect("connects to the real server");
    tokio::spawn(connection);
    client
}

#[tokio::test]
async fn postgres_url_with_prisma_parameters_connects_after_stripping() {
    let base = required_env("DATABASE_URL");
    let url = format!("{base}?connection_limit=3&pool_timeout=4&application_name=poolside-tests");
    let loaded = load_config(&[("DATABASE_URL", &url)]);
    let pg = &loaded.config.postgres;
    assert_eq!(pg.max_size, 3);
    assert_eq!(pg.connection_timeout, Duration::from_secs(4));
    assert!(!pg.url.expose().contains("connection_limit"));

    let client = connect(pg.url.expose(), pg.effective_connect_timeout()).await;
    let row = client
        .query_one(
            "SELECT current_user::text, current_setting('application_name')",
            &[],
        )
        .await
        .expect("query");
    assert_eq!(row.get::<_, String>(0), "poolside");
    assert_eq!(
        row.get::<_, String>(1),
        "poolside-tests",
        "other parameters reach the server"
    );
}

#[tokio::test]
async fn the_real_server_rejects_a_wrong_password_with_its_own_error() {
    let base = required_env("DATABASE_URL");
    let wrong = base.replacen(":poolside@", ":not-the-password@", 1);
    assert_ne!(wrong, base, "the services' URL carries a password");
    let config = tokio_postgres::Config::from_str(&wrong).expect("parses");
    let started = std::time::Instant::now();
    let err = config
        .connect(NoTls)
        .await
        .err()
        .expect("a wrong password must fail");
    let code = err.as_db_error().map(|e| e.code().code().to_owned());
    assert_eq!(
        code.as_deref(),
        Some("28P01"),
        "invalid_password, not a timeout: {err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn pgbouncer_url_turns_on_pgbouncer_mode_and_serves_unnamed_statements() {
    let url = required_env("PGBOUNCER_URL");
    let loaded = load_config(&[("DATABASE_URL", &url)]);
    let pg = &loaded.config.postgres;
    assert!(
        pg.pgbouncer,
        "pgbouncer=true in the URL sets pgbouncer mode"
    );
    assert!(!pg.url.expose().contains("pgbouncer"));

    let client = connect(pg.url.expose(), pg.effective_connect_timeout()).await;
    // Transaction mode: each statement may land on another server connection, so only
    // unnamed statements work; query_typed sends one per call.
    for n in 0..50i32 {
        let row = client
            .query_typed("SELECT $1::int4 + 1", &[(&n, Type::INT4)])
            .await
            .expect("unnamed statement through PgBouncer");
        assert_eq!(row[0].get::<_, i32>(0), n + 1);
    }
    let server_port: String = client
        .query_typed("SELECT current_setting('port')", &[])
        .await
        .expect("query")[0]
        .get(0);
    let postgres = tokio_postgres::Config::from_str(&required_env("DATABASE_URL")).expect("parses");
    let pgbouncer = tokio_postgres::Config::from_str(pg.url.expose()).expect("parses");
    assert_ne!(pgbouncer.get_ports(), postgres.get_ports());
    assert_eq!(
        postgres.get_ports(),
        [server_port.parse::<u16>().expect("a port")],
        "the statement ran on PostgreSQL behind PgBouncer"
    );
}

#[tokio::test]
async fn redis_url_connects_and_round_trips() {
    let url = required_env("REDIS_URL");
    let loaded = load_config(&[
        ("DATABASE_URL", &required_env("DATABASE_URL")),
        ("REDIS_URL", &url),
    ]);
    let redis_config = loaded.config.redis.expect("REDIS_URL configures redis");
    let client = redis::Client::open(redis_config.url.expose()).expect("redis URL opens");
    let mut conn = tokio::time::timeout(
        redis_config.connection_timeout,
        client.get_multiplexed_async_connection(),
    )
    .await
    .expect("connects within the configured timeout")
    .expect("connects");
    let key = format!("poolside-tests:{}", std::process::id());
    let _: () = redis::cmd("SET")
        .arg(&key)
        .arg("v1")
        .arg("EX")
        .arg(60)
        .query_async(&mut conn)
        .await
        .expect("SET");
    let got: String = redis::cmd("GET")
        .arg(&key)
        .query_async(&mut conn)
        .await
        .expect("GET");
    assert_eq!(got, "v1");
    let removed: i64 = redis::cmd("DEL")
        .arg(&key)
        .query_async(&mut conn)
        .await
        .expect("DEL");
    assert_eq!(removed, 1);
    let version: String = redis::cmd("INFO")
        .arg("server")
        .query_async(&mut conn)
        .await
        .expect("INFO");
    assert!(version.contains("redis_version:7."), "Redis 7 expected");
}
