//! The workloads: what one operation does, and the data it needs on the servers.

pub(crate) mod redis;
pub(crate) mod sale;
pub(crate) mod select;

use anyhow::{Result, bail};

/// What each operation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Workload {
    /// pgbench's `-S`: select one account by key.
    Select,
    /// The point-of-sale write transaction: a sale and its items, stock decremented.
    Sale,
    /// Redis `GET` of an existing key.
    RedisGet,
    /// Redis `SET` of a 100-byte value.
    RedisSet,
}

impl Workload {
    /// Every workload, in report order.
    pub(crate) const ALL: [Workload; 4] = [
        Workload::Select,
        Workload::Sale,
        Workload::RedisGet,
        Workload::RedisSet,
    ];

    /// The name in the results and on the command line.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Workload::Select => "select",
            Workload::Sale => "sale",
            Workload::RedisGet => "redis-get",
            Workload::RedisSet => "redis-set",
        }
    }

    /// Whether it runs against Redis (otherwise PostgreSQL).
    pub(crate) fn is_redis(self) -> bool {
        matches!(self, Workload::RedisGet | Workload::RedisSet)
    }

    /// The workload named `name`.
    pub(crate) fn parse(name: &str) -> Result<Self> {
        match Self::ALL.into_iter().find(|w| w.name() == name) {
            Some(workload) => Ok(workload),
            None => {
                bail!("unknown workload {name:?}: choose from select, sale, redis-get, redis-set")
            }
        }
    }
}

/// What the operations need to know about the data set up for them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Data {
    /// Rows of `pgbench_accounts`.
    pub(crate) accounts: i32,
}
