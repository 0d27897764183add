//! [`Generation`]: the pool's connection generation, for host failover.
//!
//! A connection that finds its server read-only (SQLSTATE 25006, as after a failover
//! that demoted the host, or one that moved a DNS name or virtual address) starts a
//! new generation. Every connection of an older generation is then retired instead
//! of being handed out again, so the pool reconnects; with a multi-host URL and
//! `target_session_attrs=read-write`, the new connections reach whichever host takes
//! writes now.

use std::sync::atomic::{AtomicU64, Ordering};

/// SQLSTATE `read_only_sql_transaction`.
pub(crate) const READ_ONLY_SQL_TRANSACTION: &str = "25006";

/// The generation new connections are born into.
#[derive(Debug, Default)]
pub(crate) struct Generation(AtomicU64);

impl Generation {
    /// The current generation.
    pub(crate) fn current(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }

    /// Retires every connection born in generation `seen` or before. Many connections
    /// failing together on one failover start one new generation, not one each.
    pub(crate) fn retire_up_to(&self, seen: u64) {
        let _ = self
            .0
            .compare_exchange(seen, seen + 1, Ordering::AcqRel, Ordering::Acquire);
    }

    /// Retires every connection open now.
    pub(crate) fn retire_all(&self) {
        self.0.fetch_add(1, Ordering::AcqRel);
    }

    /// Whether a connection born in `born` has been retired.
    pub(crate) fn is_retired(&self, born: u64) -> bool {
        born < self.current()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_of_one_generation_start_one_new_generation() {
        let generation = Generation::default();
        let born = generation.current();
        generation.retire_up_to(born);
        generation.retire_up_to(born);
        assert_eq!(generation.current(), born + 1);
        assert!(generation.is_retired(born));
        assert!(!generation.is_retired(generation.current()));
    }
}
