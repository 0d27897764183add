//! The CAs a TLS connection trusts, for PostgreSQL's and Redis's alike: a PEM file
//! the URL names (`sslrootcert`), else the system's.

use std::path::Path;

use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

/// The CAs in `root_cert`, or the system's without one; the error says what is
/// wrong with them and what to give instead.
pub(crate) fn trusted_roots(root_cert: Option<&Path>) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    match root_cert {
        Some(path) => {
            let certs = CertificateDer::pem_file_iter(path)
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .map_err(|e| {
                    format!(
                        "sslrootcert {} holds no readable PEM certificate ({e})",
                        path.display()
                    )
                })?;
            let (added, _) = roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err(format!(
                    "sslrootcert {} holds no CA certificate rustls can use",
                    path.display()
                ));
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            let (added, _) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                return Err(
                    "no system CA certificates found: give sslrootcert=<PEM file> in the URL"
                        .to_owned(),
                );
            }
        }
    }
    Ok(roots)
}
