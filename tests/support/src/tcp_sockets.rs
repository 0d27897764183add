//! [`own_tcp_sockets`]: this process's TCP connections, as the kernel lists them
//! (`/proc/net/tcp`, matched to this process's file descriptors), for tests of the
//! options a pool sets on its sockets.

use std::collections::HashSet;
use std::time::Duration;

/// One established TCP connection of this process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnTcpSocket {
    /// The port at the other end.
    pub remote_port: u16,
    /// Whether a keepalive timer is pending on it: `SO_KEEPALIVE` is set (the kernel
    /// keeps one pending on an idle connection with keepalive on, and none without).
    pub keepalive_timer: bool,
    /// Until that timer's next expiry: the idle time left before the first probe, on
    /// a connection idle since keepalive was set.
    pub timer_left: Duration,
}

/// This process's established IPv4 TCP connections.
///
/// # Panics
///
/// When `/proc` cannot be read (not Linux).
pub fn own_tcp_sockets() -> Vec<OwnTcpSocket> {
    let own: HashSet<u64> = std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .filter_map(|entry| {
            let target = std::fs::read_link(entry.ok()?.path()).ok()?;
            let target = target.to_str()?;
            target
                .strip_prefix("socket:[")?
                .strip_suffix(']')?
                .parse()
                .ok()
        })
        .collect();
    let table = std::fs::read_to_string("/proc/net/tcp").expect("/proc/net/tcp");
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let inode: u64 = fields.get(9)?.parse().ok()?;
            // 01: ESTABLISHED.
            if !own.contains(&inode) || *fields.get(3)? != "01" {
                return None;
            }
            let remote_port = u16::from_str_radix(fields.get(2)?.rsplit_once(':')?.1, 16).ok()?;
            // `tr`: 2 is the socket timer, which on an established connection is
            // keepalive's (1 is a retransmission, 4 a zero-window probe).
            // `tm->when`: the time left, in clock ticks (USER_HZ, 100 a second).
            let (timer, left) = fields.get(5)?.split_once(':')?;
            let ticks = u64::from_str_radix(left, 16).ok()?;
            Some(OwnTcpSocket {
                remote_port,
                keepalive_timer: timer == "02",
                timer_left: Duration::from_millis(ticks * 10),
            })
        })
        .collect()
}
