//! kubernetes-validate (PyPI), which checks the example Kubernetes manifest against the
//! API's schemas, installed at a pinned version into a Python virtual environment of
//! its own under `target/tools/`, where `poolside_tests::tools::kubernetes_validate`
//! finds it.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result};

use crate::paths;
use crate::services::process::run;

/// The version installed: its schemas cover Kubernetes 1.25 to 1.37.
const VERSION: &str = "1.37.0";

/// The virtual environment's directory.
fn venv_dir() -> PathBuf {
    paths::target_dir()
        .join("tools")
        .join(format!("kubernetes-validate-{VERSION}"))
}

/// Installs kubernetes-validate when it is not there yet, saying so.
pub(crate) fn ensure() -> Result<()> {
    let venv = venv_dir();
    if venv.join("bin/kubernetes-validate").is_file() {
        return Ok(());
    }
    println!(
        "== kubernetes-validate is missing: installing {VERSION} from PyPI into {}",
        venv.display()
    );
    run(Command::new("python3").arg("-m").arg("venv").arg(&venv))
        .context("creating a Python virtual environment (Debian: apt-get install python3-venv)")?;
    run(Command::new(venv.join("bin/pip")).args([
        "install",
        "--quiet",
        "--disable-pip-version-check",
        &format!("kubernetes-validate=={VERSION}"),
    ]))
    .context("installing kubernetes-validate from PyPI")?;
    Ok(())
}
