//! [`tcp_settings`]: the TCP options of every connection to Redis opened for the pool,
//! by poolside or by the redis crate's clients (a cluster's nodes, a Sentinel group's
//! primary and sentinels, subscribers).
//!
//! - `TCP_NODELAY` across a network. The redis crate 1.x leaves Nagle's algorithm
//!   on, and on a multiplexed connection a command written while an earlier one is
//!   unacknowledged then waits for that acknowledgement: each flush waits for a round
//!   trip (the redis crate's maintainers measured Nagle costing 39-68% of
//!   multiplexed throughput and doubling p50 on a LAN, redis-rs#2195). To a loopback
//!   address Nagle stays on: there the round trip is microseconds, and the writes it
//!   gathers save CPU (measured here, 50 tasks of GETs: 196k GET/s with it, 146k
//!   without).
//! - Keepalive probes, always ([`crate::tcp_keepalive`]): they keep an idle connection
//!   through NATs and load balancers that drop quiet flows, and find a peer gone
//!   without a word (a host powered off), which no timeout notices on a subscriber or
//!   on the sentinels' announcements.

use std::net::IpAddr;

use redis::io::tcp::TcpSettings;
use redis::io::tcp::socket2::TcpKeepalive;

use crate::tcp_keepalive::{KEEPALIVE_IDLE, KEEPALIVE_INTERVAL, KEEPALIVE_RETRIES};

/// The options for connections to `host` (a name or an address, as the URL gives it).
pub(crate) fn tcp_settings(host: &str) -> TcpSettings {
    TcpSettings::default()
        .set_nodelay(!is_loopback(host))
        .set_keepalive(
            TcpKeepalive::new()
                .with_time(KEEPALIVE_IDLE)
                .with_interval(KEEPALIVE_INTERVAL)
                .with_retries(KEEPALIVE_RETRIES),
        )
}

/// Whether `host` is this machine: `localhost`, or a loopback address.
fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost")
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nagle_stays_on_to_this_machine_only_and_keepalive_is_always_on() {
        for host in ["127.0.0.1", "127.0.1.1", "localhost", "::1", "[::1]"] {
            assert!(!tcp_settings(host).nodelay(), "{host}");
        }
        for host in [
            "10.0.0.5",
            "cache.internal",
            "my-cluster.cache.amazonaws.com",
            "::2",
        ] {
            assert!(tcp_settings(host).nodelay(), "{host}");
        }
        assert!(tcp_settings("127.0.0.1").keepalive().is_some());
        assert!(tcp_settings("10.0.0.5").keepalive().is_some());
    }
}
