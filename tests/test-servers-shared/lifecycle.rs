//! How the test servers (fixture-server, oauth-server) announce their
//! address and stop on a signal. One file included by both with `#[path]`,
//! so they keep one copy without a crate of their own.

use anyhow::Context;
use tokio::io::AsyncWriteExt;

/// Resolves on SIGTERM or SIGINT. The handlers are installed when this is called,
/// not when it is first polled, so a signal sent right after the handshake is not
/// lost to the default action. If a handler cannot be installed that signal keeps
/// its default action (terminate), which is still a correct exit.
pub(crate) fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt()).ok();
    let mut terminate = signal(SignalKind::terminate()).ok();
    async move {
        tokio::select! {
            () = next_signal(interrupt.as_mut()) => {}
            () = next_signal(terminate.as_mut()) => {}
        }
    }
}

async fn next_signal(stream: Option<&mut tokio::signal::unix::Signal>) {
    match stream {
        Some(stream) => {
            stream.recv().await;
        }
        None => std::future::pending::<()>().await,
    }
}

/// Prints `listening on MCP_URL` (the first stdout line, which tests wait
/// for), then serves `router` until SIGINT or SIGTERM; `end_sessions` then
/// closes the MCP sessions' streams, which graceful shutdown would otherwise
/// wait on.
pub(crate) async fn serve_until_signal(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    mcp_url: &str,
    end_sessions: impl FnOnce() + Send + 'static,
) -> anyhow::Result<()> {
    // Caught from before the address is announced: a test may stop the
    // server right after reading it.
    let shutdown = shutdown_signal();
    let mut stdout = tokio::io::stdout();
    stdout
        .write_all(format!("listening on {mcp_url}\n").as_bytes())
        .await?;
    stdout.flush().await?;
    axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            shutdown.await;
            end_sessions();
        })
        .await
        .context("HTTP server failed")
}
