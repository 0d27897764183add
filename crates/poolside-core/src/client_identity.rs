//! [`ClientIdentity`]: the certificate a TLS connection presents when the server asks
//! for one (the URL's `sslcert` and `sslkey`), for PostgreSQL's and Redis's alike,
//! read again when the files change (a certificate renewed in place), so that new
//! connections present the new one with no restart.

use std::path::Path;
use std::sync::Arc;

use poolside_config::tls_params::ClientCertFiles;
use rustls::SignatureScheme;
use rustls::client::ResolvesClientCert;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::PrivateKeyDer;
use rustls::pki_types::pem::PemObject;
use rustls::sign::CertifiedKey;

use crate::file_backed::FileBacked;
use crate::trusted_roots::{pem_certificates, read_pem};

/// The client certificate and key of `sslcert` and `sslkey`, as the files are now.
#[derive(Debug)]
pub(crate) struct ClientIdentity {
    key: FileBacked<CertifiedKey>,
}

impl ClientIdentity {
    /// The pair in `files`, its key loaded with `provider`; the error says what is
    /// wrong with them (unreadable, encrypted, or not a pair).
    pub(crate) fn new(
        files: &ClientCertFiles,
        provider: Arc<CryptoProvider>,
    ) -> Result<Self, String> {
        let paths = vec![files.cert.clone(), files.key.clone()];
        let files = files.clone();
        let key = FileBacked::new(paths, "sslcert or sslkey", move |_| {
            let (cert, key) = read_pair(&files)?;
            certified_key(&files, &cert, &key, &provider).map(Arc::new)
        })?;
        Ok(Self { key })
    }
}

/// The PEM texts of the certificate and the key `files` names.
pub(crate) fn read_pair(files: &ClientCertFiles) -> Result<(Vec<u8>, Vec<u8>), String> {
    let cert = read_pem("sslcert", &files.cert)?;
    let key = std::fs::read(&files.key).map_err(|e| no_key(&files.key, &e))?;
    Ok((cert, key))
}

/// The chain in `cert` and the key in `key`, the texts of `files`, checked to belong
/// together; the error names the files.
pub(crate) fn certified_key(
    files: &ClientCertFiles,
    cert: &[u8],
    key: &[u8],
    provider: &CryptoProvider,
) -> Result<CertifiedKey, String> {
    let chain = pem_certificates("sslcert", &files.cert, cert)?;
    if chain.is_empty() {
        return Err(format!(
            "sslcert {} holds no certificate",
            files.cert.display()
        ));
    }
    let private = PrivateKeyDer::from_pem_slice(key).map_err(|e| no_key(&files.key, &e))?;
    CertifiedKey::from_der(chain, private, provider).map_err(|e| {
        format!(
            "sslcert {} and sslkey {} are not a certificate and its key ({e})",
            files.cert.display(),
            files.key.display()
        )
    })
}

/// The error for the key file `key`, which `error` kept from being read.
fn no_key(key: &Path, error: &dyn std::fmt::Display) -> String {
    format!(
        "sslkey {} holds no readable PEM private key ({error}); an encrypted key is not \
         read: decrypt it (openssl pkey -in encrypted.key -out client.key)",
        key.display()
    )
}

impl ResolvesClientCert for ClientIdentity {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        // The files as they are now, read again if they changed.
        Some(self.key.get())
    }

    fn has_certs(&self) -> bool {
        true
    }
}
