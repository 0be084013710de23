//! SSE upstreams (the 2024-11-05 HTTP+SSE transport) against the real
//! `@modelcontextprotocol/server-everything` in its `sse` mode: a snapshot
//! over SSE gives the committed example's tools, the committed
//! everything-proxy serves through it, and when the server goes away and
//! comes back on the same port the proxy is unready meanwhile, then
//! reconnects, re-initializes and serves again.

use std::time::Duration;

use mcpo_gen_e2e::*;
use serde_json::{Value, json};

fn read_json(path: &std::path::Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn a_snapshot_over_sse_gives_the_committed_tools() {
    let server = start_everything_sse();
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("everything-sse");
    let dir = dir.to_str().unwrap();
    let url = server.url("/sse");
    let output = mcpo_gen(&["--quiet", "--out", dir, "--server-type", "sse", "--", &url]);
    assert_exit_code(&output, 0);
    let live = read_json(&std::path::Path::new(dir).join("mcp.lock.json"));
    let committed =
        read_json(&workspace_root().join("generated-examples/everything-proxy/mcp.lock.json"));
    assert_eq!(live["upstream"]["type"], "sse", "{}", live["upstream"]);
    assert_eq!(live["upstream"]["url"], url.as_str());
    // Fields rmcp does not model (the `tasks` capability) are kept over SSE
    // too, and the resources, templates and prompts are listed the same.
    assert_snapshot_matches(&live, &committed, "over SSE");
}

#[test]
fn the_proxy_serves_over_sse_and_comes_back_after_the_server_restarts() {
    let mut server = start_everything_sse();
    let port = server.port;
    let url = server.url("/sse");
    let binary = build(&["everything-proxy"]).join("everything-proxy");
    let proxy = start_proxy(&binary, &["--server-type", "sse", &url]);
    wait_ready(&proxy);
    let echo = |message: &str| proxy.post("/echo", &json!({ "message": message }));
    let reply = echo("over sse");
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.body, json!("Echo: over sse"));

    // The server goes away: its stream ends, and the proxy says it is unready.
    let readyz = proxy.url("/readyz");
    stop_and_wait_unready(&mut server, &readyz, Duration::from_secs(15));
    let reply = echo("nobody there");
    assert!(matches!(reply.status, 502 | 503), "{reply:?}");

    // Back on the same port: the proxy opens a new stream, initializes again
    // and serves.
    let _restarted =
        start_everything_sse_on(port).expect("server-everything restarts on its old port");
    wait_ready(&proxy);
    let reply = echo("again");
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.body, json!("Echo: again"));
    assert!(
        proxy.logged("connection was lost") || proxy.logged("reconnect"),
        "the proxy did not log the reconnection"
    );
}
