//! OpenTelemetry traces end to end: a proxy generated from our fixture server
//! and built with `--features otel`, run with `--otel-endpoint` pointing at an
//! OTLP/HTTP receiver inside this test. A tool call that carries a W3C
//! `traceparent` must be exported as a `mcp.tool_call` span of the client's
//! trace (flushed when the proxy stops), the upstream must receive the span's
//! context in the `tools/call` request's `_meta`, and nothing the client sent
//! (argument values, the API key, other header values) may reach the
//! collector. A proxy built without the feature refuses the flag (exit 2).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mcpo_gen_e2e::*;
use serde_json::Value;

/// The client's trace: its trace id and the id of its own (parent) span.
const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CLIENT_SPAN_ID: &str = "00f067aa0ba902b7";
/// Values that must reach the upstream (the argument) or the proxy (the key,
/// a header) and never the collector.
const ARGUMENT: &str = "argument-value-7f3a9c";
const API_KEY: &str = "api-key-5d1e8b";
const HEADER_VALUE: &str = "header-value-c4b2a0";

/// One request the receiver got: its request line and its body.
struct Received {
    request_line: String,
    body: Vec<u8>,
}

/// A minimal OTLP/HTTP collector: answers every request 200 and keeps it.
fn start_receiver() -> (u16, Arc<Mutex<Vec<Received>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let port = listener.local_addr().expect("its address").port();
    let received = Arc::new(Mutex::new(Vec::new()));
    let store = Arc::clone(&received);
    std::thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            let store = Arc::clone(&store);
            std::thread::spawn(move || serve_connection(stream, &store));
        }
    });
    (port, received)
}

/// Keep-alive: requests one after another until the client closes.
fn serve_connection(stream: TcpStream, store: &Mutex<Vec<Received>>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut length = None;
        let mut chunked = false;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            let (name, value) = line.split_once(':').unwrap_or((line, ""));
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse::<usize>().ok();
            }
            if name.eq_ignore_ascii_case("transfer-encoding") && value.contains("chunked") {
                chunked = true;
            }
        }
        let mut body = Vec::new();
        if chunked {
            loop {
                let mut size = String::new();
                if reader.read_line(&mut size).unwrap_or(0) == 0 {
                    return;
                }
                let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
                let mut chunk = vec![0; size + 2];
                if reader.read_exact(&mut chunk).is_err() {
                    return;
                }
                if size == 0 {
                    break;
                }
                body.extend_from_slice(&chunk[..size]);
            }
        } else {
            body.resize(length.unwrap_or(0), 0);
            if reader.read_exact(&mut body).is_err() {
                return;
            }
        }
        store
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(Received {
                request_line: request_line.trim_end().to_string(),
                body,
            });
        let answer =
            "HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\nContent-Length: 0\r\n\r\n";
        if writer.write_all(answer.as_bytes()).is_err() {
            return;
        }
    }
}

fn hex_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|index| u8::from_str_radix(&hex[index..index + 2], 16).expect("hex"))
        .collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

/// The fixture server's proxy, snapshotted and built by
/// [`snapshot_and_build_with`] with `--features otel`.
fn build_with_otel() -> BuiltProxy {
    let fixture = fixture_binary().display().to_string();
    let tools = tool_file("errors.json");
    let (_, built, _) =
        snapshot_and_build_with(&["--", &fixture, "--tools", &tools], &[], false, &["otel"]);
    let manifest = std::fs::read_to_string(target_dir().join("e2e-proxies/e2e-proxy/Cargo.toml"))
        .expect("a manifest");
    assert!(
        manifest.contains("otel = [\"mcpo-runtime/otel\"]"),
        "{manifest}"
    );
    built
}

#[test]
fn a_tool_call_is_a_span_of_the_clients_trace_and_its_context_reaches_the_upstream() {
    let built = build_with_otel();
    let (port, received) = start_receiver();
    let work = tempfile::tempdir().expect("a temp dir");
    let wire = work.path().join("to-upstream.jsonl");
    // The upstream is the fixture behind `tee`: what it reads is kept.
    let script = format!(
        "tee -a '{}' | exec '{}' --tools '{}'",
        wire.display(),
        fixture_binary().display(),
        tool_file("errors.json")
    );
    let endpoint = format!("http://127.0.0.1:{port}");
    let mut proxy = Launch::proxy(&built.binary)
        .args(&[
            "--otel-endpoint",
            &endpoint,
            "--api-key",
            API_KEY,
            "--",
            "sh",
            "-c",
            &script,
        ])
        .env(
            // The standard variables must not redirect the flag's endpoint.
            &[("OTEL_SERVICE_NAME", "otel-e2e-service")],
        )
        .start();
    wait_ready(&proxy);
    assert!(
        proxy.logged("OpenTelemetry: exporting"),
        "the proxy says it exports traces"
    );

    let client = reqwest::blocking::Client::new();
    let reply = client
        .post(proxy.url("/echo"))
        .header("Authorization", format!("Bearer {API_KEY}"))
        .header("traceparent", format!("00-{TRACE_ID}-{CLIENT_SPAN_ID}-01"))
        .header("X-Custom", HEADER_VALUE)
        .json(&serde_json::json!({ "message": ARGUMENT }))
        .send()
        .expect("the proxy answers");
    assert_eq!(reply.status().as_u16(), 200);
    let body: Value = reply.json().expect("JSON");
    assert_eq!(body, serde_json::json!({ "message": ARGUMENT }));

    // What the upstream read: the tools/call with the span's context.
    let sent = std::fs::read_to_string(&wire).expect("tee wrote the upstream's input");
    let call: Value = sent
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|message| message["method"] == "tools/call")
        .unwrap_or_else(|| panic!("no tools/call reached the upstream:\n{sent}"));
    assert_eq!(call["params"]["arguments"]["message"], ARGUMENT, "{call}");
    let traceparent = call["params"]["_meta"]["traceparent"]
        .as_str()
        .unwrap_or_else(|| panic!("no _meta.traceparent upstream: {call}"));
    let parts: Vec<&str> = traceparent.split('-').collect();
    assert_eq!(parts.len(), 4, "{traceparent}");
    assert_eq!(parts[1], TRACE_ID, "the client's trace continues upstream");
    let call_span_id = parts[2];
    assert_ne!(
        call_span_id, CLIENT_SPAN_ID,
        "the proxy's own span is the parent"
    );
    assert_eq!(parts[3], "01");

    // Stopping the proxy flushes the span (well before the batch's 5 s delay).
    assert!(proxy.terminate(Duration::from_secs(20)), "the proxy stops");
    let got = received
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let traces: Vec<&Received> = got
        .iter()
        .filter(|request| request.request_line.starts_with("POST /v1/traces "))
        .collect();
    assert!(
        !traces.is_empty(),
        "the collector got no POST /v1/traces; got {:?}",
        got.iter().map(|r| &r.request_line).collect::<Vec<_>>()
    );
    let span = traces
        .iter()
        .find(|request| contains(&request.body, b"mcp.tool_call"))
        .expect("a mcp.tool_call span was exported");
    for (what, bytes) in [
        ("the client's trace id", hex_bytes(TRACE_ID)),
        ("the client's span id as parent", hex_bytes(CLIENT_SPAN_ID)),
        ("the span id sent upstream", hex_bytes(call_span_id)),
        ("the tool's name attribute", b"gen_ai.tool.name".to_vec()),
        ("the tool", b"echo".to_vec()),
        (
            "the status attribute",
            b"http.response.status_code".to_vec(),
        ),
        (
            "the pool member attribute",
            b"mcpo.upstream.member".to_vec(),
        ),
        ("the service name", b"otel-e2e-service".to_vec()),
    ] {
        assert!(contains(&span.body, &bytes), "the span lacks {what}");
    }
    // Nothing the client sent beyond the trace context.
    for request in got.iter() {
        for secret in [
            ARGUMENT,
            API_KEY,
            HEADER_VALUE,
            "Bearer",
            "X-Custom",
            "x-custom",
        ] {
            assert!(
                !contains(&request.body, secret.as_bytes()),
                "{secret:?} reached the collector ({})",
                request.request_line
            );
        }
    }
}

#[test]
fn the_flag_without_the_feature_is_a_startup_error() {
    // The committed examples are built without the feature.
    let binary = build(&["time-proxy"]).join("time-proxy");
    let output = Command::new(&binary)
        .args(["--port", "0", "--otel-endpoint", "http://127.0.0.1:4318"])
        .stdin(Stdio::null())
        .output()
        .expect("the proxy runs");
    assert_exit_code(&output, 2);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("built without the otel feature: rebuild with --features otel"),
        "{stderr}"
    );
    // The env var is the flag too.
    let output = Command::new(&binary)
        .args(["--port", "0"])
        .env("MCPO_OTEL_ENDPOINT", "http://127.0.0.1:4318")
        .stdin(Stdio::null())
        .output()
        .expect("the proxy runs");
    assert_exit_code(&output, 2);
}
