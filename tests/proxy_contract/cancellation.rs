//! Cancellation, watched from the upstream (issue #29, item 2): a REST
//! caller that gives up, and a call that hits its timeout, each send
//! `notifications/cancelled` upstream for that request, and the upstream
//! stops the work at once. The fixture logs both on its stderr (`fixture:
//! cancelled request <id>`, then `fixture: call <tool> (request <id>)
//! stopped: cancelled`), which the proxy echoes into its own log.
//!
//! The tool is the fixture's `sleeps` (10 s); every wait here ends well
//! before that, so a proxy that let the sleep run to its end cannot pass.
//! The proxies run with `--max-concurrency 1 --max-queue 0`: a call that
//! still held the one slot would turn the quick call after it into a 503.

use std::io::{Read as _, Write as _};
use std::time::{Duration, Instant};

use mcpo_gen_e2e::*;
use serde_json::json;

use super::*;

/// The fixture's line for a `notifications/cancelled` it received.
const CANCELLED: &str = "fixture: cancelled request";
/// The fixture's line for a `sleeps` call that stopped early.
const STOPPED: &str = "fixture: call sleeps (request";

/// How long the fixture's `sleeps` sleeps.
const SLEEP: Duration = Duration::from_secs(10);

/// Waits until the proxy's log shows the upstream cancelled and stopped the
/// call started at `started`, and that this happened well before its sleep
/// would have ended.
#[track_caller]
fn assert_upstream_cancelled(proxy: &Running, started: Instant) {
    let seen = wait_for(Duration::from_secs(6), || {
        proxy.logged(CANCELLED) && proxy.logged(STOPPED)
    });
    let took = started.elapsed();
    let log = proxy
        .log
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .join("\n");
    assert!(
        seen,
        "the upstream did not log the cancellation within {took:?}; proxy log:\n{log}"
    );
    assert!(
        took < SLEEP - Duration::from_secs(2),
        "the cancellation reached the upstream only after {took:?}; proxy log:\n{log}"
    );
    assert_eq!(
        logged_count(proxy, CANCELLED),
        1,
        "one cancellation:\n{log}"
    );
}

/// After the cancelled call, the one slot is free: a quick call is answered
/// at once.
#[track_caller]
fn assert_serves_quick_call(proxy: &Running) {
    let quick = call(proxy, "echo", &json!({"message": "after"}));
    assert_eq!(quick.status, 200, "{quick:?}");
    assert_eq!(quick.body["message"], "after", "{quick:?}");
}

#[test]
fn a_caller_that_disconnects_cancels_the_call_upstream() {
    let proxy = errors_proxy(&["--max-concurrency", "1", "--max-queue", "0"]);
    let started = Instant::now();
    let gave_up = http_client(Duration::from_secs(1))
        .post(proxy.url("/sleeps"))
        .bearer_auth(KEY)
        .json(&json!({"message": "slow"}))
        .send();
    let error = gave_up.expect_err("the 10 s call outlasts the client's 1 s timeout");
    assert!(error.is_timeout(), "a client timeout: {error:?}");
    assert_upstream_cancelled(&proxy, started);
    assert_serves_quick_call(&proxy);
}

/// The same for a caller that asked for the call's progress as an event
/// stream (`Accept: text/event-stream`): its stream starts at once (`200
/// text/event-stream`, before any event), and when the caller closes the
/// connection mid-stream the call is cancelled upstream.
#[test]
fn a_caller_that_drops_its_event_stream_cancels_the_call_upstream() {
    let proxy = errors_proxy(&["--max-concurrency", "1", "--max-queue", "0"]);
    let mut stream =
        std::net::TcpStream::connect(("127.0.0.1", proxy.port)).expect("connect to the proxy");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("a read timeout");
    let body = json!({"message": "slow"}).to_string();
    let request = format!(
        "POST /sleeps HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nAuthorization: Bearer {KEY}\r\n\
         Accept: text/event-stream\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        proxy.port,
        body.len()
    );
    let started = Instant::now();
    stream
        .write_all(request.as_bytes())
        .expect("send the request");
    let mut head = Vec::new();
    let mut chunk = [0u8; 1024];
    while !String::from_utf8_lossy(&head).contains("\r\n\r\n") {
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(read) => head.extend_from_slice(&chunk[..read]),
            Err(error) => panic!("no answer's head after {:?}: {error}", started.elapsed()),
        }
    }
    let head = String::from_utf8_lossy(&head).to_lowercase();
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(
        head.contains("content-type: text/event-stream"),
        "an event stream: {head}"
    );
    assert!(
        !head.contains("event: result") && !head.contains("event: error"),
        "the call has not ended: {head}"
    );
    assert!(
        !proxy.logged(CANCELLED),
        "nothing cancelled while the caller reads"
    );
    drop(stream);
    assert_upstream_cancelled(&proxy, started);
    assert_serves_quick_call(&proxy);
}

#[test]
fn a_call_over_its_tool_timeout_is_cancelled_upstream() {
    let proxy = errors_proxy(&[
        "--tool-timeout",
        "sleeps=1",
        "--max-concurrency",
        "1",
        "--max-queue",
        "0",
    ]);
    let started = Instant::now();
    let late = call(&proxy, "sleeps", &json!({"message": "slow"}));
    assert_timed_out(
        &late,
        started,
        ..Duration::from_secs(6),
        "expected about 1 s",
    );
    assert_upstream_cancelled(&proxy, started);
    assert_serves_quick_call(&proxy);
}
