//! The Redis pool: [`RedisPool`] over one server, a Sentinel group or a cluster, its
//! connections, statistics and errors.

mod blocking;
mod cluster_clients;
mod cluster_nodes;
mod cluster_path;
mod cluster_room;
mod command_name;
mod connection;
mod connection_state;
mod deployment;
mod driver;
mod error;
mod every_primary;
mod failovers;
mod info;
mod manager;
mod multi_slot;
mod password_file;
mod pool;
mod primary;
mod reconnect;
mod replicated;
mod sentinel_lookup;
mod stats;
mod tcp_settings;
mod tls;
mod topology;
mod watch_command;

pub use connection::RedisConnection;
pub use error::RedisError;
pub use info::RedisServerInfo;
pub use pool::{ExclusiveRedisConnection, RedisPool};
pub use primary::RedisPrimary;
pub use stats::RedisStats;
pub use topology::{RedisNodeState, RedisTopology};
