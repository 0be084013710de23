//! The MCP registry entry a lock's launch spec was made from
//! (`mcpo-gen --from-registry`), recorded so a review sees where it came from.

use serde::{Deserialize, Serialize};

/// A registry `server.json`'s identity, and which of its packages or remotes
/// the launch spec is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistryEntry {
    /// The entry's `name` (`io.github.owner/server`).
    pub name: String,
    /// The entry's `version`.
    pub version: String,
    /// `packages/N` or `remotes/N`.
    pub choice: String,
}
