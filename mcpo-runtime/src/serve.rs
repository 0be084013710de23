//! `mcpo-gen serve`: the proxy of a lock without compiling a crate. The
//! same pipeline as a generated crate (frozen-schema validation, lax types,
//! limits, drift checks, documents), with one difference: the tool routes
//! take the arguments as JSON values, where a compiled crate also checks
//! them against its typed request structs.

use std::process::ExitCode;

use axum::Router;
use axum::extract::{Request, State};

use crate::app::App;

pub use crate::cli::{Cli as ProxyArgs, ServerType, command_line_target};
pub use crate::proxy::{ProxySource, ServerSource};

/// Tool routes built at run time: `POST route` calls `tool` for each
/// `(route, tool)`, as a generated `router()` does with its typed models.
pub fn tool_routes(tools: &[(String, String)]) -> Router<App> {
    tools.iter().fold(Router::new(), |router, (route, tool)| {
        // Names live as long as the process, as a compiled crate's do.
        let tool: &'static str = Box::leak(tool.clone().into_boxed_str());
        router.route(
            route,
            axum::routing::post(move |State(app): State<App>, request: Request| {
                app.call_tool::<serde_json::Value, serde_json::Value>(tool, request)
            }),
        )
    })
}

/// Runs the proxy of `source` with `args` (a generated proxy's flags) until
/// SIGINT/SIGTERM: exit code 0 after a clean shutdown, 2 for bad flags, 1
/// for any other startup failure.
pub fn run(args: ProxyArgs, source: ProxySource) -> ExitCode {
    crate::proxy::run_proxy(args, source)
}
