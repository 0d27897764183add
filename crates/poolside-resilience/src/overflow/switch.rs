//! [`OverflowSwitch`]: whether critical operations go to the secondary now, with
//! hysteresis.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// The primary's load, as its pool reports it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PrimaryLoad {
    /// Connections in use over the most it opens, in percent.
    pub utilization_percent: f64,
    /// Whether its health checks pass.
    pub healthy: bool,
}

/// Decides, from the primary's load, whether critical operations overflow. It turns on
/// at `threshold` percent (or when the primary is unhealthy) and off only once the
/// primary is healthy and `margin` points below the threshold.
///
/// # Examples
///
/// ```
/// use poolside_resilience::overflow::{OverflowSwitch, PrimaryLoad};
///
/// let switch = OverflowSwitch::new(80, 10);
/// let load = |percent| PrimaryLoad { utilization_percent: percent, healthy: true };
/// assert!(!switch.update(load(79.0)));
/// assert!(switch.update(load(80.0)), "on at the threshold");
/// assert!(switch.update(load(75.0)), "still on inside the margin");
/// assert!(!switch.update(load(69.0)), "off below threshold - margin");
/// assert_eq!(switch.activations(), 1);
/// ```
#[derive(Debug, Clone)]
pub struct OverflowSwitch {
    threshold: f64,
    margin: f64,
    state: Arc<State>,
}

#[derive(Debug, Default)]
struct State {
    on: AtomicBool,
    activations: AtomicU64,
}

impl OverflowSwitch {
    /// A switch turning on at `threshold` percent and off `margin` points below it.
    pub fn new(threshold: u32, margin: u32) -> Self {
        Self {
            threshold: f64::from(threshold),
            margin: f64::from(margin),
            state: Arc::default(),
        }
    }

    /// Takes the primary's load into account; returns whether critical operations
    /// overflow now.
    pub fn update(&self, load: PrimaryLoad) -> bool {
        let on = self.state.on.load(Ordering::Acquire);
        let busy = !load.healthy || load.utilization_percent >= self.threshold;
        let recovered = load.healthy && load.utilization_percent < self.threshold - self.margin;
        if !on && busy {
            if self
                .state
                .on
                .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                self.state.activations.fetch_add(1, Ordering::Relaxed);
            }
            return true;
        }
        if on && recovered {
            self.state.on.store(false, Ordering::Release);
            return false;
        }
        on
    }

    /// Whether critical operations overflow now.
    pub fn is_on(&self) -> bool {
        self.state.on.load(Ordering::Acquire)
    }

    /// How many times overflow turned on.
    pub fn activations(&self) -> u64 {
        self.state.activations.load(Ordering::Relaxed)
    }
}
