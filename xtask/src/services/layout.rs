//! [`Layout`]: where each service keeps its data, log, socket and pid file.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::process::{ServerUser, is_root};
use crate::paths;

/// Longest Unix socket directory that leaves room for `/.s.PGSQL.NNNNN` within the
/// kernel's 108-byte socket path limit.
const MAX_SOCKET_DIR_LEN: usize = 80;

/// The services' directory tree.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    /// `target/poolside-services`, resolved.
    pub(crate) root: PathBuf,
    /// Who runs the servers that refuse root; `None` when not root.
    pub(crate) user: Option<ServerUser>,
}

impl Layout {
    /// The existing tree, for `status` and `down`.
    pub(crate) fn existing() -> Self {
        let wanted = paths::services_dir();
        Self {
            root: std::fs::canonicalize(&wanted).unwrap_or(wanted),
            user: None,
        }
    }

    /// Creates the tree. When the unprivileged server user could not reach
    /// `target/` (a checkout under `/root`, say) or the socket path would be too long,
    /// the data lives under `/tmp` and `target/poolside-services` links to it.
    pub(crate) fn create() -> Result<Self> {
        let wanted = paths::services_dir();
        let root = if wanted.exists() {
            std::fs::canonicalize(&wanted)?
        } else if is_root() && needs_short_public_path(&wanted) {
            let real = PathBuf::from(format!("/tmp/poolside-services-{:016x}", fnv1a(&wanted)));
            std::fs::create_dir_all(&real)?;
            if let Some(parent) = wanted.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::os::unix::fs::symlink(&real, &wanted)
                .with_context(|| format!("linking {} to {}", wanted.display(), real.display()))?;
            real
        } else {
            std::fs::create_dir_all(&wanted)
                .with_context(|| format!("creating {}", wanted.display()))?;
            wanted
        };
        std::fs::create_dir_all(root.join("run"))?;
        Ok(Self { root, user: None })
    }

    /// Sets who runs the servers, and gives them the socket directory.
    pub(crate) fn with_user(mut self, user: Option<ServerUser>) -> Result<Self> {
        if let Some(user) = &user {
            user.own(&self.run_dir())?;
        }
        self.user = user;
        Ok(self)
    }

    /// The directory of service `key`.
    pub(crate) fn dir(&self, key: &str) -> PathBuf {
        self.root.join(key)
    }

    /// The directory holding Unix sockets.
    pub(crate) fn run_dir(&self) -> PathBuf {
        self.root.join("run")
    }

    /// The log file of service `key`.
    pub(crate) fn log(&self, key: &str) -> PathBuf {
        self.dir(key).join(format!("{key}.log"))
    }

    /// The file holding the pid xtask started for service `key`.
    pub(crate) fn pid_file(&self, key: &str) -> PathBuf {
        self.dir(key).join("xtask.pid")
    }

    /// Creates the directory of service `key`, owned by the server user when it runs
    /// the service.
    pub(crate) fn service_dir(&self, key: &str, owned_by_server_user: bool) -> Result<PathBuf> {
        let dir = self.dir(key);
        std::fs::create_dir_all(&dir)?;
        if owned_by_server_user && let Some(user) = &self.user {
            user.own(&dir)?;
        }
        Ok(dir)
    }
}

/// Whether `path` is too long for sockets, or an ancestor is closed to other users.
fn needs_short_public_path(path: &Path) -> bool {
    if path.as_os_str().len() > MAX_SOCKET_DIR_LEN {
        return true;
    }
    path.ancestors().skip(1).any(|dir| {
        std::fs::metadata(dir)
            .is_ok_and(|m| m.is_dir() && m.permissions().mode() & 0o001 == 0 && m.uid() == 0)
    })
}

/// A stable 64-bit hash of a path (FNV-1a), naming its directory under `/tmp`.
fn fnv1a(path: &Path) -> u64 {
    path.as_os_str()
        .as_encoded_bytes()
        .iter()
        .fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
            (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
        })
}
