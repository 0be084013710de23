//! The runtime of the REST/OpenAPI proxies mcpo-gen generates for MCP
//! servers, and the upstream and lock layer mcpo-gen's snapshot shares with
//! them.
//!
//! Four public modules, for two audiences:
//!
//! - [`codegen`]: the only surface generated code touches (like
//!   `tonic::codegen`). A proxy's `src/main.rs` calls [`codegen::main`] with
//!   its embedded lock, OpenAPI document and tool router; its `src/tools.rs`
//!   holds the typed models and one handler per tool calling
//!   [`codegen::App::call_tool`].
//! - [`lock`]: the `mcp.lock.json` model, canonical and hashed, written by
//!   mcpo-gen and read back by the proxy it generates.
//! - [`upstream`]: how to reach an MCP server (stdio in its own process
//!   group, streamable HTTP) and complete the handshake, for the snapshot
//!   and the proxy alike.
//! - [`config`]: the Claude Desktop config format (`mcpServers`), read by
//!   mcpo-gen for multi-server crates and by a proxy's runtime `--config`.
//!
//! Everything else (CLI, auth, body and JSON handling, validation, upstream
//! supervision and pooling, limits, result mapping, docs, health, metrics,
//! drift) is private: proxies get
//! it by calling [`codegen::main`].

#![deny(missing_docs)]

pub mod codegen;
pub mod config;
pub mod files;
pub mod lock;
pub mod redact;
pub mod serve;
pub mod upstream;

mod accept;
mod access;
mod app;
mod audit;
mod auth;
mod cli;
mod coerce;
mod drift;
mod error;
mod gateway;
mod host_check;
mod identity;
mod limits;
mod listener;
mod metrics;
mod pool;
mod progress_stream;
mod proxy;
mod rate_limit;
mod request_body;
mod result;
mod served;
mod server;
mod supervisor;
mod surface;
mod tasks;
mod telemetry;
mod tool_answer;
mod tool_route;
mod validate;

/// This library's version: what a proxy depending on a published runtime
/// pins (`mcpo-runtime = "=VERSION"`).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
