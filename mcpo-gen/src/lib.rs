//! mcpo-gen: snapshot an MCP server, then emit a typed REST/OpenAPI proxy crate.
//!
//! The modules follow the pipeline:
//! [`snapshot`] (connect, list tools) -> [`lock`] (`mcp.lock.json`) ->
//! [`schema`] (JSON Schema -> Rust types) and [`openapi`] (frozen document) ->
//! [`emit`] (write the crate), or [`serve`] (run the proxy of a lock without
//! compiling its crate). [`login`] authorizes with an OAuth-protected
//! server interactively. [`diff`] compares two locks for review;
//! [`audit`] flags texts that hide instructions from their reviewer.
//!
//! Each stage returns typed errors; progress output, `anyhow` and exit codes
//! belong to the `mcpo-gen` binary, which composes these stages into verbs.

pub mod audit;
pub mod diff;
pub mod emit;
/// `mcp.lock.json`: the model the generated proxies read too.
pub use mcpo_runtime::lock;
pub mod login;
pub mod naming;
pub mod openapi;
pub mod pinning;
pub mod registry;
pub mod schema;
pub mod serve;
pub mod snapshot;
pub mod text;

#[cfg(test)]
mod tests {
    /// mcpo-gen and mcpo-runtime are released together: the runtime writes
    /// mcpo-gen's version into every lock (`Generator::current`), and a
    /// `--runtime published` crate pins the runtime at that version.
    #[test]
    fn generator_and_runtime_versions_agree() {
        assert_eq!(
            crate::lock::Generator::current().version,
            env!("CARGO_PKG_VERSION")
        );
        assert_eq!(mcpo_runtime::VERSION, env!("CARGO_PKG_VERSION"));
    }
}
