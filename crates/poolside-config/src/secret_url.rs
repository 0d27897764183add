//! [`SecretUrl`]: a connection string whose password is never shown.

use std::fmt;

use crate::redact::redact_text;

/// A connection string (URL or libpq key/value string) that may hold a password.
///
/// `Debug` and `Display` print it with the password masked; only
/// [`expose`](SecretUrl::expose) gives the real text, for handing to a driver.
///
/// # Examples
///
/// ```
/// use poolside_config::SecretUrl;
///
/// let url = SecretUrl::new("postgres://app:hunter2@db/app");
/// assert_eq!(url.to_string(), "postgres://app:****@db/app");
/// assert_eq!(format!("{url:?}"), "SecretUrl(\"postgres://app:****@db/app\")");
/// assert_eq!(url.expose(), "postgres://app:hunter2@db/app");
/// ```
#[derive(Clone, PartialEq, Eq, Default)]
pub struct SecretUrl(String);

impl SecretUrl {
    /// Wraps a connection string.
    pub fn new(url: impl Into<String>) -> Self {
        Self(url.into())
    }

    /// The real connection string, password included. Hand it to a driver; never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The connection string with its password masked.
    pub fn redacted(&self) -> String {
        redact_text(&self.0)
    }

    /// Whether no connection string was given.
    pub fn is_empty(&self) -> bool {
        self.0.trim().is_empty()
    }
}

impl fmt::Display for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SecretUrl").field(&self.redacted()).finish()
    }
}
