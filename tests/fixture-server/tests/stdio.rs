//! The fixture over stdio: tool listing (paging, verbatim), every behaviour, and how
//! the process exits.

mod common;

use std::time::{Duration, Instant};

use common::{
    RawSession, call, call_ok, file_tools, first_text, stdio_client, tool_file_json, tools_file,
};
use rmcp::{ServiceError, model::ErrorCode};
use serde_json::{Value, json};

#[tokio::test]
async fn thousand_tools_in_pages_of_100_all_arrive() {
    let client = stdio_client(&["--generate-tools", "1000", "--page-size", "100"]).await;
    let tools = client.list_all_tools().await.expect("tools/list");
    let names: Vec<String> = tools.iter().map(|tool| tool.name.to_string()).collect();
    let expected: Vec<String> = (0..1000).map(|index| format!("tool_{index:04}")).collect();
    assert_eq!(names, expected);
    client.cancel().await.expect("clean client shutdown");
}

#[test]
fn pages_really_are_pages() {
    let mut session = RawSession::start(&["--generate-tools", "1000", "--page-size", "100"]);
    let mut cursor: Option<String> = None;
    let mut page_lengths = Vec::new();
    loop {
        let params = match &cursor {
            Some(cursor) => json!({"cursor": cursor}),
            None => json!({}),
        };
        let response = session.request("tools/list", params);
        let result = &response["result"];
        page_lengths.push(result["tools"].as_array().map_or(0, Vec::len));
        match result.get("nextCursor").and_then(Value::as_str) {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(page_lengths, vec![100; 10]);
}

#[test]
fn bad_cursor_is_invalid_params() {
    let mut session = RawSession::start(&["--generate-tools", "10", "--page-size", "3"]);
    let response = session.request("tools/list", json!({"cursor": "not-a-cursor"}));
    assert_eq!(response["error"]["code"], json!(-32602), "{response}");
}

#[test]
fn no_flags_means_no_tools() {
    let mut session = RawSession::start(&[]);
    let response = session.request("tools/list", json!({}));
    assert_eq!(response["result"]["tools"], json!([]), "{response}");
}

#[test]
fn tools_on_the_wire_equal_the_file() {
    for file in [
        "errors.json",
        "changed-v1.json",
        "changed-v2.json",
        "future-fields.json",
    ] {
        let mut session = RawSession::start(&["--tools", &tools_file(file)]);
        let response = session.request("tools/list", json!({}));
        assert_eq!(
            response["result"]["tools"],
            Value::Array(file_tools(file)),
            "{file}"
        );
    }
}

/// The schema corpus (`tests/corpus/tools.json`, written by the schema work) is served
/// verbatim too, paged. Skipped, with a note, while that file does not exist yet.
#[test]
fn schema_corpus_is_served_verbatim_when_present() {
    let corpus = concat!(env!("CARGO_MANIFEST_DIR"), "/../corpus/tools.json");
    let Ok(text) = std::fs::read_to_string(corpus) else {
        eprintln!("note: {corpus} not found; corpus check skipped");
        return;
    };
    let file: Value = serde_json::from_str(&text).expect("corpus is JSON");
    let mut session = RawSession::start(&["--tools", corpus, "--page-size", "7"]);
    let mut served = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let params = cursor.as_ref().map_or(json!({}), |c| json!({"cursor": c}));
        let response = session.request("tools/list", params);
        let result = &response["result"];
        served.extend(result["tools"].as_array().cloned().unwrap_or_default());
        match result.get("nextCursor").and_then(Value::as_str) {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(Value::Array(served), file["tools"]);
}

#[tokio::test]
async fn rmcp_client_sees_the_same_tools_as_the_file() {
    let client = stdio_client(&["--tools", &tools_file("changed-v1.json")]).await;
    let tools = client.list_all_tools().await.expect("tools/list");
    let served = serde_json::to_value(&tools).expect("tools serialize");
    assert_eq!(served, Value::Array(file_tools("changed-v1.json")));
    client.cancel().await.expect("clean client shutdown");
}

#[tokio::test]
async fn restored_fields_do_not_disturb_an_rmcp_client() {
    let client = stdio_client(&["--tools", &tools_file("future-fields.json")]).await;
    let tools = client.list_all_tools().await.expect("tools/list");
    assert_eq!(tools.len(), 2);
    let result = call_ok(&client, "long_job", json!({"job": "x"})).await;
    assert_eq!(first_text(&result), r#"{"job":"x"}"#);
    client.cancel().await.expect("clean client shutdown");
}

#[tokio::test]
async fn server_info_comes_from_the_flags() {
    let client = stdio_client(&["--name", "weather", "--server-version", "2.3.4"]).await;
    let info = client.peer_info().expect("initialize result");
    let server = info.server_info.as_ref().expect("serverInfo");
    assert_eq!(server.name, "weather");
    assert_eq!(server.version, "2.3.4");
    assert!(info.capabilities.tools.is_some());
    client.cancel().await.expect("clean client shutdown");
}

#[tokio::test]
async fn echo_returns_the_arguments_as_received() {
    let client = stdio_client(&["--tools", &tools_file("errors.json")]).await;
    let arguments = json!({
        "message": "héllo \"world\" */ `code`",
        "count": 3,
        "extra": {"nested": [1, 2.5, null, true], "big": 12345678901234567u64}
    });

    let plain = call_ok(&client, "echo", arguments.clone()).await;
    assert_ne!(plain.is_error, Some(true));
    assert_eq!(plain.structured_content, None, "echo has no outputSchema");
    assert_eq!(plain.content.len(), 1);
    let text = first_text(&plain);
    assert_eq!(serde_json::from_str::<Value>(text).unwrap(), arguments);

    let typed = call_ok(&client, "echo_structured", arguments.clone()).await;
    assert_eq!(typed.structured_content, Some(arguments));

    let without_arguments = call_ok(&client, "echo", Value::Null).await;
    assert_eq!(first_text(&without_arguments), "{}");
    client.cancel().await.expect("clean client shutdown");
}

#[tokio::test]
async fn error_behaviours_fail_the_way_they_say() {
    let client = stdio_client(&["--tools", &tools_file("errors.json")]).await;

    let is_error = call_ok(&client, "fails_with_is_error", json!({})).await;
    assert_eq!(is_error.is_error, Some(true));
    assert_eq!(
        first_text(&is_error),
        "Cannot open /nonexistent: no such file"
    );

    let expectations = [
        (
            "fails_with_invalid_params",
            ErrorCode::INVALID_PARAMS,
            "Invalid params: value must be even",
            None,
        ),
        (
            "fails_with_method_not_found",
            ErrorCode::METHOD_NOT_FOUND,
            "Method not found",
            None,
        ),
        (
            "fails_with_internal_error",
            ErrorCode::INTERNAL_ERROR,
            "Internal error: database is locked",
            Some(json!({"retryable": true})),
        ),
        (
            "no_such_tool",
            ErrorCode::INVALID_PARAMS,
            "Unknown tool: no_such_tool",
            None,
        ),
    ];
    for (tool, code, message, data) in expectations {
        match client.call_tool(call(tool, json!({}))).await {
            Err(ServiceError::McpError(error)) => {
                assert_eq!(error.code, code, "{tool}");
                assert_eq!(error.message, message, "{tool}");
                assert_eq!(error.data, data, "{tool}");
            }
            other => panic!("{tool}: expected a JSON-RPC error, got {other:?}"),
        }
    }
    client.cancel().await.expect("clean client shutdown");
}

#[tokio::test]
async fn content_behaviours_return_their_blocks_verbatim() {
    let file = tool_file_json("errors.json");
    let client = stdio_client(&["--tools", &tools_file("errors.json")]).await;
    let content_tools: Vec<(&String, &Value)> = file["behaviors"]
        .as_object()
        .expect("behaviors object")
        .iter()
        .filter(|(_, behavior)| behavior["kind"] == "content")
        .collect();
    assert!(
        content_tools.len() >= 7,
        "errors.json covers every block type"
    );
    for (tool, behavior) in content_tools {
        let result = call_ok(&client, tool, json!({})).await;
        assert_ne!(result.is_error, Some(true), "{tool}");
        let content = serde_json::to_value(&result.content).expect("content serializes");
        assert_eq!(content, behavior["blocks"], "{tool}");
    }
    client.cancel().await.expect("clean client shutdown");
}

#[tokio::test]
async fn structured_behaviour_returns_its_value_and_text() {
    let client = stdio_client(&["--tools", &tools_file("errors.json")]).await;
    let result = call_ok(&client, "returns_structured", json!({})).await;
    assert_eq!(
        result.structured_content,
        Some(json!({"city": "Paris", "temperature": 21.5, "conditions": ["sunny", "windy"]}))
    );
    assert_eq!(first_text(&result), "Paris: 21.5 °C, sunny and windy");
    client.cancel().await.expect("clean client shutdown");
}

#[tokio::test]
async fn sleeps_waits_then_echoes() {
    let errors = tool_file_json("errors.json");
    assert!(
        errors["behaviors"]["sleeps"]["ms"]
            .as_u64()
            .is_some_and(|ms| ms >= 10_000),
        "the e2e timeout bounds (tests/proxy_contract/runtime_contract.rs) rely on a sleep of 10 s or more"
    );
    let arguments = json!({"message": "late"});

    // What a proxy with a short timeout sees: nothing within the deadline.
    let client = stdio_client(&["--tools", &tools_file("errors.json")]).await;
    let early = tokio::time::timeout(
        Duration::from_millis(500),
        client.call_tool(call("sleeps", arguments.clone())),
    )
    .await;
    assert!(early.is_err(), "sleeps answered before its sleep ended");
    client.cancel().await.expect("clean client shutdown");

    // The answer after the sleep, from a copy of errors.json whose sleep is
    // short enough to wait for.
    let mut short = errors;
    short["behaviors"]["sleeps"]["ms"] = json!(1500);
    let directory =
        std::env::temp_dir().join(format!("fixture-short-sleep-{}", std::process::id()));
    std::fs::create_dir_all(&directory).unwrap();
    let path = directory.join("errors.json");
    std::fs::write(&path, short.to_string()).unwrap();
    let client = stdio_client(&["--tools", path.to_str().unwrap()]).await;
    // The fixture read the file at startup.
    let _ = std::fs::remove_dir_all(&directory);

    let started = Instant::now();
    let result = call_ok(&client, "sleeps", arguments.clone()).await;
    assert!(
        started.elapsed() >= Duration::from_millis(1400),
        "answered after {:?}, before its 1.5 s sleep",
        started.elapsed()
    );
    let text = first_text(&result);
    assert_eq!(serde_json::from_str::<Value>(text).unwrap(), arguments);
    client.cancel().await.expect("clean client shutdown");
}

#[test]
fn crashes_exits_with_code_1_without_answering() {
    let mut session = RawSession::start(&["--tools", &tools_file("errors.json")]);
    session.request_expecting_no_answer("tools/call", json!({"name": "crashes", "arguments": {}}));
    let status = session.wait_exit(Duration::from_secs(10));
    assert_eq!(status.code(), Some(1));
}

#[test]
fn stdin_eof_exits_cleanly() {
    let mut session = RawSession::start(&["--generate-tools", "3"]);
    session.close_stdin();
    let status = session.wait_exit(Duration::from_secs(10));
    assert_eq!(status.code(), Some(0));
}

#[test]
fn sigterm_exits_cleanly() {
    let mut session = RawSession::start(&["--generate-tools", "3"]);
    common::sigterm(session.pid());
    let status = session.wait_exit(Duration::from_secs(10));
    assert_eq!(status.code(), Some(0));
}

#[test]
fn invalid_tool_file_fails_at_startup() {
    let directory = std::env::temp_dir().join(format!("fixture-bad-{}", std::process::id()));
    std::fs::create_dir_all(&directory).unwrap();
    let path = directory.join("bad.json");
    std::fs::write(
        &path,
        r#"{"tools": [], "behaviors": {"ghost": {"kind": "crash"}}}"#,
    )
    .unwrap();
    let output = std::process::Command::new(common::BIN)
        .arg("--tools")
        .arg(&path)
        .output()
        .expect("fixture runs");
    let _ = std::fs::remove_dir_all(&directory);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("ghost"), "{stderr}");
}

/// A tool file of its own for a reload test, removed on drop.
struct ScratchTools {
    directory: std::path::PathBuf,
}

impl ScratchTools {
    fn new(label: &str, text: &str) -> Self {
        let directory =
            std::env::temp_dir().join(format!("fixture-reload-{label}-{}", std::process::id()));
        std::fs::create_dir_all(&directory).unwrap();
        let scratch = Self { directory };
        scratch.write(text);
        scratch
    }

    fn path(&self) -> String {
        self.directory.join("tools.json").display().to_string()
    }

    /// Replaces the file in one step (a rename), so a reload never reads half of it.
    fn write(&self, text: &str) {
        let partial = self.directory.join("tools.json.partial");
        std::fs::write(&partial, text).unwrap();
        std::fs::rename(&partial, self.path()).unwrap();
    }
}

impl Drop for ScratchTools {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.directory);
    }
}

fn tool_names(session: &mut RawSession) -> Vec<String> {
    let response = session.request("tools/list", json!({}));
    response["result"]["tools"]
        .as_array()
        .expect("a tool list")
        .iter()
        .map(|tool| tool["name"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// `--reload-tools-every-ms`: a changed file is served from then on, with
/// `notifications/tools/list_changed` (and the `listChanged` capability); a file
/// that does not parse leaves the served tools alone.
#[test]
fn reload_serves_the_changed_file_and_announces_it() {
    let one = r#"{"tools": [{"name": "one", "inputSchema": {"type": "object"}}]}"#;
    let scratch = ScratchTools::new("announce", one);
    let path = scratch.path();
    let mut session = RawSession::start(&["--tools", &path, "--reload-tools-every-ms", "20"]);
    assert_eq!(
        session.initialized["result"]["capabilities"]["tools"]["listChanged"],
        json!(true),
        "{}",
        session.initialized
    );
    assert_eq!(tool_names(&mut session), ["one"]);

    scratch.write(
        r#"{"tools": [{"name": "one", "inputSchema": {"type": "object"}},
                      {"name": "two", "inputSchema": {"type": "object"}, "execution": {"taskSupport": "optional"}}],
            "behaviors": {"two": {"kind": "error", "message": "two failed"}}}"#,
    );
    assert!(
        session.wait_for_notification("notifications/tools/list_changed", Duration::from_secs(10)),
        "no list_changed after the file changed"
    );
    let listed = session.request("tools/list", json!({}));
    // Fields outside rmcp's model are restored for a reloaded file too.
    assert_eq!(
        listed["result"]["tools"][1],
        json!({"name": "two", "inputSchema": {"type": "object"}, "execution": {"taskSupport": "optional"}}),
        "{listed}"
    );
    let called = session.request("tools/call", json!({"name": "two", "arguments": {}}));
    assert_eq!(called["result"]["isError"], json!(true), "{called}");
    assert_eq!(called["result"]["content"][0]["text"], "two failed");

    // Broken: ignored (a note on stderr), the last good tools stay.
    scratch.write(r#"{"tools": [{"name": "three"}]}"#);
    assert!(!session.wait_for_notification(
        "notifications/tools/list_changed",
        Duration::from_millis(300)
    ));
    assert_eq!(tool_names(&mut session), ["one", "two"]);

    scratch.write(one);
    assert!(
        session.wait_for_notification("notifications/tools/list_changed", Duration::from_secs(10))
    );
    assert_eq!(tool_names(&mut session), ["one"]);
    let gone = session.request("tools/call", json!({"name": "two", "arguments": {}}));
    assert_eq!(gone["error"]["code"], json!(-32602), "{gone}");
}

/// `--reload-silently`: the tools change without a word; only listing again shows it.
#[test]
fn silent_reload_changes_the_tools_without_a_notification() {
    let scratch = ScratchTools::new(
        "silent",
        r#"{"tools": [{"name": "one", "inputSchema": {"type": "object"}}]}"#,
    );
    let path = scratch.path();
    let mut session = RawSession::start(&[
        "--tools",
        &path,
        "--reload-tools-every-ms",
        "20",
        "--reload-silently",
    ]);
    let capabilities = &session.initialized["result"]["capabilities"];
    assert!(
        capabilities["tools"].get("listChanged").is_none()
            || capabilities["tools"]["listChanged"] == json!(false),
        "{capabilities}"
    );
    scratch.write(r#"{"tools": [{"name": "renamed", "inputSchema": {"type": "object"}}]}"#);
    let deadline = Instant::now() + Duration::from_secs(10);
    while tool_names(&mut session) != ["renamed"] {
        assert!(Instant::now() < deadline, "the change was never served");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!session.wait_for_notification(
        "notifications/tools/list_changed",
        Duration::from_millis(200)
    ));
}

#[test]
fn reload_needs_a_tool_file() {
    let output = std::process::Command::new(common::BIN)
        .args(["--generate-tools", "3", "--reload-tools-every-ms", "20"])
        .output()
        .expect("fixture runs");
    assert!(!output.status.success());
}
