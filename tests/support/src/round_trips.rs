//! Round trips counted on a slow network: a pool of one connection to the services'
//! PostgreSQL through a [`FaultProxy`], which, told to delay each chunk `d`, makes one
//! round trip cost `2 * d`.

use std::time::Duration;

use poolside_core::PgPool;

use crate::fault_proxy::FaultProxy;
use crate::pg_pool;

/// A proxy in front of the services' PostgreSQL (passing bytes until told otherwise),
/// and a pool of one connection, open, through it.
///
/// # Panics
///
/// When `DATABASE_URL` is not the services' server, or the pool cannot connect.
pub async fn one_connection_through_proxy() -> (FaultProxy, PgPool) {
    let (proxy, proxied) = FaultProxy::in_front_of_postgres().await;
    let pool = pg_pool(&[
        ("DATABASE_URL", &proxied),
        ("POOLSIDE_POSTGRES__MAX_SIZE", "1"),
        ("POOLSIDE_POSTGRES__MIN_IDLE", "1"),
    ])
    .await;
    (proxy, pool)
}

/// Fails unless `took` is `expected` round trips on a network that delays each chunk
/// `delay` each way: at least that many, and less than half a round trip more.
///
/// # Panics
///
/// When it is not.
pub fn assert_round_trips(took: Duration, delay: Duration, expected: u32) {
    let round_trip = delay * 2;
    assert!(
        took >= round_trip * expected && took < round_trip * expected + delay,
        "took {took:?}: {expected} round trips of {round_trip:?} expected, {} would be {:?}",
        expected + 1,
        round_trip * (expected + 1)
    );
}
