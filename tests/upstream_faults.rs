//! Faults of the upstream over streamable HTTP (issue 19), end to end: the
//! committed `generated-examples/errors-proxy` pointed at our fixture server
//! over HTTP (`--server-type streamable-http -- URL`). An upstream nobody
//! listens for is 503 with `Retry-After`; one that hangs is 504 and later
//! calls recover; a server restarted on the same port gets a new session;
//! and (over stdio) a crash loop is backed off with 503s.

use std::net::TcpListener;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use mcpo_gen_e2e::*;
use serde_json::{Value, json};

const CRATE: &str = "errors-proxy";
const KEY: &str = "faults-test-key";

fn proxy_binary() -> PathBuf {
    build(&[CRATE, "mcp-fixture-server"]).join(CRATE)
}

fn errors_tools() -> String {
    workspace_root()
        .join("tests/fixture-server/tools/errors.json")
        .display()
        .to_string()
}

/// The fixture over HTTP serving errors.json on `port` (0: any), ready once
/// it printed its `listening on` line. (`start_fixture_http` always picks a
/// free port; a restart needs the same one.)
fn fixture_http(port: u16) -> Running {
    use std::io::BufRead as _;
    if port == 0 {
        return start_fixture_http(&["--tools", &errors_tools()]);
    }
    let binary = build(&["mcp-fixture-server"]).join("mcp-fixture-server");
    let mut child = std::process::Command::new(&binary)
        .args(["--transport", "http", "--port", &port.to_string()])
        .args(["--tools", &errors_tools()])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("the fixture starts");
    let stdout = child.stdout.take().expect("piped");
    let (sender, listening) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if line.contains("listening on http://") {
                let _ = sender.send(());
            }
        }
    });
    let running = Running {
        child,
        port,
        root_path: String::new(),
        log: Default::default(),
    };
    listening
        .recv_timeout(Duration::from_secs(30))
        .unwrap_or_else(|_| panic!("the fixture did not listen on port {port}"));
    running
}

/// errors-proxy with `flags`, its upstream the streamable-HTTP `url`.
fn http_proxy(url: &str, flags: &[&str]) -> Running {
    let mut args = vec!["--api-key", KEY];
    args.extend_from_slice(flags);
    args.extend(["--server-type", "streamable-http", "--", url]);
    start_proxy(&proxy_binary(), &args)
}

fn call(proxy: &Running, tool: &str, arguments: &Value) -> Reply {
    post_json(&proxy.url(&format!("/{tool}")), arguments, Some(KEY))
}

fn echo(proxy: &Running, message: &str) -> Reply {
    call(proxy, "echo", &json!({"message": message}))
}

/// A loopback port nobody listens on (bound, then released).
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port")
}

#[track_caller]
fn retry_after(reply: &Reply) -> u64 {
    reply
        .header("retry-after")
        .and_then(|value| value.parse().ok())
        .unwrap_or_else(|| panic!("a numeric Retry-After: {reply:?}"))
}

fn detail(reply: &Reply) -> String {
    reply.body["detail"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Calls `echo` until it answers 200 or `limit` passes; every other answer
/// must be one of `allowed`, with a Retry-After when it is 503. Returns the
/// statuses seen before the 200.
#[track_caller]
fn until_echo_serves(proxy: &Running, limit: Duration, allowed: &[u16]) -> Vec<u16> {
    let deadline = Instant::now() + limit;
    let mut seen = Vec::new();
    loop {
        let reply = echo(proxy, "are you back");
        if reply.status == 200 {
            assert_eq!(reply.body, json!({"message": "are you back"}));
            return seen;
        }
        assert!(
            allowed.contains(&reply.status),
            "unexpected {reply:?} after {seen:?}"
        );
        if reply.status == 503 {
            assert!(retry_after(&reply) >= 1, "{reply:?}");
        }
        seen.push(reply.status);
        assert!(
            Instant::now() < deadline,
            "not serving after {limit:?}: {seen:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn an_unreachable_http_upstream_is_503_with_retry_after_until_it_listens() {
    let port = closed_port();
    let url = format!("http://127.0.0.1:{port}/mcp");
    let proxy = http_proxy(&url, &[]);

    let reply = echo(&proxy, "anyone there");
    assert_eq!(reply.status, 503, "{reply:?}");
    let seconds = retry_after(&reply);
    assert!((1..=10).contains(&seconds), "{reply:?}");
    let text = detail(&reply);
    assert!(text.contains("not connected"), "{reply:?}");
    for leak in ["rmcp::", "WorkerTransport", KEY] {
        assert!(!reply.body.to_string().contains(leak), "{leak}: {reply:?}");
    }
    let (health, _) = get(&proxy.url("/healthz")).expect("healthz answers");
    assert_eq!(health, 200);
    let (ready, _) = get(&proxy.url("/readyz")).expect("readyz answers");
    assert_eq!(ready, 503);

    // Once something listens there, the supervisor's retries connect.
    let _server = fixture_http(port);
    until_echo_serves(&proxy, Duration::from_secs(30), &[503]);
    let (ready, _) = get(&proxy.url("/readyz")).expect("readyz answers");
    assert_eq!(ready, 200);
}

#[test]
fn a_slow_http_call_is_504_and_the_next_call_works() {
    let server = fixture_http(0);
    let proxy = http_proxy(&server.url("/mcp"), &["--call-timeout", "1"]);
    wait_ready(&proxy);

    let started = Instant::now();
    let late = call(&proxy, "sleeps", &json!({"message": "slow"}));
    let took = started.elapsed();
    assert_eq!(late.status, 504, "{late:?}");
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(6),
        "504 after {took:?}, expected about 1 s (not the 10 s sleep)"
    );
    let started = Instant::now();
    let reply = echo(&proxy, "after a timeout");
    assert_eq!(reply.status, 200, "{reply:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn a_frozen_http_upstream_is_504_and_calls_recover_when_it_thaws() {
    let server = fixture_http(0);
    let proxy = http_proxy(&server.url("/mcp"), &["--call-timeout", "1"]);
    wait_ready(&proxy);
    assert_eq!(echo(&proxy, "before").status, 200);

    freeze_process(server.pid());
    let frozen = echo(&proxy, "frozen");
    // SAFETY: signals our own child; resumed before any assertion can fail.
    let thaw = || unsafe { libc::kill(server.pid(), libc::SIGCONT) };
    if frozen.status != 504 {
        thaw();
        panic!("a frozen upstream is 504: {frozen:?}");
    }
    let text = detail(&frozen);
    // Let the supervisor find out (its ping after a timeout goes unanswered).
    std::thread::sleep(Duration::from_secs(2));
    thaw();
    assert!(text.contains("did not answer within 1s"), "{frozen:?}");
    let seen = until_echo_serves(&proxy, Duration::from_secs(30), &[502, 503, 504]);
    eprintln!("statuses before recovery: {seen:?}");
}

#[test]
fn a_restarted_http_upstream_gets_a_new_session() {
    let mut server = fixture_http(0);
    let port = server.port;
    let proxy = http_proxy(&server.url("/mcp"), &[]);
    wait_ready(&proxy);
    assert_eq!(echo(&proxy, "first session").status, 200);

    assert!(
        server.terminate(Duration::from_secs(5)),
        "the fixture stops"
    );
    // The same port, a new process: it knows nothing of the old session.
    let _restarted = fixture_http(port);
    let seen = until_echo_serves(&proxy, Duration::from_secs(30), &[502, 503]);
    eprintln!("statuses before the new session served: {seen:?}");
    // The restarted server's session manager is new: it answers the old
    // session id with 404, so every 200 from here on went through a new
    // session (rmcp's client re-initializes on that 404 by itself; the
    // supervisor replaces the session when a call fails at the transport).
    let (ready, _) = get(&proxy.url("/readyz")).expect("readyz answers");
    assert_eq!(ready, 200);
    // And it stays served: several calls in a row on the new session.
    for index in 0..5 {
        let reply = echo(&proxy, &format!("new session {index}"));
        assert_eq!(reply.status, 200, "{reply:?}");
    }
}

#[test]
fn a_crash_loop_is_backed_off_with_503_and_retry_after() {
    let fixture = build(&["mcp-fixture-server"]).join("mcp-fixture-server");
    let tools = errors_tools();
    let proxy = start_proxy(
        &proxy_binary(),
        &[
            "--api-key",
            KEY,
            "--",
            fixture.to_str().unwrap(),
            "--tools",
            &tools,
        ],
    );
    wait_ready(&proxy);

    // Quick deaths in a row: the first is respawned at once (calls wait for
    // it), the next ones back off, and calls meanwhile get 503 + Retry-After.
    let mut seen_503 = Vec::new();
    for round in 0..4 {
        let crashed = call(&proxy, "crashes", &json!({}));
        assert_eq!(crashed.status, 502, "round {round}: {crashed:?}");
        let seen = until_echo_serves(&proxy, Duration::from_secs(30), &[503]);
        if seen.contains(&503) {
            seen_503.push(round);
            break;
        }
    }
    assert!(
        !seen_503.is_empty(),
        "crashes within seconds of each other were never answered with a 503 while backing off"
    );
    assert!(
        seen_503[0] >= 1,
        "a single crash is respawned at once, without 503s: {seen_503:?}"
    );
}
