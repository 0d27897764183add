//! [`RedisStats`]: a snapshot of the Redis pool.

/// The Redis pool at one moment. `total = active + idle <= max_size`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct RedisStats {
    /// Most connections the pool opens.
    pub max_size: u32,
    /// Open connections.
    pub total: u32,
    /// Connections in use (the shared ones included).
    pub active: u32,
    /// Connections open and free.
    pub idle: u32,
    /// Connections leased for sharing (0 or 1 per pool; on a cluster, up to 4 while
    /// bursts fill the first: `redis.cluster_in_flight`).
    pub shared: u32,
    /// Commands in flight now.
    pub in_flight: u64,
    /// Commands run since start.
    pub commands: u64,
    /// Commands that failed.
    pub errors: u64,
    /// Commands that ran past the command timeout.
    pub timeouts: u64,
    /// Commands refused because too many were in flight.
    pub rejected: u64,
    /// Writes refused after the primary took them, too few replicas having them
    /// within `redis.wait_timeout` (a failover could have lost them): a primary short
    /// of its replicas.
    pub unreplicated_writes: u64,
    /// Checkouts that gave up after the connection timeout.
    pub timed_out_checkouts: u64,
}

/// Several pools as one (one per core's runtime, say): every size and count added.
impl std::iter::Sum for RedisStats {
    fn sum<I: Iterator<Item = RedisStats>>(pools: I) -> Self {
        pools.fold(RedisStats::default(), |sum, pool| RedisStats {
            max_size: sum.max_size + pool.max_size,
            total: sum.total + pool.total,
            active: sum.active + pool.active,
            idle: sum.idle + pool.idle,
            shared: sum.shared + pool.shared,
            in_flight: sum.in_flight + pool.in_flight,
            commands: sum.commands + pool.commands,
            errors: sum.errors + pool.errors,
            timeouts: sum.timeouts + pool.timeouts,
            rejected: sum.rejected + pool.rejected,
            unreplicated_writes: sum.unreplicated_writes + pool.unreplicated_writes,
            timed_out_checkouts: sum.timed_out_checkouts + pool.timed_out_checkouts,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::RedisStats;

    #[test]
    fn pools_sum_size_by_size_and_count_by_count() {
        let one = RedisStats {
            max_size: 4,
            total: 2,
            active: 1,
            idle: 1,
            shared: 1,
            commands: 10,
            timeouts: 1,
            unreplicated_writes: 3,
            ..RedisStats::default()
        };
        let sum: RedisStats = [one.clone(), one].into_iter().sum();
        assert_eq!(
            (sum.max_size, sum.total, sum.active, sum.idle),
            (8, 4, 2, 2)
        );
        assert_eq!((sum.shared, sum.commands, sum.timeouts), (2, 20, 2));
        assert_eq!(sum.unreplicated_writes, 6);
        assert_eq!(
            std::iter::empty::<RedisStats>().sum::<RedisStats>(),
            RedisStats::default()
        );
    }
}
