//! SSE upstreams (the 2024-11-05 HTTP+SSE transport) against the real
//! `@modelcontextprotocol/server-everything` in its `sse` mode: a snapshot
//! over SSE gives the committed example's tools, the committed
//! everything-proxy serves through it, and when the server goes away and
//! comes back on the same port the proxy is unready meanwhile, then
//! reconnects, re-initializes and serves again.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mcpo_gen_e2e::*;
use serde_json::{Value, json};

/// A loopback port that was free a moment ago (the server only takes one
/// from `PORT`).
fn released_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free loopback port")
}

/// Whether `GET /sse` on `port` opens an event stream whose first event is
/// the `endpoint` (the server's own answer, not whoever else holds the port).
fn serves_sse(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request =
        format!("GET /sse HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: text/event-stream\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut seen = Vec::new();
    let mut chunk = [0u8; 1024];
    while let Ok(read) = stream.read(&mut chunk) {
        if read == 0 {
            break;
        }
        seen.extend_from_slice(&chunk[..read]);
        if String::from_utf8_lossy(&seen).contains("event: endpoint") {
            return true;
        }
    }
    false
}

/// server-everything in SSE mode on `port`, once it serves its stream; `None`
/// when it exited first (another process took the port).
fn start_everything_sse_on(port: u16) -> Option<Running> {
    let mut running = Running {
        child: Command::new("node")
            .arg(node_server("server-everything"))
            .arg("sse")
            .env("PORT", port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("node runs"),
        port,
        root_path: String::new(),
        log: Default::default(),
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(Some(status)) = running.child.try_wait() {
            eprintln!("server-everything (sse) on port {port} exited ({status})");
            return None;
        }
        if serves_sse(port) {
            return Some(running);
        }
        assert!(
            Instant::now() < deadline,
            "server-everything did not serve SSE on port {port} in 30 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn start_everything_sse() -> Running {
    (0..3)
        .find_map(|_| start_everything_sse_on(released_port()))
        .expect("server-everything (sse) starts on some port")
}

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
    assert!(output.status.success(), "{}", output_text(&output));
    let live = read_json(&std::path::Path::new(dir).join("mcp.lock.json"));
    let committed =
        read_json(&workspace_root().join("generated-examples/everything-proxy/mcp.lock.json"));
    assert_eq!(live["upstream"]["type"], "sse", "{}", live["upstream"]);
    assert_eq!(live["upstream"]["url"], url.as_str());
    // Fields rmcp does not model (the `tasks` capability) are kept over SSE too.
    assert_eq!(live["server"], committed["server"]);
    assert_eq!(live["tools"], committed["tools"]);
}

#[test]
fn the_proxy_serves_over_sse_and_comes_back_after_the_server_restarts() {
    let mut server = start_everything_sse();
    let port = server.port;
    let url = server.url("/sse");
    let binary = build(&["everything-proxy"]).join("everything-proxy");
    let proxy = start_proxy(&binary, &["--server-type", "sse", &url]);
    wait_ready(&proxy);
    let echo = |message: &str| post_json(&proxy.url("/echo"), &json!({ "message": message }), None);
    let reply = echo("over sse");
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.body, json!("Echo: over sse"));

    // The server goes away: its stream ends, and the proxy says it is unready.
    server.terminate(Duration::from_secs(5));
    let readyz = proxy.url("/readyz");
    assert!(
        wait_for(Duration::from_secs(15), || {
            get(&readyz).is_ok_and(|(status, _)| status == 503)
        }),
        "/readyz stayed ready after the SSE server went away"
    );
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
