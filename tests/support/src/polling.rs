//! [`until`]: waits for a condition the code under test makes true in the
//! background, failing the test, with what it waited for, past a limit.

use std::time::{Duration, Instant};

/// Polls `done` every 20 ms for up to `limit`; returns how long it took.
///
/// # Panics
///
/// When `done` is still false after `limit`: "`what`: not within `limit`".
pub async fn until(what: &str, limit: Duration, done: impl Fn() -> bool) -> Duration {
    let began = Instant::now();
    while !done() {
        assert!(began.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    began.elapsed()
}
