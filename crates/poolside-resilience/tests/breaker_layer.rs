//! `CircuitBreakerLayer` on a scripted `tower::Service`: it opens on failures, fails
//! at once while open, lets only its probes through half-open, and closes when they
//! succeed; answered errors never open it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use poolside_resilience::breaker::{BreakerSettings, BreakerState, CircuitBreaker, CircuitOpen};
use poolside_resilience::{CircuitBreakerLayer, Classify, Failure};
use tower::{Layer, Service, ServiceExt};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Error {
    Down,
    Rejected,
    Open,
}

impl Classify for Error {
    fn failure(&self) -> Failure {
        match self {
            Error::Down | Error::Open => Failure::Retryable,
            Error::Rejected => Failure::Permanent,
        }
    }
}

impl CircuitOpen for Error {
    fn circuit_open(_: Duration) -> Self {
        Error::Open
    }
}

/// A backend that is down while `down` is set (else answers 1), taking `latency`;
/// and the count of calls that reached it.
fn backend(
    down: Arc<AtomicBool>,
    latency: Duration,
) -> (
    impl Service<(), Response = u32, Error = Error, Future: Send> + Clone + Send + 'static,
    Arc<AtomicU32>,
) {
    let calls = Arc::new(AtomicU32::new(0));
    let counter = Arc::clone(&calls);
    let service = tower::service_fn(move |()| {
        counter.fetch_add(1, Ordering::SeqCst);
        let down = down.load(Ordering::SeqCst);
        async move {
            tokio::time::sleep(latency).await;
            if down { Err(Error::Down) } else { Ok(1) }
        }
    });
    (service, calls)
}

fn settings() -> BreakerSettings {
    BreakerSettings {
        failure_rate_percent: 50,
        min_calls: 10,
        window: Duration::from_secs(10),
        open_for: Duration::from_millis(500),
        probes: 2,
    }
}

#[tokio::test(start_paused = true)]
async fn opens_fails_fast_probes_and_closes() {
    let down = Arc::new(AtomicBool::new(true));
    let (service, calls) = backend(Arc::clone(&down), Duration::from_millis(1));
    let breaker = CircuitBreaker::new(settings());
    let mut guarded = CircuitBreakerLayer::new(breaker.clone()).layer(service);

    let mut errors = Vec::new();
    for _ in 0..1000 {
        errors.push(
            guarded
                .ready()
                .await
                .expect("ready")
                .call(())
                .await
                .expect_err("down"),
        );
    }
    assert_eq!(breaker.state(), BreakerState::Open);
    assert_eq!(
        calls.load(Ordering::SeqCst),
        10,
        "only the calls before it opened reached the backend"
    );
    assert_eq!(errors.iter().filter(|e| **e == Error::Open).count(), 990);

    // After open_for, half-open: 2 probes reach the backend, concurrent others fail fast.
    tokio::time::sleep(Duration::from_millis(600)).await;
    down.store(false, Ordering::SeqCst);
    let (slow, slow_calls) = backend(Arc::new(AtomicBool::new(false)), Duration::from_millis(50));
    let layer = CircuitBreakerLayer::new(breaker.clone());
    let attempts: Vec<_> = (0..20)
        .map(|_| layer.layer(slow.clone()).oneshot(()))
        .collect();
    let results = futures_join(attempts).await;
    assert_eq!(
        slow_calls.load(Ordering::SeqCst),
        2,
        "only the probes reached the backend"
    );
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 2);
    assert_eq!(
        breaker.state(),
        BreakerState::Closed,
        "both probes succeeded"
    );
    assert_eq!(guarded.ready().await.expect("ready").call(()).await, Ok(1));
    assert_eq!(breaker.times_opened(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_failed_probe_opens_it_again() {
    let down = Arc::new(AtomicBool::new(true));
    let (service, calls) = backend(Arc::clone(&down), Duration::ZERO);
    let breaker = CircuitBreaker::new(settings());
    let mut guarded = CircuitBreakerLayer::new(breaker.clone()).layer(service);
    for _ in 0..10 {
        let _ = guarded.ready().await.expect("ready").call(()).await;
    }
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        guarded.ready().await.expect("ready").call(()).await,
        Err(Error::Down),
        "the probe"
    );
    assert_eq!(breaker.state(), BreakerState::Open);
    assert_eq!(
        guarded.ready().await.expect("ready").call(()).await,
        Err(Error::Open)
    );
    assert_eq!(
        (calls.load(Ordering::SeqCst), breaker.times_opened()),
        (11, 2)
    );
}

#[tokio::test(start_paused = true)]
async fn answered_errors_never_open_it() {
    let breaker = CircuitBreaker::new(settings());
    let rejecting = tower::service_fn(|()| async { Err::<u32, _>(Error::Rejected) });
    let mut guarded = CircuitBreakerLayer::new(breaker.clone()).layer(rejecting);
    for _ in 0..100 {
        assert_eq!(
            guarded.ready().await.expect("ready").call(()).await,
            Err(Error::Rejected)
        );
    }
    assert_eq!(breaker.state(), BreakerState::Closed);
}

async fn futures_join<F: std::future::Future + Send + 'static>(futures: Vec<F>) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::new();
    for handle in handles {
        out.push(handle.await.expect("task"));
    }
    out
}

#[tokio::test(start_paused = true)]
async fn failures_older_than_the_window_no_longer_count() {
    use poolside_resilience::breaker::CallOutcome;

    let breaker = CircuitBreaker::new(BreakerSettings {
        min_calls: 4,
        window: Duration::from_secs(1),
        ..settings()
    });
    let fail = || breaker.admit().expect("closed").record(CallOutcome::Failed);
    for _ in 0..3 {
        fail();
    }
    tokio::time::advance(Duration::from_millis(1200)).await;
    fail();
    assert_eq!(
        breaker.state(),
        BreakerState::Closed,
        "one failure in the window, not four"
    );
    for _ in 0..3 {
        fail();
    }
    assert_eq!(breaker.state(), BreakerState::Open, "four in the window");
}
