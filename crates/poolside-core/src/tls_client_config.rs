//! [`tls_client_config`]: the rustls client configuration of poolside's own TLS
//! connections, PostgreSQL's and Redis's alike: the safe protocol versions, the
//! server's certificate checked by the caller's verifier, and the URL's client
//! certificate presented when the server asks for one.

use std::sync::Arc;

use poolside_config::tls_params::ClientCertFiles;
use rustls::ClientConfig;
use rustls::client::danger::ServerCertVerifier;
use rustls::crypto::CryptoProvider;

use crate::client_identity::ClientIdentity;

/// The configuration with `provider`, checking servers with `verifier` and presenting
/// `client_cert` (`sslcert`, `sslkey`) if given; the error says what is wrong with
/// the client certificate's files.
pub(crate) fn tls_client_config(
    provider: Arc<CryptoProvider>,
    verifier: Arc<dyn ServerCertVerifier>,
    client_cert: Option<&ClientCertFiles>,
) -> Result<ClientConfig, String> {
    let identity = client_cert
        .map(|files| ClientIdentity::new(files, Arc::clone(&provider)))
        .transpose()?;
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("no TLS version to offer: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    Ok(match identity {
        Some(identity) => config.with_client_cert_resolver(Arc::new(identity)),
        None => config.with_no_client_auth(),
    })
}
