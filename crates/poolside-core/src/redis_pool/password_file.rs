//! [`PasswordFileCredentials`]: `redis.password_file` as the redis crate's credentials
//! provider, so that every new connection authenticates with the password the file
//! holds at that moment: the pool's own connections, and the ones the cluster client
//! opens to its nodes by itself.

use std::path::{Path, PathBuf};
use std::pin::Pin;

use futures_util::{Stream, StreamExt as _, stream};
use redis::auth::{BasicAuth, StreamingCredentialsProvider};
use redis::{ErrorKind, RedisResult};

/// The user of the URLs, and the file holding their password.
#[derive(Debug, Clone)]
pub(crate) struct PasswordFileCredentials {
    path: PathBuf,
    username: String,
}

impl PasswordFileCredentials {
    /// Credentials of `username` (`default`, the user of a `requirepass` password,
    /// without one) with the password in `path`.
    pub(crate) fn new(path: &Path, username: Option<&str>) -> Self {
        Self {
            path: path.to_owned(),
            username: username.unwrap_or("default").to_owned(),
        }
    }

    /// Where the password is read from, for messages.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The credentials now: the file read again.
    pub(crate) fn read(&self) -> RedisResult<BasicAuth> {
        let unreadable = |detail: String| {
            redis::RedisError::from((
                ErrorKind::AuthenticationFailed,
                "redis.password_file cannot be read",
                format!("{}: {detail}", self.path.display()),
            ))
        };
        let password = poolside_config::password_file::read_password_file(&self.path)
            .map_err(|e| unreadable(e.to_string()))?;
        let password =
            String::from_utf8(password).map_err(|_| unreadable("not text".to_owned()))?;
        Ok(BasicAuth::new(self.username.clone(), password))
    }

    /// `info` with the password of now, for a connection the pool opens through a
    /// client of the redis crate (a subscriber's).
    pub(crate) fn apply(&self, info: &redis::ConnectionInfo) -> RedisResult<redis::ConnectionInfo> {
        let auth = self.read()?;
        let settings = info
            .redis_settings()
            .clone()
            .set_username(auth.username())
            .set_password(auth.password());
        Ok(info.clone().set_redis_settings(settings))
    }
}

impl StreamingCredentialsProvider for PasswordFileCredentials {
    /// The password of the moment, for a new connection; then nothing more: a
    /// connection stays authenticated when the password changes on the server, so no
    /// open connection needs to authenticate again.
    fn subscribe(&self) -> Pin<Box<dyn Stream<Item = RedisResult<BasicAuth>> + Send + 'static>> {
        stream::once(std::future::ready(self.read()))
            .chain(stream::pending())
            .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn each_subscription_reads_the_file_of_the_moment() {
        let path = std::env::temp_dir().join(format!("poolside-redis-pw-{}", std::process::id()));
        std::fs::write(&path, "first\n").expect("write");
        let credentials = PasswordFileCredentials::new(&path, None);
        let auth = credentials
            .subscribe()
            .next()
            .await
            .expect("an item")
            .expect("read");
        assert_eq!((auth.username(), auth.password()), ("default", "first"));

        std::fs::write(&path, "second").expect("write");
        let named = PasswordFileCredentials::new(&path, Some("app"));
        let auth = named
            .subscribe()
            .next()
            .await
            .expect("an item")
            .expect("read");
        assert_eq!((auth.username(), auth.password()), ("app", "second"));

        std::fs::remove_file(&path).expect("remove");
        let error = credentials.read().expect_err("no file");
        assert_eq!(error.kind(), ErrorKind::AuthenticationFailed);
        assert!(
            error.to_string().contains(&path.display().to_string()),
            "{error}"
        );
    }
}
