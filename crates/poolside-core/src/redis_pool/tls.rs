//! [`RedisTls`]: TLS for the connections poolside opens itself to a server that
//! holds keys (`rediss://`: one server in `single` mode, or the primary a Sentinel
//! group names), with rustls over the TCP stream, so that the pool still knows when a
//! connection has ended (see `driver.rs`); and [`DriverCertificates`], the same
//! files for the connections the redis crate's own clients open over their own
//! rustls (a cluster's nodes; a Sentinel group's sentinels).
//!
//! The server's certificate must be signed by a trusted CA (the URL's `sslrootcert`
//! file, else the system's) and be for the host connected to (the URL's, or the
//! address a cluster node or a sentinel announces), as libpq's `verify-full`. There
//! is no mode that skips the check (`#insecure` is refused). With `sslcert` and
//! `sslkey`, the connection presents that client certificate (Redis's
//! `tls-auth-clients`).
//!
//! For poolside's own connections, the files are read again when they change, as for
//! PostgreSQL. A cluster client is built again with them when they change
//! (`cluster_clients.rs`); a sentinel client, with them as they are at each lookup of
//! the primary.

use std::path::PathBuf;
use std::sync::Arc;

use poolside_config::tls_params::{self, ClientCertFiles};
use redis::{ClientTlsConfig, RedisResult, TlsCertificates};
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::RedisError;
use crate::ErrorKind;
use crate::client_identity::{certified_key, read_pair};
use crate::tls_client_config::tls_client_config;
use crate::trusted_roots::{CertificateCheck, TrustedCas, ca_roots, read_pem};

/// How an error of the TLS handshake begins, for [`RedisError`]'s advice.
pub(crate) const HANDSHAKE_FAILED: &str = "the TLS handshake with Redis failed";

/// Whether `error` (a driver's error, as text) is a failed TLS handshake: poolside's
/// own ([`HANDSHAKE_FAILED`]), or rustls's as the cluster client reports it (a
/// certificate refused, or the server's alert).
pub(crate) fn is_handshake_failure(error: &str) -> bool {
    error.contains(HANDSHAKE_FAILED)
        || error.contains("invalid peer certificate")
        || error.contains("received fatal alert")
}

/// How the pool's own connections to a server that holds keys speak TLS.
pub(crate) struct RedisTls {
    connector: TlsConnector,
}

impl RedisTls {
    /// TLS for `url` (a URL of `key`) when it is a `rediss://` URL, else `None`.
    pub(crate) fn for_url(url: &str, key: &'static str) -> Result<Option<Self>, RedisError> {
        let error = |message| tls_error(key, message);
        let Some(asked) = AskedTls::of(url).map_err(error)? else {
            return Ok(None);
        };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        // Read again when the files change: a CA bundle or a client certificate
        // renewed in place is used by new connections with no restart.
        let cas = TrustedCas::new(asked.root_cert, Arc::clone(&provider)).map_err(error)?;
        // The full check: the CA and the host name.
        let check = CertificateCheck::new(Arc::clone(&provider), Some((cas, true)));
        let config = tls_client_config(provider, Arc::new(check), asked.client_cert.as_ref())
            .map_err(error)?;
        let host = asked
            .url
            .host_str()
            .ok_or_else(|| error("the URL names no host".to_owned()))?;
        server_name(host).map_err(error)?;
        Ok(Some(Self {
            connector: TlsConnector::from(Arc::new(config)),
        }))
    }

    /// The TLS handshake over `tcp`, checking that the server's certificate is for
    /// `host`. A failure says it was the handshake's (see [`HANDSHAKE_FAILED`]).
    pub(crate) async fn handshake(
        &self,
        tcp: TcpStream,
        host: &str,
    ) -> RedisResult<TlsStream<TcpStream>> {
        let name = server_name(host).map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("{HANDSHAKE_FAILED}: {e}"),
            )
        })?;
        self.connector
            .connect(name, tcp)
            .await
            .map_err(|e| std::io::Error::new(e.kind(), format!("{HANDSHAKE_FAILED}: {e}")).into())
    }
}

/// `host` (a name or an IP address, in brackets or not) as TLS checks it.
fn server_name(host: &str) -> Result<ServerName<'static>, String> {
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    ServerName::try_from(host).map_err(|e| format!("the host is not a name TLS can check ({e})"))
}

/// The certificate files a `rediss://` URL names, for the redis crate's own clients,
/// which take them as bytes ([`TlsCertificates`]).
#[derive(Debug, Clone)]
pub(crate) struct DriverCertificates {
    /// The key the URL comes from, for errors.
    key: &'static str,
    root_cert: Option<PathBuf>,
    client_cert: Option<ClientCertFiles>,
}

impl DriverCertificates {
    /// The files of `url` (a URL of `key`): `None` for a URL other than
    /// `rediss://`. Without `sslrootcert`, the system's CAs must be there; the files
    /// themselves are checked at each [`read`](Self::read), the first at the pool's
    /// start, so that a bad one fails it with poolside's advice.
    ///
    /// The redis crate builds its rustls configuration on the process's default
    /// crypto provider; when the application installed none, this installs ring's
    /// (the one poolside's own TLS uses).
    pub(crate) fn of(url: &str, key: &'static str) -> Result<Option<Self>, RedisError> {
        let error = |message| tls_error(key, message);
        let Some(asked) = AskedTls::of(url).map_err(error)? else {
            return Ok(None);
        };
        if asked.root_cert.is_none() {
            crate::trusted_roots::trusted_roots(None).map_err(error)?;
        }
        if rustls::crypto::CryptoProvider::get_default().is_none() {
            // Err only when another thread installed one meanwhile: that one serves.
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
        Ok(Some(Self {
            key,
            root_cert: asked.root_cert,
            client_cert: asked.client_cert,
        }))
    }

    /// The files named: the CA file, the client certificate and its key, those given.
    pub(crate) fn files(&self) -> Vec<PathBuf> {
        let client = self.client_cert.iter().flat_map(|c| [&c.cert, &c.key]);
        self.root_cert.iter().chain(client).cloned().collect()
    }

    /// The files as they are now, each read once and checked: the CAs parse, and
    /// the client certificate and key are a pair (checked here for poolside's advice
    /// rather than the redis crate's).
    pub(crate) fn read(&self) -> Result<TlsCertificates, RedisError> {
        let error = |message| tls_error(self.key, message);
        let root_cert = match &self.root_cert {
            Some(path) => {
                let pem = read_pem("sslrootcert", path).map_err(error)?;
                ca_roots(path, &pem).map_err(error)?;
                Some(pem)
            }
            None => None,
        };
        let client_tls = match &self.client_cert {
            Some(files) => {
                let (cert, key) = read_pair(files).map_err(error)?;
                let provider = rustls::crypto::ring::default_provider();
                certified_key(files, &cert, &key, &provider).map_err(error)?;
                Some(ClientTlsConfig {
                    client_cert: cert,
                    client_key: key,
                })
            }
            None => None,
        };
        Ok(TlsCertificates {
            client_tls,
            root_cert,
        })
    }
}

/// What TLS a `rediss://` URL asks for.
struct AskedTls {
    url: url::Url,
    /// `sslrootcert`: the CAs to trust; the system's without one.
    root_cert: Option<PathBuf>,
    /// `sslcert` and `sslkey`: the certificate to present; none without them.
    client_cert: Option<ClientCertFiles>,
}

impl AskedTls {
    /// What TLS `url` asks for: `None` for a URL other than `rediss://`. A #fragment
    /// (`#insecure`) is refused: the certificate is always checked.
    fn of(url: &str) -> Result<Option<Self>, String> {
        let parsed = url::Url::parse(url).map_err(|e| e.to_string())?;
        if parsed.scheme() != "rediss" {
            return Ok(None);
        }
        if parsed.fragment().is_some() {
            return Err(
                "a #fragment (such as #insecure) is not supported: the certificate is \
                 always checked; give sslrootcert=<CA PEM file> for a private CA"
                    .to_owned(),
            );
        }
        Ok(Some(Self {
            root_cert: tls_params::root_cert_param(&parsed),
            client_cert: tls_params::client_cert_param(&parsed)?,
            url: parsed,
        }))
    }
}

/// The URL the redis crate parses for one server: a `rediss://` one as `redis://`,
/// since poolside does that TLS itself (see [`RedisTls`]).
pub(crate) fn plain_url(url: &str) -> String {
    match url.strip_prefix("rediss://") {
        Some(rest) => format!("redis://{rest}"),
        None => url.to_owned(),
    }
}

/// An error of the TLS settings of `key`'s URLs.
fn tls_error(key: &str, message: String) -> RedisError {
    RedisError::new(ErrorKind::Connect, format!("{key} TLS: {message}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_rediss_urls_get_tls_and_the_driver_sees_them_plain() {
        assert!(
            RedisTls::for_url("redis://127.0.0.1:6379/0", "redis.url")
                .expect("plain")
                .is_none()
        );
        let insecure = RedisTls::for_url("rediss://h:6380/0#insecure", "redis.url")
            .err()
            .expect("refused");
        assert!(
            insecure.to_string().contains("always checked"),
            "{insecure}"
        );
        let missing = RedisTls::for_url(
            "rediss://h:6380/0?sslrootcert=/nonexistent.pem",
            "redis.url",
        )
        .err()
        .expect("refused");
        assert!(
            missing.to_string().contains("no readable PEM certificate"),
            "{missing}"
        );
        assert_eq!(
            plain_url("rediss://u:p@h:6380/0?sslrootcert=/ca.pem"),
            "redis://u:p@h:6380/0?sslrootcert=/ca.pem"
        );
        assert_eq!(plain_url("unix:///tmp/r.sock"), "unix:///tmp/r.sock");
    }

    #[test]
    fn only_rediss_group_urls_get_certificates_and_their_ca_is_checked() {
        // The files as the pool's start reads them.
        let of = |url| {
            DriverCertificates::of(url, "redis.cluster_nodes")?
                .map(|files| files.read())
                .transpose()
        };
        assert!(of("redis://127.0.0.1:7000").expect("plain").is_none());
        let insecure = of("rediss://h:7000#insecure").expect_err("refused");
        assert!(
            insecure.to_string().contains("always checked"),
            "{insecure}"
        );
        let missing = of("rediss://h:7000?sslrootcert=/nonexistent.pem").expect_err("refused");
        assert!(
            missing
                .to_string()
                .starts_with("redis.cluster_nodes TLS: sslrootcert")
                && missing.to_string().contains("no readable PEM certificate"),
            "{missing}"
        );
    }
}
