//! Every MCP protocol revision an upstream may speak, end to end: our fixture
//! server made to speak exactly one revision (`--protocol-versions`), a
//! snapshot with mcpo-gen that must record it, a proxy generated from that
//! lock and built, and tool calls through it over HTTP.
//!
//! - 2025-03-26, 2025-06-18 and 2025-11-25 over streamable HTTP, with a
//!   server that expires its sessions (404 for a forgotten `Mcp-Session-Id`):
//!   every call is still served, on the same upstream connection.
//! - 2026-07-28, stateless (`server/discover`, no `initialize`, no session),
//!   over streamable HTTP and stdio; the proxy keeps to it.
//! - 2024-11-05 over stdio, and over the legacy HTTP+SSE transport against
//!   the real `@modelcontextprotocol/server-everything`.

use std::time::Duration;

use mcpo_gen_e2e::*;
use serde_json::{Value, json};

fn fixture_bin() -> String {
    build(&["mcp-fixture-server"])
        .join("mcp-fixture-server")
        .display()
        .to_string()
}

fn errors_tools() -> String {
    workspace_root()
        .join("tests/fixture-server/tools/errors.json")
        .display()
        .to_string()
}

#[track_caller]
fn protocol_of(lock: &Value) -> &str {
    lock["server"]["protocolVersion"]
        .as_str()
        .unwrap_or_else(|| panic!("the lock has a protocolVersion: {}", lock["server"]))
}

/// `echo` answers with its arguments: 200 and the same object back.
#[track_caller]
fn assert_echoes(proxy: &Running, message: &str) {
    let reply = proxy.post("/echo", &json!({ "message": message }));
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.body, json!({ "message": message }), "{reply:?}");
}

/// The proxy stays unready for a while, and says why.
#[track_caller]
fn assert_stays_unready(proxy: &Running, why: &str) {
    let readyz = proxy.url("/readyz");
    // The point: still unready after a while (a wait could not show it).
    std::thread::sleep(Duration::from_secs(3));
    let (status, body) = get(&readyz).expect("/readyz answers");
    assert_eq!(status, 503, "{body}");
    assert!(body.contains(why), "{body}");
}

#[test]
fn revisions_with_a_handshake_are_locked_served_and_outlive_expired_sessions() {
    for revision in ["2025-03-26", "2025-06-18", "2025-11-25"] {
        let server =
            start_fixture_http(&["--protocol-versions", revision, "--tools", &errors_tools()]);
        let url = server.url("/mcp");
        let (lock, proxy_build) =
            snapshot_and_build(&["--server-type", "streamable-http", "--", &url]);
        let binary = proxy_build.binary.clone();
        assert_eq!(protocol_of(&lock), revision);
        drop(server);

        // A server that forgets each session after two requests.
        let server = start_fixture_http(&[
            "--protocol-versions",
            revision,
            "--tools",
            &errors_tools(),
            "--expire-sessions-after",
            "2",
        ]);
        let url = server.url("/mcp");
        let proxy = start_proxy(&binary, &["--server-type", "streamable-http", "--", &url]);
        wait_ready(&proxy);
        for call in 0..8 {
            assert_echoes(&proxy, &format!("{revision} call {call}"));
        }
        assert!(
            logged_count(&server, "expired session") >= 3,
            "{revision}: the fixture expired no sessions, so nothing was tested"
        );
        // rmcp's transport re-initialized and retried: the supervisor never
        // saw the connection fail.
        assert_eq!(
            logged_count(&proxy, "upstream MCP server connected"),
            1,
            "{revision}: the proxy reconnected instead of re-initializing"
        );
    }
}

#[test]
fn a_server_speaking_only_the_stateless_2026_07_28_revision() {
    let fixture = fixture_bin();
    let tools = errors_tools();
    let modern_only = [
        "--protocol-versions",
        "2026-07-28",
        "--tools",
        tools.as_str(),
    ];
    // Sessions would expire after one request: a stateless client has none.
    let server =
        start_fixture_http(&[&modern_only[..], &["--expire-sessions-after", "1"]].concat());
    let url = server.url("/mcp");
    let (lock, proxy_build) = snapshot_and_build(&["--server-type", "streamable-http", "--", &url]);
    let binary = proxy_build.binary.clone();
    assert_eq!(protocol_of(&lock), "2026-07-28");
    // Name and version come from server/discover's `_meta`.
    assert_eq!(
        lock["server"]["name"], "mcp-fixture-server",
        "{}",
        lock["server"]
    );
    assert_eq!(lock["server"]["capabilities"], json!({"tools": {}}));
    let tool_count = lock["tools"].as_array().map(Vec::len).unwrap_or_default();
    assert!(tool_count > 10, "{}", lock["tools"]);

    let proxy = start_proxy(
        &binary,
        &[
            "--call-timeout",
            "1",
            "--server-type",
            "streamable-http",
            "--",
            &url,
        ],
    );
    wait_ready(&proxy);
    for call in 0..4 {
        assert_echoes(&proxy, &format!("stateless call {call}"));
    }
    // After a call times out the supervisor pings; 2026-07-28 has no `ping`
    // and the server answers -32601, which still shows it alive: the
    // connection is kept.
    let late = proxy.post("/sleeps", &json!({"message": "slow"}));
    assert_eq!(late.status, 504, "{late:?}");
    // A fixed pause: the supervisor's ping after the timeout, whose -32601
    // answer is logged by nothing, must be done before the checks below.
    std::thread::sleep(Duration::from_secs(2));
    assert_echoes(&proxy, "after a timeout");
    assert!(
        !proxy.logged("does not answer a ping"),
        "the ping was not understood"
    );
    assert_eq!(logged_count(&proxy, "upstream MCP server connected"), 1);
    let reply = proxy.post("/fails_with_is_error", &json!({}));
    assert!(reply.status >= 400, "{reply:?}");
    assert_eq!(
        logged_count(&server, "expired session"),
        0,
        "a request carried an Mcp-Session-Id"
    );
    drop(proxy);

    // Over stdio: the snapshot records the same revision and tools, and the
    // same proxy serves through a stdio server.
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("stdio-proxy");
    let output = mcpo_gen(
        &[
            &["--quiet", "--out", dir.to_str().unwrap(), "--", &fixture][..],
            &modern_only[..],
        ]
        .concat(),
    );
    assert_exit_code(&output, 0);
    let stdio_lock: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("mcp.lock.json")).unwrap()).unwrap();
    assert_eq!(protocol_of(&stdio_lock), "2026-07-28");
    assert_eq!(stdio_lock["tools"], lock["tools"]);
    let proxy = start_proxy(
        &binary,
        &[&["--", fixture.as_str()][..], &modern_only[..]].concat(),
    );
    wait_ready(&proxy);
    assert_echoes(&proxy, "stateless over stdio");
    drop(proxy);

    // A dual-era server: a snapshot takes the handshake (the newest revision
    // with one), while the stateless proxy keeps to its lock and works.
    let dual = start_fixture_http(&["--tools", &errors_tools()]);
    let dual_url = dual.url("/mcp");
    let dir = out.path().join("dual-proxy");
    generate(&dir, &["--server-type", "streamable-http", "--", &dual_url]);
    let dual_lock: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("mcp.lock.json")).unwrap()).unwrap();
    assert_eq!(protocol_of(&dual_lock), "2025-11-25");
    let proxy = start_proxy(
        &binary,
        &["--server-type", "streamable-http", "--", &dual_url],
    );
    wait_ready(&proxy);
    assert_echoes(&proxy, "stateless to a dual-era server");
    drop(proxy);

    // A server that no longer speaks the locked revision: the proxy does not
    // quietly switch protocols; it stays unready and says why.
    let legacy = start_fixture_http(&[
        "--protocol-versions",
        "2025-11-25",
        "--tools",
        &errors_tools(),
    ]);
    let proxy = start_proxy(
        &binary,
        &[
            "--server-type",
            "streamable-http",
            "--",
            &legacy.url("/mcp"),
        ],
    );
    assert_stays_unready(&proxy, "did not complete the MCP handshake");
}

#[test]
fn revision_2024_11_05_over_stdio_and_over_http_sse() {
    let fixture = fixture_bin();
    let (lock, proxy_build) = snapshot_and_build(&[
        "--",
        &fixture,
        "--protocol-versions",
        "2024-11-05",
        "--tools",
        &errors_tools(),
    ]);
    assert_eq!(protocol_of(&lock), "2024-11-05");
    let binary = proxy_build.binary.clone();
    // The lock's own upstream: the fixture over stdio.
    let proxy = start_proxy(&binary, &[]);
    wait_ready(&proxy);
    assert_echoes(&proxy, "2024-11-05 over stdio");
    drop(proxy);

    // The same proxy (it offers 2024-11-05) against server-everything on the
    // HTTP+SSE transport of that revision; its `echo` answers in its own words.
    // Another server's `echo` differs from the locked one: drift, called
    // anyway under `--on-drift warn`.
    let server = start_everything_sse();
    let proxy = start_proxy(
        &binary,
        &[
            "--on-drift",
            "warn",
            "--server-type",
            "sse",
            &server.url("/sse"),
        ],
    );
    wait_ready(&proxy);
    let reply = proxy.post("/echo", &json!({"message": "over sse"}));
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.body, json!("Echo: over sse"), "{reply:?}");
}
