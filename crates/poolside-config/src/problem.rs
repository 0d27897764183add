//! [`Problem`] and [`ConfigError`]: what is wrong with a configuration, and where.

use std::fmt;

use crate::redact::redact_text;
use crate::source::Source;

/// One error or warning about one key, naming where the key's value came from.
///
/// The message never holds a password: it is masked when the problem is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    key: String,
    source: Source,
    message: String,
}

impl Problem {
    /// A problem with `key`, whose value came from `source`.
    pub fn new(key: impl Into<String>, source: Source, message: impl AsRef<str>) -> Self {
        Self {
            key: key.into(),
            source,
            message: redact_text(message.as_ref()),
        }
    }

    /// The dotted key, such as `postgres.max_size`.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Where the key's value came from.
    pub fn source(&self) -> &Source {
        &self.source
    }

    /// What is wrong, and what to do.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (from {}): {}", self.key, self.source, self.message)
    }
}

/// Loading failed: every problem found, at once.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    /// The errors; never empty.
    pub errors: Vec<Problem>,
    /// Warnings found along the way.
    pub warnings: Vec<Problem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid poolside configuration ({}); run `cargo xtask config check` to see every value and its source",
            counted(self.errors.len(), "problem")
        )?;
        for problem in &self.errors {
            write!(f, "\n  - {problem}")?;
        }
        Ok(())
    }
}

/// `1 problem`, `2 problems`: a count of `noun`s as the reports write it.
pub(crate) fn counted(n: usize, noun: &str) -> String {
    match n {
        1 => format!("1 {noun}"),
        n => format!("{n} {noun}s"),
    }
}
