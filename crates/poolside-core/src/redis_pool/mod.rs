//! The Redis pool and cache: [`RedisPool`], [`RedisCache`], their statistics and
//! errors.

mod cache;
mod error;
mod info;
mod manager;
mod pool;
mod reconnect;
mod stats;

pub use cache::{KeyTtl, OnUnavailable, RedisCache};
pub use error::RedisError;
pub use info::RedisServerInfo;
pub use pool::{ExclusiveRedisConnection, RedisPool};
pub use stats::{CacheStats, RedisStats};
