//! The runtime's HTTP contract (README "HTTP contract"), end to end: the committed
//! `generated-examples/errors-proxy`, started against the fixture server
//! serving `tests/fixture-server/tools/errors.json`, whose tools fail, sleep,
//! crash and return every kind of content on purpose.
//!
//! Every failure row is followed by proof that the proxy keeps serving: a
//! good `echo` call still answers 200 with its own arguments.
//!
//! The same contract holds for `mcpo-gen serve --lock` of that lock (issue
//! #32): the parity tests (`serve_answers_*`, `serve_of_a_multi_server_lock_*`)
//! send one battery of requests to both and compare every answer; the crash
//! and faithful-bytes tests run both ways; the one intended difference, the
//! compiled crate's typed request structs, is pinned down in
//! `the_typed_structs_are_the_only_difference_and_only_past_the_rust_types`.
//! Then serve's snapshot modes (`--lock-out`, `--config`, a URL) and its
//! refusals.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mcpo_gen_e2e::*;
use serde_json::{Value, json};

use crate::{
    CRATE, KEY, assert_prompt_504, call, detail_text, errors_proxy, fixture_server, http_client,
    launch, retry_after, servers_config, stalled_upload,
};

/// Starts the proxy with `flags` in front of the upstream override.
fn start(flags: &[&str], upstream: &[String], env: &[(&str, &str)]) -> Running {
    launch(flags, upstream).env(env).start()
}

/// The proof that a failure left the proxy healthy.
fn assert_still_serving(proxy: &Running, after: &str) {
    let arguments = json!({"message": format!("still serving after {after}")});
    let reply = call(proxy, "echo", &arguments);
    assert_eq!(reply.status, 200, "after {after}: {reply:?}");
    assert_eq!(reply.body, arguments, "after {after}");
}

/// Error bodies carry neither the API key nor anything that looks like a
/// Rust panic, backtrace or source location.
fn assert_clean_error_body(reply: &Reply) {
    let text = reply.body.to_string();
    assert_leaks_none(
        &text,
        &[
            KEY,
            "panicked",
            "backtrace",
            "RUST_BACKTRACE",
            ".rs:",
            "stack",
        ],
        "the body",
    );
    assert!(
        reply.body.get("detail").is_some(),
        "errors are {{\"detail\": ...}}: {text}"
    );
}

#[test]
fn tool_and_json_rpc_errors_get_honest_status_codes() {
    let proxy = errors_proxy(&[]);

    let tool_error = call(&proxy, "fails_with_is_error", &json!({"path": "/x"}));
    assert_eq!(tool_error.status, 500, "{tool_error:?}");
    assert_eq!(
        detail_text(&tool_error),
        "Cannot open /nonexistent: no such file"
    );
    assert_clean_error_body(&tool_error);
    assert_still_serving(&proxy, "isError");

    let invalid = call(&proxy, "fails_with_invalid_params", &json!({"value": 3}));
    assert_eq!(invalid.status, 422, "{invalid:?}");
    let entries = invalid.body["detail"]
        .as_array()
        .unwrap_or_else(|| panic!("422 detail is a list: {invalid:?}"));
    assert_eq!(entries.len(), 1, "{invalid:?}");
    assert_eq!(entries[0]["loc"], json!(["body"]));
    assert_eq!(entries[0]["type"], "invalid_params");
    assert!(
        entries[0]["msg"]
            .as_str()
            .is_some_and(|msg| msg.contains("value must be even")),
        "{invalid:?}"
    );
    assert_clean_error_body(&invalid);
    assert_still_serving(&proxy, "-32602");

    let not_found = call(&proxy, "fails_with_method_not_found", &json!({}));
    assert_eq!(not_found.status, 404, "{not_found:?}");
    assert!(detail_text(&not_found).contains("Method not found"));
    assert_clean_error_body(&not_found);
    assert_still_serving(&proxy, "-32601");

    let internal = call(&proxy, "fails_with_internal_error", &json!({}));
    assert_eq!(internal.status, 502, "{internal:?}");
    let detail = detail_text(&internal);
    assert!(
        detail.contains("-32603") && detail.contains("database is locked"),
        "{internal:?}"
    );
    assert_clean_error_body(&internal);
    assert_still_serving(&proxy, "-32603");

    // The proxy's own checks come before the upstream and answer alike.
    let missing = call(&proxy, "echo", &json!({"count": 2}));
    assert_eq!(missing.status, 422, "{missing:?}");
    assert_eq!(missing.body["detail"][0]["loc"], json!(["body", "message"]));
    let too_small = call(&proxy, "echo", &json!({"message": "m", "count": 0}));
    assert_eq!(too_small.status, 422, "{too_small:?}");
    assert_eq!(too_small.body["detail"][0]["type"], "minimum");
    assert_still_serving(&proxy, "422s from the proxy's own validation");
}

#[test]
fn a_call_over_the_timeout_is_504_and_the_next_call_works() {
    let scratch = tempfile::tempdir().expect("a temp dir");
    let tap = scratch.path().join("upstream-stdin.jsonl");
    let proxy = start(
        &["--api-key", KEY, "--call-timeout", "1"],
        &tapped_upstream(&tap),
        &[],
    );
    wait_ready(&proxy);

    let late = assert_prompt_504(&proxy);
    assert!(detail_text(&late).contains("did not answer within 1s"));
    assert_clean_error_body(&late);
    // The upstream is told to stop working on it, not left to finish. (rmcp
    // then drops the fixture's answer to the cancelled call, so no late
    // answer ever reaches the proxy here.)
    tapped_line(&tap, r#""method":"notifications/cancelled""#);

    // At once: the next call is not queued behind the one that timed out.
    let started = Instant::now();
    assert_still_serving(&proxy, "a timeout");
    // Well under the 9 s left of the sleep: nothing waits on the call that
    // timed out.
    assert_took(
        started.elapsed(),
        ..Duration::from_secs(5),
        "the call after a timeout",
    );
}

/// Children of `parent` that have exited but were not reaped.
fn zombie_children(parent: i32) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let pid: i32 = entry.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            // Fields after the command name: state, ppid, ...
            let mut fields = stat.rsplit_once(')')?.1.split_whitespace();
            let state = fields.next()?;
            let ppid: i32 = fields.next()?.parse().ok()?;
            (ppid == parent && state == "Z").then_some(pid)
        })
        .collect()
}

/// Both ways: `serve` is another parent process (mcpo-gen) for the
/// upstream, so its respawn and reaping are checked too.
#[test]
fn a_crash_is_a_502_then_the_server_is_respawned_without_leftovers() {
    for way in BOTH_WAYS {
        a_crash_is_a_502_then_the_server_is_respawned(way);
    }
}

fn a_crash_is_a_502_then_the_server_is_respawned(way: Way) {
    let marker = unique_marker("runtime-contract-crash");
    let proxy = start_as(
        way,
        &["--api-key", KEY],
        &fixture_upstream("errors.json"),
        &[("MCPO_TEST_MARKER", &marker)],
    );
    wait_ready(&proxy);
    let before = processes_with_marker(&marker);
    assert_eq!(
        before.len(),
        2,
        "{way:?}: the proxy and one fixture server: {before:?}"
    );
    let first_server: Vec<i32> = before
        .iter()
        .copied()
        .filter(|pid| *pid != proxy.pid())
        .collect();

    let started = Instant::now();
    let crashed = call(&proxy, "crashes", &json!({}));
    assert_eq!(crashed.status, 502, "{crashed:?}");
    // "It is being restarted": the client is told when to try again.
    assert_eq!(crashed.header("retry-after"), Some("1"), "{crashed:?}");
    assert_took(
        started.elapsed(),
        ..Duration::from_secs(5),
        "the in-flight call's failure (fast, not at the call timeout)",
    );
    assert_clean_error_body(&crashed);

    // The supervisor respawns the server at once and the next call waits
    // for it rather than failing.
    let arguments = json!({"message": "after the crash"});
    let started = Instant::now();
    let recovered = call(&proxy, "echo", &arguments);
    assert_eq!(recovered.status, 200, "{recovered:?}");
    assert_eq!(recovered.body, arguments);
    assert_took(started.elapsed(), ..Duration::from_secs(5), "the respawn");
    let (ready, _) = get(&proxy.url("/readyz")).expect("readyz answers");
    assert_eq!(ready, 200);

    // One new server, the crashed one gone and reaped.
    wait_until(Duration::from_secs(10), || {
        let now = processes_with_marker(&marker);
        now.len() == 2 && !now.iter().any(|pid| first_server.contains(pid))
    });
    wait_until(Duration::from_secs(10), || {
        zombie_children(proxy.pid()).is_empty()
    });
    assert_still_serving(&proxy, "a crash and respawn");

    // The backoff of a crash loop (503 with Retry-After) is
    // upstream_faults' `a_crash_loop_is_backed_off_with_503_and_retry_after`.
}

#[test]
fn content_blocks_map_like_mcpo() {
    let proxy = errors_proxy(&[]);
    const PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";
    const WAV: &str = "UklGRiQAAABXQVZFZm10IBAAAAABAAEAQB8AAEAfAAABAAgAZGF0YQAAAAA=";
    let link = json!({
        "type": "resource_link",
        "uri": "file:///project/README.md",
        "name": "README.md",
        "mimeType": "text/markdown",
        "description": "The project README"
    });
    let notes = json!({"uri": "file:///project/notes.txt", "mimeType": "text/plain", "text": "embedded notes"});
    let expected = [
        ("returns_text", json!("plain text, not JSON")),
        (
            "returns_image",
            json!(format!("data:image/png;base64,{PNG}")),
        ),
        (
            "returns_audio",
            json!(format!("data:audio/wav;base64,{WAV}")),
        ),
        ("returns_resource_link", link.clone()),
        (
            "returns_embedded_resource",
            json!([
                notes,
                {"uri": "file:///project/pixel.png", "mimeType": "image/png", "blob": PNG}
            ]),
        ),
        (
            "returns_many_blocks",
            json!([
                "first",
                format!("data:image/png;base64,{PNG}"),
                format!("data:audio/wav;base64,{WAV}"),
                link,
                notes
            ]),
        ),
        ("returns_no_content", json!([])),
        (
            "returns_structured",
            json!({"city": "Paris", "temperature": 21.5, "conditions": ["sunny", "windy"]}),
        ),
    ];
    for (tool, body) in expected {
        let reply = call(&proxy, tool, &json!({}));
        assert_eq!(reply.status, 200, "{tool}: {reply:?}");
        assert_eq!(reply.body, body, "{tool}");
    }

    // A JSON text block comes back parsed; with an outputSchema, the typed
    // structuredContent (here: the arguments) is the answer.
    let arguments = json!({"message": "typed", "count": 3});
    let plain = call(&proxy, "echo", &arguments);
    assert_eq!((plain.status, &plain.body), (200, &arguments));
    let typed = call(&proxy, "echo_structured", &arguments);
    assert_eq!((typed.status, &typed.body), (200, &arguments));
    assert_still_serving(&proxy, "content mapping");
}

/// `sh -c 'tee -a TAP | fixture --tools FILE'`: the upstream's stdin, byte
/// for byte, ends up in TAP.
fn tapped_upstream(tap: &Path) -> Vec<String> {
    vec![
        "--".to_string(),
        "sh".to_string(),
        "-c".to_string(),
        r#"tee -a "$0" | exec "$1" --tools "$2""#.to_string(),
        tap.display().to_string(),
        fixture_binary().display().to_string(),
        tool_file("errors.json"),
    ]
}

fn tapped_text(tap: &Path) -> String {
    let mut text = String::new();
    if let Ok(mut file) = std::fs::File::open(tap) {
        let _ = file.read_to_string(&mut text);
    }
    text
}

/// The first complete line of the tap that contains `needle`, once there:
/// tee writes what it reads to the upstream before the file, so the proxy
/// can have its answer before the file holds the request.
fn tapped_line(tap: &Path, needle: &str) -> String {
    let mut found = None;
    let arrived = wait_for(Duration::from_secs(5), || {
        found = tapped_text(tap)
            .split_inclusive('\n')
            .find(|line| line.ends_with('\n') && line.contains(needle))
            .map(|line| line.trim_end().to_string());
        found.is_some()
    });
    assert!(
        arrived,
        "no line with {needle} reached the upstream in 5 s:\n{}",
        tapped_text(tap)
    );
    found.unwrap_or_default()
}

/// Unicode (raw UTF-8 and escapes), integers past i64, doubles near the
/// limit, nesting, null: keys already in sorted order (see
/// `key_order_reaches_the_upstream_unchanged`), numbers spelled the way
/// serde_json writes them, so the bytes the upstream sees can be compared
/// too. (Another spelling of the same number, `1e2` or `1.5e300`, arrives as
/// that number in serde_json's spelling: `100.0`, `1.5e+300`.)
const FAITHFUL_BODY: &str = r#"{"big":12345678901234567890,"deep":{"a":[1,-2,{"z":null}],"b":{"c":{"d":[true,false]}}},"huge":1.5e+300,"message":"héllo ☃ 𝄞 \"quoted\" \\ \n tab\t","negative":-9223372036854775808,"small":1.5e-300,"tiny":0.1}"#;

/// Both ways: a compiled crate forwards the client's JSON, not its typed
/// struct re-serialized, and `serve` has no struct at all.
#[test]
fn the_upstream_receives_exactly_what_the_client_sent() {
    for way in BOTH_WAYS {
        the_upstream_receives_exactly_what_the_client_sent_from(way);
    }
}

fn the_upstream_receives_exactly_what_the_client_sent_from(way: Way) {
    let scratch = tempfile::tempdir().expect("a temp dir");
    let tap = scratch.path().join("upstream-stdin.jsonl");
    let proxy = start_as(way, &["--api-key", KEY], &tapped_upstream(&tap), &[]);
    wait_ready(&proxy);

    let sent: Value = serde_json::from_str(FAITHFUL_BODY).expect("the body is JSON");
    let reply = post_raw(&proxy.url("/echo"), FAITHFUL_BODY, Some(KEY));
    assert_eq!(reply.status, 200, "{way:?}: {reply:?}");
    assert_eq!(
        reply.body, sent,
        "{way:?}: the echo differs from what was sent"
    );
    assert_eq!(reply.body["big"].as_u64(), Some(12345678901234567890));
    assert_eq!(reply.body["huge"].as_f64(), Some(1.5e300));

    let call_line = tapped_line(&tap, r#""method":"tools/call""#);
    let message: Value = serde_json::from_str(&call_line).expect("a JSON-RPC line");
    assert_eq!(message["params"]["name"], "echo");
    assert_eq!(message["params"]["arguments"], sent);
    assert!(
        call_line.contains(FAITHFUL_BODY),
        "{way:?}: the upstream received other bytes than the client sent:\n sent: {FAITHFUL_BODY}\n got:  {call_line}"
    );
    assert_still_serving(&proxy, "the faithful echo");
}

/// The generated crate's serde_json keeps key order (`preserve_order`);
/// mcpo-gen sorts keys itself where its files must be canonical.
#[test]
fn key_order_reaches_the_upstream_unchanged() {
    let scratch = tempfile::tempdir().expect("a temp dir");
    let tap = scratch.path().join("upstream-stdin.jsonl");
    let proxy = start(&["--api-key", KEY], &tapped_upstream(&tap), &[]);
    wait_ready(&proxy);
    let body = r#"{"message":"order","zeta":1,"alpha":{"y":2,"b":3}}"#;
    let reply = post_raw(&proxy.url("/echo"), body, Some(KEY));
    assert_eq!(reply.status, 200, "{reply:?}");
    let tapped = tapped_line(&tap, r#""method":"tools/call""#);
    assert!(
        tapped.contains(body),
        "keys reached the upstream in another order:\n sent: {body}\n got:  {tapped}"
    );
}

/// An integer literal past 64 bits would reach the upstream as the nearest
/// double (serde_json without `arbitrary_precision`, which rmcp's message
/// types do not support): the proxy refuses it where it is, sends nothing,
/// and forwards the 64-bit extremes exactly.
#[test]
fn integers_past_64_bits_are_refused_and_64_bit_ones_arrive_exactly() {
    let scratch = tempfile::tempdir().expect("a temp dir");
    let tap = scratch.path().join("upstream-stdin.jsonl");
    let proxy = start(&["--api-key", KEY], &tapped_upstream(&tap), &[]);
    wait_ready(&proxy);

    let wide = r#"{"message":"wide","nested":{"ids":[1,123456789012345678901234567890]}}"#;
    let refused = post_raw(&proxy.url("/echo"), wide, Some(KEY));
    assert_eq!(refused.status, 422, "{refused:?}");
    assert_eq!(
        refused.body["detail"][0]["type"], "int_parsing_size",
        "{refused:?}"
    );
    assert_eq!(
        refused.body["detail"][0]["loc"],
        json!(["body", "nested", "ids", 1]),
        "{refused:?}"
    );

    let extremes = r#"{"message":"edges","max":18446744073709551615,"min":-9223372036854775808}"#;
    let reply = post_raw(&proxy.url("/echo"), extremes, Some(KEY));
    assert_eq!(reply.status, 200, "{reply:?}");
    let tapped = tapped_line(&tap, r#""method":"tools/call""#);
    assert!(
        tapped.contains(extremes),
        "the numbers changed on the way (or the refused call went through):\n sent: {extremes}\n got:  {tapped}"
    );
}

/// A body that arrives chunked, without `content-length`.
struct Chunked {
    remaining: usize,
}

impl Read for Chunked {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        let count = buffer.len().min(self.remaining).min(100);
        buffer[..count].fill(b' ');
        self.remaining -= count;
        Ok(count)
    }
}

#[test]
fn bodies_over_the_limit_are_413() {
    let proxy = errors_proxy(&["--max-body-bytes", "1000"]);
    let url = proxy.url("/echo");

    let fits = json!({"message": "x".repeat(900)});
    let reply = post_json(&url, &fits, Some(KEY));
    assert_eq!((reply.status, &reply.body), (200, &fits));

    let declared = json!({"message": "x".repeat(2000)}).to_string();
    let reply = post_raw(&url, declared, Some(KEY));
    assert_eq!(reply.status, 413, "{reply:?}");
    assert!(detail_text(&reply).contains("1000 bytes"), "{reply:?}");
    assert_still_serving(&proxy, "a 413 with content-length");

    let chunked = reqwest::blocking::Body::new(Chunked { remaining: 5000 });
    let reply = post_raw(&url, chunked, Some(KEY));
    assert_eq!(reply.status, 413, "{reply:?}");
    assert!(detail_text(&reply).contains("1000 bytes"), "{reply:?}");
    assert_still_serving(&proxy, "a chunked 413");
}

#[test]
fn on_drift_fail_refuses_calls_and_warn_serves() {
    let changed = fixture_upstream("changed-v1.json");
    let strict = start(&["--on-drift", "fail"], &changed, &[]);
    let readyz = strict.url("/readyz");
    // Connected, drift found: readyz says why (not "still starting").
    let mut reason = String::new();
    wait_until(Duration::from_secs(30), || {
        let (status, body) = get(&readyz).expect("readyz answers");
        reason = body;
        status == 503 && reason.contains("--on-drift fail")
    });
    assert!(reason.contains("mcp.lock.json"), "{reason}");
    let refused = strict.post("/echo", &json!({"message": "m"}));
    assert_eq!(refused.status, 503, "{refused:?}");
    assert!(refused.header("retry-after").is_some(), "{refused:?}");
    let detail = detail_text(&refused);
    assert!(
        detail.contains("--on-drift fail") && detail.contains("\"echo\""),
        "the 503 names the drift: {detail}"
    );
    let (health, _) = get(&strict.url("/healthz")).expect("healthz answers");
    assert_eq!(health, 200);

    let lenient = start(&["--on-drift", "warn"], &changed, &[]);
    wait_ready(&lenient);
    // The call reaches the upstream, which does not know `echo` (-32602).
    let served = lenient.post("/echo", &json!({"message": "m"}));
    assert_eq!(served.status, 422, "{served:?}");
    assert!(
        served.body.to_string().contains("Unknown tool"),
        "{served:?}"
    );
}

#[test]
fn fifty_concurrent_calls_each_get_their_own_answer() {
    let proxy = errors_proxy(&[]);
    let url = proxy.url("/echo");
    let callers: Vec<_> = (0..50u64)
        .map(|index| {
            let url = url.clone();
            std::thread::spawn(move || {
                let arguments = json!({"message": format!("caller {index} ✓"), "count": index + 1});
                let reply = post_json(&url, &arguments, Some(KEY));
                (arguments, reply)
            })
        })
        .collect();
    for caller in callers {
        let (arguments, reply) = caller.join().expect("the caller thread finished");
        assert_eq!(reply.status, 200, "{reply:?}");
        assert_eq!(reply.body, arguments);
    }
    assert_still_serving(&proxy, "50 concurrent calls");
}

#[test]
fn an_upstream_down_at_start_is_503_with_retry_after() {
    let proxy = start(
        &["--api-key", KEY],
        &["--".to_string(), "/nonexistent".to_string()],
        &[],
    );
    let reply = call(&proxy, "echo", &json!({"message": "m"}));
    assert_eq!(reply.status, 503, "{reply:?}");
    let retry_after = retry_after(&reply);
    assert!((1..=10).contains(&retry_after), "{reply:?}");
    assert!(detail_text(&reply).contains("not found"), "{reply:?}");
    assert_clean_error_body(&reply);
    let (health, _) = get(&proxy.url("/healthz")).expect("healthz answers");
    assert_eq!(health, 200);
    let (ready, _) = get(&proxy.url("/readyz")).expect("readyz answers");
    assert_eq!(ready, 503);
}

/// Any `reqwest` request, with the key given or none.
fn send(request: reqwest::blocking::RequestBuilder) -> reqwest::blocking::Response {
    request.send().expect("the proxy answers")
}

fn http() -> reqwest::blocking::Client {
    http_client(Duration::from_secs(30))
}

fn header_text(response: &reqwest::blocking::Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

/// A browser calling a keyed tool from another origin first sends this
/// preflight. `Access-Control-Allow-Headers: *` would not cover
/// `Authorization` (Fetch standard), so the requested headers must be named.
#[test]
fn a_browser_preflight_for_a_keyed_call_is_allowed_with_any_origin() {
    let proxy = errors_proxy(&["--cors-allow-origins", "*"]);
    let origin = "http://app.example:3000";
    let preflight = send(
        http()
            .request(reqwest::Method::OPTIONS, proxy.url("/echo"))
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "POST")
            .header(
                "Access-Control-Request-Headers",
                "authorization,content-type",
            ),
    );
    assert!(
        preflight.status().is_success(),
        "preflight status {}",
        preflight.status()
    );
    assert_eq!(header_text(&preflight, "access-control-allow-origin"), "*");
    let allowed_headers =
        header_text(&preflight, "access-control-allow-headers").to_ascii_lowercase();
    let allowed_headers: Vec<&str> = allowed_headers.split(',').map(str::trim).collect();
    for needed in ["authorization", "content-type"] {
        assert!(
            allowed_headers.contains(&needed),
            "{needed} is not allowed: {allowed_headers:?}"
        );
    }
    let allowed_methods = header_text(&preflight, "access-control-allow-methods");
    assert!(
        allowed_methods
            .split(',')
            .any(|method| method.trim().eq_ignore_ascii_case("POST")),
        "POST is not allowed: {allowed_methods:?}"
    );
    // No credentials with a wildcard origin: browsers would refuse them.
    assert_eq!(
        header_text(&preflight, "access-control-allow-credentials"),
        ""
    );

    // The call itself, as the browser then sends it.
    let arguments = json!({"message": "from a browser"});
    let answer = send(
        http()
            .post(proxy.url("/echo"))
            .header("Origin", origin)
            .bearer_auth(KEY)
            .json(&arguments),
    );
    assert_eq!(answer.status(), 200);
    assert_eq!(header_text(&answer, "access-control-allow-origin"), "*");
    assert_eq!(answer.json::<Value>().ok(), Some(arguments));
}

#[test]
fn every_401_carries_a_bearer_challenge() {
    let proxy = errors_proxy(&[]);
    let url = proxy.url("/echo");
    let arguments = json!({"message": "m"});
    let missing = post_json(&url, &arguments, None);
    assert_eq!(missing.status, 401, "{missing:?}");
    assert_eq!(missing.header("www-authenticate"), Some("Bearer"));
    let wrong = post_json(&url, &arguments, Some("not-the-key"));
    assert_eq!(wrong.status, 401, "{wrong:?}");
    assert_eq!(
        wrong.header("www-authenticate"),
        Some(r#"Bearer error="invalid_token""#)
    );
    assert_clean_error_body(&wrong);
}

/// `--api-key 'ab,cd'` is one key; only the env var is a list.
#[test]
fn a_comma_in_an_api_key_flag_is_part_of_the_key() {
    let arguments = json!({"message": "m"});
    let flagged = start(
        &["--api-key", "ab,cd"],
        &fixture_upstream("errors.json"),
        &[("MCPO_API_KEY", "ignored-when-the-flag-is-given")],
    );
    wait_ready(&flagged);
    let url = flagged.url("/echo");
    for part in ["ab", "cd", "ignored-when-the-flag-is-given"] {
        let reply = post_json(&url, &arguments, Some(part));
        assert_eq!(
            reply.status, 401,
            "{part:?} must not be accepted: {reply:?}"
        );
    }
    assert_eq!(post_json(&url, &arguments, Some("ab,cd")).status, 200);

    let listed = start(
        &[],
        &fixture_upstream("errors.json"),
        &[("MCPO_API_KEY", "first-key,second-key")],
    );
    wait_ready(&listed);
    let url = listed.url("/echo");
    for key in ["first-key", "second-key"] {
        assert_eq!(post_json(&url, &arguments, Some(key)).status, 200, "{key}");
    }
    assert_eq!(post_json(&url, &arguments, None).status, 401);
    assert_eq!(
        post_json(&url, &arguments, Some("first-key,second-key")).status,
        401
    );
}

/// A client that promises a body and stops sending gets a 408 at the call
/// timeout instead of holding the request open forever.
#[test]
fn a_stalled_upload_is_408_after_the_call_timeout() {
    let proxy = errors_proxy(&["--call-timeout", "1"]);
    let head = format!(
        "POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {KEY}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"message\": \""
    );
    let (answer, took) = stalled_upload(&proxy, &head, Duration::from_secs(15));
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("did not arrive within 1s"), "{answer}");
    assert_took(
        took,
        Duration::from_millis(900)..Duration::from_secs(5),
        "the 408 (expected about 1 s)",
    );
    assert_still_serving(&proxy, "a stalled upload");
}

// One contract, two ways to run it (issue #32): the compiled `errors-proxy`
// and `mcpo-gen serve --lock generated-examples/errors-proxy` must give the
// same answers. Rather than running every test above twice, one battery of
// requests goes to both, and every answer (status, body, headers) is
// compared.

/// The two ways to run the proxy of the committed errors-proxy lock.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Way {
    /// The compiled crate's binary.
    Compiled,
    /// `mcpo-gen serve --lock generated-examples/errors-proxy`: the same
    /// lock and documents, tool routes taking the arguments as JSON values.
    Served,
}

const BOTH_WAYS: [Way; 2] = [Way::Compiled, Way::Served];

/// Starts the errors-proxy lock `way` with `flags` in front of `upstream`.
fn start_as(way: Way, flags: &[&str], upstream: &[String], env: &[(&str, &str)]) -> Running {
    match way {
        Way::Compiled => start(flags, upstream, env),
        Way::Served => {
            let lock = workspace_root().join("generated-examples").join(CRATE);
            let lock = lock.display().to_string();
            let mut args = vec!["--lock", lock.as_str()];
            args.extend_from_slice(flags);
            args.extend(upstream.iter().map(String::as_str));
            Launch::serve().args(&args).env(env).start()
        }
    }
}

/// One request of a parity battery.
struct Probe {
    label: &'static str,
    method: &'static str,
    path: String,
    /// The raw body; a `POST` gets `content-type: application/json` unless
    /// `headers` gives one.
    body: Option<String>,
    key: Option<&'static str>,
    headers: Vec<(&'static str, &'static str)>,
}

impl Probe {
    fn get(label: &'static str, path: &str) -> Probe {
        Probe {
            label,
            method: "GET",
            path: path.to_string(),
            body: None,
            key: None,
            headers: Vec::new(),
        }
    }

    fn post(label: &'static str, path: &str, body: impl Into<String>) -> Probe {
        Probe {
            label,
            method: "POST",
            path: path.to_string(),
            body: Some(body.into()),
            key: Some(KEY),
            headers: Vec::new(),
        }
    }

    fn key(mut self, key: Option<&'static str>) -> Probe {
        self.key = key;
        self
    }

    fn header(mut self, name: &'static str, value: &'static str) -> Probe {
        self.headers.push((name, value));
        self
    }
}

/// What a proxy answered, in a form two proxies can be compared by:
/// status, every header but `date`, and the body (JSON when it parses, else
/// its text).
#[derive(Debug, PartialEq)]
struct Answer {
    status: u16,
    headers: std::collections::BTreeMap<String, String>,
    body: Value,
}

fn ask(proxy: &Running, probe: &Probe) -> Answer {
    let method = reqwest::Method::from_bytes(probe.method.as_bytes()).expect("a method");
    let mut request = http().request(method, proxy.url(&probe.path));
    if let Some(body) = &probe.body {
        if !probe
            .headers
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case("content-type"))
        {
            request = request.header("content-type", "application/json");
        }
        request = request.body(body.clone());
    }
    for (name, value) in &probe.headers {
        request = request.header(*name, *value);
    }
    if let Some(key) = probe.key {
        request = request.bearer_auth(key);
    }
    let response = send(request);
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .filter(|(name, _)| *name != "date")
        .map(|(name, value)| {
            (
                name.to_string(),
                value.to_str().unwrap_or("<not text>").to_string(),
            )
        })
        .collect();
    let text = response.text().unwrap_or_default();
    let body = json_or_text(text);
    Answer {
        status,
        headers,
        body,
    }
}

/// Sends every probe to both proxies, in the same order, and returns the
/// answers that differ (label, compiled, served); checks each answer
/// against `expected_status` on the way, so that two proxies that fail
/// alike do not pass.
fn differences(
    compiled: &Running,
    served: &Running,
    probes: &[(Probe, u16)],
) -> Vec<(&'static str, Answer, Answer)> {
    let mut differ = Vec::new();
    for (probe, expected_status) in probes {
        let from_compiled = ask(compiled, probe);
        let from_served = ask(served, probe);
        assert_eq!(
            from_compiled.status, *expected_status,
            "{}: the compiled crate answered {from_compiled:?}",
            probe.label
        );
        if from_compiled != from_served {
            differ.push((probe.label, from_compiled, from_served));
        }
    }
    differ
}

#[track_caller]
fn assert_no_differences(differ: &[(&'static str, Answer, Answer)]) {
    let report: Vec<String> = differ
        .iter()
        .map(|(label, compiled, served)| {
            format!("{label}:\n  compiled: {compiled:?}\n  served:   {served:?}")
        })
        .collect();
    assert!(
        report.is_empty(),
        "mcpo-gen serve answers otherwise than the compiled crate:\n{}",
        report.join("\n")
    );
}

/// Both ways started with the same flags, connected, in parallel.
fn start_both(flags: &[&str]) -> (Running, Running) {
    let (compiled, served) = start_both_on(flags, &fixture_upstream("errors.json"));
    for proxy in [&compiled, &served] {
        // `/readyz` takes the key under --strict-auth.
        let readyz = proxy.url(&format!("{}/readyz", proxy.root_path));
        wait_until(Duration::from_secs(90), || {
            send(http().get(&readyz).bearer_auth(KEY)).status() == 200
        });
    }
    (compiled, served)
}

/// Both ways started with the same flags and upstream, in parallel, not
/// waiting for the upstream.
fn start_both_on(flags: &[&str], upstream: &[String]) -> (Running, Running) {
    std::thread::scope(|scope| {
        let served = scope.spawn(|| start_as(Way::Served, flags, upstream, &[]));
        let compiled = start_as(Way::Compiled, flags, upstream, &[]);
        (compiled, served.join().expect("serve started"))
    })
}

#[test]
fn serve_answers_the_contract_like_the_compiled_crate() {
    let (compiled, served) = start_both(&["--api-key", KEY, "--max-body-bytes", "1000"]);
    let probes = vec![
        // Good calls of every tool that answers.
        (
            Probe::post("echo", "/echo", r#"{"message":"m","count":2}"#),
            200,
        ),
        (
            Probe::post(
                "echo_structured",
                "/echo_structured",
                r#"{"message":"typed","count":3}"#,
            ),
            200,
        ),
        (Probe::post("returns_text", "/returns_text", "{}"), 200),
        (Probe::post("returns_image", "/returns_image", "{}"), 200),
        (Probe::post("returns_audio", "/returns_audio", "{}"), 200),
        (
            Probe::post("returns_resource_link", "/returns_resource_link", "{}"),
            200,
        ),
        (
            Probe::post(
                "returns_embedded_resource",
                "/returns_embedded_resource",
                "{}",
            ),
            200,
        ),
        (
            Probe::post("returns_many_blocks", "/returns_many_blocks", "{}"),
            200,
        ),
        (
            Probe::post("returns_no_content", "/returns_no_content", "{}"),
            200,
        ),
        (
            Probe::post("returns_structured", "/returns_structured", "{}"),
            200,
        ),
        (
            Probe::post("the faithful echo", "/echo", FAITHFUL_BODY),
            200,
        ),
        // Upstream error results and JSON-RPC errors.
        (
            Probe::post("isError", "/fails_with_is_error", r#"{"path":"/x"}"#),
            500,
        ),
        (
            Probe::post("-32602", "/fails_with_invalid_params", r#"{"value":3}"#),
            422,
        ),
        (
            Probe::post("-32601", "/fails_with_method_not_found", "{}"),
            404,
        ),
        (
            Probe::post("-32603", "/fails_with_internal_error", "{}"),
            502,
        ),
        // Lax types: a number sent as a string, a whole float.
        (
            Probe::post(
                "lax string number",
                "/echo",
                r#"{"message":"m","count":"3"}"#,
            ),
            200,
        ),
        (
            Probe::post("whole float", "/echo", r#"{"message":"m","count":3.0}"#),
            200,
        ),
        (
            Probe::post(
                "lax string to an integer upstream",
                "/fails_with_invalid_params",
                r#"{"value":"4"}"#,
            ),
            422,
        ),
        (
            Probe::post(
                "a duplicate key",
                "/echo",
                r#"{"message":"first","message":"second"}"#,
            ),
            200,
        ),
        // The proxy's own refusals.
        (
            Probe::post(
                "null for an optional integer",
                "/echo",
                r#"{"message":"m","count":null}"#,
            ),
            422,
        ),
        (Probe::post("bad JSON", "/echo", r#"{"message": "#), 422),
        (Probe::post("not an object", "/echo", "[1,2]"), 422),
        (Probe::post("empty body", "/echo", ""), 422),
        (Probe::post("wrong type", "/echo", r#"{"message":5}"#), 422),
        (
            Probe::post(
                "a fraction for an integer",
                "/echo",
                r#"{"message":"m","count":1.5}"#,
            ),
            422,
        ),
        (Probe::post("missing field", "/echo", r#"{"count":2}"#), 422),
        (
            Probe::post("under the minimum", "/echo", r#"{"message":"m","count":0}"#),
            422,
        ),
        (
            Probe::post(
                "an unknown field where none is allowed",
                "/returns_text",
                r#"{"extra":1}"#,
            ),
            422,
        ),
        (
            Probe::post(
                "an integer past 64 bits",
                "/echo",
                r#"{"message":"m","nested":{"ids":[1,123456789012345678901234567890]}}"#,
            ),
            422,
        ),
        (
            Probe::post("text/plain", "/echo", r#"{"message":"m"}"#)
                .header("content-type", "text/plain"),
            415,
        ),
        (
            Probe::post(
                "over --max-body-bytes",
                "/echo",
                json!({"message": "x".repeat(2000)}).to_string(),
            ),
            413,
        ),
        (
            Probe::post(
                "just under --max-body-bytes",
                "/echo",
                json!({"message": "x".repeat(900)}).to_string(),
            ),
            200,
        ),
        // Routes.
        (
            Probe::post("an unknown tool path", "/no_such_tool", "{}"),
            404,
        ),
        (Probe::get("GET on a tool route", "/echo"), 405),
        (Probe::get("/openapi.json", "/openapi.json"), 200),
        (Probe::get("/docs", "/docs"), 200),
        (Probe::get("/healthz", "/healthz"), 200),
        (Probe::get("/readyz", "/readyz"), 200),
        (
            Probe::get("a Host the proxy does not answer", "/openapi.json")
                .header("host", "rebound.example"),
            400,
        ),
        // The API key.
        (
            Probe::post("no key", "/echo", r#"{"message":"m"}"#).key(None),
            401,
        ),
        (
            Probe::post("a wrong key", "/echo", r#"{"message":"m"}"#).key(Some("not-the-key")),
            401,
        ),
        // A crash last: the in-flight call is 502 with Retry-After, and the
        // respawned server answers the next call.
        (Probe::post("an upstream crash", "/crashes", "{}"), 502),
        (
            Probe::post(
                "the call after a crash",
                "/echo",
                r#"{"message":"after the crash"}"#,
            ),
            200,
        ),
    ];
    assert_no_differences(&differences(&compiled, &served, &probes));
}

/// `--root-path`, `--strict-auth` and CORS, the same way.
#[test]
fn serve_answers_like_the_compiled_crate_under_a_root_path_with_strict_auth() {
    let (compiled, served) = start_both(&[
        "--api-key",
        KEY,
        "--strict-auth",
        "--root-path",
        "/api",
        "--cors-allow-origins",
        "http://app.example:3000",
    ]);
    let keyed = |probe: Probe| probe.key(Some(KEY));
    let probes = vec![
        (
            Probe::post(
                "echo under the root path",
                "/api/echo",
                r#"{"message":"m"}"#,
            ),
            200,
        ),
        (
            Probe::post("echo without the root path", "/echo", r#"{"message":"m"}"#),
            200,
        ),
        (
            keyed(Probe::get("/api/openapi.json", "/api/openapi.json")),
            200,
        ),
        (keyed(Probe::get("/openapi.json", "/openapi.json")), 200),
        (keyed(Probe::get("/api/docs", "/api/docs")), 200),
        (
            Probe::get("/api/openapi.json without a key", "/api/openapi.json"),
            401,
        ),
        (Probe::get("/api/docs without a key", "/api/docs"), 401),
        (
            Probe::get("/api/healthz without a key", "/api/healthz"),
            200,
        ),
        (keyed(Probe::get("/api/readyz", "/api/readyz")), 200),
        (
            Probe::post("an unknown tool under the root path", "/api/nope", "{}"),
            404,
        ),
        (
            Probe::post(
                "no key under the root path",
                "/api/echo",
                r#"{"message":"m"}"#,
            )
            .key(None),
            401,
        ),
        (
            Probe {
                label: "a CORS preflight",
                method: "OPTIONS",
                path: "/api/echo".to_string(),
                body: None,
                key: None,
                headers: vec![
                    ("Origin", "http://app.example:3000"),
                    ("Access-Control-Request-Method", "POST"),
                    (
                        "Access-Control-Request-Headers",
                        "authorization,content-type",
                    ),
                ],
            },
            200,
        ),
        (
            Probe::post(
                "a call from an allowed origin",
                "/api/echo",
                r#"{"message":"m"}"#,
            )
            .header("Origin", "http://app.example:3000"),
            200,
        ),
    ];
    assert_no_differences(&differences(&compiled, &served, &probes));
}

/// Drift, strict types and the call timeout, the same way: the lock's
/// drift check refuses calls alike, `--strict-types` refuses a string
/// number alike, a slow call is a 504 alike.
#[test]
fn serve_answers_like_the_compiled_crate_on_drift_strict_types_and_timeouts() {
    let (compiled, served) = start_both_on(
        &["--on-drift", "fail"],
        &fixture_upstream("changed-v1.json"),
    );
    for proxy in [&compiled, &served] {
        wait_until(Duration::from_secs(30), || {
            let (status, body) = get(&proxy.url("/readyz")).expect("readyz answers");
            status == 503 && body.contains("--on-drift fail")
        });
    }
    let drift = vec![
        (Probe::get("/readyz after drift", "/readyz"), 503),
        (Probe::get("/healthz after drift", "/healthz"), 200),
        (
            Probe::post("a call after drift", "/echo", r#"{"message":"m"}"#).key(None),
            503,
        ),
    ];
    assert_no_differences(&differences(&compiled, &served, &drift));
    drop((compiled, served));

    let (compiled, served) =
        start_both(&["--api-key", KEY, "--strict-types", "--call-timeout", "1"]);
    let strict = vec![
        (
            Probe::post(
                "a string number, strict",
                "/echo",
                r#"{"message":"m","count":"3"}"#,
            ),
            422,
        ),
        (
            Probe::post(
                "a string boolean for a string, strict",
                "/echo",
                r#"{"message":true}"#,
            ),
            422,
        ),
        (
            Probe::post("over the call timeout", "/sleeps", r#"{"message":"slow"}"#),
            504,
        ),
        (
            Probe::post("the call after a timeout", "/echo", r#"{"message":"m"}"#),
            200,
        ),
    ];
    assert_no_differences(&differences(&compiled, &served, &strict));
}

/// A multi-server lock: `serve --lock generated-examples/multi-proxy`
/// serves the compiled multi-proxy's index, combined and per-server
/// documents, docs and refusals. Its upstreams are never reached (no PATH
/// for the stdio ones, a closed port for the HTTP ones): what is compared
/// is what the lock alone decides.
#[test]
fn serve_of_a_multi_server_lock_answers_like_the_compiled_crate() {
    const MULTI: &str = "multi-proxy";
    let binary = build(&[MULTI]).join(MULTI);
    let lock = workspace_root().join("generated-examples").join(MULTI);
    let lock = lock.display().to_string();
    let port = closed_port().to_string();
    let env = [
        ("PATH", "/nonexistent"),
        ("EVERYTHING_HTTP_PORT", port.as_str()),
        ("EVERYTHING_SSE_PORT", port.as_str()),
    ];
    let flags = ["--api-key", KEY];
    let compiled = Launch::proxy(&binary).args(&flags).env(&env).start();
    let served = Launch::serve()
        .args(&[&flags[..], &["--lock", lock.as_str()]].concat())
        .env(&env)
        .start();
    // The index: the same but for each upstream's `state`, which says where
    // its own supervisor is in its retries (starting, or not connected) at
    // the moment asked; neither upstream is ever ready.
    let index = |proxy: &Running| {
        let mut answer = ask(proxy, &Probe::get("the index", "/"));
        assert_eq!(answer.status, 200, "{answer:?}");
        answer.headers.remove("content-length");
        for server in answer.body["servers"].as_array_mut().expect("servers") {
            assert_eq!(server["ready"], false, "{server}");
            server.as_object_mut().expect("a server").remove("state");
        }
        answer
    };
    assert_eq!(index(&compiled), index(&served), "the index");
    let probes = vec![
        (Probe::get("the combined document", "/openapi.json"), 200),
        (Probe::get("the combined docs", "/docs"), 200),
        (Probe::get("a server's document", "/time/openapi.json"), 200),
        (
            Probe::get("another server's document", "/everything/openapi.json"),
            200,
        ),
        (Probe::get("a server's docs", "/memory/docs"), 200),
        (Probe::get("a server's healthz", "/time/healthz"), 200),
        (Probe::get("an unknown server", "/nope/openapi.json"), 404),
        (
            Probe::get("GET on a tool route", "/time/get_current_time"),
            405,
        ),
        (
            Probe::post("a missing field", "/time/get_current_time", "{}"),
            422,
        ),
        (
            Probe::post("no key", "/time/get_current_time", r#"{"timezone":"UTC"}"#).key(None),
            401,
        ),
        (
            Probe::post("a tool of another server", "/time/read_graph", "{}"),
            404,
        ),
    ];
    assert_no_differences(&differences(&compiled, &served, &probes));
    // A good call waits for an upstream that is down: 503 both ways (the
    // Retry-After follows each one's own backoff, so only the status and
    // the presence of the header are compared).
    for proxy in [&compiled, &served] {
        let reply = post_json(
            &proxy.url("/time/get_current_time"),
            &json!({"timezone": "UTC"}),
            Some(KEY),
        );
        assert_eq!(reply.status, 503, "{reply:?}");
        assert!(reply.header("retry-after").is_some(), "{reply:?}");
    }
}

/// The one intended difference: a compiled crate also deserializes the
/// arguments into its generated structs, `serve` does not. Of the fixture's
/// tools, only the integer fields tell them apart: the frozen schema says
/// `integer`, the structs say `i64` (`fails_with_invalid_params`' `value`)
/// or `u64` (`echo`'s and `echo_structured`'s `count`), and an integer the
/// schema accepts but the Rust type cannot hold is a 422 from the compiled
/// crate, at the field (`value_error` or `type`), where `serve` sends it to
/// the upstream:
/// - an integer literal from 2^63 for an `i64` (`9223372036854775808`);
/// - a whole float from 2^63 for either (`1e19`, `1e300`): lax types (the
///   default) turn a whole float within the i64 range into an integer
///   first, for both;
/// - under `--strict-types`, which converts nothing, a whole float from
///   9e15 (the typed check reads smaller ones as integers).
///
/// Every other answer is the same (the batteries above: strings, objects
/// with `deny_unknown_fields` / `additionalProperties: false`, required
/// fields, minimums, integers within the types). The typed output check
/// (`echo_structured`, `returns_structured`) only logs a mismatch and
/// returns the result unchanged, so it changes no answer.
#[test]
fn the_typed_structs_are_the_only_difference_and_only_past_the_rust_types() {
    let (compiled, served) = start_both(&["--api-key", KEY]);
    let i64_overflow = Probe::post(
        "2^63 for an i64",
        "/fails_with_invalid_params",
        r#"{"value":9223372036854775808}"#,
    );
    let huge_float = Probe::post(
        "1e300 for a u64",
        "/echo",
        r#"{"message":"m","count":1e300}"#,
    );

    let typed = ask(&compiled, &i64_overflow);
    assert_eq!(typed.status, 422, "{typed:?}");
    assert_eq!(
        typed.body,
        json!({"detail": [{
            "loc": ["body", "value"],
            "msg": "invalid value: integer `9223372036854775808`, expected i64",
            "type": "value_error"
        }]})
    );
    // Served, the call reaches the fixture, which refuses it (-32602).
    let forwarded = ask(&served, &i64_overflow);
    assert_eq!(forwarded.status, 422, "{forwarded:?}");
    assert_eq!(forwarded.body["detail"][0]["type"], "invalid_params");
    assert_eq!(forwarded.body["detail"][0]["loc"], json!(["body"]));

    let typed = ask(&compiled, &huge_float);
    assert_eq!(typed.status, 422, "{typed:?}");
    assert_eq!(
        typed.body,
        json!({"detail": [{
            "loc": ["body", "count"],
            "msg": "invalid type: floating point `1e+300`, expected u64",
            "type": "type"
        }]})
    );
    let forwarded = ask(&served, &huge_float);
    assert_eq!(
        (forwarded.status, &forwarded.body),
        (200, &json!({"message": "m", "count": 1e300})),
        "served, the echo gets the number"
    );
    // Lax types (the default) first turn a whole float within the i64 range
    // into an integer, for the upstream too; past it, from 2^63, the float
    // stays one and only the compiled crate refuses it.
    let past_i64 = Probe::post("1e19 for a u64", "/echo", r#"{"message":"m","count":1e19}"#);
    let typed = ask(&compiled, &past_i64);
    assert_eq!(typed.status, 422, "{typed:?}");
    assert_eq!(typed.body["detail"][0]["loc"], json!(["body", "count"]));
    let forwarded = ask(&served, &past_i64);
    assert_eq!(forwarded.status, 200, "{forwarded:?}");

    // Within the Rust types, the same answers: the largest i64 and u64, and
    // the largest whole float the typed check reads as an integer.
    let within = vec![
        (
            Probe::post(
                "i64::MAX",
                "/fails_with_invalid_params",
                r#"{"value":9223372036854775807}"#,
            ),
            422,
        ),
        (
            Probe::post(
                "u64::MAX",
                "/echo",
                r#"{"message":"m","count":18446744073709551615}"#,
            ),
            200,
        ),
        (
            Probe::post(
                "a negative zero for an i64",
                "/fails_with_invalid_params",
                r#"{"value":-0.0}"#,
            ),
            422,
        ),
        (
            Probe::post(
                "a whole float under 2^63",
                "/echo",
                r#"{"message":"m","count":9.2e18}"#,
            ),
            200,
        ),
    ];
    assert_no_differences(&differences(&compiled, &served, &within));
    drop((compiled, served));

    // Under --strict-types nothing is converted, and the typed check reads a
    // whole float as an integer only under 9e15: from there on, a whole
    // float for an integer field is refused by the compiled crate alone.
    let (compiled, served) = start_both(&["--api-key", KEY, "--strict-types"]);
    let bound = Probe::post(
        "9e15 for a u64, strict",
        "/echo",
        r#"{"message":"m","count":9e15}"#,
    );
    let typed = ask(&compiled, &bound);
    assert_eq!(typed.status, 422, "{typed:?}");
    assert_eq!(
        typed.body,
        json!({"detail": [{
            "loc": ["body", "count"],
            "msg": "invalid type: floating point `9000000000000000.0`, expected u64",
            "type": "type"
        }]})
    );
    let forwarded = ask(&served, &bound);
    assert_eq!(
        (forwarded.status, &forwarded.body),
        (200, &json!({"message": "m", "count": 9e15})),
        "served, the echo gets the float"
    );
    let under = vec![(
        Probe::post(
            "8e15 for a u64, strict",
            "/echo",
            r#"{"message":"m","count":8e15}"#,
        ),
        200,
    )];
    assert_no_differences(&differences(&compiled, &served, &under));
}

// The snapshot modes of `mcpo-gen serve`: no lock given, the server is
// snapshotted first, and the lock written is the one a crate is generated
// from.

/// `mcpo-gen serve --lock-out X -- SERVER` serves the snapshot, writes X,
/// and X is a lock `generate` builds a crate from that `check` accepts, whose
/// openapi.json is the document that was served.
#[test]
fn serve_snapshots_into_lock_out_and_that_lock_generates_a_crate() {
    let scratch = tempfile::tempdir().expect("a temp dir");
    let lock = scratch.path().join("snapshot").join("mcp.lock.json");
    std::fs::create_dir_all(lock.parent().expect("a parent")).expect("a folder");
    let lock_text = lock.display().to_string();
    let mut args = vec!["--api-key", KEY, "--lock-out", lock_text.as_str()];
    let upstream = fixture_upstream("errors.json");
    args.extend(upstream.iter().map(String::as_str));
    let proxy = Launch::serve().args(&args).start();
    wait_ready(&proxy);
    assert!(
        proxy.logged(&format!("Snapshot written to {lock_text}")),
        "the log names the lock written"
    );

    let arguments = json!({"message": "served from a snapshot", "count": 2});
    let reply = call(&proxy, "echo", &arguments);
    assert_eq!((reply.status, &reply.body), (200, &arguments));
    let refused = call(&proxy, "echo", &json!({"count": 2}));
    assert_eq!(refused.status, 422, "{refused:?}");
    let text = call(&proxy, "returns_text", &json!({}));
    assert_eq!(
        (text.status, &text.body),
        (200, &json!("plain text, not JSON"))
    );
    let (status, served_document) = get(&proxy.url("/openapi.json")).expect("openapi.json");
    assert_eq!(status, 200);

    let written: Value =
        serde_json::from_str(&std::fs::read_to_string(&lock).expect("--lock-out was written"))
            .expect("the lock is JSON");
    let tools = strings_of(&written["tools"], "name");
    assert!(
        tools.contains(&"echo") && tools.contains(&"crashes") && tools.len() == 16,
        "{tools:?}"
    );

    let out = scratch.path().join("crate");
    let out_text = out.display().to_string();
    let generated = mcpo_gen(&["generate", "--lock", &lock_text, "--out", &out_text]);
    assert_exit_code(&generated, 0);
    let checked = mcpo_gen(&["check", &out_text]);
    assert_exit_code(&checked, 0);
    assert_eq!(
        std::fs::read(out.join("mcp.lock.json")).expect("the crate's lock"),
        std::fs::read(&lock).expect("the lock"),
        "the crate's lock is the lock serve wrote"
    );
    // The document served is the crate's own: the one `serve --lock` of the
    // generated folder serves with the same flags (and that, the battery
    // above shows, is what the compiled crate serves).
    let mut args = vec!["--api-key", KEY, "--lock", out_text.as_str()];
    args.extend(upstream.iter().map(String::as_str));
    let from_crate = Launch::serve().args(&args).start();
    let (status, crate_document) = get(&from_crate.url("/openapi.json")).expect("openapi.json");
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&served_document).expect("JSON"),
        serde_json::from_str::<Value>(&crate_document).expect("JSON"),
        "the snapshot served the document its crate embeds"
    );
    drop(from_crate);
    drop(proxy);

    // A --lock-out that differs from the snapshot (a reviewed lock, edited
    // here) is kept: the snapshot goes beside it as .new, nothing is served.
    let reviewed = std::fs::read_to_string(&lock).expect("the lock").replacen(
        "\"echo\"",
        "\"echo-reviewed\"",
        1,
    );
    std::fs::write(&lock, &reviewed).expect("the lock is writable");
    // Refused before it listens: it must exit (within 60 s).
    let output = Launch::serve()
        .args(&["--lock-out", lock_text.as_str()])
        .args(&upstream)
        .run_to_exit(Duration::from_secs(60));
    assert_exit_code(&output, 2);
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(
        said.contains("exists and differs from this snapshot") && said.contains("mcpo-gen diff"),
        "{said}"
    );
    assert_eq!(std::fs::read_to_string(&lock).expect("the lock"), reviewed);
    let beside = lock.with_extension("json.new");
    assert_eq!(
        std::fs::read(&beside).expect("the snapshot beside it"),
        std::fs::read(out.join("mcp.lock.json")).expect("the first snapshot"),
    );
}

/// `mcpo-gen serve --config C`: every server of the config snapshotted and
/// served under /NAME, each with its own /NAME/readyz.
#[test]
fn serve_of_a_config_serves_each_server_under_its_name() {
    let (scratch, config_text) = servers_config(json!({
        "errors": fixture_server(&["--tools", &tool_file("errors.json")]),
        "edge": fixture_server(&["--tools", &tool_file("edge.json")]),
    }));
    let lock = scratch.path().join("mcp.lock.json");
    let lock_text = lock.display().to_string();
    let proxy = Launch::serve()
        .args(&[
            "--api-key",
            KEY,
            "--config",
            &config_text,
            "--lock-out",
            &lock_text,
        ])
        .start();
    for name in ["errors", "edge"] {
        let readyz = proxy.url(&format!("/{name}/readyz"));
        assert!(wait_for_status(&readyz, 200, Duration::from_secs(60)));
        let arguments = json!({"message": format!("to {name}")});
        let reply = post_json(&proxy.url(&format!("/{name}/echo")), &arguments, Some(KEY));
        assert_eq!((reply.status, &reply.body), (200, &arguments), "{name}");
        let refused = post_json(&proxy.url(&format!("/{name}/echo")), &json!({}), Some(KEY));
        assert_eq!(refused.status, 422, "{name}: {refused:?}");
        let (status, document) =
            get(&proxy.url(&format!("/{name}/openapi.json"))).expect("the server's document");
        assert_eq!(status, 200, "{name}: {document}");
    }
    // Each server has its own tools: edge.json has no returns_text.
    let text = post_json(&proxy.url("/errors/returns_text"), &json!({}), Some(KEY));
    assert_eq!(
        (text.status, &text.body),
        (200, &json!("plain text, not JSON"))
    );
    let absent = post_json(&proxy.url("/edge/returns_text"), &json!({}), Some(KEY));
    assert_eq!(absent.status, 404, "{absent:?}");

    let written: Value =
        serde_json::from_str(&std::fs::read_to_string(&lock).expect("--lock-out was written"))
            .expect("the lock is JSON");
    let servers: Vec<&String> = written["servers"]
        .as_object()
        .unwrap_or_else(|| panic!("a multi-server lock: {written}"))
        .keys()
        .collect();
    assert_eq!(servers, ["edge", "errors"]);
}

/// Nothing to serve, or a `--lock` that holds no lock: exit 2 before
/// listening, with a message that says what to give.
#[test]
fn serve_without_a_source_says_what_to_give() {
    let nothing = mcpo_gen(&["serve", "--port", "0"]);
    assert_exit_code(&nothing, 2);
    let stderr = String::from_utf8_lossy(&nothing.stderr);
    for named in ["--lock", "--config", "`--`"] {
        assert!(stderr.contains(named), "names {named}: {stderr}");
    }
    assert!(!stderr.contains("listening on"), "{stderr}");

    let scratch = tempfile::tempdir().expect("a temp dir");
    let missing = scratch.path().join("nowhere").join("mcp.lock.json");
    let missing_text = missing.display().to_string();
    let empty_folder = scratch.path().display().to_string();
    for path in [missing_text.as_str(), empty_folder.as_str()] {
        let refused = mcpo_gen(&["serve", "--port", "0", "--lock", path]);
        assert_exit_code(&refused, 2);
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(
            stderr.contains(path)
                && stderr.contains("give a generated crate's folder or its mcp.lock.json"),
            "names the path and what --lock takes: {stderr}"
        );
        assert!(!stderr.contains("listening on"), "{stderr}");
    }
}

/// `mcpo-gen serve URL` without --lock-out: a streamable-HTTP server
/// snapshotted into a temporary lock the log names, then served.
#[test]
fn serve_of_a_url_snapshots_into_a_temporary_lock_named_in_the_log() {
    let fixture = start_fixture_http(&["--tools", &tool_file("errors.json")]);
    let url = fixture.url("/mcp");
    let proxy = Launch::serve().args(&["--api-key", KEY, &url]).start();
    wait_ready(&proxy);
    let arguments = json!({"message": "over HTTP", "count": 1});
    let reply = call(&proxy, "echo", &arguments);
    assert_eq!((reply.status, &reply.body), (200, &arguments));
    let failed = call(&proxy, "fails_with_internal_error", &json!({}));
    assert_eq!(failed.status, 502, "{failed:?}");

    let line = proxy
        .log
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .iter()
        .find_map(|line| {
            line.split("Snapshot written to ")
                .nth(1)
                .map(str::to_string)
        })
        .unwrap_or_else(|| panic!("the log names the lock written"));
    let path = PathBuf::from(line.split(':').next().unwrap_or_default());
    assert!(
        path.starts_with(std::env::temp_dir()) && path.ends_with("mcp.lock.json"),
        "{}",
        path.display()
    );
    let lock: Value = serde_json::from_str(
        &std::fs::read_to_string(&path)
            .unwrap_or_else(|error| panic!("{}: {error}", path.display())),
    )
    .expect("the lock is JSON");
    let _ = std::fs::remove_dir_all(path.parent().expect("a temporary folder"));
    assert_eq!(lock["upstream"]["type"], "streamable-http", "{lock}");
    assert_eq!(lock["upstream"]["url"], url.as_str(), "{lock}");
}
