//! `--stdio`: the proxy is an MCP server on stdin/stdout, so an MCP client
//! that launches servers (Claude Desktop, an IDE) launches the pinned proxy
//! in place of the server. stdout carries only MCP messages; every log line
//! goes to stderr.

use rmcp::ServiceExt as _;

use super::Gateway;

/// Serves `gateway` on stdin/stdout until the client closes stdin or
/// `shutdown` resolves.
pub(crate) async fn serve_stdio(
    gateway: Gateway,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    let service = gateway
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|error| {
            anyhow::anyhow!("the MCP client on stdin/stdout did not initialize: {error}")
        })?;
    tracing::info!("serving MCP on stdin/stdout");
    let cancel = service.cancellation_token();
    tokio::select! {
        quit = service.waiting() => {
            tracing::info!("the MCP client closed the session ({quit:?})");
        }
        () = shutdown => cancel.cancel(),
    }
    Ok(())
}
