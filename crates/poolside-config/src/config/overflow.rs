//! [`OverflowConfig`]: the `overflow` section (read from `failover` too, its old name).

use crate::SecretUrl;

/// The overflow pool that takes critical operations while the primary pool is busy
/// (`[overflow]`, `POOLSIDE_OVERFLOW__<KEY>`). `[failover]`, its old name, is still
/// read, with a warning: host failover is `postgres.url`'s list of hosts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverflowConfig {
    /// Whether the overflow pool is used. Default: false. Legacy: `DB_ENABLE_FAILOVER`.
    pub enabled: bool,
    /// Where the overflow pool connects; default: the primary's URL.
    pub secondary_url: Option<SecretUrl>,
    /// Most connections of the overflow pool. Default: 5.
    pub secondary_max_size: u32,
    /// Primary pool utilisation, in percent, at which critical operations overflow.
    /// Default: 80. Legacy: `DB_FAILOVER_THRESHOLD`.
    pub utilization_threshold: u32,
    /// Critical operations come back to the primary once its utilisation is this many
    /// points below the threshold, so that overflow does not flap. Default: 10.
    pub hand_back_margin: u32,
}

impl Default for OverflowConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            secondary_url: None,
            secondary_max_size: 5,
            utilization_threshold: 80,
            hand_back_margin: 10,
        }
    }
}
