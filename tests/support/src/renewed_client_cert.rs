//! [`RenewedClientCert`]: a client certificate and its key in files of their own, that
//! a test renews in place as a mounted Secret is renewed, for the tests that a pool
//! presents the renewed certificate with no restart.

use std::path::PathBuf;

use poolside_core::{ErrorKind, RedisPool};

use crate::mounted_file::{first_success, replace_file};
use crate::required_env;

/// The files `sslcert` and `sslkey` name: first the pair the services' servers
/// refuse (`TLS_OTHER_CLIENT_CERT`, `_KEY`), then, once [`renew`](Self::renew)ed,
/// the pair they accept (`TLS_CLIENT_CERT`, `_KEY`). The directory goes when this is
/// dropped.
#[derive(Debug)]
pub struct RenewedClientCert {
    dir: PathBuf,
    /// The certificate file (`sslcert`).
    pub cert: PathBuf,
    /// The key file (`sslkey`).
    pub key: PathBuf,
}

impl RenewedClientCert {
    /// The refused pair, in a directory named after `test` and this process.
    ///
    /// # Panics
    ///
    /// When a variable is not set, or a file cannot be read or written.
    #[must_use]
    pub fn refused_at_first(test: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("poolside-{test}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temp dir");
        let files = Self {
            cert: dir.join("tls.crt"),
            key: dir.join("tls.key"),
            dir,
        };
        files.write("TLS_OTHER_CLIENT");
        files
    }

    /// Renews the pair: the accepted certificate, then its key, as a Secret's files
    /// are replaced one by one.
    ///
    /// # Panics
    ///
    /// When a variable is not set, or a file cannot be read or written.
    pub fn renew(&self) {
        self.write("TLS_CLIENT");
    }

    /// Puts the refused pair back, as a certificate replaced by one the servers do
    /// not accept.
    ///
    /// # Panics
    ///
    /// When a variable is not set, or a file cannot be read or written.
    pub fn replace_with_refused(&self) {
        self.write("TLS_OTHER_CLIENT");
    }

    /// `sslcert=...&sslkey=...`, naming these files, for a URL's query.
    #[must_use]
    pub fn params(&self) -> String {
        format!(
            "sslcert={}&sslkey={}",
            self.cert.display(),
            self.key.display()
        )
    }

    /// Checks that `pool`, presenting these files, is refused (`Connect`, with advice
    /// naming `sslcert`), then renews them and checks that a `PING` is served.
    ///
    /// # Panics
    ///
    /// When the first `PING` is served or fails otherwise, or no `PING` is served
    /// after the renewal.
    pub async fn refused_then_served_when_renewed(&self, pool: &RedisPool) {
        let refused = pool
            .command::<String>(&redis::cmd("PING"))
            .await
            .expect_err("the server's CA did not sign the client certificate");
        assert_eq!(refused.kind(), ErrorKind::Connect, "{refused}");
        assert!(refused.to_string().contains("sslcert"), "{refused}");

        self.renew();
        let ping = async || pool.command::<String>(&redis::cmd("PING")).await;
        assert_eq!(
            first_success(ping).await.as_deref(),
            Some("PONG"),
            "served with the renewed certificate"
        );
    }

    /// The files of the pair in `{client}_CERT` and `{client}_KEY`, certificate first.
    fn write(&self, client: &str) {
        let read =
            |var: String| std::fs::read(required_env(&var)).expect("a test certificate file");
        replace_file(&self.cert, &read(format!("{client}_CERT")));
        replace_file(&self.key, &read(format!("{client}_KEY")));
    }
}

impl Drop for RenewedClientCert {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
