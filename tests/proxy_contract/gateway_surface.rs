//! The MCP gateway's resources, resource templates, prompts, completions
//! and resource subscriptions, against `@modelcontextprotocol/server-everything`
//! (snapshotted when the test runs), with the official Python SDK
//! (`tests/clients/mcp/surface_client.py`): what clients see is the lock,
//! a URI the lock does not hold is never read or subscribed, and the
//! upstream's `notifications/resources/updated` reach the sessions
//! subscribed (over `resources/subscribe` in a session, and over
//! `subscriptions/listen` in the stateless revision).

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use mcpo_gen_e2e::*;
use serde_json::{Value, json};

use super::{
    KEY, client_script, definitions, mcp_python, rpc_error_message, run_client, servers_config,
};

/// A resource server-everything serves that the test's lock leaves out.
const UNLOCKED: &str = "demo://resource/static/document/structure.md";
const STATIC: &str = "demo://resource/static/document/architecture.md";
const TEXT_1: &str = "demo://resource/dynamic/text/1";

/// `node .../server-everything/dist/index.js stdio`.
fn everything_command() -> Vec<String> {
    vec![
        "node".into(),
        node_server("server-everything")
            .to_str()
            .expect("a UTF-8 path")
            .into(),
        "stdio".into(),
    ]
}

/// A lock snapshotted from server-everything now, written to
/// `scratch/mcp.lock.json` without [`UNLOCKED`] (which the server still
/// serves).
fn everything_lock(scratch: &Path) -> (PathBuf, Value) {
    let out = scratch.join("everything-crate");
    let command = everything_command();
    let mut args = vec!["--out", out.to_str().expect("a UTF-8 path"), "--"];
    args.extend(command.iter().map(String::as_str));
    let output = mcpo_gen(&args);
    assert!(output.status.success(), "{}", output_text(&output));
    let text = std::fs::read_to_string(out.join("mcp.lock.json")).expect("the lock");
    let mut lock: Value = serde_json::from_str(&text).expect("the lock is JSON");
    let resources = lock["resources"]
        .as_array_mut()
        .expect("server-everything's resources are locked");
    let before = resources.len();
    resources.retain(|resource| resource["uri"] != UNLOCKED);
    assert_eq!(resources.len(), before - 1, "{UNLOCKED} was locked");
    let path = scratch.join("mcp.lock.json");
    std::fs::write(&path, serde_json::to_string_pretty(&lock).expect("JSON"))
        .expect("the lock is written");
    (path, lock)
}

/// The proxy of `lock`, logging its subscriptions (debug).
fn serve_lock(lock: &Path) -> Running {
    Launch::serve()
        .args(&[
            "--api-key",
            KEY,
            "--lock",
            lock.to_str().expect("a UTF-8 path"),
        ])
        .env(&[("RUST_LOG", "warn,mcpo_runtime=debug")])
        .start_ready()
}

/// Runs surface_client.py in `mode` against `url` with `env`, and returns
/// the JSON object it printed.
fn surface_client(mode: &str, url: &str, env: &[(&str, &str)]) -> Value {
    let script = client_script("surface_client.py");
    let script = script.to_str().expect("a UTF-8 path");
    run_client(
        &mcp_python(),
        &[script, mode, url, KEY],
        env,
        Duration::from_secs(120),
    )
}

/// The JSON-RPC error a request of the report got.
#[track_caller]
fn error_of<'a>(report: &'a Value, request: &str) -> &'a Value {
    let error = &report[request]["error"];
    assert!(error.is_object(), "{request} fails: {}", report[request]);
    error
}

/// The result a request of the report got.
#[track_caller]
fn result_of<'a>(report: &'a Value, request: &str) -> &'a Value {
    let result = &report[request]["result"];
    assert!(
        result.is_object(),
        "{request} succeeds: {}",
        report[request]
    );
    result
}

/// What both revisions see the same: the locked lists, reads, prompts and
/// completions.
fn assert_walk(report: &Value, lock: &Value, prefix: &str) {
    assert_eq!(
        report["resources"],
        definitions(lock, "resources"),
        "resources/list is the locked resources, in order"
    );
    assert_eq!(
        report["templates"],
        definitions(lock, "resourceTemplates"),
        "resources/templates/list is the locked templates"
    );
    let mut prompts = definitions(lock, "prompts");
    for prompt in prompts.as_array_mut().expect("prompts") {
        let name = format!("{prefix}{}", prompt["name"].as_str().expect("a name"));
        prompt["name"] = json!(name);
    }
    assert_eq!(
        report["prompts"], prompts,
        "prompts/list is the locked prompts"
    );

    let read = result_of(report, "read_static");
    assert_eq!(read["contents"][0]["uri"], STATIC);
    assert_eq!(read["contents"][0]["mimeType"], "text/markdown");
    assert!(
        read["contents"][0]["text"]
            .as_str()
            .is_some_and(|text| text.starts_with("# Everything Server")),
        "{read}"
    );
    let read = result_of(report, "read_template");
    assert_eq!(read["contents"][0]["uri"], TEXT_1);
    assert!(
        read["contents"][0]["text"]
            .as_str()
            .is_some_and(|text| text.starts_with("Resource 1:")),
        "a template match is read upstream: {read}"
    );
    let not_served = error_of(report, "read_not_served");
    assert_eq!(not_served["data"]["uri"], "demo://nope/x");

    let prompt = result_of(report, "prompt_args");
    assert_eq!(
        prompt["messages"],
        json!([{"role": "user", "content": {"type": "text", "text": "What's weather in Paris, TX?"}}])
    );
    let missing = error_of(report, "prompt_missing_argument");
    assert!(
        rpc_error_message(missing, -32602).contains("city: Field required"),
        "the validation message names the argument: {missing}"
    );
    assert_eq!(error_of(report, "prompt_unknown")["code"], -32602);

    let values = |request: &str| result_of(report, request)["completion"]["values"].clone();
    assert_eq!(values("complete_department"), json!(["Sales", "Support"]));
    assert_eq!(
        values("complete_name_in_context"),
        json!(["Alice", "Bob", "Charlie"]),
        "the context reaches the upstream"
    );
    assert_eq!(values("complete_template"), json!(["7"]));
    assert_eq!(error_of(report, "complete_unknown_prompt")["code"], -32602);

    let toggled = result_of(report, "switch_updates_on");
    assert!(
        toggled["content"][0]["text"]
            .as_str()
            .is_some_and(|text| text.starts_with("Started")),
        "{toggled}"
    );
}

/// A session (2025-11-25): the locked surface, -32002 for a URI the server
/// serves but the lock does not hold (read or subscribed), and the updates
/// of a subscribed resource once the server sends them; a session that
/// ends without unsubscribing leaves no subscription upstream.
#[test]
fn python_sdk_session_sees_the_locked_resources_prompts_and_updates() {
    let scratch = tempfile::tempdir().expect("a temp dir");
    let (lock_path, lock) = everything_lock(scratch.path());
    let proxy = serve_lock(&lock_path);
    let report = surface_client("legacy", &proxy.url("/mcp"), &[("UNLOCKED_URI", UNLOCKED)]);

    assert_eq!(report["protocol_version"], "2025-11-25");
    let capabilities = &report["capabilities"];
    assert_eq!(
        capabilities["resources"],
        json!({"subscribe": true, "listChanged": false}),
        "{capabilities}"
    );
    assert_eq!(capabilities["prompts"], json!({"listChanged": false}));
    assert_eq!(capabilities["completions"], json!({}));
    assert_walk(&report, &lock, "");

    let unlocked = error_of(&report, "read_unlocked");
    assert_eq!(
        unlocked,
        &json!({"code": -32002, "message": "Resource not found", "data": {"uri": UNLOCKED}}),
        "the server serves it, the lock does not"
    );
    assert_eq!(error_of(&report, "read_not_served")["code"], -32002);
    assert_eq!(error_of(&report, "subscribe_unlocked")["code"], -32002);
    assert_eq!(result_of(&report, "subscribe"), &json!({}));
    assert_eq!(
        report["updated"], STATIC,
        "the upstream's update reached the subscribed session"
    );
    assert_eq!(result_of(&report, "unsubscribe"), &json!({}));
    assert!(
        wait_for(Duration::from_secs(10), || proxy_logged(
            &proxy,
            "resource unsubscribed upstream",
            STATIC
        )),
        "the unsubscribe went upstream"
    );

    // Reads, prompts and completions over MCP are counted as over REST.
    let page = super::load_limits::metrics(&proxy);
    for request in ["resources/read", "prompts/get", "completion/complete"] {
        let series = format!("mcpo_tool_calls_total{{tool=\"{request}\",status=\"200\"}}");
        assert!(
            super::load_limits::metric(&page, &series) >= 1.0,
            "{series} in:\n{page}"
        );
    }

    assert_eq!(result_of(&report, "abandoned_subscribe"), &json!({}));
    assert!(
        wait_for(Duration::from_secs(10), || proxy_logged(
            &proxy,
            "resource subscribed upstream",
            TEXT_1
        )),
        "the subscription went upstream"
    );
    assert!(
        wait_for(Duration::from_secs(15), || proxy_logged(
            &proxy,
            "resource unsubscribed upstream",
            TEXT_1
        )),
        "a session's subscriptions end with it"
    );
}

/// A session subscribes to at most 256 resource URIs at once: the next one
/// is refused with a JSON-RPC error that says so, until one is unsubscribed.
#[test]
fn a_session_subscribes_to_at_most_256_resources() {
    let scratch = tempfile::tempdir().expect("a temp dir");
    let (lock_path, _) = everything_lock(scratch.path());
    let proxy = serve_lock(&lock_path);
    let report = surface_client("cap", &proxy.url("/mcp"), &[("CAP_COUNT", "256")]);

    assert_eq!(report["subscribed"], 256, "{}", report["failures"]);
    assert_eq!(
        result_of(&report, "again"),
        &json!({}),
        "a URI subscribed already is no new subscription"
    );
    let refused = error_of(&report, "one_more");
    assert!(
        rpc_error_message(refused, -32602).contains("at most 256 resources"),
        "the message says the limit: {refused}"
    );
    assert_eq!(refused["data"]["limit"], 256);
    assert_eq!(result_of(&report, "unsubscribe"), &json!({}));
    assert_eq!(
        result_of(&report, "one_more_after_unsubscribe"),
        &json!({}),
        "an unsubscribe makes room"
    );
}

/// Whether the proxy logged a line with both `message` and `uri`.
fn proxy_logged(proxy: &Running, message: &str, uri: &str) -> bool {
    proxy
        .log
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .iter()
        .any(|line| line.contains(message) && line.contains(uri))
}

/// The Python SDK's default client (the stateless 2026-07-28 revision):
/// the same surface, "resource not found" as -32602 as that revision
/// says, and `subscriptions/listen` accepting only readable URIs and
/// passing their updates on.
#[test]
fn python_sdk_stateless_client_sees_the_locked_surface_and_listens() {
    let scratch = tempfile::tempdir().expect("a temp dir");
    let (lock_path, lock) = everything_lock(scratch.path());
    let proxy = serve_lock(&lock_path);
    let report = surface_client("auto", &proxy.url("/mcp"), &[("UNLOCKED_URI", UNLOCKED)]);

    assert_eq!(report["protocol_version"], "2026-07-28");
    assert_walk(&report, &lock, "");
    let unlocked = error_of(&report, "read_unlocked");
    assert_eq!(unlocked["code"], -32602, "{unlocked}");
    assert_eq!(unlocked["data"]["uri"], UNLOCKED);
    assert_eq!(
        report["listen_honored"],
        json!({"resourceSubscriptions": [TEXT_1]}),
        "the unlocked URI is not accepted"
    );
    assert_eq!(report["updated"], TEXT_1, "the update came on the stream");
}

/// A multi-server proxy's aggregated `/mcp`: each URI (and template) once,
/// served by the first server by name; prompts as `{server}_{prompt}`,
/// each reaching its own server; a subscription on the server of its URI.
#[test]
fn aggregated_mcp_routes_uris_to_one_server_and_names_prompts_by_server() {
    let command = everything_command();
    let entry = json!({"command": command[0], "args": command[1..]});
    let (_scratch, config) = servers_config(json!({"a": entry, "b": entry}));
    let proxy = Launch::serve()
        .args(&["--api-key", KEY, "--config", &config])
        .start_ready();

    let report = surface_client(
        "legacy",
        &proxy.url("/mcp"),
        &[("MCP_PROMPT_PREFIX", "b_"), ("MCP_TOOL_PREFIX", "a_")],
    );
    let capabilities = &report["capabilities"];
    assert_eq!(
        capabilities["resources"],
        json!({"subscribe": true, "listChanged": false})
    );
    let uris = strings_of(&report["resources"], "uri");
    assert_eq!(uris.len(), 7, "each URI once: {uris:?}");
    assert!(uris.contains(&UNLOCKED) && uris.contains(&STATIC));
    let templates = strings_of(&report["templates"], "uriTemplate");
    assert_eq!(
        templates,
        [
            "demo://resource/dynamic/blob/{resourceId}",
            "demo://resource/dynamic/text/{resourceId}"
        ]
    );
    let prompts = strings_of(&report["prompts"], "name");
    let expected: Vec<String> = ["a", "b"]
        .iter()
        .flat_map(|server| {
            [
                "args-prompt",
                "completable-prompt",
                "resource-prompt",
                "simple-prompt",
            ]
            .map(|prompt| format!("{server}_{prompt}"))
        })
        .collect();
    assert_eq!(prompts, expected);
    assert!(
        proxy.logged("several servers offer this resource URI"),
        "a URI both servers offer is logged"
    );

    assert!(result_of(&report, "read_static")["contents"][0]["text"].is_string());
    assert!(result_of(&report, "read_template")["contents"][0]["text"].is_string());
    assert_eq!(error_of(&report, "read_not_served")["code"], -32002);
    assert_eq!(
        result_of(&report, "prompt_args")["messages"][0]["content"]["text"],
        "What's weather in Paris, TX?"
    );
    assert_eq!(error_of(&report, "prompt_missing_argument")["code"], -32602);
    assert_eq!(
        result_of(&report, "complete_department")["completion"]["values"],
        json!(["Sales", "Support"])
    );
    assert_eq!(
        result_of(&report, "complete_template")["completion"]["values"],
        json!(["7"])
    );
    assert_eq!(result_of(&report, "subscribe"), &json!({}));
    assert_eq!(
        report["updated"], STATIC,
        "the subscription went to server a, whose updates a_toggle-subscriber-updates started"
    );
}

/// A subscription outlives its upstream connection: when the server is
/// restarted, the proxy subscribes again on the new connection, and the new
/// server's updates reach the session that subscribed before.
#[test]
fn a_subscription_is_sent_again_after_the_upstream_restarts() {
    let scratch = tempfile::tempdir().expect("a temp dir");
    let (lock_path, _) = everything_lock(scratch.path());
    let marker = unique_marker("gateway-resubscribe");
    let proxy = Launch::serve()
        .args(&[
            "--api-key",
            KEY,
            "--lock",
            lock_path.to_str().expect("a UTF-8 path"),
        ])
        .env(&[
            ("RUST_LOG", "warn,mcpo_runtime=debug"),
            ("MCPO_TEST_MARKER", &marker),
        ])
        .start_ready();

    let mut client = Command::new(mcp_python())
        .arg(client_script("surface_client.py"))
        .args(["resubscribe", &proxy.url("/mcp"), KEY])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the client starts");
    let mut lines = BufReader::new(client.stdout.take().expect("stdout is piped")).lines();
    let first = lines.next().expect("a line").expect("the client's stdout");
    assert_eq!(first, r#"{"subscribed": true}"#);
    // Its log line may reach the test's reader after the client's answer.
    assert!(wait_for(Duration::from_secs(10), || proxy_logged(
        &proxy,
        "resource subscribed upstream",
        STATIC
    )));

    // Kill the server: the proxy starts another, and subscribes again.
    let upstreams: Vec<i32> = processes_with_marker(&marker)
        .into_iter()
        .filter(|pid| *pid != proxy.pid())
        .collect();
    assert!(!upstreams.is_empty(), "the upstream runs");
    for pid in &upstreams {
        // SAFETY: a signal to a process this test started.
        unsafe {
            libc::kill(*pid, libc::SIGKILL);
        }
    }
    assert!(
        wait_for(Duration::from_secs(30), || proxy_logged(
            &proxy,
            "resource subscription sent again",
            STATIC
        )),
        "the subscription was sent again on the new connection"
    );

    let mut stdin = client.stdin.take().expect("stdin is piped");
    writeln!(stdin, "go").expect("the client reads on");
    drop(stdin);
    let last = lines
        .next()
        .expect("the report")
        .expect("the client's stdout");
    let report: Value = serde_json::from_str(&last).expect("JSON");
    assert!(client.wait().expect("the client ends").success());
    assert_eq!(result_of(&report, "subscribe"), &json!({}));
    assert_eq!(
        report["updated"], STATIC,
        "the restarted server's update reached the session: {report}"
    );
}
