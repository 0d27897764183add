//! `LoadShedLayer` on a slow `tower::Service`: beyond the limit calls are refused at
//! once; places come back when calls end or are dropped.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use poolside_resilience::{LoadShedLayer, Overloaded};
use tower::{Layer, ServiceExt};

#[derive(Debug, PartialEq)]
enum Error {
    Overloaded(usize),
}

impl Overloaded for Error {
    fn overloaded(limit: usize) -> Self {
        Error::Overloaded(limit)
    }
}

#[tokio::test(start_paused = true)]
async fn beyond_the_limit_calls_are_refused_at_once_and_places_come_back() {
    let reached = Arc::new(AtomicU32::new(0));
    let counter = Arc::clone(&reached);
    let slow = tower::service_fn(move |()| {
        counter.fetch_add(1, Ordering::SeqCst);
        async {
            tokio::time::sleep(Duration::from_millis(200)).await;
            Ok::<u32, Error>(1)
        }
    });
    let layer = LoadShedLayer::new(10);
    let calls: Vec<_> = (0..50)
        .map(|_| layer.layer(slow.clone()).oneshot(()))
        .collect();
    let handles: Vec<_> = calls.into_iter().map(tokio::spawn).collect();
    let mut results = Vec::new();
    for handle in handles {
        results.push(handle.await.expect("task"));
    }
    assert_eq!(
        reached.load(Ordering::SeqCst),
        10,
        "only the limit reached the service"
    );
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 10);
    assert_eq!(
        results
            .iter()
            .filter(|r| **r == Err(Error::Overloaded(10)))
            .count(),
        40
    );
    assert_eq!(layer.in_flight(), 0, "every place came back");

    // A call dropped mid-flight gives its place back too.
    let pending = layer.layer(slow.clone()).oneshot(());
    let cut = tokio::time::timeout(Duration::from_millis(20), pending).await;
    assert!(cut.is_err(), "cut off before it finished");
    assert_eq!(layer.in_flight(), 0);
    assert_eq!(layer.layer(slow).oneshot(()).await, Ok(1));
}
