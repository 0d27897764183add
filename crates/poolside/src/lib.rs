//! **poolside** is the facade: one builder that wires configuration, pools, resilience
//! layers, metrics and health, and re-exports them. It holds no logic of its own.
//!
//! It may import: every poolside crate, and outside crates.
//! It must never be imported by: any poolside crate (only by applications, examples
//! and tests).
//!
#![doc = include_str!("../README.md")]
