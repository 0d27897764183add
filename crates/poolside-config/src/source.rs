//! [`Source`]: where a configuration value came from.

use std::fmt;
use std::path::PathBuf;

use crate::Profile;

/// The layer that gave a configuration value, lowest precedence first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The built-in default of a profile.
    Default(Profile),
    /// The TOML file (`poolside.toml`, or the path in `POOLSIDE_CONFIG`).
    File(PathBuf),
    /// A `POOLSIDE_*` environment variable, named.
    Env(String),
    /// A legacy environment variable (`DATABASE_URL`, `DB_POOL_MAX`, ...), named.
    LegacyEnv(String),
    /// A query parameter of `postgres.url` (`connection_limit`, `pool_timeout`,
    /// `connect_timeout`, `pgbouncer`); it counts in the layer that gave the URL.
    UrlParameter {
        /// The parameter's name.
        parameter: String,
        /// Where the URL came from.
        url_source: Box<Source>,
    },
    /// An explicit override in code ([`ConfigLoader::set`](crate::ConfigLoader::set)).
    Code,
}

impl Source {
    /// The precedence of the layer: a value from a higher rank wins.
    pub(crate) fn rank(&self) -> u8 {
        match self {
            Source::Default(_) => 0,
            Source::File(_) => 1,
            Source::Env(_) => 2,
            Source::LegacyEnv(_) => 3,
            Source::UrlParameter { url_source, .. } => url_source.rank(),
            Source::Code => 4,
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Default(profile) => write!(f, "default of the {profile} profile"),
            Source::File(path) => write!(f, "file {}", path.display()),
            Source::Env(name) => write!(f, "env {name}"),
            Source::LegacyEnv(name) => write!(f, "env {name}"),
            Source::UrlParameter {
                parameter,
                url_source,
            } => write!(
                f,
                "URL parameter {parameter} of postgres.url ({url_source})"
            ),
            Source::Code => f.write_str("set in code"),
        }
    }
}
