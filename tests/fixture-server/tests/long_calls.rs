//! `--tasks-extension` over stdio, as raw JSON-RPC: tasks (SEP-2663) and
//! multi round-trip requests (SEP-2322) on the stateless 2026-07-28 revision,
//! where every request carries its protocol version and client capabilities in
//! `_meta`; and what rmcp lets through on a 2025-11-25 `initialize` session.

mod common;

use std::time::{Duration, Instant};

use common::RawSession;
use serde_json::{Value, json};

const TASKS: &str = "io.modelcontextprotocol/tasks";

/// The elicitation `ext_ask` and `mrtr_ask` send under `inputRequests.colour`.
fn colour_request() -> Value {
    json!({
        "method": "elicitation/create",
        "params": {
            "mode": "form",
            "message": "Which colour?",
            "requestedSchema": {
                "type": "object",
                "properties": {"colour": {"type": "string"}},
                "required": ["colour"]
            }
        }
    })
}

/// A stateless 2026-07-28 session: per-request `_meta` instead of a handshake.
struct Stateless {
    session: RawSession,
}

impl Stateless {
    /// Starts the fixture with `--tasks-extension` on 2026-07-28 only and
    /// checks `server/discover`.
    fn start() -> Self {
        let session =
            RawSession::spawn(&["--tasks-extension", "--protocol-versions", "2026-07-28"]);
        let mut this = Self { session };
        let discovered = this.request("server/discover", json!({}), true);
        let result = &discovered["result"];
        assert_eq!(
            result["capabilities"]["extensions"][TASKS],
            json!({}),
            "{discovered}"
        );
        assert!(result["capabilities"]["tools"].is_object(), "{discovered}");
        this
    }

    /// Sends a request with the 2026-07-28 `_meta`; `tasks` says whether the
    /// client declares the tasks extension on it.
    fn request(&mut self, method: &str, mut params: Value, tasks: bool) -> Value {
        let capabilities = if tasks {
            json!({"extensions": {TASKS: {}}})
        } else {
            json!({})
        };
        params["_meta"] = json!({
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientInfo": {"name": "long-calls-test", "version": "0"},
            "io.modelcontextprotocol/clientCapabilities": capabilities,
        });
        self.session.request(method, params)
    }

    /// `tools/call` from a client declaring the tasks extension; returns the result.
    fn call(&mut self, tool: &str, arguments: Value) -> Value {
        let response = self.request(
            "tools/call",
            json!({"name": tool, "arguments": arguments}),
            true,
        );
        assert!(response.get("result").is_some(), "{tool}: {response}");
        response["result"].clone()
    }

    /// Calls `tool`, checks the task handle, returns its id.
    fn start_task(&mut self, tool: &str, arguments: Value) -> String {
        let handle = self.call(tool, arguments);
        assert_eq!(handle["resultType"], "task", "{handle}");
        assert_eq!(handle["status"], "working", "{handle}");
        assert_eq!(handle["ttlMs"], 60_000, "{handle}");
        assert_eq!(handle["pollIntervalMs"], 200, "{handle}");
        for stamp in ["createdAt", "lastUpdatedAt"] {
            let stamp = handle[stamp].as_str().unwrap_or_default();
            assert!(
                stamp.len() >= 20 && stamp.as_bytes()[10] == b'T',
                "{handle}"
            );
        }
        handle["taskId"].as_str().expect("a taskId").to_owned()
    }

    /// `tasks/get`; returns the result.
    fn get(&mut self, task_id: &str) -> Value {
        let response = self.request("tasks/get", json!({"taskId": task_id}), true);
        assert_eq!(response["result"]["resultType"], "complete", "{response}");
        assert_eq!(response["result"]["taskId"], task_id, "{response}");
        response["result"].clone()
    }

    /// Polls `tasks/get` until the task leaves `working`.
    fn wait_until_settled(&mut self, task_id: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let task = self.get(task_id);
            if task["status"] != "working" {
                return task;
            }
            assert!(Instant::now() < deadline, "still working: {task}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// A new session's task of `tool` (no arguments): the session, the task's
/// id, and its state at once.
fn with_task(tool: &str) -> (Stateless, String, Value) {
    let mut stateless = Stateless::start();
    let id = stateless.start_task(tool, json!({}));
    let state = stateless.get(&id);
    (stateless, id, state)
}

fn assert_invalid_params(response: &Value) {
    assert_eq!(response["error"]["code"], -32602, "{response}");
}

#[test]
fn tools_are_appended_with_object_schemas() {
    let mut stateless = Stateless::start();
    let listed = stateless.request("tools/list", json!({}), true);
    let tools = listed["result"]["tools"].as_array().expect("tools");
    let names: Vec<&str> = tools.iter().filter_map(|t| t["name"].as_str()).collect();
    assert_eq!(names, ["ext_slow", "ext_ask", "ext_fail", "mrtr_ask"]);
    for tool in tools {
        assert_eq!(tool["inputSchema"]["type"], "object", "{tool}");
    }
    assert_eq!(tools[0]["inputSchema"]["required"], json!(["seconds"]));
}

#[test]
fn ext_slow_is_a_task_that_completes() {
    let mut stateless = Stateless::start();
    let started = Instant::now();
    let id = stateless.start_task("ext_slow", json!({"seconds": 1}));
    let working = stateless.get(&id);
    assert_eq!(working["status"], "working", "{working}");
    assert_eq!(working["statusMessage"], "step 0", "{working}");
    let done = stateless.wait_until_settled(&id);
    assert!(started.elapsed() >= Duration::from_millis(900));
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(
        done["result"]["content"],
        json!([{"type": "text", "text": "done after 1 s"}])
    );

    let half = stateless.start_task("ext_slow", json!({"seconds": 0.5}));
    let done = stateless.wait_until_settled(&half);
    assert_eq!(done["result"]["content"][0]["text"], "done after 0.5 s");
}

#[test]
fn ext_ask_waits_for_tasks_update() {
    let (mut stateless, id, asking) = with_task("ext_ask");
    assert_eq!(asking["status"], "input_required", "{asking}");
    assert_eq!(asking["inputRequests"], json!({"colour": colour_request()}));

    let wrong_key = stateless.request(
        "tasks/update",
        json!({"taskId": id, "inputResponses": {"size": {"action": "decline"}}}),
        true,
    );
    assert_invalid_params(&wrong_key);

    let answer = json!({"action": "accept", "content": {"colour": "green"}});
    let ack = stateless.request(
        "tasks/update",
        json!({"taskId": id, "inputResponses": {"colour": answer}}),
        true,
    );
    assert_eq!(ack["result"], json!({"resultType": "complete"}), "{ack}");
    let done = stateless.get(&id);
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(
        done["result"]["content"][0]["text"],
        r#"answer: {"action":"accept","content":{"colour":"green"}}"#
    );

    // No longer waiting for input.
    let again = stateless.request(
        "tasks/update",
        json!({"taskId": id, "inputResponses": {"colour": answer}}),
        true,
    );
    assert_invalid_params(&again);
}

#[test]
fn ext_fail_fails() {
    let (_, _, failed) = with_task("ext_fail");
    assert_eq!(failed["status"], "failed", "{failed}");
    assert_eq!(
        failed["error"],
        json!({"code": -32603, "message": "the task failed on purpose"})
    );
}

#[test]
fn mrtr_ask_asks_then_answers_the_retry() {
    let mut stateless = Stateless::start();
    let asked = stateless.call("mrtr_ask", json!({}));
    assert_eq!(asked["resultType"], "input_required", "{asked}");
    assert_eq!(asked["inputRequests"], json!({"colour": colour_request()}));
    assert_eq!(asked["requestState"], "asked-once");

    let answer = json!({"action": "accept", "content": {"colour": "blue"}});
    let retry = |state: Value| {
        json!({
            "name": "mrtr_ask",
            "arguments": {},
            "inputResponses": {"colour": answer},
            "requestState": state,
        })
    };
    let answered = stateless.request("tools/call", retry(json!("asked-once")), false);
    assert_eq!(answered["result"]["resultType"], "complete", "{answered}");
    assert_eq!(
        answered["result"]["content"][0]["text"],
        r#"answer: {"action":"accept","content":{"colour":"blue"}}"#
    );

    let wrong_state = stateless.request("tools/call", retry(json!("forged")), false);
    assert_invalid_params(&wrong_state);
    let mut no_state = retry(Value::Null);
    no_state.as_object_mut().unwrap().remove("requestState");
    let no_state = stateless.request("tools/call", no_state, false);
    assert_invalid_params(&no_state);
}

#[test]
fn tasks_cancel_stops_ext_slow() {
    let mut stateless = Stateless::start();
    let id = stateless.start_task("ext_slow", json!({"seconds": 30}));
    let ack = stateless.request("tasks/cancel", json!({"taskId": id}), true);
    assert_eq!(ack["result"], json!({"resultType": "complete"}), "{ack}");
    let cancelled = stateless.get(&id);
    assert_eq!(cancelled["status"], "cancelled", "{cancelled}");
    assert!(
        stateless
            .session
            .wait_for_stderr(&format!("task {id} cancelled"), Duration::from_secs(10)),
        "no `task {id} cancelled` on stderr"
    );
    // A finished task stays as it is.
    let ack = stateless.request("tasks/cancel", json!({"taskId": id}), true);
    assert!(ack.get("result").is_some(), "{ack}");
}

#[test]
fn unknown_tasks_and_undeclared_clients() {
    let mut stateless = Stateless::start();
    for (method, params) in [
        ("tasks/get", json!({"taskId": "no-such-task"})),
        ("tasks/cancel", json!({"taskId": "no-such-task"})),
        (
            "tasks/update",
            json!({"taskId": "no-such-task", "inputResponses": {}}),
        ),
    ] {
        let response = stateless.request(method, params, true);
        assert_invalid_params(&response);
        assert_eq!(response["error"]["message"], "unknown task", "{response}");
    }

    // A client that did not declare the extension gets no tasks.
    let plain = stateless.request(
        "tools/call",
        json!({"name": "ext_slow", "arguments": {"seconds": 0.2}}),
        false,
    );
    assert_eq!(plain["result"]["resultType"], "complete", "{plain}");
    assert_eq!(plain["result"]["content"][0]["text"], "done after 0.2 s");
    let ask = stateless.request(
        "tools/call",
        json!({"name": "ext_ask", "arguments": {}}),
        false,
    );
    assert_eq!(ask["result"]["isError"], true, "{ask}");
    assert_eq!(
        ask["result"]["content"][0]["text"],
        "ext_ask needs the tasks extension"
    );
    let fail = stateless.request(
        "tools/call",
        json!({"name": "ext_fail", "arguments": {}}),
        false,
    );
    assert_eq!(fail["error"]["code"], -32603, "{fail}");
    // rmcp: -32021 Missing Required Client Capability.
    let get = stateless.request("tasks/get", json!({"taskId": "x"}), false);
    assert_eq!(get["error"]["code"], -32021, "{get}");
}

/// What rmcp 3.11 allows on a session opened with `initialize` at
/// 2025-11-25: tasks, when the client declared the extension in its
/// `initialize` capabilities; not MRTR (2026-07-28 only).
#[test]
fn on_a_2025_11_25_session_tasks_work_and_mrtr_does_not() {
    let mut session = RawSession::spawn(&["--tasks-extension"]);
    let initialized = session.request(
        "initialize",
        json!({
            "protocolVersion": "2025-11-25",
            "capabilities": {"extensions": {TASKS: {}}},
            "clientInfo": {"name": "legacy-test", "version": "0"}
        }),
    );
    assert_eq!(
        initialized["result"]["protocolVersion"], "2025-11-25",
        "{initialized}"
    );
    assert_eq!(
        initialized["result"]["capabilities"]["extensions"][TASKS],
        json!({})
    );
    session.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));

    let handle = session.request("tools/call", json!({"name": "ext_ask", "arguments": {}}));
    assert_eq!(handle["result"]["resultType"], "task", "{handle}");
    let id = handle["result"]["taskId"].as_str().unwrap().to_owned();
    let asking = session.request("tasks/get", json!({"taskId": id}));
    assert_eq!(asking["result"]["status"], "input_required", "{asking}");

    let mrtr = session.request("tools/call", json!({"name": "mrtr_ask", "arguments": {}}));
    assert_eq!(mrtr["error"]["code"], -32600, "{mrtr}");
}
