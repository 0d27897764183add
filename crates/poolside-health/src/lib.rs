//! **poolside-health** owns health: dependency checks on an interval, the health+json
//! model, liveness and readiness with Kubernetes semantics, alerts, and the HTTP router.
//!
//! It may import: `poolside-config`, `poolside-resilience`, `poolside-core`,
//! `poolside-metrics`, and outside crates.
//! It must never import: `poolside`.
//!
#![doc = include_str!("../README.md")]

#[cfg(feature = "http")]
mod admin_token;
mod alerts;
mod builder;
mod checks;
mod component;
mod detailed;
mod exporter;
mod health;
mod model;
mod monitor;
mod process;
mod recovery;
mod reports;
mod rotation;
#[cfg(feature = "http")]
mod router;
mod startup_task;
mod utilization;

pub use builder::HealthBuilder;
pub use checks::CheckResult;
pub use component::Component;
pub use health::Health;
pub use model::{Check, HEALTH_JSON, HealthReport, Status};
pub use startup_task::StartupTask;
pub use utilization::Utilization;
