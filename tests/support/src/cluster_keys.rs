//! [`sets_and_reads_back`]: keys written one by one and read back in one `MGET`, the
//! check that a pool reaches the node of every key (in a cluster, of every slot the
//! keys fall in).

use poolside_core::RedisPool;

/// Sets each of `keys` to its index (expiring in a minute), one command per key, then
/// reads them all back in one `MGET` (split by slot in a cluster) and checks that
/// every value is there, in order.
///
/// # Panics
///
/// When a command fails, or a value read back is not the one set.
pub async fn sets_and_reads_back(pool: &RedisPool, keys: &[String]) {
    for (i, k) in keys.iter().enumerate() {
        let () = pool
            .command(redis::cmd("SET").arg(k).arg(i).arg("PX").arg(60_000))
            .await
            .expect("SET on the node holding the key");
    }
    let got: Vec<Option<usize>> = pool
        .command(redis::cmd("MGET").arg(keys))
        .await
        .expect("MGET across slots");
    assert_eq!(got, (0..keys.len()).map(Some).collect::<Vec<_>>());
}
