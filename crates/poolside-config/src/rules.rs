//! The rules a single key's value must keep, named beside the key in the key table
//! ([`crate::keys`]); validation checks each one once, by the table. Rules across keys
//! (`min_idle <= max_size`) stay in [`crate::validate`].

use std::time::Duration;

use crate::parse::show_duration;

/// The longest duration any key takes: a year. No timeout, delay or interval means
/// more, and a deadline much further out overflows the clock (a checkout would panic).
pub(crate) const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// A count of at least one.
pub(crate) fn positive_count(value: &u32) -> Option<String> {
    (*value == 0).then(|| "must be at least 1".to_owned())
}

/// A duration of at most [`MAX_DURATION`].
pub(crate) fn bounded_duration(value: &Duration) -> Option<String> {
    (*value > MAX_DURATION).then(|| {
        format!(
            "{} is longer than a year, the longest duration poolside takes: shorten it",
            show_duration(value)
        )
    })
}

/// A duration of at most [`MAX_DURATION`], when it is set.
pub(crate) fn bounded_optional_duration(value: &Option<Duration>) -> Option<String> {
    value.as_ref().and_then(bounded_duration)
}

/// A duration longer than zero and at most [`MAX_DURATION`].
pub(crate) fn positive_duration(value: &Duration) -> Option<String> {
    if value.is_zero() {
        return Some("must be longer than zero".to_owned());
    }
    bounded_duration(value)
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
        assert!(positive_duration(&MAX_DURATION).is_none());
        assert!(positive_duration(&Duration::MAX).is_some());
        assert!(bounded_duration(&Duration::ZERO).is_none());
        assert!(bounded_optional_duration(&None).is_none());
        assert!(bounded_optional_duration(&Some(MAX_DURATION + Duration::from_secs(1))).is_some());
        assert!(percent(&101).is_some() && percent(&100).is_none());
    }
}
