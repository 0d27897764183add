//! `DeadlineLayer` on a plain `tower::Service`: answers and errors in time pass
//! through; past the deadline the inner future is dropped and the deadline's error
//! returned.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use poolside_resilience::{DeadlineExceeded, DeadlineLayer};
use tower::{Layer, ServiceExt};

#[derive(Debug, PartialEq)]
enum Error {
    Inner,
    Late(Duration),
}

impl DeadlineExceeded for Error {
    fn deadline_exceeded(deadline: Duration) -> Self {
        Error::Late(deadline)
    }
}

/// Sets its flag when dropped: the work it stands for stopped.
struct Dropped(Arc<AtomicBool>);

impl Drop for Dropped {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[tokio::test(start_paused = true)]
async fn in_time_passes_through_and_late_is_cut_off() {
    let deadline = Duration::from_millis(50);
    let layer = DeadlineLayer::new(deadline);
    let fast = layer.layer(tower::service_fn(
        |n: u32| async move { Ok::<_, Error>(n + 1) },
    ));
    assert_eq!(fast.oneshot(1).await, Ok(2));
    let failing = layer.layer(tower::service_fn(|()| async { Err::<(), _>(Error::Inner) }));
    assert_eq!(failing.oneshot(()).await, Err(Error::Inner));

    let dropped = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&dropped);
    let slow = layer.layer(tower::service_fn(move |()| {
        let guard = Dropped(Arc::clone(&flag));
        async move {
            tokio::time::sleep(Duration::from_secs(60)).await;
            drop(guard);
            Ok::<(), Error>(())
        }
    }));
    assert_eq!(slow.oneshot(()).await, Err(Error::Late(deadline)));
    assert!(
        dropped.load(Ordering::SeqCst),
        "the late work was dropped, not left running"
    );
}
