//! The surface generated code uses, and nothing else: a proxy's
//! `src/main.rs` is [`proxy_main!`](crate::proxy_main), and its
//! `src/tools.rs` names only the items below (its serde derives go through
//! the re-exported [`serde`] with `#[serde(crate = ...)]`), so the generated
//! crate needs no other dependency and the runtime's internals can change
//! without touching it.
//!
//! ```text
//! // src/main.rs of a generated proxy
//! #[rustfmt::skip]
//! mod tools;
//! mcpo_runtime::codegen::proxy_main!(tools::router);
//! ```

use std::process::ExitCode;

use crate::proxy::{ProxySource, ServerSource};

pub use crate::app::App;
pub use crate::proxy_main;
pub use crate::tool_route::{ToolFuture, ToolHandler, tool_router};
pub use axum::Router;
pub use axum::extract::Request;
pub use serde;
pub use serde_json;

/// What a proxy's `main` hands to the runtime: its identity, the frozen lock
/// and OpenAPI documents (embedded with `include_str!`), and the generated
/// tool routes of each server. [`proxy_main!`](crate::proxy_main) fills it in.
pub struct Embedded {
    /// The proxy crate's name (`clientInfo.name` towards the upstream).
    pub crate_name: &'static str,
    /// The proxy crate's version.
    pub crate_version: &'static str,
    /// `mcp.lock.json`.
    pub lock_json: &'static str,
    /// `openapi.json`: the crate's whole document.
    pub openapi_json: &'static str,
    /// Each server's tool routes: one, named `""`, for a single-server crate.
    pub servers: &'static [EmbeddedServer],
}

/// One server of a crate: its URL prefix, its own document and its routes.
pub struct EmbeddedServer {
    /// The server's name in the lock and URL prefix (`/{name}`); `""` for
    /// the one server of a single-server crate, served at the root.
    pub name: &'static str,
    /// Its own OpenAPI document (`servers/{name}/openapi.json`; the crate's
    /// `openapi.json` for a single-server crate).
    pub openapi_json: &'static str,
    /// Its generated `router`.
    pub router: fn() -> Router<App>,
}

/// Runs the proxy until SIGINT/SIGTERM: exit code 0 after a clean shutdown,
/// 2 for bad flags, 1 for any other startup failure.
pub fn main(embedded: &Embedded) -> ExitCode {
    crate::proxy::main(ProxySource::from(embedded))
}

impl From<&Embedded> for ProxySource {
    fn from(embedded: &Embedded) -> Self {
        ProxySource {
            crate_name: embedded.crate_name.to_string(),
            crate_version: embedded.crate_version.to_string(),
            lock_json: embedded.lock_json.to_string(),
            openapi_json: embedded.openapi_json.to_string(),
            servers: embedded
                .servers
                .iter()
                .map(|server| ServerSource {
                    name: server.name.to_string(),
                    openapi_json: server.openapi_json.to_string(),
                    routes: (server.router)(),
                })
                .collect(),
        }
    }
}

/// The whole `main` of a generated proxy: embeds `../mcp.lock.json` and
/// `../openapi.json` (paths relative to the invoking `src/main.rs`) and runs
/// [`main`] with the given tool router; with `servers { "NAME" => router,
/// ... }`, a multi-server crate, each server's own document from
/// `../servers/NAME/openapi.json`.
#[macro_export]
macro_rules! proxy_main {
    (servers { $($name:literal => $router:path),+ $(,)? }) => {
        fn main() -> ::std::process::ExitCode {
            $crate::codegen::main(&$crate::codegen::Embedded {
                crate_name: env!("CARGO_PKG_NAME"),
                crate_version: env!("CARGO_PKG_VERSION"),
                lock_json: include_str!("../mcp.lock.json"),
                openapi_json: include_str!("../openapi.json"),
                servers: &[$($crate::codegen::EmbeddedServer {
                    name: $name,
                    openapi_json: include_str!(concat!("../servers/", $name, "/openapi.json")),
                    router: $router,
                }),+],
            })
        }
    };
    ($router:path) => {
        fn main() -> ::std::process::ExitCode {
            $crate::codegen::main(&$crate::codegen::Embedded {
                crate_name: env!("CARGO_PKG_NAME"),
                crate_version: env!("CARGO_PKG_VERSION"),
                lock_json: include_str!("../mcp.lock.json"),
                openapi_json: include_str!("../openapi.json"),
                servers: &[$crate::codegen::EmbeddedServer {
                    name: "",
                    openapi_json: include_str!("../openapi.json"),
                    router: $router,
                }],
            })
        }
    };
}
