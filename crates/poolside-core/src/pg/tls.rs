//! TLS for PostgreSQL connections, with rustls: the connector every connection (and
//! every cancel request) of a pool uses, set up from the URL's libpq parameters
//! (`sslmode`, `sslrootcert`, `sslcert`, `sslkey`; see `poolside_config::tls_params`).
//!
//! As libpq: `prefer` and `require` encrypt without checking the certificate (unless
//! `sslrootcert` names a CA file, when `require` checks it as `verify-ca` does);
//! `verify-ca` checks that a trusted CA signed it; `verify-full` also that it is for
//! the host connected to. Trusted CAs: the `sslrootcert` file, else the system's.
//!
//! With `sslcert` and `sslkey`, the connection presents that certificate when the
//! server asks for one (`cert` authentication, `clientcert=verify-full`).
//!
//! The files are read again when they change ([`TrustedCas`], [`ClientIdentity`]): a
//! CA bundle or a client certificate renewed in place is used by new connections with
//! no restart.

use std::sync::Arc;

use poolside_config::tls_params::{SslMode, TlsParams};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::PgError;
use crate::ErrorKind;
use crate::tls_client_config::tls_client_config;
use crate::trusted_roots::{CertificateCheck, TrustedCas};

/// The connector for `params`.
pub(crate) fn connector(params: &TlsParams) -> Result<MakeRustlsConnect, PgError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verify = match (params.mode, &params.root_cert) {
        (SslMode::VerifyFull, _) => Some(true),
        (SslMode::VerifyCa, _) | (SslMode::Require, Some(_)) => Some(false),
        _ => None,
    };
    let chain = match verify {
        None => None,
        Some(check_name) => {
            let cas = TrustedCas::new(params.root_cert.clone(), Arc::clone(&provider))
                .map_err(config_error)?;
            Some((cas, check_name))
        }
    };
    let verifier = Arc::new(CertificateCheck::new(Arc::clone(&provider), chain));
    let config =
        tls_client_config(provider, verifier, params.client_cert.as_ref()).map_err(config_error)?;
    Ok(MakeRustlsConnect::new(config))
}

fn config_error(message: String) -> PgError {
    PgError::new(ErrorKind::Connect, format!("postgres.url TLS: {message}"))
}
