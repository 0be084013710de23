//! mcpo-gen: snapshot an MCP server, then emit a typed REST/OpenAPI proxy crate.
//!
//! The modules follow the pipeline:
//! [`snapshot`] (connect, list tools) -> [`lock`] (`mcp.lock.json`) ->
//! [`schema`] (JSON Schema -> Rust types) and [`openapi`] (frozen document) ->
//! [`emit`] (write the crate). [`diff`] compares two locks for review.

pub mod diff;
pub mod emit;
pub mod lock;
pub mod naming;
pub mod openapi;
pub mod schema;
pub mod snapshot;
pub mod workflow;
