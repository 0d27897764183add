//! [`TcpKeepalive`]'s settings for every connection the pools open, to PostgreSQL and
//! to Redis: probes after a minute idle keep a connection through NATs and load
//! balancers that drop quiet flows (AWS NLB after 350 s, Azure's after 4 min), and
//! find a peer gone without a word (a host powered off) in about 90 s, where the
//! kernel's and the PostgreSQL driver's default (2 h idle) finds neither.

use std::time::Duration;

/// Idle time before the first keepalive probe: under the shortest common idle timeout
/// of a cloud load balancer or NAT (4 min).
pub(crate) const KEEPALIVE_IDLE: Duration = Duration::from_secs(60);
/// Time between unanswered probes.
pub(crate) const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);
/// Unanswered probes after which the connection is dead: about 90 s after the peer
/// went silent.
pub(crate) const KEEPALIVE_RETRIES: u32 = 3;
