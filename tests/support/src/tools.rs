//! The outside programs some tests run, found where `cargo xtask test` installs them:
//! Prometheus's `promtool` and server (Debian), `kubernetes-validate` (PyPI).

use std::path::{Path, PathBuf};

/// The path of `promtool` (Debian package `prometheus`), which checks the exporter's
/// output and the alert rules.
///
/// # Panics
///
/// When it is not installed: `cargo xtask test` installs it.
pub fn promtool() -> String {
    prometheus_program("promtool")
}

/// The path of the `prometheus` server (Debian package `prometheus`), which the
/// end-to-end test of the operations files runs.
///
/// # Panics
///
/// When it is not installed: `cargo xtask test` installs it.
pub fn prometheus() -> String {
    prometheus_program("prometheus")
}

fn prometheus_program(name: &str) -> String {
    [format!("/usr/bin/{name}"), format!("/usr/local/bin/{name}")]
        .into_iter()
        .find(|p| Path::new(p).is_file())
        .unwrap_or_else(|| {
            panic!(
                "{name} is missing: `cargo xtask test` installs it (Debian package \
                 prometheus), or `apt-get install prometheus`"
            )
        })
}

/// The path of `kubernetes-validate` (PyPI), which checks the example Kubernetes
/// manifest against the API's schemas: the one `cargo xtask test` installs under
/// `target/tools/` (`xtask/src/kubernetes_validate.rs`, the same version).
///
/// # Panics
///
/// When it is not installed there.
pub fn kubernetes_validate() -> PathBuf {
    const VERSION: &str = "1.37.0";
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let program = target
        .join("tools")
        .join(format!("kubernetes-validate-{VERSION}"))
        .join("bin/kubernetes-validate");
    assert!(
        program.is_file(),
        "{} is missing: `cargo xtask test` installs it (kubernetes-validate=={VERSION} \
         from PyPI, in a virtual environment)",
        program.display()
    );
    program
}
