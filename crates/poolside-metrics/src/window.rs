//! [`Window`]: latency and outcome counts over a sliding window, kept as a ring of
//! slots (each a fraction of the window with its own HDR histogram), and the slowest
//! recent operations.

use parking_lot::Mutex;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::snapshot::{SlowOperation, Snapshot};

/// Slots per window: the window slides in steps of 1/12 of its length.
const SLOTS: u64 = 12;
/// Slow operations kept, newest first out when full.
const SLOW_KEPT: usize = 64;
/// Slow operations a snapshot lists.
const SLOWEST_LISTED: usize = 10;
/// Latencies are recorded in microseconds, up to an hour, to 3 significant figures.
const HIGHEST_MICROS: u64 = 3_600_000_000;

struct Slot {
    /// The slot's index since the window's origin; a stale slot is reset on reuse.
    tick: u64,
    errors: u64,
    slow: u64,
    latency: Histogram<u64>,
}

struct Slots {
    slots: Vec<Slot>,
    /// Slow operations with the tick they finished in, newest first.
    slow: VecDeque<(u64, SlowOperation)>,
}

/// Operations over the last `window`, recorded from any thread.
pub struct Window {
    origin: Instant,
    slot_length: Duration,
    inner: Mutex<Slots>,
}

impl std::fmt::Debug for Window {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Window")
            .field("length", &(self.slot_length * SLOTS as u32))
            .finish_non_exhaustive()
    }
}

impl Window {
    /// A window of `length` (at least 12 ms).
    pub fn new(length: Duration) -> Self {
        let slot_length = (length / SLOTS as u32).max(Duration::from_millis(1));
        let slots = (0..SLOTS)
            .map(|_| Slot {
                tick: u64::MAX,
                errors: 0,
                slow: 0,
                latency: Histogram::new_with_bounds(1, HIGHEST_MICROS, 3)
                    .expect("constant bounds are valid"),
            })
            .collect();
        Self {
            origin: Instant::now(),
            slot_length,
            inner: Mutex::new(Slots {
                slots,
                slow: VecDeque::with_capacity(SLOW_KEPT),
            }),
        }
    }

    fn tick(&self, at: Instant) -> u64 {
        (at.duration_since(self.origin).as_nanos() / self.slot_length.as_nanos()) as u64
    }

    /// Records one operation that took `took`; `slow` operations are kept for the
    /// list (the statement is copied only then).
    pub fn record(&self, took: Duration, ok: bool, slow: Option<SlowOperation>) {
        let tick = self.tick(Instant::now());
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        let mut inner = self.inner.lock();
        let slot = &mut inner.slots[(tick % SLOTS) as usize];
        if slot.tick != tick {
            slot.tick = tick;
            slot.errors = 0;
            slot.slow = 0;
            slot.latency.reset();
        }
        slot.latency
            .saturating_record(micros.clamp(1, HIGHEST_MICROS));
        slot.errors += u64::from(!ok);
        if let Some(slow) = slow {
            slot.slow += 1;
            if inner.slow.len() == SLOW_KEPT {
                inner.slow.pop_back();
            }
            inner.slow.push_front((tick, slow));
        }
    }

    /// The figures of the last window.
    pub fn snapshot(&self) -> Snapshot {
        let now = Instant::now();
        let tick = self.tick(now);
        let inner = self.inner.lock();
        let mut latency: Histogram<u64> =
            Histogram::new_with_bounds(1, HIGHEST_MICROS, 3).expect("constant bounds are valid");
        let (mut errors, mut slow) = (0, 0);
        for slot in inner
            .slots
            .iter()
            .filter(|s| s.tick != u64::MAX && s.tick + SLOTS > tick)
        {
            latency
                .add(&slot.latency)
                .expect("histograms of equal bounds add");
            errors += slot.errors;
            slow += slot.slow;
        }
        let window = (self.slot_length * SLOTS as u32).min(now.duration_since(self.origin));
        let mut slowest: Vec<SlowOperation> = inner
            .slow
            .iter()
            .filter(|(finished, _)| finished + SLOTS > tick)
            .map(|(_, slow)| slow.clone())
            .collect();
        drop(inner);
        slowest.sort_by(|a, b| b.duration_ms.total_cmp(&a.duration_ms));
        slowest.truncate(SLOWEST_LISTED);

        let operations = latency.len();
        let ms = |micros: u64| micros as f64 / 1000.0;
        let percent = |part: u64| {
            if operations == 0 {
                0.0
            } else {
                part as f64 * 100.0 / operations as f64
            }
        };
        let seconds = window.as_secs_f64().max(1e-3);
        Snapshot {
            window_seconds: seconds,
            operations,
            per_second: operations as f64 / seconds,
            mean_ms: if operations == 0 {
                0.0
            } else {
                latency.mean() / 1000.0
            },
            p50_ms: ms(latency.value_at_quantile(0.50)),
            p95_ms: ms(latency.value_at_quantile(0.95)),
            p99_ms: ms(latency.value_at_quantile(0.99)),
            max_ms: ms(latency.max()),
            success_percent: 100.0 - percent(errors),
            error_percent: percent(errors),
            slow,
            slowest,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use super::*;

    #[test]
    fn figures_cover_what_was_recorded() {
        let window = Window::new(Duration::from_secs(60));
        for ms in 1..=100 {
            window.record(Duration::from_millis(ms), ms % 10 != 0, None);
        }
        let snapshot = window.snapshot();
        assert_eq!(snapshot.operations, 100);
        assert!((snapshot.error_percent - 10.0).abs() < 1e-9);
        assert!((49.0..=51.0).contains(&snapshot.p50_ms), "{snapshot:?}");
        assert!((98.0..=100.0).contains(&snapshot.p99_ms), "{snapshot:?}");
        assert!((100.0..=100.1).contains(&snapshot.max_ms), "{snapshot:?}");
    }

    #[test]
    fn old_slots_leave_the_window() {
        let window = Window::new(Duration::from_millis(120));
        window.record(Duration::from_millis(5), true, None);
        std::thread::sleep(Duration::from_millis(150));
        window.record(Duration::from_millis(7), false, None);
        let snapshot = window.snapshot();
        assert_eq!(snapshot.operations, 1, "{snapshot:?}");
        assert!((snapshot.error_percent - 100.0).abs() < 1e-9);
    }

    #[test]
    fn the_slowest_come_first_and_are_bounded() {
        let window = Window::new(Duration::from_secs(60));
        for ms in 0..100u32 {
            let took = Duration::from_millis(u64::from(ms));
            window.record(
                took,
                true,
                Some(SlowOperation {
                    operation: "op",
                    statement: Some("SELECT $1".to_owned()),
                    duration_ms: f64::from(ms),
                    outcome: "ok",
                    finished_at: SystemTime::now(),
                }),
            );
        }
        let snapshot = window.snapshot();
        assert_eq!(snapshot.slow, 100);
        assert_eq!(snapshot.slowest.len(), SLOWEST_LISTED);
        assert!((snapshot.slowest[0].duration_ms - 99.0).abs() < 1e-9);
    }
}
