//! [`Utilization`]: a pool's utilization as normal, warning or critical, with the
//! configured thresholds (`health.warning_utilization`, `health.critical_utilization`).

use serde::Serialize;

use crate::model::Status;

/// How busy a pool is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Utilization {
    /// Under the warning threshold.
    Normal,
    /// At or over the warning threshold.
    Warning,
    /// At or over the critical threshold.
    Critical,
}

impl Utilization {
    /// The level of `percent` with thresholds `warning` and `critical` (percent).
    ///
    /// # Examples
    ///
    /// ```
    /// use poolside_health::Utilization;
    /// assert_eq!(Utilization::of(75.0, 70, 90), Utilization::Warning);
    /// ```
    pub fn of(percent: f64, warning: u32, critical: u32) -> Self {
        if percent >= f64::from(critical) {
            Self::Critical
        } else if percent >= f64::from(warning) {
            Self::Warning
        } else {
            Self::Normal
        }
    }

    /// Its health status: a busy pool warns and never fails, as taking a busy
    /// instance out of rotation would pile its load on the others.
    pub fn status(self) -> Status {
        match self {
            Self::Normal => Status::Pass,
            Self::Warning | Self::Critical => Status::Warn,
        }
    }
}
