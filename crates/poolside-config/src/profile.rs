//! [`Profile`]: which set of built-in defaults a configuration starts from.

use std::fmt;
use std::str::FromStr;

/// The deployment profile, read from `POOLSIDE_PROFILE` (default `development`).
///
/// Each profile has its own built-in pool defaults:
///
/// | profile | min_idle | max_size | idle_timeout | connection_timeout |
/// |---|---|---|---|---|
/// | development | 2 | 10 | 10 s | 5 s |
/// | test | 1 | 5 | 5 s | 3 s |
/// | staging | 5 | 20 | 30 s | 10 s |
/// | production | 5 | 20 | 30 s | 10 s |
///
/// # Examples
///
/// ```
/// use poolside_config::Profile;
///
/// let profile: Profile = "production".parse().unwrap();
/// assert_eq!(profile, Profile::Production);
/// assert!("prod".parse::<Profile>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub enum Profile {
    /// Local development: a small pool that warms quickly.
    #[default]
    Development,
    /// Automated tests: the smallest pool, short timeouts.
    Test,
    /// Pre-production: production's sizes.
    Staging,
    /// Production.
    Production,
}

impl Profile {
    /// Every profile, in order.
    pub const ALL: [Profile; 4] = [
        Profile::Development,
        Profile::Test,
        Profile::Staging,
        Profile::Production,
    ];

    /// The profile's name as `POOLSIDE_PROFILE` spells it.
    pub fn name(self) -> &'static str {
        match self {
            Profile::Development => "development",
            Profile::Test => "test",
            Profile::Staging => "staging",
            Profile::Production => "production",
        }
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The error for a profile name that is not one of [`Profile::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown profile {0:?}: expected development, test, staging or production")]
pub struct UnknownProfile(pub String);

impl FromStr for Profile {
    type Err = UnknownProfile;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Profile::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownProfile(s.to_owned()))
    }
}
