//! [`RedisTls`]: TLS for the connections to one Redis server (`rediss://`, in
//! `single` mode), with rustls over the TCP stream poolside opens itself, so that the
//! pool still knows when a connection has ended (see `driver.rs`); and
//! [`cluster_certificates`], the same checks for a cluster's nodes, whose connections
//! the redis crate's cluster client opens over its own rustls.
//!
//! The server's certificate must be signed by a trusted CA (the URL's `sslrootcert`
//! file, else the system's) and be for the host the URL names (in a cluster, the
//! address each node announces), as libpq's `verify-full`. There is no mode that
//! skips the check (`#insecure` is refused). With `sslcert` and `sslkey`, the
//! connection presents that client certificate (Redis's `tls-auth-clients`).
//!
//! For one server, the files are read again when they change, as for PostgreSQL; a
//! cluster client gets them as they are when the pool starts.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use poolside_config::tls_params::{self, ClientCertFiles};
use redis::{ClientTlsConfig, RedisResult, TlsCertificates};
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::RedisError;
use crate::ErrorKind;
use crate::client_identity::ClientIdentity;
use crate::tls_client_config::tls_client_config;
use crate::trusted_roots::{CertificateCheck, TrustedCas};

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

/// How the pool's connections to one server speak TLS.
pub(crate) struct RedisTls {
    connector: TlsConnector,
    server_name: ServerName<'static>,
}

impl RedisTls {
    /// TLS for `url` when it is a `rediss://` URL, else `None`.
    pub(crate) fn for_url(url: &str) -> Result<Option<Self>, RedisError> {
        let Some(asked) = AskedTls::of(url).map_err(config_error)? else {
            return Ok(None);
        };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        // Read again when the files change: a CA bundle or a client certificate
        // renewed in place is used by new connections with no restart.
        let cas = TrustedCas::new(asked.root_cert, Arc::clone(&provider)).map_err(config_error)?;
        // The full check: the CA and the host name.
        let check = CertificateCheck::new(Arc::clone(&provider), Some((cas, true)));
        let config = tls_client_config(provider, Arc::new(check), asked.client_cert.as_ref())
            .map_err(config_error)?;
        let host = asked
            .url
            .host_str()
            .ok_or_else(|| config_error("the URL names no host".to_owned()))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let server_name = ServerName::try_from(host)
            .map_err(|e| config_error(format!("the host is not a name TLS can check ({e})")))?;
        Ok(Some(Self {
            connector: TlsConnector::from(Arc::new(config)),
            server_name,
        }))
    }

    /// The TLS handshake over `tcp`, checking the server's certificate. A failure
    /// says it was the handshake's (see [`HANDSHAKE_FAILED`]).
    pub(crate) async fn handshake(&self, tcp: TcpStream) -> RedisResult<TlsStream<TcpStream>> {
        self.connector
            .connect(self.server_name.clone(), tcp)
            .await
            .map_err(|e| std::io::Error::new(e.kind(), format!("{HANDSHAKE_FAILED}: {e}")).into())
    }
}

/// What the redis crate's cluster client needs to reach the nodes of `url` (a
/// cluster node's) over TLS: `None` for a `redis://` URL. The CA file is read and
/// checked here, so that a bad one fails the pool's start with poolside's advice.
///
/// The cluster client builds its rustls configuration on the process's default
/// crypto provider; when the application installed none, this installs ring's (the
/// one poolside's own TLS uses).
pub(crate) fn cluster_certificates(url: &str) -> Result<Option<TlsCertificates>, RedisError> {
    let Some(asked) = AskedTls::of(url).map_err(cluster_error)? else {
        return Ok(None);
    };
    crate::trusted_roots::trusted_roots(asked.root_cert.as_deref()).map_err(cluster_error)?;
    let read = |path: &Path| {
        std::fs::read(path).map_err(|e| cluster_error(format!("reading {}: {e}", path.display())))
    };
    let root_cert = asked.root_cert.as_deref().map(read).transpose()?;
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Err only when another thread installed one meanwhile: that one serves.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
    let client_tls = match &asked.client_cert {
        Some(files) => {
            // Checked here, for poolside's advice rather than the cluster client's.
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            ClientIdentity::new(files, provider).map_err(cluster_error)?;
            Some(ClientTlsConfig {
                client_cert: read(&files.cert)?,
                client_key: read(&files.key)?,
            })
        }
        None => None,
    };
    Ok(Some(TlsCertificates {
        client_tls,
        root_cert,
    }))
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

fn config_error(message: String) -> RedisError {
    RedisError::new(ErrorKind::Connect, format!("redis.url TLS: {message}"))
}

fn cluster_error(message: String) -> RedisError {
    RedisError::new(
        ErrorKind::Connect,
        format!("redis.cluster_nodes TLS: {message}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_rediss_urls_get_tls_and_the_driver_sees_them_plain() {
        assert!(
            RedisTls::for_url("redis://127.0.0.1:6379/0")
                .expect("plain")
                .is_none()
        );
        let insecure = RedisTls::for_url("rediss://h:6380/0#insecure")
            .err()
            .expect("refused");
        assert!(
            insecure.to_string().contains("always checked"),
            "{insecure}"
        );
        let missing = RedisTls::for_url("rediss://h:6380/0?sslrootcert=/nonexistent.pem")
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
    fn only_rediss_cluster_urls_get_certificates_and_their_ca_is_checked() {
        assert!(
            cluster_certificates("redis://127.0.0.1:7000")
                .expect("plain")
                .is_none()
        );
        let insecure = cluster_certificates("rediss://h:7000#insecure").expect_err("refused");
        assert!(
            insecure.to_string().contains("always checked"),
            "{insecure}"
        );
        let missing = cluster_certificates("rediss://h:7000?sslrootcert=/nonexistent.pem")
            .expect_err("refused");
        assert!(
            missing
                .to_string()
                .starts_with("redis.cluster_nodes TLS: sslrootcert")
                && missing.to_string().contains("no readable PEM certificate"),
            "{missing}"
        );
    }
}
