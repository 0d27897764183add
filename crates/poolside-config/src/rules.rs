//! The rules a single key's value must keep, named beside the key in the key table
//! ([`crate::keys`]); validation checks each one once, by the table. Rules across keys
//! (`min_idle <= max_size`) stay in [`crate::validate`].

use std::time::Duration;

/// A count of at least one.
pub(crate) fn positive_count(value: &u32) -> Option<String> {
    (*value == 0).then(|| "must be at least 1".to_owned())
}

/// A duration longer than zero.
pub(crate) fn positive_duration(value: &Duration) -> Option<String> {
    value
        .is_zero()
        .then(|| "must be longer than zero".to_owned())
}

/// A percentage, 0 to 100.
pub(crate) fn percent(value: &u32) -> Option<String> {
    (*value > 100).then(|| format!("{value} is outside 0..=100 percent"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_rule_refuses_only_what_it_names() {
        assert!(positive_count(&0).is_some() && positive_count(&1).is_none());
        assert!(positive_duration(&Duration::ZERO).is_some());
        assert!(positive_duration(&Duration::from_millis(1)).is_none());
        assert!(percent(&101).is_some() && percent(&100).is_none());
    }
}
