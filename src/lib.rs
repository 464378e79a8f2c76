//! brain: a policy-as-code engine and local control plane for a studio's operating system.
//!
//! The cloud stays authoritative; brain computes and proposes; irreversible actions need
//! approval; everything is auditable; the system fails safe. See ARCHITECTURE.md for the map.

pub mod audit;
pub mod capability;
pub mod cli;
pub mod clock;
pub mod cloud;
pub mod config;
pub mod connectors;
pub mod demo;
pub mod diagnostic;
pub mod drill;
pub mod engine;
pub mod intake;
pub mod lint;
pub mod policy;
pub mod review;
pub mod scorecard;
pub mod server;
pub mod snapshot;
pub mod store;
pub mod swarms;
pub mod telemetry;
pub mod workspace;
pub mod yaml;
