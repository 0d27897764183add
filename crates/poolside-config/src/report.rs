//! [`ConfigReport`]: every value with its source, and every error and warning;
//! [`LoadedConfig`]: what a successful load returns.

use std::fmt;

use crate::Config;
use crate::problem::{ConfigError, Problem, counted};
use crate::source::Source;

/// One key's effective value (passwords masked) and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The dotted key.
    pub key: &'static str,
    /// The value as text, passwords masked.
    pub value: String,
    /// The layer that gave it.
    pub source: Source,
}

/// The outcome of [`ConfigLoader::check`](crate::ConfigLoader::check), valid or not.
///
/// Its `Display` is the text `cargo xtask config check` prints: one line per key with
/// its value and source, then the warnings, then the errors. Passwords are masked.
#[derive(Debug, Clone)]
pub struct ConfigReport {
    pub(crate) config: Config,
    /// Every key's value and source, in table order.
    pub entries: Vec<Entry>,
    /// What stops the configuration from being used.
    pub errors: Vec<Problem>,
    /// What works but is likely wrong.
    pub warnings: Vec<Problem>,
}

impl ConfigReport {
    /// Whether there are no errors.
    pub fn is_valid(&self) -> bool {
        self.errors.is_empty()
    }

    /// The configuration, if valid; every error otherwise.
    pub fn into_result(self) -> Result<LoadedConfig, ConfigError> {
        if self.errors.is_empty() {
            Ok(LoadedConfig {
                config: self.config,
                entries: self.entries,
                warnings: self.warnings,
            })
        } else {
            Err(ConfigError {
                errors: self.errors,
                warnings: self.warnings,
            })
        }
    }
}

impl fmt::Display for ConfigReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "profile: {}", self.config.profile)?;
        let width = self.entries.iter().map(|e| e.key.len()).max().unwrap_or(0);
        let value_width = self
            .entries
            .iter()
            .map(|e| e.value.chars().count())
            .max()
            .unwrap_or(0)
            .min(60);
        for entry in &self.entries {
            writeln!(
                f,
                "  {:width$}  {:value_width$}  ({})",
                entry.key, entry.value, entry.source
            )?;
        }
        for (label, problems) in [("warning", &self.warnings), ("error", &self.errors)] {
            for problem in problems {
                writeln!(f, "{label}: {problem}")?;
            }
        }
        let warnings = counted(self.warnings.len(), "warning");
        match self.errors.len() {
            0 => write!(f, "configuration is valid ({warnings})"),
            n => write!(
                f,
                "configuration is invalid: {}, {warnings}",
                counted(n, "error")
            ),
        }
    }
}

/// A valid configuration, with the source of each value and any warnings.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    /// The configuration.
    pub config: Config,
    /// Every key's value and source.
    pub entries: Vec<Entry>,
    /// Settings that work but are likely wrong; log them at start.
    pub warnings: Vec<Problem>,
}
