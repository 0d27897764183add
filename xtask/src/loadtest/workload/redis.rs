//! The Redis workloads: `GET` of keys that exist and `SET` of 100-byte values, on the
//! same keys redis-benchmark uses with `-r 10000 -d 100` (`key:000000001234`).

use anyhow::{Context, Result};

/// Distinct keys.
pub(crate) const KEYS: u32 = 10_000;
/// Bytes per value.
pub(crate) const VALUE_SIZE: usize = 100;

/// Key `n`, spelled as redis-benchmark spells it.
pub(crate) fn key_name(n: u32) -> String {
    format!("key:{n:012}")
}

/// The value every key holds.
pub(crate) fn value() -> &'static [u8] {
    &[b'x'; VALUE_SIZE]
}

/// Writes every key, so that `GET` finds a value.
pub(crate) async fn prepare(url: &str) -> Result<()> {
    let client = redis::Client::open(url).context("the Redis URL")?;
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .context("connecting to Redis")?;
    let mut pipe = redis::pipe();
    for n in 0..KEYS {
        pipe.cmd("SET")
            .arg(format!("key:{n:012}"))
            .arg(value())
            .ignore();
    }
    pipe.query_async::<()>(&mut conn)
        .await
        .context("writing the keys of the Redis workloads")
}
