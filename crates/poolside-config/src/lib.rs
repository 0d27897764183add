//! **poolside-config** owns poolside's configuration: the layering of its sources with
//! figment, the profiles and their defaults, the legacy environment names, validation
//! that reports every problem at once, and the masking of passwords.
//!
//! It may import: outside crates only (figment, serde, humantime, url, and
//! tokio-postgres for its connection-string parser).
//! It must never import: any other poolside crate. Every crate above reads its settings
//! from here, so this crate depends on none of them.
//!
#![doc = include_str!("../README.md")]

mod config;
pub mod conn_string;
mod env;
mod keys;
mod legacy;
mod loader;
mod parse;
pub mod password_file;
mod problem;
mod profile;
mod redact;
mod renamed;
mod report;
mod rules;
mod secret_token;
mod secret_url;
mod source;
pub mod tls_params;
mod url_params;
mod validate;

pub use config::{
    BreakerConfig, Config, HealthConfig, Jitter, MetricNaming, MetricsConfig, OverflowConfig,
    PostgresConfig, RedisConfig, RedisMode, RetryConfig,
};
pub use env::EnvSnapshot;
pub use keys::key_paths;
pub use legacy::legacy_names;
pub use loader::{ConfigLoader, DEFAULT_CONFIG_FILE};
pub use problem::{ConfigError, Problem};
pub use profile::{Profile, UnknownProfile};
pub use redact::{MASK, redact_text};
pub use report::{ConfigReport, Entry, LoadedConfig};
pub use secret_token::SecretToken;
pub use secret_url::SecretUrl;
pub use source::Source;
