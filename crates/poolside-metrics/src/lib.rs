//! **poolside-metrics** owns observability figures: the recording tower layer, pool
//! figures sampled from `poolside-core`'s statistics, the Prometheus exporter, and
//! percentile snapshots.
//!
//! It may import: `poolside-config`, `poolside-resilience`, `poolside-core`, and outside
//! crates.
//! It must never import: `poolside-health`, `poolside`.
//!
#![doc = include_str!("../README.md")]
