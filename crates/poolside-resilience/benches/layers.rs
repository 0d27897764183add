//! What each layer costs per call when nothing fails: every layer alone, then all four
//! in the facade's order, over a service that answers on its second poll (no I/O).
//!
//! Run with: `cargo bench -p poolside-resilience --bench layers`

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use poolside_resilience::breaker::BreakerSettings;
use poolside_resilience::{
    Backoff, CircuitBreaker, CircuitBreakerLayer, CircuitOpen, Classify, DeadlineExceeded,
    DeadlineLayer, Failure, Jitter, LoadShedLayer, Overloaded, RetryBudget, RetryLayer,
    RetryPolicy,
};
use tower::{Layer, Service, ServiceBuilder, ServiceExt};

/// The error of the benchmarked service; never produced.
#[derive(Debug)]
struct Never;

impl Classify for Never {
    fn failure(&self) -> Failure {
        Failure::Permanent
    }
}

impl DeadlineExceeded for Never {
    fn deadline_exceeded(_: Duration) -> Self {
        Self
    }
}

impl CircuitOpen for Never {
    fn circuit_open(_: Duration) -> Self {
        Self
    }
}

impl Overloaded for Never {
    fn overloaded(_: usize) -> Self {
        Self
    }
}

/// A service that answers on its second poll, as one waiting on a socket would: so
/// that the deadline's timer is registered and cancelled, as it is in real use.
fn answer() -> impl Service<u32, Response = u32, Error = Never, Future: Send> + Clone + Send {
    tower::service_fn(|n: u32| async move {
        tokio::task::yield_now().await;
        Ok::<u32, Never>(n)
    })
}

fn bench<S>(c: &mut Criterion, runtime: &tokio::runtime::Runtime, name: &str, service: S)
where
    S: Service<u32, Response = u32, Error = Never> + Clone + Send + 'static,
    S::Future: Send,
{
    c.bench_function(name, |b| {
        b.to_async(runtime).iter(|| {
            let service = service.clone();
            async move { service.oneshot(1).await }
        });
    });
}

fn layers(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime");
    let _guard = runtime.enter();
    let retry = || {
        let budget = RetryBudget::new(Duration::from_secs(10), 10, 20.0).expect("valid");
        let backoff = Backoff::new(
            Duration::from_millis(100),
            Duration::from_secs(2),
            Jitter::Full,
        );
        RetryLayer::new(RetryPolicy::new(
            3,
            backoff,
            Duration::from_secs(10),
            budget,
        ))
    };
    let breaker = || CircuitBreakerLayer::new(CircuitBreaker::new(BreakerSettings::default()));
    let deadline = || DeadlineLayer::new(Duration::from_secs(5));
    let shed = || LoadShedLayer::new(1000);

    bench(c, &runtime, "bare", answer());
    bench(c, &runtime, "deadline", deadline().layer(answer()));
    bench(c, &runtime, "retry", retry().layer(answer()));
    bench(c, &runtime, "breaker", breaker().layer(answer()));
    bench(c, &runtime, "shed", shed().layer(answer()));
    let all = ServiceBuilder::new()
        .layer(deadline())
        .layer(retry())
        .layer(breaker())
        .layer(shed())
        .service(answer());
    bench(c, &runtime, "all four", all);
}

criterion_group!(benches, layers);
criterion_main!(benches);
