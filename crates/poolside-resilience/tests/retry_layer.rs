//! `RetryLayer` on a plain `tower::Service` whose failures are scripted: what is
//! retried, how often, within which deadline and budget, and what the observer sees.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use poolside_resilience::Jitter;
use poolside_resilience::retry::{Decision, GiveUp, RetryEvent};
use poolside_resilience::{Backoff, Classify, Failure, RetryBudget, RetryLayer, RetryPolicy};
use tower::{Layer, Service, ServiceExt};

#[derive(Debug, Clone, Copy, PartialEq)]
struct Scripted(Failure);

impl Classify for Scripted {
    fn failure(&self) -> Failure {
        self.0
    }
}

/// A service failing with `failure` for its first `failures` calls, then answering
/// with the number of calls; and the count of calls.
fn flaky(
    failures: u32,
    failure: Failure,
) -> (
    impl Service<(), Response = u32, Error = Scripted, Future: Send> + Clone + Send + 'static,
    Arc<AtomicU32>,
) {
    let calls = Arc::new(AtomicU32::new(0));
    let counter = Arc::clone(&calls);
    let service = tower::service_fn(move |()| {
        let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
        async move {
            if n <= failures {
                Err(Scripted(failure))
            } else {
                Ok(n)
            }
        }
    });
    (service, calls)
}

fn generous_budget() -> RetryBudget {
    RetryBudget::new(Duration::from_secs(10), 1000, 100.0).expect("valid")
}

fn policy(attempts: u32, deadline: Duration, budget: RetryBudget) -> RetryPolicy {
    let backoff = Backoff::new(
        Duration::from_millis(1),
        Duration::from_millis(4),
        Jitter::Full,
    );
    RetryPolicy::new(attempts, backoff, deadline, budget)
}

#[tokio::test(start_paused = true)]
async fn a_retryable_failure_is_retried_until_it_succeeds_and_each_decision_is_seen() {
    let events: Arc<Mutex<Vec<RetryEvent>>> = Arc::default();
    let seen = Arc::clone(&events);
    let policy = policy(3, Duration::from_secs(5), generous_budget())
        .observe(move |event| seen.lock().push(*event));
    let (service, calls) = flaky(2, Failure::Retryable);
    let answer = RetryLayer::new(policy).layer(service).oneshot(()).await;
    assert_eq!(answer, Ok(3), "succeeded on the third try");
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    let events = events.lock();
    assert_eq!(
        events.iter().map(|e| e.attempt).collect::<Vec<_>>(),
        vec![1, 2]
    );
    assert!(
        events
            .iter()
            .all(|e| matches!(e.decision, Decision::Retry(d) if d <= Duration::from_millis(4)))
    );
}

#[tokio::test(start_paused = true)]
async fn permanent_failures_are_never_retried_and_unknown_ones_only_when_idempotent() {
    for (failure, idempotent, expected_calls) in [
        (Failure::Permanent, false, 1),
        (Failure::Permanent, true, 1),
        (Failure::Unknown, false, 1),
        (Failure::Unknown, true, 2),
    ] {
        let (service, calls) = flaky(1, failure);
        let policy = policy(3, Duration::from_secs(5), generous_budget()).idempotent(idempotent);
        let _ = RetryLayer::new(policy).layer(service).oneshot(()).await;
        assert_eq!(
            calls.load(Ordering::SeqCst),
            expected_calls,
            "{failure:?} idempotent={idempotent}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn it_gives_up_after_the_attempts_and_returns_the_last_error() {
    let last: Arc<Mutex<Option<RetryEvent>>> = Arc::default();
    let seen = Arc::clone(&last);
    let policy = policy(3, Duration::from_secs(5), generous_budget())
        .observe(move |e| *seen.lock() = Some(*e));
    let (service, calls) = flaky(u32::MAX, Failure::Retryable);
    let answer = RetryLayer::new(policy).layer(service).oneshot(()).await;
    assert_eq!(answer, Err(Scripted(Failure::Retryable)));
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    let last = last.lock().expect("an event");
    assert_eq!(
        (last.attempt, last.decision),
        (3, Decision::GiveUp(GiveUp::AttemptsExhausted))
    );
}

#[tokio::test(start_paused = true)]
async fn no_retry_starts_past_the_total_deadline() {
    // Each try takes 30 ms; the deadline is 100 ms: three or four tries, never ten.
    let calls = Arc::new(AtomicU32::new(0));
    let counter = Arc::clone(&calls);
    let slow = tower::service_fn(move |()| {
        counter.fetch_add(1, Ordering::SeqCst);
        async {
            tokio::time::sleep(Duration::from_millis(30)).await;
            Err::<u32, _>(Scripted(Failure::Retryable))
        }
    });
    let policy = policy(10, Duration::from_millis(100), generous_budget());
    let answer = RetryLayer::new(policy).layer(slow).oneshot(()).await;
    assert!(answer.is_err());
    // A slow machine makes tries longer and so fewer; never more than the deadline allows.
    let tries = calls.load(Ordering::SeqCst);
    assert!((1..=4).contains(&tries), "{tries} tries");
}

#[tokio::test(start_paused = true)]
async fn during_an_outage_the_budget_caps_the_extra_load() {
    // 200 requests all fail; 10% of them may be retried, no floor: at most 220 calls
    // reach the service, not 600.
    let budget = RetryBudget::new(Duration::from_secs(10), 0, 10.0).expect("valid");
    let (service, calls) = flaky(u32::MAX, Failure::Retryable);
    let mut retrying = RetryLayer::new(policy(3, Duration::from_secs(5), budget)).layer(service);
    for _ in 0..200 {
        let _ = retrying.ready().await.expect("ready").call(()).await;
    }
    let calls = calls.load(Ordering::SeqCst);
    assert!(
        (200..=220).contains(&calls),
        "{calls} calls for 200 requests"
    );
}
