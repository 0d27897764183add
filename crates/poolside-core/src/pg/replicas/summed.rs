//! Several replica sets' statistics as one: the same replicas seen by one pool per
//! core's runtime, each with its own samples and counts.

use super::{ReplicaStats, ReplicasStats};

/// Each replica (matched by name, in the order first seen) with its counts added and
/// the most cautious of its samples: fit only if every set finds it fit, the first
/// problem reported, the least WAL replayed, the longest lag and the oldest sample.
/// Reads sent to the primary are added by reason.
impl std::iter::Sum for ReplicasStats {
    fn sum<I: Iterator<Item = ReplicasStats>>(sets: I) -> Self {
        let mut sum = ReplicasStats {
            max_lag_seconds: 0.0,
            replicas: Vec::new(),
            to_primary: Default::default(),
        };
        for set in sets {
            sum.max_lag_seconds = sum.max_lag_seconds.max(set.max_lag_seconds);
            for (reason, count) in set.to_primary {
                *sum.to_primary.entry(reason).or_default() += count;
            }
            for replica in set.replicas {
                match sum.replicas.iter_mut().find(|r| r.name == replica.name) {
                    Some(seen) => merge(seen, replica),
                    None => sum.replicas.push(replica),
                }
            }
        }
        sum
    }
}

/// `other`'s view of the replica `seen` describes, folded into it.
fn merge(seen: &mut ReplicaStats, other: ReplicaStats) {
    seen.fit &= other.fit;
    if seen.problem.is_none() {
        seen.problem = other.problem;
    }
    seen.replayed = match (seen.replayed, other.replayed) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    seen.lag_seconds = larger(seen.lag_seconds, other.lag_seconds);
    seen.lag_bytes = seen.lag_bytes.max(other.lag_bytes);
    seen.sampled_seconds_ago = larger(seen.sampled_seconds_ago, other.sampled_seconds_ago);
    seen.reads += other.reads;
    seen.failed_over += other.failed_over;
}

/// The larger of two optional figures; either when only one is known.
fn larger(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replica(name: &str, fit: bool, lag: Option<f64>, reads: u64) -> ReplicaStats {
        ReplicaStats {
            name: name.to_owned(),
            fit,
            problem: (!fit).then(|| format!("{name} lags")),
            replayed: None,
            lag_seconds: lag,
            lag_bytes: None,
            sampled_seconds_ago: Some(0.5),
            reads,
            failed_over: 1,
        }
    }

    fn set(replicas: Vec<ReplicaStats>, behind_token: u64) -> ReplicasStats {
        ReplicasStats {
            max_lag_seconds: 5.0,
            replicas,
            to_primary: [("behind_token", behind_token)].into_iter().collect(),
        }
    }

    #[test]
    fn the_same_replicas_from_two_sets_add_their_counts_and_keep_the_worst_sample() {
        let sum: ReplicasStats = [
            set(
                vec![
                    replica("a:1", true, Some(0.1), 10),
                    replica("b:1", true, None, 1),
                ],
                2,
            ),
            set(vec![replica("a:1", false, Some(7.0), 5)], 3),
        ]
        .into_iter()
        .sum();
        assert_eq!(sum.max_lag_seconds, 5.0);
        assert_eq!(sum.to_primary["behind_token"], 5);
        let names: Vec<&str> = sum.replicas.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["a:1", "b:1"]);
        let a = &sum.replicas[0];
        assert!(!a.fit, "one set finds it unfit");
        assert_eq!(a.problem.as_deref(), Some("a:1 lags"));
        assert_eq!((a.lag_seconds, a.reads, a.failed_over), (Some(7.0), 15, 2));
        assert_eq!(sum.replicas[1], replica("b:1", true, None, 1));
    }

    #[test]
    fn no_sets_sum_to_no_replicas() {
        let sum: ReplicasStats = std::iter::empty().sum();
        assert!(sum.replicas.is_empty() && sum.to_primary.is_empty());
    }
}
