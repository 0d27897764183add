//! [`Lsn`]: a position in PostgreSQL's write-ahead log, the token of read-your-writes.

use std::fmt;
use std::str::FromStr;

/// A position in the primary's write-ahead log (`pg_lsn`, written `16/B374D848`).
///
/// After a write, the primary's position is a token: a read carrying it goes to a
/// replica only once that replica has replayed up to it, so it sees the write. It
/// prints and parses as PostgreSQL writes it, to travel in a header or a cookie.
///
/// # Examples
///
/// ```
/// use poolside_core::Lsn;
///
/// let lsn: Lsn = "16/B374D848".parse().unwrap();
/// assert_eq!(lsn.to_string(), "16/B374D848");
/// assert!(lsn > "16/B374D000".parse().unwrap());
/// assert!("16-B374D848".parse::<Lsn>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Lsn(pub u64);

impl fmt::Display for Lsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:X}/{:X}", self.0 >> 32, self.0 & 0xFFFF_FFFF)
    }
}

/// Why a text is not an [`Lsn`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a WAL position such as 16/B374D848 (two hexadecimal numbers and a slash)")]
pub struct LsnParseError(String);

impl FromStr for Lsn {
    type Err = LsnParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = || LsnParseError(text.chars().take(40).collect());
        let (high, low) = text.trim().split_once('/').ok_or_else(invalid)?;
        let part = |hex: &str| {
            (!hex.is_empty() && hex.len() <= 8)
                .then(|| u64::from_str_radix(hex, 16).ok())
                .flatten()
                .ok_or_else(invalid)
        };
        Ok(Lsn((part(high)? << 32) | part(low)?))
    }
}

impl serde::Serialize for Lsn {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_as_postgres_does() {
        for text in ["0/0", "0/16B3748", "16/B374D848", "FFFFFFFF/FFFFFFFF"] {
            assert_eq!(
                text.parse::<Lsn>().map(|l| l.to_string()),
                Ok(text.to_owned())
            );
        }
        assert_eq!("1/0".parse::<Lsn>(), Ok(Lsn(1 << 32)));
        for bad in [
            "",
            "/",
            "1/",
            "/1",
            "1/2/3",
            "G/0",
            "123456789/0",
            "-1/0",
            "1 / 2",
        ] {
            assert!(bad.parse::<Lsn>().is_err(), "{bad:?}");
        }
    }
}
