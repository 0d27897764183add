//! The test certificates PostgreSQL and Redis serve TLS with: a throwaway CA, a server
//! certificate it signs for `localhost` and `127.0.0.1`, and an unrelated CA that a
//! client must refuse to trust the server by; and two client certificates for the
//! certificate role (`CERT_USER`), one the CA signs, which the servers accept, and
//! one the unrelated CA signs, which they refuse. Made once with `openssl` under
//! `target/poolside-services/tls/`.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};

use super::install::{self, Requirement};
use super::layout::Layout;
use super::process::run;

/// The Debian package of the `openssl` program.
pub(crate) const OPENSSL: Requirement = Requirement {
    program: "openssl",
    package: "openssl",
};

/// The certificate files.
pub(crate) struct TlsFiles {
    /// The CA that signed the server certificate (`sslrootcert` for clients).
    pub(crate) ca: PathBuf,
    /// A CA that signed nothing the server has.
    pub(crate) other_ca: PathBuf,
    pub(crate) server_cert: PathBuf,
    pub(crate) server_key: PathBuf,
    /// A client certificate the CA signs, for `CERT_USER`, and its key.
    pub(crate) client_cert: PathBuf,
    pub(crate) client_key: PathBuf,
    /// A client certificate the unrelated CA signs, and its key.
    pub(crate) other_client_cert: PathBuf,
    pub(crate) other_client_key: PathBuf,
}

impl TlsFiles {
    /// Where the files are, made or not.
    pub(crate) fn of(layout: &Layout) -> Self {
        let dir = layout.dir("tls");
        Self {
            ca: dir.join("ca.crt"),
            other_ca: dir.join("other-ca.crt"),
            server_cert: dir.join("server.crt"),
            server_key: dir.join("server.key"),
            client_cert: dir.join("client.crt"),
            client_key: dir.join("client.key"),
            other_client_cert: dir.join("other-client.crt"),
            other_client_key: dir.join("other-client.key"),
        }
    }
}

/// The server certificate's extensions: for the name and address clients connect
/// to, and for client authentication too, since the Redis Cluster's nodes present it
/// to each other on their TLS bus, which always asks for a client certificate.
const SERVER_EXTENSIONS: &str =
    "subjectAltName = DNS:localhost, IP:127.0.0.1\nextendedKeyUsage = serverAuth, clientAuth\n";

/// Makes the certificates unless they exist with today's extensions, the server's key
/// readable by the server user only (PostgreSQL refuses a key others can read).
pub(crate) fn ensure(layout: &Layout) -> Result<TlsFiles> {
    let files = TlsFiles::of(layout);
    let extensions = layout.dir("tls").join("server.ext");
    let current = std::fs::read_to_string(extensions).is_ok_and(|text| text == SERVER_EXTENSIONS);
    let remake = !current
        || ![
            &files.ca,
            &files.other_ca,
            &files.server_cert,
            &files.server_key,
        ]
        .iter()
        .all(|f| f.is_file());
    if remake {
        make(layout, &files).context("making the test certificates with openssl")?;
    }
    // New CAs sign new client certificates.
    if remake
        || ![
            &files.client_cert,
            &files.client_key,
            &files.other_client_cert,
            &files.other_client_key,
        ]
        .iter()
        .all(|f| f.is_file())
    {
        make_clients(layout, &files).context("making the client certificates with openssl")?;
    }
    Ok(files)
}

/// The client certificates' extensions: for client authentication only.
const CLIENT_EXTENSIONS: &str = "extendedKeyUsage = clientAuth\n";

/// The subject PostgreSQL's `cert` authentication maps to the role: its CN.
fn client_subject() -> String {
    format!("/CN={}", super::CERT_USER)
}

/// Makes the two client certificates with the CAs made before.
fn make_clients(layout: &Layout, files: &TlsFiles) -> Result<()> {
    let openssl = install::find_program(OPENSSL.program).context("openssl is not installed")?;
    let dir = layout.service_dir("tls", false)?;
    let openssl_run = |args: &[&str]| run(Command::new(&openssl).args(args).current_dir(&dir));
    std::fs::write(dir.join("client.ext"), CLIENT_EXTENSIONS)?;
    for (ca, cert, key) in [
        ("ca", &files.client_cert, &files.client_key),
        (
            "other-ca",
            &files.other_client_cert,
            &files.other_client_key,
        ),
    ] {
        issue(&openssl_run, &client_subject(), key, ca, "client.ext", cert)?;
    }
    Ok(())
}

fn make(layout: &Layout, files: &TlsFiles) -> Result<()> {
    let openssl = install::find_program(OPENSSL.program).context("openssl is not installed")?;
    let dir = layout.service_dir("tls", false)?;
    let key = |name: &str| dir.join(format!("{name}.key"));
    let openssl_run = |args: &[&str]| run(Command::new(&openssl).args(args).current_dir(&dir));
    for (name, subject) in [
        ("ca", "/CN=poolside test CA"),
        ("other-ca", "/CN=poolside unrelated CA"),
    ] {
        openssl_run(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "3650",
            "-subj",
            subject,
            "-keyout",
            &path(&key(name)),
            "-out",
            &format!("{name}.crt"),
        ])?;
    }
    std::fs::write(dir.join("server.ext"), SERVER_EXTENSIONS)?;
    issue(
        &openssl_run,
        "/CN=localhost",
        &files.server_key,
        "ca",
        "server.ext",
        &files.server_cert,
    )?;
    std::fs::set_permissions(&files.server_key, std::fs::Permissions::from_mode(0o600))?;
    if let Some(user) = &layout.user {
        user.own(&files.server_key)?;
        user.own(&files.server_cert)?;
    }
    Ok(())
}

/// A new key in `key`, and a certificate for it in `cert` with `subject` and the
/// extensions of file `extensions`, signed by the CA named `ca` (its `.crt` and
/// `.key` in the directory `openssl_run` runs in).
fn issue<T>(
    openssl_run: &impl Fn(&[&str]) -> Result<T>,
    subject: &str,
    key: &Path,
    ca: &str,
    extensions: &str,
    cert: &Path,
) -> Result<()> {
    openssl_run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        subject,
        "-keyout",
        &path(key),
        "-out",
        "request.csr",
    ])?;
    openssl_run(&[
        "x509",
        "-req",
        "-in",
        "request.csr",
        "-CA",
        &format!("{ca}.crt"),
        "-CAkey",
        &format!("{ca}.key"),
        "-CAcreateserial",
        "-days",
        "3650",
        "-extfile",
        extensions,
        "-out",
        &path(cert),
    ])?;
    Ok(())
}

fn path(path: &Path) -> String {
    path.display().to_string()
}
