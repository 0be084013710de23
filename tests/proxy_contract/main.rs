//! The proxy contract: every suite that starts the committed
//! `generated-examples/errors-proxy` against our fixture server (serving
//! `tests/fixture-server/tools/errors.json`, whose tools fail, sleep, crash
//! and return every kind of content on purpose), in one test binary: one
//! link, one workspace build check, and the helpers below instead of a copy
//! per suite. One module per suite, its tests named as before
//! (`cargo test -p mcpo-gen-e2e --test proxy_contract http_edge::`). The MCP
//! gateway's suites (`gateway`, `gateway_drift`) start the same proxy.

mod cancellation;
mod gateway;
mod gateway_drift;
mod gateway_surface;
mod http_edge;
mod identity;
mod lax_types;
mod load_limits;
mod mcpo_flags;
mod runtime_contract;
mod surface_drift;
mod surface_rest;
mod tasks;
mod tasks_extension;
mod upstream_faults;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mcpo_gen_e2e::*;
use serde_json::{Value, json};

/// The generated crate under test.
pub const CRATE: &str = "errors-proxy";
/// The API key of the proxies started with one.
pub const KEY: &str = "contract-test-key";

/// The compiled errors-proxy (and the fixture it is started against).
pub fn proxy_binary() -> PathBuf {
    build(&[CRATE, "mcp-fixture-server"]).join(CRATE)
}

/// errors-proxy with `flags` in front of the upstream override `upstream`,
/// to add to and start.
pub fn launch(flags: &[&str], upstream: &[String]) -> Launch {
    Launch::proxy(&proxy_binary()).args(flags).args(upstream)
}

/// errors-proxy with `flags`, its upstream the fixture serving `tools`,
/// once connected.
pub fn start_ready(flags: &[&str], tools: &str) -> Running {
    launch(flags, &fixture_upstream(tools)).start_ready()
}

/// errors-proxy with [`KEY`] and `flags`, connected to the fixture serving
/// errors.json.
pub fn errors_proxy(flags: &[&str]) -> Running {
    start_ready(&[&["--api-key", KEY], flags].concat(), "errors.json")
}

/// errors-proxy's committed lock.
pub fn errors_lock() -> Value {
    let path = workspace_root().join("generated-examples/errors-proxy/mcp.lock.json");
    serde_json::from_str(&std::fs::read_to_string(&path).expect("the committed lock"))
        .expect("the lock is JSON")
}

/// The reviewed definition of `tool`, from errors-proxy's lock.
pub fn locked_definition(tool: &str) -> Value {
    errors_lock()["tools"]
        .as_array()
        .expect("the lock lists tools")
        .iter()
        .find(|entry| entry["name"] == tool)
        .unwrap_or_else(|| panic!("{tool} is locked"))["definition"]
        .clone()
}

/// `mcpo-gen serve FLAGS` of a snapshot of `gateway`'s `/mcp`, taken
/// with rmcp's client and the gateway's API key `key`: the outer proxy,
/// once ready, and the snapshot it took.
pub fn serve_of_gateway(gateway: &Running, key: &str, flags: &[&str]) -> (Running, Value) {
    let scratch = tempfile::tempdir().expect("a temp dir");
    let snapshot = scratch.path().join("mcp.lock.json");
    let authorization = format!("Authorization: Bearer {key}");
    let url = gateway.url("/mcp");
    let mut args = flags.to_vec();
    args.extend([
        "--lock-out",
        snapshot.to_str().expect("a UTF-8 path"),
        "--header",
        &authorization,
        &url,
    ]);
    let outer = Launch::serve().args(&args).start_ready();
    let seen = serde_json::from_str(&std::fs::read_to_string(&snapshot).expect("the snapshot"))
        .expect("the snapshot is JSON");
    (outer, seen)
}

/// The JSON-RPC messages of an SSE body (events without data, like a
/// priming event, skipped).
pub fn sse_messages(body: &str) -> Vec<Value> {
    body.replace("\r\n", "\n")
        .split("\n\n")
        .filter_map(|event| {
            let data: Vec<&str> = event
                .lines()
                .filter_map(|line| line.strip_prefix("data:"))
                .map(str::trim_start)
                .collect();
            let data = data.join("\n");
            (!data.trim().is_empty()).then(|| serde_json::from_str(&data).expect("JSON data"))
        })
        .collect()
}

/// A client script of `tests/clients/mcp/`.
pub fn client_script(name: &str) -> PathBuf {
    workspace_root().join("tests/clients/mcp").join(name)
}

/// The official Python SDK's venv (mcp==2.3.0), which runs the Python
/// client scripts.
pub fn mcp_python() -> PathBuf {
    test_tool("mcp-venv/bin/python")
}

/// Runs a client script to its end (within `limit`) with `env` set, and
/// returns the JSON object it printed last on stdout: the scripts assert
/// nothing, they report what they saw.
pub fn run_client(program: &Path, args: &[&str], env: &[(&str, &str)], limit: Duration) -> Value {
    let mut child = Command::new(program)
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("cannot start {}: {error}", program.display()));
    let stdout = read_in_background(child.stdout.take().expect("stdout is piped"));
    let stderr = read_in_background(child.stderr.take().expect("stderr is piped"));
    let status = wait_or_kill(&mut child, limit).ok();
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    let what = format!("{} {args:?}", program.display());
    let status =
        status.unwrap_or_else(|| panic!("{what} did not finish in {limit:?}\nstderr:\n{stderr}"));
    assert!(
        status.success(),
        "{what}: {status}\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last)
        .unwrap_or_else(|error| panic!("{what} printed no JSON ({error}):\n{stdout}\n{stderr}"))
}

/// The multi-server config `{"mcpServers": servers}`, written to `mcp.json`
/// in a scratch folder (returned with it, to keep it alive and to put more
/// files beside); its path, for `--config`.
pub fn servers_config(servers: Value) -> (tempfile::TempDir, String) {
    let (scratch, path) = scratch_file("mcp.json", json!({ "mcpServers": servers }).to_string());
    let path = path.to_str().expect("a UTF-8 path").to_string();
    (scratch, path)
}

/// A config entry that runs our fixture server with `args`.
pub fn fixture_server(args: &[&str]) -> Value {
    json!({"command": fixture_binary(), "args": args})
}

/// `-- FIXTURE --resources EXTRA...`: the fixture over stdio, serving
/// resources, templates and prompts.
pub fn resources_upstream(extra: &[&str]) -> Vec<String> {
    let mut upstream = vec![
        "--".to_string(),
        fixture_binary().display().to_string(),
        "--resources".to_string(),
    ];
    upstream.extend(extra.iter().map(|arg| arg.to_string()));
    upstream
}

/// The `key` field of each object of `list` (e.g. each resource's `uri`).
pub fn keys(list: &Value, key: &str) -> Vec<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("a list: {list}"))
        .iter()
        .map(|item| item[key].as_str().unwrap_or_default().to_string())
        .collect()
}

/// The definitions of a lock's `field` list (`resources`, `prompts`...), as
/// the lock lists them.
pub fn definitions(lock: &Value, field: &str) -> Value {
    Value::Array(
        lock[field]
            .as_array()
            .unwrap_or_else(|| panic!("the lock has {field}: {lock}"))
            .iter()
            .map(|item| item["definition"].clone())
            .collect(),
    )
}

/// The text of a resource read's only content (`body` is the read's
/// result).
#[track_caller]
pub fn only_read_text(body: &Value) -> String {
    only_text(body, "contents", "/text")
}

/// The text of a prompt result's only message (`body` is the result).
#[track_caller]
pub fn only_prompt_text(body: &Value) -> String {
    only_text(body, "messages", "/content/text")
}

/// The text at `text_at` of the one item of `body[list]`, which must be the
/// only item.
#[track_caller]
fn only_text(body: &Value, list: &str, text_at: &str) -> String {
    let items = body[list]
        .as_array()
        .unwrap_or_else(|| panic!("{list}: {body}"));
    assert_eq!(items.len(), 1, "{body}");
    items[0]
        .pointer(text_at)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("a text in {list}: {body}"))
        .to_string()
}

/// The message of the JSON-RPC `error`, whose code must be `code`.
#[track_caller]
pub fn rpc_error_message(error: &Value, code: i64) -> &str {
    assert_eq!(error["code"], code, "{error}");
    error["message"]
        .as_str()
        .unwrap_or_else(|| panic!("a message: {error}"))
}

/// Calls `tool` with [`KEY`].
pub fn call(proxy: &Running, tool: &str, arguments: &Value) -> Reply {
    post_json(&proxy.url(&format!("/{tool}")), arguments, Some(KEY))
}

/// The `detail` of an error body, as text (empty when there is none).
pub fn detail_text(reply: &Reply) -> &str {
    reply.body["detail"].as_str().unwrap_or_default()
}

/// A `Retry-After` in whole seconds, which must be there.
#[track_caller]
pub fn retry_after(reply: &Reply) -> u64 {
    reply
        .header("retry-after")
        .and_then(|value| value.parse().ok())
        .unwrap_or_else(|| panic!("a numeric Retry-After: {reply:?}"))
}

/// A blocking HTTP client of its own (e.g. for requests the harness's
/// helpers do not send), with a `limit` per request.
pub fn http_client(limit: Duration) -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(limit)
        .build()
        .expect("an HTTP client")
}

/// Calls the fixture's `sleeps` (10 s) through a proxy with `--call-timeout
/// 1`: a 504 in about a second. Every bound is far from the 10 s, so a slow
/// machine cannot pass the test off as a proxy that waited.
#[track_caller]
pub fn assert_prompt_504(proxy: &Running) -> Reply {
    let started = Instant::now();
    let late = call(proxy, "sleeps", &json!({"message": "slow"}));
    assert_timed_out(
        &late,
        started,
        Duration::from_millis(900)..Duration::from_secs(6),
        "expected about 1 s, not the 10 s sleep",
    );
    late
}

/// Sends `head`, a request whose body never completes, and reads the
/// proxy's answer to its end (it closes the connection after answering; a
/// proxy that stalls too trips the read timeout, `limit`). Returns the
/// answer and how long it took from the request.
pub fn stalled_upload(proxy: &Running, head: &str, limit: Duration) -> (String, Duration) {
    let mut stream =
        std::net::TcpStream::connect(("127.0.0.1", proxy.port)).expect("connect to the proxy");
    stream
        .set_read_timeout(Some(limit))
        .expect("a read timeout");
    let started = Instant::now();
    stream
        .write_all(head.as_bytes())
        .expect("send a partial request");
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    (
        String::from_utf8_lossy(&answer).into_owned(),
        started.elapsed(),
    )
}
