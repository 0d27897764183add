//! **poolside-cache** owns [`RedisCache`]: cache operations over poolside-core's
//! [`RedisPool`](poolside_core::RedisPool), with values as JSON, TTLs, hit and miss
//! counts, and a choice ([`OnUnavailable`]) of what to do when Redis is absent or down.
//!
//! It may import: `poolside-core`, and outside crates.
//! It must never import: `poolside-metrics`, `poolside-health`, `poolside`. Metrics and
//! health read the cache's counts; the cache never calls them.
//!
#![doc = include_str!("../README.md")]

mod cache;
mod codec;
mod on_unavailable;
mod stats;
mod ttl;

pub use cache::RedisCache;
pub use on_unavailable::OnUnavailable;
pub use stats::CacheStats;
pub use ttl::KeyTtl;
