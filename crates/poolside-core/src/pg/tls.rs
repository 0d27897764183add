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
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::PgError;
use crate::ErrorKind;
use crate::tls_client_config::tls_client_config;
use crate::trusted_roots::TrustedCas;

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
    let verifier = Arc::new(CertificateCheck {
        provider: Arc::clone(&provider),
        chain,
    });
    let config =
        tls_client_config(provider, verifier, params.client_cert.as_ref()).map_err(config_error)?;
    Ok(MakeRustlsConnect::new(config))
}

fn config_error(message: String) -> PgError {
    PgError::new(ErrorKind::Connect, format!("postgres.url TLS: {message}"))
}

/// What a server's certificate must pass. With `chain`, it must be signed by a trusted
/// CA, and be for the host connected to when its flag says so; without, it is not
/// checked (`prefer`, and `require` without `sslrootcert`, as libpq does). The
/// handshake's signatures are checked either way.
#[derive(Debug)]
struct CertificateCheck {
    provider: Arc<CryptoProvider>,
    chain: Option<(TrustedCas, bool)>,
}

impl ServerCertVerifier for CertificateCheck {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some((cas, check_name)) = &self.chain else {
            return Ok(ServerCertVerified::assertion());
        };
        let webpki = cas.verifier();
        match webpki.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if !check_name => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
