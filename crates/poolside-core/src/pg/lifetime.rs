//! [`jittered`]: a connection's lifetime, `max_lifetime` less up to a tenth at
//! random, so that connections opened together (a pool warmed up, a fleet of
//! instances started at once, a read path's connections opened on first use) do not
//! all retire, and reconnect, at the same moment.

use std::time::Duration;

/// Up to this fraction of `max_lifetime` is taken off each connection's lifetime.
const LIFETIME_JITTER: f64 = 0.1;

/// A lifetime between 90% and 100% of `max_lifetime`, drawn anew at each call.
pub(crate) fn jittered(max_lifetime: Duration) -> Duration {
    max_lifetime.mul_f64(1.0 - LIFETIME_JITTER * fastrand::f64())
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::time::Duration;

    use super::jittered;

    #[test]
    fn lifetimes_fall_within_the_last_tenth_and_differ() {
        let max = Duration::from_secs(30 * 60);
        let lifetimes: Vec<Duration> = (0..1_000).map(|_| jittered(max)).collect();
        assert!(
            lifetimes
                .iter()
                .all(|l| *l <= max && *l >= max.mul_f64(0.9)),
            "a lifetime outside [90%, 100%] of max_lifetime"
        );
        let distinct: HashSet<Duration> = lifetimes.iter().copied().collect();
        assert!(
            distinct.len() > 900,
            "only {} distinct lifetimes of 1,000: connections would retire together",
            distinct.len()
        );
        let longest = lifetimes.iter().max().expect("1,000 lifetimes");
        let shortest = lifetimes.iter().min().expect("1,000 lifetimes");
        let spread = *longest - *shortest;
        assert!(
            spread > max.mul_f64(0.05),
            "lifetimes spread over {spread:?} only"
        );
    }
}
