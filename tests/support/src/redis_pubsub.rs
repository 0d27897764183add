//! [`hears_its_own_publish`]: a pool's subscriber and its commands, checked together.

use std::time::Duration;

use futures_util::StreamExt as _;
use poolside_core::RedisPool;

/// Subscribes to `channel` on a subscriber of `pool`, publishes through `pool`, and
/// checks that the message arrives within 5 s.
///
/// # Panics
///
/// When the subscriber cannot be opened, or the message does not arrive.
pub async fn hears_its_own_publish(pool: &RedisPool, channel: &str) {
    let mut subscriber = pool.pubsub().await.expect("a subscriber");
    subscriber.subscribe(channel).await.expect("subscribes");
    let mut messages = subscriber.on_message();
    let _: i64 = pool
        .command(redis::cmd("PUBLISH").arg(channel).arg("hello"))
        .await
        .expect("PUBLISH");
    let message = tokio::time::timeout(Duration::from_secs(5), messages.next())
        .await
        .expect("the message within 5 s")
        .expect("a message");
    assert_eq!(message.get_payload::<String>().expect("text"), "hello");
}
