//! The HTTP edge of a generated proxy, probed as an attacker and a careless
//! client would: cross-site bodies, foreign `Host` names, bodies and replies
//! that cannot be forwarded, `Expect: 100-continue`, a frozen upstream, and
//! floods of idle and slowloris connections. Uses the committed
//! `generated-examples/errors-proxy` against our fixture server.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use mcpo_gen_e2e::*;
use serde_json::json;

use crate::{launch, proxy_binary, stalled_upload, start_ready};

/// Sends raw bytes and returns what the proxy answered, up to `limit` of
/// waiting for the first bytes.
fn raw_exchange(port: u16, request: &[u8], limit: Duration) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(limit)).unwrap();
    stream.write_all(request).unwrap();
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    // The head and a short JSON body arrive together; stop at the first read
    // that brings the end of the body or the connection's end.
    while let Ok(read @ 1..) = stream.read(&mut chunk) {
        answer.extend_from_slice(&chunk[..read]);
        if answer.ends_with(b"}") {
            break;
        }
    }
    String::from_utf8_lossy(&answer).into_owned()
}

fn post_with_type(proxy: &Running, content_type: Option<&str>, body: &str) -> Reply {
    let client = reqwest::blocking::Client::new();
    let mut request = client.post(proxy.url("/echo")).body(body.to_string());
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    let response = request.send().unwrap();
    let status = response.status().as_u16();
    let text = response.text().unwrap();
    Reply {
        status,
        body: json_or_text(text),
        headers: Default::default(),
    }
}

/// `GET /readyz` with `Host: HOST:PORT` is answered `status`.
#[track_caller]
fn assert_host_answered(proxy: &Running, host: &str, status: &str) {
    let request = format!(
        "GET /readyz HTTP/1.1\r\nHost: {host}:{}\r\nConnection: close\r\n\r\n",
        proxy.port
    );
    let answer = raw_exchange(proxy.port, request.as_bytes(), Duration::from_secs(5));
    assert!(
        answer.starts_with(&format!("HTTP/1.1 {status}")),
        "{host}: {answer}"
    );
}

/// What a web page can send cross-site without a CORS preflight (an HTML form
/// with `enctype="text/plain"`, a urlencoded or multipart form) never reaches
/// a tool: 415 before the body is read. JSON types and no type at all (mcpo's
/// clients) still work.
#[test]
fn only_json_bodies_reach_a_tool() {
    let proxy = start_ready(&[], "errors.json");
    let body = r#"{"message":"cross-site"}"#;
    for content_type in [
        "text/plain",
        "text/plain;charset=UTF-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/jsonp",
    ] {
        let reply = post_with_type(&proxy, Some(content_type), body);
        assert_eq!(reply.status, 415, "{content_type}: {reply:?}");
        assert!(
            reply.detail_contains("application/json"),
            "{content_type}: {reply:?}"
        );
    }
    for content_type in [
        None,
        Some("application/json"),
        Some("Application/JSON; charset=utf-8"),
        Some("application/merge-patch+json"),
    ] {
        let reply = post_with_type(&proxy, content_type, body);
        assert_eq!(reply.status, 200, "{content_type:?}: {reply:?}");
        assert_eq!(reply.body, json!({"message": "cross-site"}));
    }
}

/// DNS rebinding: a page on a name that resolves to 127.0.0.1 reaches a
/// proxy on loopback, but its `Host` header names the page's host.
#[test]
fn a_proxy_on_loopback_answers_loopback_host_names_only() {
    let proxy = start_ready(&[], "errors.json");
    let rebinding = format!(
        "GET /openapi.json HTTP/1.1\r\nHost: attacker.example:{}\r\nConnection: close\r\n\r\n",
        proxy.port
    );
    let answer = raw_exchange(proxy.port, rebinding.as_bytes(), Duration::from_secs(5));
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("Host not allowed"), "{answer}");
    for host in ["localhost", "127.0.0.1", "[::1]"] {
        let request = format!(
            "GET /healthz HTTP/1.1\r\nHost: {host}:{}\r\nConnection: close\r\n\r\n",
            proxy.port
        );
        let answer = raw_exchange(proxy.port, request.as_bytes(), Duration::from_secs(5));
        assert!(answer.starts_with("HTTP/1.1 200"), "{host}: {answer}");
    }
    drop(proxy);
    // Named hosts replace the default list (127.0.0.1 is the harness's own).
    let proxy = start_ready(
        &["--allowed-hosts", "proxy.internal,127.0.0.1"],
        "errors.json",
    );
    for (host, status) in [("proxy.internal", "200"), ("localhost", "400")] {
        assert_host_answered(&proxy, host, status);
    }
}

/// HTTP/1.1's host rules (RFC 9112 §3.2): exactly one `Host` (400 without
/// or with two; HTTP/1.0 needs none), and the authority of an absolute-form
/// target is the host, whatever `Host` says: it is what `--allowed-hosts`
/// checks.
#[test]
fn a_request_names_its_host_once_and_an_absolute_target_wins() {
    let proxy = start_ready(&[], "errors.json");
    let port = proxy.port;
    let exchange = |request: String| raw_exchange(port, request.as_bytes(), Duration::from_secs(5));
    let answer = exchange("GET /openapi.json HTTP/1.1\r\nConnection: close\r\n\r\n".into());
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("Missing Host header"), "{answer}");
    // Liveness too: the rule is HTTP's, not --allowed-hosts'.
    let answer = exchange("GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n".into());
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    let answer = exchange("GET /healthz HTTP/1.0\r\n\r\n".into());
    assert!(
        answer.starts_with("HTTP/1.0 200"),
        "HTTP/1.0 has no Host: {answer}"
    );
    let answer = exchange(format!(
        "GET /openapi.json HTTP/1.1\r\nHost: localhost:{port}\r\nHost: localhost:{port}\r\n\
         Connection: close\r\n\r\n"
    ));
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("More than one Host header"), "{answer}");
    // The target's authority is checked, not `Host`.
    let answer = exchange(format!(
        "GET http://evil.example/openapi.json HTTP/1.1\r\nHost: localhost:{port}\r\n\
         Connection: close\r\n\r\n"
    ));
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("Host not allowed"), "{answer}");
    let answer = exchange(format!(
        "GET http://localhost:{port}/readyz HTTP/1.1\r\nHost: evil.example\r\n\
         Connection: close\r\n\r\n"
    ));
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

/// `--allowed-hosts '*.example.com'` answers its subdomains (not the name
/// itself); a wildcard anywhere else, which would match nothing, stops the
/// proxy at startup.
#[test]
fn allowed_hosts_wildcards_match_subdomains_or_are_refused() {
    let proxy = start_ready(
        &["--allowed-hosts", "*.example.com,127.0.0.1"],
        "errors.json",
    );
    for (host, status) in [
        ("api.example.com", "200"),
        ("a.b.example.com", "200"),
        ("example.com", "400"),
        ("evilexample.com", "400"),
    ] {
        assert_host_answered(&proxy, host, status);
    }
    drop(proxy);
    for wildcard in ["*example.com", "api.*.com"] {
        let output = Launch::proxy(&proxy_binary())
            .args(&["--allowed-hosts", wildcard])
            .run_to_exit(Duration::from_secs(30));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{wildcard}: {stderr}");
        assert!(stderr.contains("--allowed-hosts"), "{stderr}");
        assert!(stderr.contains("`*.example.com`"), "{stderr}");
    }
}

/// `--strict-auth` on a multi-server proxy: without a valid key, a server's
/// routes answer exactly as those of a name that is no server (the 401),
/// liveness included, so server names cannot be probed; the proxy's own
/// `/healthz` stays open. The servers need not be reachable for that.
#[test]
fn strict_auth_does_not_tell_which_names_are_servers() {
    let closed = closed_port();
    let config = json!({"mcpServers": {
        "time": {"command": "false"},
        "memory": {"command": "false"},
        "everything": {"type": "streamable-http", "url": format!("http://127.0.0.1:{closed}/mcp")},
        "everything-sse": {"type": "sse", "url": format!("http://127.0.0.1:{closed}/sse")},
    }});
    let (_dir, config_path) = scratch_file("config.json", config.to_string());
    let binary = build(&["multi-proxy"]).join("multi-proxy");
    let proxy = Launch::proxy(&binary)
        .args(&[
            "--api-key",
            "edge-key",
            "--strict-auth",
            "--config",
            config_path.to_str().unwrap(),
        ])
        .start();
    let port = proxy.port;
    // The answer without its `date` header.
    let answer = |method: &str, path: &str, authorization: &str| {
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{authorization}\
             Connection: close\r\n\r\n"
        );
        raw_exchange(port, request.as_bytes(), Duration::from_secs(5))
            .lines()
            .filter(|line| !line.starts_with("date:"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    for route in [
        "healthz",
        "readyz",
        "openapi.json",
        "docs/",
        "get_current_time",
    ] {
        for method in ["GET", "POST"] {
            for authorization in ["", "Authorization: Bearer wrong\r\n"] {
                let known = answer(method, &format!("/time/{route}"), authorization);
                let unknown = answer(method, &format!("/nope/{route}"), authorization);
                assert!(
                    known.starts_with("HTTP/1.1 401"),
                    "{method} {route}: {known}"
                );
                assert_eq!(known, unknown, "{method} {route} {authorization}");
            }
        }
    }
    assert!(answer("GET", "/healthz", "").starts_with("HTTP/1.1 200"));
    let key = "Authorization: Bearer edge-key\r\n";
    assert!(answer("GET", "/time/healthz", key).starts_with("HTTP/1.1 200"));
    assert!(answer("GET", "/nope/healthz", key).starts_with("HTTP/1.1 404"));
}

/// A body that stops arriving is answered 408 after `--body-timeout`
/// (here from `MCPO_BODY_TIMEOUT`), well before the call timeout, and its
/// connection closed.
#[test]
fn a_stalled_body_is_408_after_the_body_timeout() {
    let proxy = launch(&["--call-timeout", "60"], &fixture_upstream("errors.json"))
        .env(&[("MCPO_BODY_TIMEOUT", "2")])
        .start_ready();
    let head = format!(
        "POST /echo HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Type: application/json\r\n\
         Content-Length: 40\r\n\r\n{{\"message\": \"",
        proxy.port
    );
    let (answer, waited) = stalled_upload(&proxy, &head, Duration::from_secs(30));
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("connection: close"), "{answer}");
    assert!(
        answer.ends_with(r#"{"detail":"The request body did not arrive within 2s"}"#),
        "{answer}"
    );
    assert!(
        waited >= Duration::from_millis(1900) && waited < Duration::from_secs(30),
        "{waited:?}"
    );
}

fn nested_body(depth: usize) -> String {
    // The object itself is one level: `depth - 1` arrays inside it.
    format!(
        r#"{{"message":"deep","deep":{}1{}}}"#,
        "[".repeat(depth - 1),
        "]".repeat(depth - 1)
    )
}

/// A body the JSON-RPC envelope would push past what upstream parsers read is
/// refused at the door, at once, instead of a 504 after the call timeout.
#[test]
fn bodies_too_deep_to_forward_are_refused_at_once() {
    let proxy = start_ready(&["--call-timeout", "30"], "errors.json");
    let fits = post_raw(&proxy.url("/echo"), nested_body(100), None);
    assert_eq!(fits.status, 200, "{fits:?}");
    for depth in [101, 126, 127] {
        let started = Instant::now();
        let reply = post_raw(&proxy.url("/echo"), nested_body(depth), None);
        assert_eq!(reply.status, 422, "{depth}: {reply:?}");
        assert_eq!(reply.body["detail"][0]["type"], "too_deep", "{reply:?}");
        assert!(started.elapsed() < Duration::from_secs(5), "{depth}");
    }
}

/// A reply the proxy cannot decode fails its call at once with 502 and a log
/// line naming the tool; the upstream connection goes on serving.
#[test]
fn an_undecodable_reply_is_a_prompt_502_and_the_upstream_keeps_serving() {
    let proxy = start_ready(&["--call-timeout", "30"], "edge.json");
    let started = Instant::now();
    let reply = proxy.post("/returns_structured", &json!({}));
    assert_eq!(reply.status, 502, "{reply:?}");
    assert!(reply.detail_contains("could not be decoded"), "{reply:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
    wait_until(Duration::from_secs(5), || {
        proxy.logged("returns_structured") && proxy.logged("cannot be decoded")
    });
    let echo = proxy.post("/echo", &json!({"message": "still here"}));
    assert_eq!(echo.status, 200, "{echo:?}");
}

/// A client that asks before uploading a body over the limit is told 413 at
/// once, without being invited to send it.
#[test]
fn expect_continue_over_the_limit_is_a_413_at_once() {
    let proxy = start_ready(&["--max-body-bytes", "1000"], "errors.json");
    let request = format!(
        "POST /echo HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Type: application/json\r\n\
         Content-Length: 50000000\r\nExpect: 100-continue\r\n\r\n",
        proxy.port
    );
    let started = Instant::now();
    let answer = raw_exchange(proxy.port, request.as_bytes(), Duration::from_secs(4));
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer:?}");
    assert!(!answer.contains("100 Continue"), "{answer}");
    assert_took(started.elapsed(), ..Duration::from_secs(2), "the 413");
}

/// A stdio upstream that freezes (SIGSTOP) stops answering everything: after
/// a timed-out call its unanswered ping makes the proxy unready, and it is
/// replaced by a fresh process that serves again.
#[test]
fn a_frozen_stdio_upstream_is_reported_unready_and_replaced() {
    let marker = unique_marker("frozen-upstream");
    let proxy = launch(&["--call-timeout", "2"], &fixture_upstream("errors.json"))
        .env(&[("MCPO_TEST_MARKER", &marker)])
        .start_ready();
    // The proxy has the marker too; its upstream is the other process.
    let upstream = || -> Vec<i32> {
        processes_with_marker(&marker)
            .into_iter()
            .filter(|pid| *pid != proxy.pid())
            .collect()
    };
    let frozen = upstream();
    assert_eq!(frozen.len(), 1, "one upstream: {frozen:?}");
    freeze_process(frozen[0]);
    let reply = proxy.post("/echo", &json!({"message": "x"}));
    assert_eq!(reply.status, 504, "{reply:?}");
    let readyz = proxy.url("/readyz");
    let mut saw_unready = false;
    wait_until(Duration::from_secs(30), || {
        let status = get(&readyz).map(|(status, _)| status).unwrap_or(0);
        saw_unready |= status == 503;
        saw_unready && status == 200
    });
    let reply = proxy.post("/echo", &json!({"message": "thawed"}));
    assert_eq!(reply.status, 200, "{reply:?}");
    let now = upstream();
    assert!(
        !now.contains(&frozen[0]),
        "the frozen process was killed, not left stopped: {now:?}"
    );
}

/// Opens up to `count` connections to `port`, each sending `prefix` (nothing
/// for idle ones), and keeps them open.
fn hold_connections(port: u16, count: usize, prefix: &[u8]) -> Vec<TcpStream> {
    let address = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut held = Vec::with_capacity(count);
    for _ in 0..count {
        if let Ok(mut stream) = TcpStream::connect_timeout(&address, Duration::from_secs(1)) {
            let _ = stream.write_all(prefix);
            held.push(stream);
        }
    }
    held
}

/// Raises this test process's open-file limit so it can hold thousands of
/// connections itself.
fn raise_own_file_limit(wanted: u64) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain getrlimit/setrlimit on this process.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
        limit.rlim_cur = limit.rlim_max.min(wanted as libc::rlim_t);
        libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
    }
}

/// 2,000 idle connections and 2,000 slowloris ones (headers never finished)
/// from one client, against a proxy whose open-file limit is 256: the cap
/// bites, says so in the log, makes room by closing the oldest idle
/// connections, and normal clients keep being served. The header timeout
/// then closes what is left.
#[test]
fn idle_and_slowloris_floods_do_not_lock_clients_out() {
    raise_own_file_limit(8192);
    let proxy = launch(&["--header-timeout", "3"], &fixture_upstream("errors.json"))
        .open_files(256)
        .start_ready();
    let healthz = proxy.url("/healthz");
    let slowloris = format!(
        "POST /echo HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nX-Slow: a",
        proxy.port
    );
    for prefix in [&b""[..], slowloris.as_bytes()] {
        let held = hold_connections(proxy.port, 2000, prefix);
        assert!(held.len() > 256, "only {} connections opened", held.len());
        for round in 0..10 {
            let started = Instant::now();
            let reply = proxy.post("/echo", &json!({"message": "hi"}));
            assert_eq!(reply.status, 200, "round {round}: {reply:?}");
            assert_took(
                started.elapsed(),
                ..Duration::from_secs(5),
                &format!("round {round}"),
            );
            let (status, _) = get(&healthz).unwrap();
            assert_eq!(status, 200);
        }
        drop(held);
    }
    assert!(
        proxy.logged("connection limit reached"),
        "the cap was logged"
    );

    // An idle connection is closed by the header timeout (3 s).
    let mut idle = TcpStream::connect(("127.0.0.1", proxy.port)).unwrap();
    idle.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let started = Instant::now();
    let mut buffer = [0u8; 64];
    let read = idle.read(&mut buffer);
    assert!(
        matches!(read, Ok(0) | Err(_)) || buffer.starts_with(b"HTTP/1.1 408"),
        "{read:?}"
    );
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(2) && waited < Duration::from_secs(9),
        "closed after {waited:?}"
    );
}
