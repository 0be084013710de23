//! What `mcpo-gen serve` runs: the proxy a lock's compiled crate would be,
//! assembled at run time from the same rendered files (the lock as written,
//! the OpenAPI documents byte for byte) and tool routes at the same paths.

use std::path::Path;

use mcpo_runtime::serve::{ProxySource, ServerSource, tool_routes};

use crate::emit::{self, EmitError};
use crate::lock::{CrateLock, LOCK_FILE_NAME};
use crate::naming::tool_route;

/// The version a generated crate's `Cargo.toml` gives itself; the proxy
/// sends it as `clientInfo.version`.
const CRATE_VERSION: &str = "0.1.0";

/// The lock of `--lock`: a generated crate's folder or its `mcp.lock.json`.
/// An error names what `--lock` takes, for a path that holds no lock.
pub fn read_lock(path: &Path) -> anyhow::Result<CrateLock> {
    use anyhow::Context as _;
    let file = if path.is_dir() {
        path.join(LOCK_FILE_NAME)
    } else {
        path.to_path_buf()
    };
    CrateLock::read(&file).with_context(|| {
        format!(
            "--lock {}: give a generated crate's folder or its {LOCK_FILE_NAME}",
            path.display()
        )
    })
}

/// The proxy of `lock`, as its generated crate would serve it.
pub fn source(lock: &CrateLock) -> Result<ProxySource, EmitError> {
    let rendered = emit::render_crate(lock)?;
    let file = |path: &str| {
        rendered
            .files
            .get(Path::new(path))
            .cloned()
            .unwrap_or_default()
    };
    let servers = lock
        .servers()
        .into_iter()
        .map(|(name, server)| {
            let tools: Vec<(String, String)> = server
                .tools
                .iter()
                .map(|tool| (tool_route(&tool.name), tool.name.clone()))
                .collect();
            ServerSource {
                name: name.unwrap_or_default().to_string(),
                openapi_json: match name {
                    Some(name) => file(&format!("servers/{name}/openapi.json")),
                    None => file("openapi.json"),
                },
                routes: tool_routes(&tools),
            }
        })
        .collect();
    Ok(ProxySource {
        crate_name: lock.proxy_crate().name.clone(),
        crate_version: CRATE_VERSION.to_string(),
        lock_json: file(LOCK_FILE_NAME),
        openapi_json: file("openapi.json"),
        servers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_served_files_are_the_committed_crates_own() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../generated-examples");
        for example in ["time-proxy", "multi-proxy"] {
            let dir = root.join(example);
            let lock = CrateLock::read(&dir.join(LOCK_FILE_NAME)).unwrap();
            let source = source(&lock).unwrap();
            let committed = |path: &str| std::fs::read_to_string(dir.join(path)).unwrap();
            assert_eq!(source.lock_json, committed(LOCK_FILE_NAME), "{example}");
            assert_eq!(source.openapi_json, committed("openapi.json"), "{example}");
            for server in &source.servers {
                let path = if server.name.is_empty() {
                    "openapi.json".to_string()
                } else {
                    format!("servers/{}/openapi.json", server.name)
                };
                assert_eq!(server.openapi_json, committed(&path), "{example} {path}");
            }
            assert_eq!(source.crate_name, example);
        }
    }
}
