//! libpq's TLS parameters in a PostgreSQL connection string (`sslmode`,
//! `sslrootcert`, `sslcert`, `sslkey`), which the driver only partly knows (it has no
//! `verify-ca`, `verify-full` or certificate files): taken out for the pool's own TLS
//! setup. A Redis `rediss://` URL names its certificate files with the same names.

use std::path::PathBuf;

/// How a connection uses TLS, as libpq's `sslmode` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SslMode {
    /// Never.
    Disable,
    /// When the server offers it, without checking its certificate (libpq's default).
    #[default]
    Prefer,
    /// Always; the certificate is checked against `sslrootcert` when one is given, and
    /// not checked otherwise (as libpq does).
    Require,
    /// Always, with a certificate signed by a trusted CA, whatever name it is for.
    VerifyCa,
    /// Always, with a certificate signed by a trusted CA for the host connected to.
    VerifyFull,
}

impl SslMode {
    fn parse(value: &str) -> Option<Self> {
        Some(match value {
            "disable" => Self::Disable,
            "prefer" => Self::Prefer,
            "require" => Self::Require,
            "verify-ca" => Self::VerifyCa,
            "verify-full" => Self::VerifyFull,
            _ => return None,
        })
    }

    /// The `sslmode` the driver gets: it knows only disable, prefer and require, and
    /// verification is done by the pool's own certificate check.
    fn for_driver(self) -> &'static str {
        match self {
            Self::Disable => "disable",
            Self::Prefer => "prefer",
            Self::Require | Self::VerifyCa | Self::VerifyFull => "require",
        }
    }
}

/// The TLS parameters of a connection string.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TlsParams {
    /// `sslmode`; `prefer` when absent.
    pub mode: SslMode,
    /// `sslrootcert`: a PEM file of the CAs to trust; the system's when absent.
    pub root_cert: Option<PathBuf>,
    /// `sslcert` and `sslkey`: the certificate to present when the server asks for
    /// one; none when absent.
    pub client_cert: Option<ClientCertFiles>,
}

/// A client certificate and its private key (libpq's `sslcert` and `sslkey`): PEM
/// files, the certificate's first, then any intermediate CAs; the key unencrypted
/// (PKCS#8, PKCS#1 or SEC1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCertFiles {
    /// `sslcert`: the certificate chain.
    pub cert: PathBuf,
    /// `sslkey`: its private key.
    pub key: PathBuf,
}

impl ClientCertFiles {
    /// The pair from a connection string's `sslcert`, `sslkey` and `sslpassword`:
    /// none without either, an error when one comes alone or with `sslpassword`.
    fn from_params(
        cert: Option<PathBuf>,
        key: Option<PathBuf>,
        password: bool,
    ) -> Result<Option<Self>, String> {
        if password {
            return Err(
                "sslpassword is not supported: poolside reads unencrypted keys; give \
                        sslkey a decrypted copy (openssl pkey -in encrypted.key -out \
                        client.key), readable by this process only"
                    .to_owned(),
            );
        }
        match (cert, key) {
            (Some(cert), Some(key)) => Ok(Some(Self { cert, key })),
            (None, None) => Ok(None),
            (Some(_), None) | (None, Some(_)) => Err("sslcert and sslkey go together: give \
                                                      both, the client certificate's PEM file \
                                                      and its private key's"
                .to_owned()),
        }
    }
}

/// Splits `sslmode`, `sslrootcert`, `sslcert` and `sslkey` out of a `postgres://` URL
/// or a key/value connection string. Returns the string for the driver (`sslmode` as
/// it knows it, the files removed) and the parameters.
///
/// # Errors
///
/// An `sslmode` other than `disable`, `prefer`, `require`, `verify-ca` or `verify-full`;
/// `sslcert` without `sslkey` or the other way round; `sslpassword` (encrypted keys are
/// not read). Said without quoting the string (it may hold a password).
///
/// # Examples
///
/// ```
/// use poolside_config::tls_params::{SslMode, split_tls_params};
///
/// let (driver, tls) = split_tls_params(
///     "postgres://app:pw@db/app?sslmode=verify-full&sslrootcert=/etc/ca.pem&application_name=x",
/// )?;
/// assert_eq!(driver, "postgres://app:pw@db/app?sslmode=require&application_name=x");
/// assert_eq!(tls.mode, SslMode::VerifyFull);
/// assert_eq!(tls.root_cert.as_deref(), Some(std::path::Path::new("/etc/ca.pem")));
/// # Ok::<(), String>(())
/// ```
pub fn split_tls_params(conn: &str) -> Result<(String, TlsParams), String> {
    let is_url = crate::conn_string::is_url(conn);
    let mut tls = TlsParams::default();
    let (mut cert, mut key, mut password) = (None, None, false);
    let mut take = |name: &str, value: &str| -> Result<Option<String>, String> {
        match name {
            "sslmode" => {
                tls.mode = SslMode::parse(value).ok_or_else(|| {
                    format!(
                        "sslmode {value:?} is not one of disable, prefer, require, verify-ca, \
                         verify-full"
                    )
                })?;
                Ok(Some(format!("sslmode={}", tls.mode.for_driver())))
            }
            "sslrootcert" => {
                tls.root_cert = Some(PathBuf::from(value));
                Ok(None)
            }
            "sslcert" => {
                cert = Some(PathBuf::from(value));
                Ok(None)
            }
            "sslkey" => {
                key = Some(PathBuf::from(value));
                Ok(None)
            }
            "sslpassword" => {
                password = true;
                Ok(None)
            }
            _ => Ok(Some(String::new())),
        }
    };
    let driver = if is_url {
        let Some((base, query)) = conn.split_once('?') else {
            return Ok((conn.to_owned(), tls));
        };
        let mut kept = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = url::form_urlencoded::parse(pair.as_bytes())
                .next()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .unwrap_or_default();
            match take(&name, &value)? {
                Some(replaced) if !replaced.is_empty() => kept.push(replaced),
                Some(_) => kept.push(pair.to_owned()),
                None => {}
            }
        }
        if kept.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", kept.join("&"))
        }
    } else {
        let mut kept = Vec::new();
        for token in conn.split_whitespace() {
            let (name, value) = token.split_once('=').unwrap_or((token, ""));
            match take(name.trim(), value.trim().trim_matches('\''))? {
                Some(replaced) if !replaced.is_empty() => kept.push(replaced),
                Some(_) => kept.push(token.to_owned()),
                None => {}
            }
        }
        kept.join(" ")
    };
    tls.client_cert = ClientCertFiles::from_params(cert, key, password)?;
    Ok((driver, tls))
}

/// The `sslrootcert` a URL's query names (a Redis `rediss://` URL's CA file), if any.
///
/// ```
/// let url = url::Url::parse("rediss://cache:6380/0?sslrootcert=/etc/ca.pem").unwrap();
/// assert_eq!(
///     poolside_config::tls_params::root_cert_param(&url).as_deref(),
///     Some(std::path::Path::new("/etc/ca.pem"))
/// );
/// ```
pub fn root_cert_param(url: &url::Url) -> Option<PathBuf> {
    query_path(url, "sslrootcert")
}

/// The client certificate a URL's query names (a Redis `rediss://` URL's `sslcert`
/// and `sslkey`), if any.
///
/// # Errors
///
/// One of `sslcert` and `sslkey` without the other, or `sslpassword`.
///
/// ```
/// let url = url::Url::parse("rediss://cache:6380/0?sslcert=/etc/c.pem&sslkey=/etc/c.key").unwrap();
/// let files = poolside_config::tls_params::client_cert_param(&url)?.expect("named");
/// assert_eq!(files.key, std::path::Path::new("/etc/c.key"));
/// # Ok::<(), String>(())
/// ```
pub fn client_cert_param(url: &url::Url) -> Result<Option<ClientCertFiles>, String> {
    ClientCertFiles::from_params(
        query_path(url, "sslcert"),
        query_path(url, "sslkey"),
        url.query_pairs().any(|(name, _)| name == "sslpassword"),
    )
}

fn query_path(url: &url::Url, name: &str) -> Option<PathBuf> {
    url.query_pairs()
        .find(|(found, _)| found == name)
        .map(|(_, path)| PathBuf::from(path.into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_mode_maps_to_one_the_driver_knows() {
        for (given, driver, mode) in [
            ("disable", "disable", SslMode::Disable),
            ("prefer", "prefer", SslMode::Prefer),
            ("require", "require", SslMode::Require),
            ("verify-ca", "require", SslMode::VerifyCa),
            ("verify-full", "require", SslMode::VerifyFull),
        ] {
            let (url, tls) = split_tls_params(&format!("postgres://h/db?sslmode={given}"))
                .expect("a known mode");
            assert_eq!(url, format!("postgres://h/db?sslmode={driver}"));
            assert_eq!(tls.mode, mode);
            let (kv, tls) = split_tls_params(&format!(
                "host=h sslmode={given} sslrootcert=/ca.pem dbname=d"
            ))
            .expect("a known mode");
            assert_eq!(kv, format!("host=h sslmode={driver} dbname=d"));
            assert_eq!(tls.mode, mode);
            assert_eq!(tls.root_cert, Some(PathBuf::from("/ca.pem")));
        }
    }

    #[test]
    fn no_parameters_mean_prefer_and_the_string_is_unchanged() {
        for conn in [
            "postgres://u:p@h/db",
            "postgres://h/db?application_name=a",
            "host=h",
        ] {
            let (driver, tls) = split_tls_params(conn).expect("parses");
            assert_eq!(driver, conn);
            assert_eq!(tls, TlsParams::default());
        }
    }

    #[test]
    fn a_client_certificate_is_taken_out_and_needs_both_files() {
        for (conn, for_driver) in [
            (
                "postgres://u:p@h/db?sslcert=/c.pem&sslmode=verify-full&sslkey=/c.key",
                "postgres://u:p@h/db?sslmode=require",
            ),
            (
                "host=h sslcert=/c.pem sslmode=verify-full sslkey='/c.key'",
                "host=h sslmode=require",
            ),
        ] {
            let (driver, tls) = split_tls_params(conn).expect("parses");
            assert_eq!(driver, for_driver);
            assert_eq!(
                tls.client_cert,
                Some(ClientCertFiles {
                    cert: PathBuf::from("/c.pem"),
                    key: PathBuf::from("/c.key"),
                })
            );
        }
        for alone in ["sslcert=/c.pem", "sslkey=/c.key"] {
            let error =
                split_tls_params(&format!("postgres://u:hunter2@h/db?{alone}")).expect_err("alone");
            assert!(error.contains("go together"), "{error}");
            assert!(!error.contains("hunter2"), "{error}");
        }
        let error =
            split_tls_params("postgres://h/db?sslcert=/c.pem&sslkey=/c.key&sslpassword=secret")
                .expect_err("encrypted key");
        assert!(error.contains("sslpassword is not supported"), "{error}");
        assert!(!error.contains("secret"), "{error}");
        let redis = url::Url::parse("rediss://h:6380/0?sslkey=/c.key").expect("a URL");
        assert!(client_cert_param(&redis).is_err());
        let plain = url::Url::parse("rediss://h:6380/0?sslrootcert=/ca.pem").expect("a URL");
        assert_eq!(client_cert_param(&plain), Ok(None));
    }

    #[test]
    fn an_unknown_mode_is_refused_without_quoting_the_string() {
        let error = split_tls_params("postgres://u:hunter2@h/db?sslmode=allow").expect_err("allow");
        assert!(error.contains("\"allow\""), "{error}");
        assert!(!error.contains("hunter2"), "{error}");
    }
}
