//! [`OperationHandles`]: the duration histogram and count of each operation and
//! outcome, looked up in the `metrics` recorder once and kept. A lookup hashes and
//! compares the labels and clones them into a key; kept, a finished operation costs
//! one map read.

use std::collections::HashMap;
use std::time::Duration;

use metrics::{Counter, Histogram};
use parking_lot::RwLock;

use crate::labels::Outcome;

/// Where one operation's finishes with one outcome are recorded.
#[derive(Debug)]
pub(crate) struct Figures {
    /// Its durations, in seconds.
    pub(crate) duration: Histogram,
    /// Its count, where the naming has one apart from the histogram's.
    pub(crate) count: Option<Counter>,
}

impl Figures {
    fn record(&self, took: Duration) {
        self.duration.record(took.as_secs_f64());
        if let Some(count) = &self.count {
            count.increment(1);
        }
    }
}

/// The kept figures, valid for the recorder in effect when they were looked up.
#[derive(Debug, Default)]
pub(crate) struct OperationHandles {
    kept: RwLock<Kept>,
}

#[derive(Debug, Default)]
struct Kept {
    /// The address of the recorder the figures belong to; another recorder in effect
    /// (the global one installed after the first records, or a local one at another
    /// address) empties the map.
    recorder: usize,
    figures: HashMap<(&'static str, Outcome), Figures>,
}

/// The address of the `metrics` recorder in effect on this thread.
fn recorder_in_effect() -> usize {
    metrics::with_recorder(|recorder| std::ptr::from_ref(recorder).cast::<()>() as usize)
}

impl OperationHandles {
    /// Records `took` for `operation` ending with `outcome`, in the figures kept for
    /// it, looked up with `register` the first time.
    pub(crate) fn record(
        &self,
        operation: &'static str,
        outcome: Outcome,
        took: Duration,
        register: impl FnOnce() -> Figures,
    ) {
        let recorder = recorder_in_effect();
        {
            let kept = self.kept.read();
            if kept.recorder == recorder
                && let Some(figures) = kept.figures.get(&(operation, outcome))
            {
                figures.record(took);
                return;
            }
        }
        let figures = register();
        figures.record(took);
        let mut kept = self.kept.write();
        if kept.recorder != recorder {
            kept.figures.clear();
            kept.recorder = recorder;
        }
        kept.figures.insert((operation, outcome), figures);
    }
}

#[cfg(test)]
mod tests {
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};

    use super::*;

    fn count_of(
        snapshot: Vec<(
            metrics_util::CompositeKey,
            Option<metrics::Unit>,
            Option<metrics::SharedString>,
            DebugValue,
        )>,
    ) -> Option<u64> {
        snapshot
            .into_iter()
            .find_map(|(_, _, _, value)| match value {
                DebugValue::Counter(n) => Some(n),
                _ => None,
            })
    }

    fn figures() -> Figures {
        Figures {
            duration: metrics::histogram!("test_seconds"),
            count: Some(metrics::counter!("test_total")),
        }
    }

    #[test]
    fn figures_are_kept_per_recorder() {
        let handles = OperationHandles::default();
        // Two recorders alive at once (at two addresses): the figures kept for the
        // first must not take the second's records.
        let recorders = [DebuggingRecorder::new(), DebuggingRecorder::new()];
        for recorder in &recorders {
            let snapshotter = recorder.snapshotter();
            let mut looked_up = 0;
            metrics::with_local_recorder(recorder, || {
                for _ in 0..3 {
                    handles.record("op", Outcome::Ok, Duration::from_millis(1), || {
                        looked_up += 1;
                        figures()
                    });
                }
            });
            assert_eq!(looked_up, 1, "looked up once, then kept");
            assert_eq!(count_of(snapshotter.snapshot().into_vec()), Some(3));
        }
    }
}
