//! **poolside-health** owns health: dependency checks on an interval, the health+json
//! model, liveness and readiness with Kubernetes semantics, alerts, and the HTTP router.
//!
//! It may import: `poolside-config`, `poolside-resilience`, `poolside-core`,
//! `poolside-metrics`, and outside crates.
//! It must never import: `poolside`.
//!
#![doc = include_str!("../README.md")]
