//! [`PoolObserver`]: timings a pool reports as they happen, for a metrics recorder.
//! The pools never call a metrics library themselves: they call the observer given to
//! them, and cost nothing more when none is.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// Receives a pool's timings. Every method has an empty default; each is called on
/// the task that did the work, so it must be quick (record into a histogram, say).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use poolside_core::PoolObserver;
///
/// struct PrintWaits;
///
/// impl PoolObserver for PrintWaits {
///     fn acquired(&self, waited: Duration) {
///         println!("waited {waited:?} for a connection");
///     }
/// }
/// ```
pub trait PoolObserver: Send + Sync + 'static {
    /// A checkout got its connection after waiting `waited`.
    fn acquired(&self, _waited: Duration) {}
    /// A checked-out connection came back after being held `held`.
    fn released(&self, _held: Duration) {}
    /// A new connection was opened in `took`.
    fn connected(&self, _took: Duration) {}
}

/// The observer of one pool, set at most once, shared by the pool and its manager.
#[derive(Clone, Default)]
pub(crate) struct ObserverSlot(Arc<OnceLock<Arc<dyn PoolObserver>>>);

impl ObserverSlot {
    /// Sets the observer; false when one was set already.
    pub(crate) fn set(&self, observer: Arc<dyn PoolObserver>) -> bool {
        self.0.set(observer).is_ok()
    }

    /// The observer, when one is set.
    pub(crate) fn get(&self) -> Option<&Arc<dyn PoolObserver>> {
        self.0.get()
    }
}

impl std::fmt::Debug for ObserverSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.get().is_some() {
            "ObserverSlot(set)"
        } else {
            "ObserverSlot(none)"
        })
    }
}
