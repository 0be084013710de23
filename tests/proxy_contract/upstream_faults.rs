//! Faults of the upstream over streamable HTTP (issue 19), end to end: the
//! committed `generated-examples/errors-proxy` pointed at our fixture server
//! over HTTP (`--server-type streamable-http -- URL`). An upstream nobody
//! listens for is 503 with `Retry-After`; one that hangs is 504 and later
//! calls recover; a server restarted on the same port gets a new session;
//! and (over stdio) a crash loop is backed off with 503s.

use std::time::{Duration, Instant};

use mcpo_gen_e2e::*;
use serde_json::json;

use crate::{KEY, assert_prompt_504, call, detail_text, errors_proxy, launch, retry_after};

/// The fixture over HTTP serving errors.json on `port` (0: any), ready once
/// it printed its `listening on` line (a restart needs the same port).
fn fixture_http(port: u16) -> Running {
    start_fixture_http_on(port, &["--tools", &tool_file("errors.json")])
}

/// errors-proxy with `flags`, its upstream the streamable-HTTP `url`.
fn http_proxy(url: &str, flags: &[&str]) -> Running {
    let flags = [
        &["--api-key", KEY],
        flags,
        &["--server-type", "streamable-http"],
    ]
    .concat();
    launch(&flags, &["--".to_string(), url.to_string()]).start()
}

fn echo(proxy: &Running, message: &str) -> Reply {
    call(proxy, "echo", &json!({"message": message}))
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
    let text = detail_text(&reply);
    assert!(text.contains("not connected"), "{reply:?}");
    assert_leaks_none(
        &reply.body.to_string(),
        &["rmcp::", "WorkerTransport", KEY],
        "the 503's body",
    );
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

    assert_prompt_504(&proxy);
    let started = Instant::now();
    let reply = echo(&proxy, "after a timeout");
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_took(
        started.elapsed(),
        ..Duration::from_secs(5),
        "the call after a timeout",
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
    let text = detail_text(&frozen);
    // The point of the test: the upstream stays frozen a while after the
    // timeout (the supervisor's ping goes unanswered meanwhile), then thaws.
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
    let proxy = errors_proxy(&[]);

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
