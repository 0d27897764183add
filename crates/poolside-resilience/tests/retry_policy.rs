//! Properties of the retry policy parts: backoff bounds, the deadline, the budget.

use std::time::Duration;

use poolside_resilience::Jitter;
use poolside_resilience::{Backoff, BudgetError, Classify, Failure, RetryBudget};
use proptest::prelude::*;

fn jitter() -> impl Strategy<Value = Jitter> {
    prop_oneof![Just(Jitter::Full), Just(Jitter::Equal), Just(Jitter::None)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Every delay lies in [0, min(max, base * 2^(n-1))].
    #[test]
    fn delays_stay_under_the_capped_exponential(
        base_ms in 1u64..10_000,
        extra_ms in 0u64..60_000,
        retry in 1u32..200,
        jitter in jitter(),
    ) {
        let (base, max) = (Duration::from_millis(base_ms), Duration::from_millis(base_ms + extra_ms));
        let backoff = Backoff::new(base, max, jitter);
        let exponential = base.as_millis().saturating_mul(1u128 << (retry - 1).min(100));
        let bound = Duration::from_millis(exponential.min(max.as_millis()) as u64);
        prop_assert_eq!(backoff.ceiling(retry), bound);
        let delay = backoff.delay(retry);
        prop_assert!(delay <= bound, "{delay:?} > {bound:?}");
        if jitter == Jitter::Equal {
            prop_assert!(delay >= bound / 2);
        }
    }

    /// Tries that take `tries[i]` each, with backoff between them, never start a
    /// retry past the deadline, and the waiting alone never exceeds it.
    #[test]
    fn retries_never_start_past_the_deadline(
        deadline_ms in 1u64..10_000,
        tries_ms in proptest::collection::vec(0u64..3_000, 1..20),
        jitter in jitter(),
    ) {
        let deadline = Duration::from_millis(deadline_ms);
        let backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(2), jitter);
        let (mut elapsed, mut waited) = (Duration::ZERO, Duration::ZERO);
        for (index, took) in tries_ms.iter().enumerate() {
            elapsed += Duration::from_millis(*took);
            let Some(remaining) = deadline.checked_sub(elapsed) else { break };
            let Some(delay) = backoff.delay_within(index as u32 + 1, remaining) else { break };
            elapsed += delay;
            waited += delay;
            prop_assert!(elapsed < deadline, "a retry would start at {elapsed:?}, past {deadline:?}");
        }
        prop_assert!(waited <= deadline);
    }

    /// Within one window the budget grants exactly its share: floor(requests * percent / 100)
    /// retries plus the floor, never more.
    #[test]
    fn the_budget_never_grants_more_than_its_share(
        percent_tenths in 0u32..=10_000,
        min_per_sec in 0u32..5,
        requests in 0u32..500,
        attempts in 0u32..3_000,
    ) {
        let percent = f64::from(percent_tenths) / 10.0;
        let window = Duration::from_secs(60);
        let budget = RetryBudget::new(window, min_per_sec, percent).expect("valid");
        for _ in 0..requests {
            budget.deposit();
        }
        let granted = (0..attempts).filter(|_| budget.withdraw()).count() as u64;
        let per_request = (percent * 10.0).floor() as u64; // thousandths of a retry
        let share = (u64::from(requests) * per_request) / 1000 + u64::from(min_per_sec) * 60;
        prop_assert_eq!(granted, share.min(u64::from(attempts)));
    }
}

#[test]
fn a_budget_with_bad_settings_is_an_error_not_a_panic() {
    assert_eq!(
        RetryBudget::new(Duration::from_millis(500), 1, 10.0).err(),
        Some(BudgetError::Window(Duration::from_millis(500)))
    );
    assert!(matches!(
        RetryBudget::new(Duration::from_secs(10), 1, 1000.5),
        Err(BudgetError::Percent(_))
    ));
    assert!(RetryBudget::new(Duration::from_secs(10), 1, f64::NAN).is_err());
}

#[tokio::test(start_paused = true)]
async fn deposits_expire_after_the_window() {
    let budget = RetryBudget::new(Duration::from_secs(1), 0, 100.0).expect("valid");
    budget.deposit();
    tokio::time::advance(Duration::from_millis(1100)).await;
    assert!(
        !budget.withdraw(),
        "a request older than the window buys no retry"
    );
    budget.deposit();
    assert!(budget.withdraw());
}

#[test]
fn unknown_outcomes_are_retried_only_when_idempotent() {
    struct E(Failure);
    impl Classify for E {
        fn failure(&self) -> Failure {
            self.0
        }
    }
    for (failure, plain, idempotent) in [
        (Failure::Retryable, true, true),
        (Failure::Unknown, false, true),
        (Failure::Permanent, false, false),
    ] {
        assert_eq!(E(failure).may_retry(false), plain, "{failure:?}");
        assert_eq!(E(failure).may_retry(true), idempotent, "{failure:?}");
    }
}
