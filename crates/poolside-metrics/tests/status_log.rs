//! The periodic status log line goes out through `tracing` on its interval.

use std::time::Duration;

use poolside_metrics::{PoolReport, spawn_periodic_log};
use poolside_tests::LogCapture;

#[tokio::test]
async fn the_status_line_is_logged_every_interval() {
    let (log, _subscriber) = LogCapture::install();
    let task = spawn_periodic_log(Duration::from_millis(50), PoolReport::default);
    tokio::time::sleep(Duration::from_millis(180)).await;
    task.abort();
    let lines = log.text().matches("pool status").count();
    assert!(
        (2..=4).contains(&lines),
        "{lines} lines in 180 ms:\n{}",
        log.text()
    );
}
