//! `postgres.password_file`: the pool reads the password for each new connection, so a
//! password rotated on the server and in the file (as a Kubernetes Secret volume or a
//! Vault agent rotates it) is used without a restart, by the paths that open
//! connections for statements: the pool's own (pipelined and exclusive) and the
//! batched read path's.
//!
//! It changes the password of the services' `poolside_secret` role (its own, as any
//! role may) and sets it back before asserting; no other test in this binary logs in
//! as that role, and cargo runs test binaries one at a time.

use std::path::PathBuf;

use poolside_core::{ErrorKind, PgPool};
use poolside_tests::{required_env, services_config};

/// `DATABASE_SECRET_URL` without its password, and the password.
fn secret_url_and_password() -> (String, String) {
    let url = required_env("DATABASE_SECRET_URL");
    let start = url.find("://").expect("a URL") + 3;
    let at = url.rfind('@').expect("a user");
    let (user, password) = url[start..at].split_once(':').expect("user:password");
    (
        format!("{}{user}{}", &url[..start], &url[at..]),
        password.to_owned(),
    )
}

/// A file for the password, under the target directory, removed on drop.
struct PasswordFile(PathBuf);

impl PasswordFile {
    fn holding(password: &str) -> Self {
        let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("pg-password-{}", std::process::id()));
        let file = Self(path);
        file.write(password);
        file
    }

    /// Replaces the content as a Secret volume does: a new file renamed over it.
    fn write(&self, password: &str) {
        let next = self.0.with_extension("next");
        std::fs::write(&next, format!("{password}\n")).expect("writes the password file");
        std::fs::rename(&next, &self.0).expect("renames it into place");
    }
}

impl Drop for PasswordFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// `current_user` on each path that opens connections of its own.
async fn users_on_every_path(pool: &PgPool) -> Result<[String; 3], poolside_core::PgError> {
    let pipelined = pool.query_one("SELECT current_user::text", &[]).await?;
    let exclusive = pool
        .get()
        .await?
        .query_one("SELECT current_user::text", &[])
        .await?;
    let read = pool
        .read_query_one("SELECT current_user::text", &[])
        .await?;
    Ok([pipelined.get(0), exclusive.get(0), read.get(0)])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_rotated_in_the_file_is_used_by_new_connections_without_a_restart() {
    let (url, password) = secret_url_and_password();
    let file = PasswordFile::holding(&password);
    let path = file.0.display().to_string();
    let config = services_config(&[
        ("DATABASE_URL", url.as_str()),
        ("POOLSIDE_POSTGRES__PASSWORD_FILE", path.as_str()),
        ("POOLSIDE_POSTGRES__MAX_SIZE", "4"),
        ("POOLSIDE_POSTGRES__MIN_IDLE", "1"),
        ("POOLSIDE_POSTGRES__READ_CONNECTIONS", "1"),
    ]);
    let pool = PgPool::connect(&config.postgres)
        .await
        .expect("connects with the password in the file");
    let before = users_on_every_path(&pool).await;

    // Rotate: the server first, then the file; then every connection is retired, so
    // that each path opens new ones.
    let rotated = format!("rotated-{}-Xq9", std::process::id());
    let altered = async {
        let mut conn = pool.get().await?;
        conn.batch_execute(&format!("ALTER ROLE CURRENT_USER PASSWORD '{rotated}'"))
            .await
    }
    .await;
    file.write(&rotated);
    let created = pool.stats().created;
    pool.reconnect();
    let after = users_on_every_path(&pool).await;
    let opened = pool.stats().created - created;
    let old_refused =
        tokio_postgres::connect(&required_env("DATABASE_SECRET_URL"), tokio_postgres::NoTls)
            .await
            .err()
            .and_then(|e| e.code().cloned());

    // A file out of date: new connections fail, naming the password, at once.
    file.write("not-the-password");
    pool.reconnect();
    let stale = pool.get().await.map(drop);

    // Set the password back, over a connection of its own (not the pool's) with the
    // rotated one; if the rotation never happened, that connect fails and nothing
    // needs setting back.
    let secret_url = required_env("DATABASE_SECRET_URL");
    let with_rotated = secret_url.replacen(&format!(":{password}@"), &format!(":{rotated}@"), 1);
    if let Ok((client, connection)) =
        tokio_postgres::connect(&with_rotated, tokio_postgres::NoTls).await
    {
        tokio::spawn(connection);
        client
            .batch_execute(&format!("ALTER ROLE CURRENT_USER PASSWORD '{password}'"))
            .await
            .expect("sets the password back");
    }
    let (_, connection) = tokio_postgres::connect(&secret_url, tokio_postgres::NoTls)
        .await
        .expect("the role's own password works again");
    drop(connection);

    let user = "poolside_secret".to_owned();
    let every_path = [user.clone(), user.clone(), user];
    assert_eq!(before.expect("every path before the rotation"), every_path);
    altered.expect("the role's password changed");
    assert_eq!(
        after.expect("every path after the rotation, the pool not restarted"),
        every_path
    );
    assert!(
        opened >= 2,
        "new connections opened after reconnect: {opened}"
    );
    assert_eq!(
        old_refused,
        Some(tokio_postgres::error::SqlState::INVALID_PASSWORD),
        "the old password no longer works: the rotation was real"
    );
    let stale = stale.expect_err("a file out of date fails new connections");
    assert_eq!(stale.kind(), ErrorKind::Auth, "{stale}");
    assert!(
        stale
            .to_string()
            .contains(&format!("postgres.password_file {path}")),
        "{stale}"
    );
    for secret in [password.as_str(), rotated.as_str(), "not-the-password"] {
        assert!(!stale.to_string().contains(secret), "{stale}");
    }
}
