//! [`ConnectConfig`]: what a new connection connects with: the driver's settings from
//! the URL, and the password of `postgres.password_file` read anew for each
//! connection, so that a rotated password takes effect without a restart.

use std::borrow::Cow;
use std::path::Path;
use std::sync::Arc;

use poolside_config::password_file::read_password_file;
use tokio_postgres::error::SqlState;

use super::PgError;
use crate::ErrorKind;

/// The driver's settings for the pool's connections, and the file their password is
/// read from when the URL names none.
#[derive(Debug, Clone)]
pub(crate) struct ConnectConfig {
    settings: tokio_postgres::Config,
    password_file: Option<PasswordFile>,
}

impl ConnectConfig {
    /// `settings` (from the URL), with the password in `password_file` when the URL
    /// names none.
    pub(crate) fn new(settings: tokio_postgres::Config, password_file: Option<&Path>) -> Self {
        let password_file = PasswordFile::for_url(password_file, &settings);
        Self {
            settings,
            password_file,
        }
    }

    /// The settings as the URL gave them, without the file's password.
    pub(crate) fn settings(&self) -> &tokio_postgres::Config {
        &self.settings
    }

    /// The settings to connect with now: with the file's password, read anew.
    pub(crate) fn for_connect(&self) -> Result<Cow<'_, tokio_postgres::Config>, PgError> {
        match &self.password_file {
            None => Ok(Cow::Borrowed(&self.settings)),
            Some(file) => {
                let mut settings = self.settings.clone();
                settings.password(file.read()?);
                Ok(Cow::Owned(settings))
            }
        }
    }

    /// The password to authenticate with now: the file's, read anew, or the URL's.
    pub(crate) fn password(&self) -> Result<Option<Cow<'_, [u8]>>, PgError> {
        match &self.password_file {
            None => Ok(self.settings.get_password().map(Cow::Borrowed)),
            Some(file) => file.read().map(|password| Some(Cow::Owned(password))),
        }
    }

    /// `error` of a connect with these settings: a refused password read from the
    /// file names the file.
    pub(crate) fn explain(&self, error: PgError) -> PgError {
        match &self.password_file {
            Some(file) if error.code() == Some(&SqlState::INVALID_PASSWORD) => {
                error.noting(&format!(
                    "the password was read from postgres.password_file {}: check that it \
                     holds the role's current password",
                    file.0.display()
                ))
            }
            _ => error,
        }
    }
}

/// The file holding the password of a connection string that names none.
#[derive(Debug, Clone)]
struct PasswordFile(Arc<Path>);

impl PasswordFile {
    /// `file`, when it is set and `driver` (the URL) names no password of its own.
    fn for_url(file: Option<&Path>, driver: &tokio_postgres::Config) -> Option<Self> {
        file.filter(|_| driver.get_password().is_none())
            .map(|file| Self(file.into()))
    }

    /// The password in the file now, without its trailing line break. Read with
    /// blocking I/O: a secret's file is small and local (a Secret volume is tmpfs), and
    /// it is read only when a connection opens.
    fn read(&self) -> Result<Vec<u8>, PgError> {
        read_password_file(&self.0).map_err(|e| {
            PgError::new(
                ErrorKind::Auth,
                format!(
                    "reading postgres.password_file {}: {e}: check that the secret is \
                     mounted there and readable",
                    self.0.display()
                ),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    fn settings(url: &str) -> tokio_postgres::Config {
        tokio_postgres::Config::from_str(url).expect("parses")
    }

    #[test]
    fn a_url_with_its_own_password_keeps_it() {
        // Never read: a URL's own password wins.
        let file = Path::new("/nonexistent/db-password");
        let with = ConnectConfig::new(settings("postgres://app:pw@db/app"), Some(file));
        assert_eq!(
            with.password().expect("the URL's").as_deref(),
            Some(&b"pw"[..])
        );
        let without = ConnectConfig::new(settings("postgres://app@db/app"), None);
        assert_eq!(without.password().expect("none").as_deref(), None);
    }

    #[test]
    fn the_password_is_read_anew_for_each_connect_and_never_kept() {
        let path = std::env::temp_dir().join(format!("poolside-password-{}", std::process::id()));
        let config = ConnectConfig::new(settings("postgres://app@db/app"), Some(&path));
        let connect_password = || {
            config
                .for_connect()
                .map(|settings| settings.get_password().map(<[u8]>::to_vec))
        };
        std::fs::write(&path, "first\n").expect("writes");
        assert_eq!(connect_password().expect("reads"), Some(b"first".to_vec()));
        std::fs::write(&path, "second\r\n").expect("writes");
        assert_eq!(connect_password().expect("reads"), Some(b"second".to_vec()));
        assert_eq!(config.settings().get_password(), None, "never kept");
        std::fs::remove_file(&path).expect("removes");
        let missing = config.password().expect_err("missing");
        assert_eq!(missing.kind(), ErrorKind::Auth);
        assert!(
            missing.to_string().contains("postgres.password_file /tmp/"),
            "{missing}"
        );
    }
}
