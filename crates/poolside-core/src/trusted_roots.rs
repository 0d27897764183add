//! The CAs a TLS connection trusts, for PostgreSQL's and Redis's alike: a PEM file
//! the URL names (`sslrootcert`), else the system's; [`TrustedCas`], the check of a
//! server's certificate against them, read again when the file changes; and
//! [`CertificateCheck`], the one rustls verifier of poolside's TLS connections.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::RootCertStore;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};

use crate::file_backed::FileBacked;

/// The CAs in `root_cert`, or the system's without one; the error says what is
/// wrong with them and what to give instead.
pub(crate) fn trusted_roots(root_cert: Option<&Path>) -> Result<RootCertStore, String> {
    match root_cert {
        Some(path) => {
            let pem = read_pem("sslrootcert", path)?;
            ca_roots(path, &pem)
        }
        None => {
            let mut roots = RootCertStore::empty();
            let found = rustls_native_certs::load_native_certs();
            let (added, _) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                return Err(
                    "no system CA certificates found: give sslrootcert=<PEM file> in the URL"
                        .to_owned(),
                );
            }
            Ok(roots)
        }
    }
}

/// The CAs in `pem`, the text of the `sslrootcert` file `path`; the error says what
/// is wrong with them.
pub(crate) fn ca_roots(path: &Path, pem: &[u8]) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(pem_certificates("sslrootcert", path, pem)?);
    if added == 0 {
        return Err(format!(
            "sslrootcert {} holds no CA certificate rustls can use",
            path.display()
        ));
    }
    Ok(roots)
}

/// The text of the PEM file `path`, which the URL names as `param`; the error names
/// both.
pub(crate) fn read_pem(param: &str, path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| {
        format!(
            "{param} {} holds no readable PEM certificate ({e})",
            path.display()
        )
    })
}

/// The certificates in `pem`, the text of the file `path` the URL names as `param`;
/// the error names both.
pub(crate) fn pem_certificates(
    param: &str,
    path: &Path,
    pem: &[u8],
) -> Result<Vec<CertificateDer<'static>>, String> {
    CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            format!(
                "{param} {} holds no readable PEM certificate ({e})",
                path.display()
            )
        })
}

/// The CAs to trust, the `sslrootcert` file as it is now or the system's, and the
/// check of a certificate against them. The file is read again when it changes (a CA
/// bundle updated in place, as a new CA is added before the servers move to it), so
/// new connections trust what it holds with no restart; a file that cannot be read
/// keeps the CAs read last, with a warning.
#[derive(Debug)]
pub(crate) struct TrustedCas {
    /// The check against the CAs of the `sslrootcert` file (none: the system's CAs,
    /// read once).
    verifier: FileBacked<WebPkiServerVerifier>,
}

impl TrustedCas {
    /// The CAs of `file` (the system's without one), checked with `provider`; the
    /// error says what is wrong with them.
    pub(crate) fn new(
        file: Option<PathBuf>,
        provider: Arc<CryptoProvider>,
    ) -> Result<Self, String> {
        let verifier = FileBacked::new(file.into_iter().collect(), "sslrootcert", move |files| {
            verifier(files.first().map(PathBuf::as_path), &provider)
        })?;
        Ok(Self { verifier })
    }

    /// The check against the CAs of now: the file read again if it changed since.
    pub(crate) fn verifier(&self) -> Arc<WebPkiServerVerifier> {
        self.verifier.get()
    }
}

/// The check of a certificate against the CAs in `file` (the system's without one).
fn verifier(
    file: Option<&Path>,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<WebPkiServerVerifier>, String> {
    let roots = Arc::new(trusted_roots(file)?);
    WebPkiServerVerifier::builder_with_provider(roots, Arc::clone(provider))
        .build()
        .map_err(|e| format!("the trusted CAs cannot be used: {e}"))
}

/// What a server's certificate must pass. With `chain`, it must be signed by a trusted
/// CA, and be for the host connected to when its flag says so; without, it is not
/// checked (libpq's `prefer`, and `require` without `sslrootcert`). The handshake's
/// signatures are checked either way, with the provider's algorithms.
#[derive(Debug)]
pub(crate) struct CertificateCheck {
    provider: Arc<CryptoProvider>,
    chain: Option<(TrustedCas, bool)>,
}

impl CertificateCheck {
    /// The check with `provider`: against `chain`'s CAs (and the host name when its
    /// flag is set), or none of the certificate without it.
    pub(crate) fn new(provider: Arc<CryptoProvider>, chain: Option<(TrustedCas, bool)>) -> Self {
        Self { provider, chain }
    }
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
