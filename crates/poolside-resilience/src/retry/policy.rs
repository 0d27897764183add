//! [`RetryPolicy`]: whether a failed try is tried again, and after how long.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::{Backoff, RetryBudget};
use crate::{Classify, Failure};

/// Why the layer stopped retrying.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GiveUp {
    /// The failure is not safe to retry (or its outcome is unknown and the requests
    /// are not marked idempotent).
    NotRetryable,
    /// Every attempt was used.
    AttemptsExhausted,
    /// The next try would start past the total deadline.
    DeadlineReached,
    /// The retry budget is spent: too many requests are failing to retry them all.
    BudgetExhausted,
}

impl GiveUp {
    /// A short lowercase name, for logs and metrics labels.
    pub fn as_str(self) -> &'static str {
        match self {
            GiveUp::NotRetryable => "not_retryable",
            GiveUp::AttemptsExhausted => "attempts_exhausted",
            GiveUp::DeadlineReached => "deadline_reached",
            GiveUp::BudgetExhausted => "budget_exhausted",
        }
    }
}

/// What the layer decided after a failed try.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Try again after this delay.
    Retry(Duration),
    /// Return the error.
    GiveUp(GiveUp),
}

/// One decision, as the observer sees it (for metrics and logs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryEvent {
    /// The try that failed, from 1.
    pub attempt: u32,
    /// What the failure was classified as.
    pub failure: Failure,
    /// Retry after a delay, or give up and why.
    pub decision: Decision,
}

type Observer = Arc<dyn Fn(&RetryEvent) + Send + Sync>;

/// The retry settings of one stack: attempts, backoff, total deadline, the shared
/// budget, whether its requests are idempotent, and who is told of each decision.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use poolside_resilience::retry::{Jitter, RetryPolicy};
/// use poolside_resilience::{Backoff, RetryBudget};
///
/// let budget = RetryBudget::new(Duration::from_secs(10), 10, 20.0).expect("valid");
/// let backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(2), Jitter::Full);
/// let policy = RetryPolicy::new(3, backoff, Duration::from_secs(10), budget)
///     .observe(|event| println!("try {} failed: {:?}", event.attempt, event.decision));
/// assert_eq!(policy.attempts(), 3);
/// ```
#[derive(Clone)]
pub struct RetryPolicy {
    attempts: u32,
    backoff: Backoff,
    total_deadline: Duration,
    budget: RetryBudget,
    idempotent: bool,
    observer: Option<Observer>,
}

impl fmt::Debug for RetryPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryPolicy")
            .field("attempts", &self.attempts)
            .field("backoff", &self.backoff)
            .field("total_deadline", &self.total_deadline)
            .field("idempotent", &self.idempotent)
            .finish_non_exhaustive()
    }
}

impl RetryPolicy {
    /// `attempts` tries in all (at least one), `backoff` between them, no try
    /// started after `total_deadline`, and at most what `budget` allows.
    pub fn new(
        attempts: u32,
        backoff: Backoff,
        total_deadline: Duration,
        budget: RetryBudget,
    ) -> Self {
        Self {
            attempts: attempts.max(1),
            backoff,
            total_deadline,
            budget,
            idempotent: false,
            observer: None,
        }
    }

    /// Marks every request of this stack as safe to run twice, so that failures whose
    /// outcome is unknown are retried too. Only for reads and idempotent writes.
    pub fn idempotent(mut self, idempotent: bool) -> Self {
        self.idempotent = idempotent;
        self
    }

    /// Calls `observer` with every decision (retry or give up) and its attempt number.
    pub fn observe(mut self, observer: impl Fn(&RetryEvent) + Send + Sync + 'static) -> Self {
        self.observer = Some(Arc::new(observer));
        self
    }

    /// Tries in all, the first included.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Counts a new request against the budget.
    pub(crate) fn started(&self) {
        self.budget.deposit();
    }

    /// What to do after try `attempt` failed with `error`, `elapsed` after the first
    /// try began. The budget is drawn on only when everything else allows a retry.
    pub fn decide<E: Classify>(&self, attempt: u32, error: &E, elapsed: Duration) -> Decision {
        let failure = error.failure();
        let decision = self.decision(attempt, error, elapsed);
        if let Some(observer) = &self.observer {
            observer(&RetryEvent {
                attempt,
                failure,
                decision,
            });
        }
        decision
    }

    fn decision<E: Classify>(&self, attempt: u32, error: &E, elapsed: Duration) -> Decision {
        if !error.may_retry(self.idempotent) {
            return Decision::GiveUp(GiveUp::NotRetryable);
        }
        if attempt >= self.attempts {
            return Decision::GiveUp(GiveUp::AttemptsExhausted);
        }
        let Some(delay) = self
            .total_deadline
            .checked_sub(elapsed)
            .and_then(|remaining| self.backoff.delay_within(attempt, remaining))
        else {
            return Decision::GiveUp(GiveUp::DeadlineReached);
        };
        if !self.budget.withdraw() {
            return Decision::GiveUp(GiveUp::BudgetExhausted);
        }
        Decision::Retry(delay)
    }
}
