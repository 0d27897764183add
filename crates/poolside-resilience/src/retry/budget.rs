//! [`RetryBudget`]: the share of recent requests that may be retried, shared by every
//! caller of one pool (Finagle's design, as tower's `TpsBudget`, but exact: tower's
//! rounds 1/percent down, so 30% allows a third and 40% a half).

use std::sync::Arc;

use parking_lot::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// Why a budget could not be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BudgetError {
    /// The window must be from 1 s to 60 s.
    #[error("the retry budget's window is {0:?}: it must be from 1 s to 60 s")]
    Window(Duration),
    /// The percentage must be from 0 to 1000.
    #[error("the retry budget's percentage is {0}: it must be from 0 to 1000")]
    Percent(f64),
}

/// Slots the window is cut into; a slot's deposits expire together.
const SLOTS: usize = 10;
/// One retry, in the budget's unit (thousandths of a retry).
const RETRY: i64 = 1000;

/// Retries allowed: `percent` of the requests of the last `window`, plus a floor of
/// `min_per_sec` retries a second so that a quiet client may still retry. Clones share
/// one budget. When an outage makes every request fail, at most that share is retried:
/// the database sees at most `1 + percent/100` times the load, not `attempts` times.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use poolside_resilience::RetryBudget;
///
/// let budget = RetryBudget::new(Duration::from_secs(10), 0, 20.0).expect("valid");
/// for _ in 0..10 {
///     budget.deposit(); // ten requests
/// }
/// assert!(budget.withdraw() && budget.withdraw(), "20% of ten: two retries");
/// assert!(!budget.withdraw(), "and no third");
/// ```
#[derive(Debug, Clone)]
pub struct RetryBudget {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// Length of one slot.
    slot: Duration,
    /// Added by each deposit, in thousandths of a retry.
    per_request: i64,
    /// The floor over the whole window, in thousandths of a retry.
    reserve: i64,
    slots: Mutex<Slots>,
}

#[derive(Debug)]
struct Slots {
    /// When the current slot began.
    started: Instant,
    current: usize,
    /// Deposits less withdrawals of each slot, in thousandths of a retry.
    balance: [i64; SLOTS],
}

impl RetryBudget {
    /// A budget over `window` (1 to 60 s) allowing `min_per_sec` retries a second plus
    /// `percent` (0 to 1000) of the requests.
    pub fn new(window: Duration, min_per_sec: u32, percent: f64) -> Result<Self, BudgetError> {
        if !(Duration::from_secs(1)..=Duration::from_secs(60)).contains(&window) {
            return Err(BudgetError::Window(window));
        }
        if !(0.0..=1000.0).contains(&percent) {
            return Err(BudgetError::Percent(percent));
        }
        Ok(Self {
            inner: Arc::new(Inner {
                slot: window / SLOTS as u32,
                // Rounded down, so that the budget never gives more than its share.
                per_request: (percent * (RETRY / 100) as f64).floor() as i64,
                reserve: i64::from(min_per_sec) * window.as_secs() as i64 * RETRY,
                slots: Mutex::new(Slots {
                    started: Instant::now(),
                    current: 0,
                    balance: [0; SLOTS],
                }),
            }),
        })
    }

    fn with_slots<T>(&self, f: impl FnOnce(&mut Slots) -> T) -> T {
        let mut slots = self.inner.slots.lock();
        slots.expire(self.inner.slot);
        f(&mut slots)
    }

    /// Counts one request (the first try of an operation).
    pub fn deposit(&self) {
        let per_request = self.inner.per_request;
        self.with_slots(|slots| slots.balance[slots.current] += per_request);
    }

    /// Takes one retry from the budget; `false` when none is left.
    pub fn withdraw(&self) -> bool {
        let reserve = self.inner.reserve;
        self.with_slots(|slots| {
            let available = reserve + slots.balance.iter().sum::<i64>();
            if available >= RETRY {
                slots.balance[slots.current] -= RETRY;
                true
            } else {
                false
            }
        })
    }
}

impl Slots {
    /// Moves to the slot of now, emptying every slot passed over.
    fn expire(&mut self, slot: Duration) {
        let elapsed = self.started.elapsed();
        if elapsed < slot {
            return;
        }
        let passed = (elapsed.as_nanos() / slot.as_nanos().max(1)) as usize;
        for _ in 0..passed.min(SLOTS) {
            self.current = (self.current + 1) % SLOTS;
            self.balance[self.current] = 0;
        }
        self.started += slot * passed.min(u32::MAX as usize) as u32;
    }
}
