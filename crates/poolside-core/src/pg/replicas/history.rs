//! [`PrimaryHistory`]: the primary's WAL position at each sample, to tell how long ago
//! the primary was where a replica has replayed to: its replay lag, within one sample
//! interval, whether the primary is busy or idle.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::Lsn;

/// Samples kept: ten minutes at the default interval of a second.
const KEPT: usize = 600;

/// The primary's positions, oldest first.
#[derive(Debug, Clone, Default)]
pub(super) struct PrimaryHistory {
    positions: VecDeque<(Instant, Lsn)>,
}

impl PrimaryHistory {
    /// Records the primary at `position` at `at`.
    pub(super) fn record(&mut self, at: Instant, position: Lsn) {
        if self.positions.len() == KEPT {
            self.positions.pop_front();
        }
        self.positions.push_back((at, position));
    }

    /// How far behind a replica that has replayed up to `replayed` is at `now`: zero
    /// when it has replayed all the primary had written at the last sample; else the
    /// time since the last sample at which the primary had written no more than it
    /// has replayed (or since the oldest sample kept, at least). `None` before any
    /// sample.
    pub(super) fn lag(&self, replayed: Lsn, now: Instant) -> Option<Duration> {
        let &(_, latest) = self.positions.back()?;
        if replayed >= latest {
            return Some(Duration::ZERO);
        }
        let since = self
            .positions
            .iter()
            .rev()
            .find(|(_, position)| *position <= replayed)
            .or_else(|| self.positions.front())
            .map(|(at, _)| *at)?;
        Some(now.saturating_duration_since(since))
    }

    /// The primary's latest position.
    pub(super) fn latest(&self) -> Option<Lsn> {
        self.positions.back().map(|(_, position)| *position)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_is_the_time_since_the_primary_was_where_the_replica_is() {
        let start = Instant::now();
        let at = |s: u64| start + Duration::from_secs(s);
        let mut history = PrimaryHistory::default();
        assert_eq!(history.lag(Lsn(0), at(0)), None);
        for (s, position) in [(0, 100), (1, 200), (2, 300), (3, 300)] {
            history.record(at(s), Lsn(position));
        }
        assert_eq!(
            history.lag(Lsn(300), at(3)),
            Some(Duration::ZERO),
            "caught up"
        );
        assert_eq!(
            history.lag(Lsn(250), at(3)),
            Some(Duration::from_secs(2)),
            "as at 1 s"
        );
        assert_eq!(
            history.lag(Lsn(50), at(3)),
            Some(Duration::from_secs(3)),
            "older than all"
        );
        for s in 4..700 {
            history.record(at(s), Lsn(300 + s));
        }
        assert_eq!(history.positions.len(), KEPT);
        assert_eq!(history.latest(), Some(Lsn(999)));
    }
}
