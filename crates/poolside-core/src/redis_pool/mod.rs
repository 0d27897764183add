//! The Redis pool: [`RedisPool`], its statistics and errors.

mod error;
mod info;
mod manager;
mod pool;
mod reconnect;
mod stats;

pub use error::RedisError;
pub use info::RedisServerInfo;
pub use pool::{ExclusiveRedisConnection, RedisPool};
pub use stats::RedisStats;
