//! [`SecretToken`]: a bearer token that is never shown.

use std::fmt;

use crate::redact::MASK;

/// A bearer token (such as `health.admin_token`). `Debug` and `Display` print `****`;
/// only [`expose`](SecretToken::expose) gives the real text.
///
/// # Examples
///
/// ```
/// use poolside_config::SecretToken;
///
/// let token = SecretToken::new("s3cr3t-t0ken-0f-the-0ps-team");
/// assert_eq!(token.to_string(), "****");
/// assert_eq!(format!("{token:?}"), "SecretToken(\"****\")");
/// assert!(token.matches("s3cr3t-t0ken-0f-the-0ps-team"));
/// assert!(!token.matches("guess"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct SecretToken(String);

impl SecretToken {
    /// The fewest characters a token may have.
    pub const MIN_LEN: usize = 16;

    /// Wraps a token.
    pub fn new(token: impl Into<String>) -> Self {
        Self(token.into())
    }

    /// The real token. Compare with [`matches`](Self::matches); never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether `presented` is this token, in time that does not depend on where the
    /// two first differ (so a caller cannot find the token a byte at a time).
    pub fn matches(&self, presented: &str) -> bool {
        let (a, b) = (self.0.as_bytes(), presented.as_bytes());
        let differences = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
        differences == 0 && a.len() == b.len()
    }
}

impl fmt::Display for SecretToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MASK)
    }
}

impl fmt::Debug for SecretToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SecretToken").field(&MASK).finish()
    }
}
