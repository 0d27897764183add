//! The services' PgBouncer: its URL as poolside-config makes it of `PGBOUNCER_URL`
//! (`pgbouncer=true` read and stripped), and its admin console.

use poolside_config::SecretUrl;

use crate::{required_env, services_config};

/// The URL the driver connects to PgBouncer with.
///
/// # Panics
///
/// When `PGBOUNCER_URL` or `DATABASE_URL` is not set.
pub fn pgbouncer_url() -> SecretUrl {
    let url = required_env("PGBOUNCER_URL");
    services_config(&[("DATABASE_URL", &url)]).postgres.url
}

/// PgBouncer's admin console (the database `pgbouncer`), as the pool's user, one of
/// its `admin_users` here.
///
/// ```no_run
/// # async fn run() {
/// let admin = poolside_tests::pgbouncer::pgbouncer_admin().await;
/// admin.simple_query("SHOW POOLS").await.unwrap();
/// # }
/// ```
///
/// # Panics
///
/// When the console does not answer.
pub async fn pgbouncer_admin() -> tokio_postgres::Client {
    let mut admin: tokio_postgres::Config = pgbouncer_url()
        .expose()
        .parse()
        .expect("the driver parses it");
    admin.dbname("pgbouncer");
    let (client, connection) = admin
        .connect(tokio_postgres::NoTls)
        .await
        .expect("PgBouncer's admin console answers");
    tokio::spawn(connection);
    client
}

/// A setting of PgBouncer's now (`SHOW CONFIG`), as text.
///
/// # Panics
///
/// When PgBouncer has no such setting.
pub async fn pgbouncer_setting(admin: &tokio_postgres::Client, key: &str) -> String {
    admin
        .simple_query("SHOW CONFIG")
        .await
        .expect("SHOW CONFIG")
        .into_iter()
        .find_map(|message| match message {
            tokio_postgres::SimpleQueryMessage::Row(row) if row.get("key") == Some(key) => {
                row.get("value").map(str::to_owned)
            }
            _ => None,
        })
        .unwrap_or_else(|| panic!("PgBouncer has no setting {key}"))
}
