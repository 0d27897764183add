//! `Checker`: the configuration under check, where each key's value came from, and
//! the problems found so far; the checks shared by every part (certificate files).

use std::collections::BTreeMap;

use crate::source::Source;
use crate::tls_params::TlsParams;
use crate::{Config, SecretUrl};

use super::Findings;
use crate::problem::Problem;

/// The configuration under check and what the checks found in it.
pub(super) struct Checker<'a> {
    pub(super) config: &'a Config,
    pub(super) sources: &'a BTreeMap<&'static str, Source>,
    pub(super) found: Findings,
}

impl Checker<'_> {
    /// Where `key`'s value came from: the profile's default when no source set it.
    pub(super) fn source(&self, key: &str) -> Source {
        self.sources
            .get(key)
            .cloned()
            .unwrap_or(Source::Default(self.config.profile))
    }

    /// `key = value (from source)`, for naming a second key in a message.
    pub(super) fn named(&self, key: &str, value: impl std::fmt::Display) -> String {
        format!("{key} = {value} (from {})", self.source(key))
    }

    /// Records an error under `key`: the pools are not built.
    pub(super) fn error(&mut self, key: &str, message: impl AsRef<str>) {
        let problem = Problem::new(key, self.source(key), message);
        self.found.errors.push(problem);
    }

    /// Records a warning under `key`: the setting works, but is likely wrong.
    pub(super) fn warn(&mut self, key: &str, message: impl AsRef<str>) {
        let problem = Problem::new(key, self.source(key), message);
        self.found.warnings.push(problem);
    }

    /// The certificate files `url` names (`tls`: its `sslrootcert`, `sslcert` and
    /// `sslkey`) must be files.
    pub(super) fn tls_files(&mut self, key: &str, url: &SecretUrl, tls: &TlsParams) {
        let client = tls.client_cert.as_ref();
        for (param, file, what) in [
            (
                "sslrootcert",
                tls.root_cert.as_deref(),
                "the CA that signed the server's certificate",
            ),
            (
                "sslcert",
                client.map(|files| files.cert.as_path()),
                "the client certificate",
            ),
            (
                "sslkey",
                client.map(|files| files.key.as_path()),
                "the client certificate's private key",
            ),
        ] {
            if let Some(file) = file.filter(|path| !path.is_file()) {
                self.error(
                    key,
                    format!(
                        "{url}: {param} {} is not a file: give the PEM file of {what}",
                        file.display()
                    ),
                );
            }
        }
    }
}
