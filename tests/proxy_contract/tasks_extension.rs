//! Long calls of a 2026-07-28 upstream (README "Long-running tools:
//! progress, tasks and forms"): the fixture server with `--tasks-extension`
//! on the stateless revision only, snapshotted and served by `mcpo-gen
//! serve`. Its server makes a task of a call when it likes (the tasks
//! extension, SEP-2663: polled with `tasks/get`, forms answered with
//! `tasks/update`, stopped with `tasks/cancel`), and `mrtr_ask` asks for
//! input before it answers (an `input_required` result, SEP-2322: the call
//! is sent again with the answer). Called over REST plainly, with `Prefer:
//! respond-async`, and over the MCP gateway by the Python SDK's client.
//!
//! The server's tools (tests/fixture-server/README.md): `ext_slow` (a task
//! done after `seconds`), `ext_ask` (a task that asks "Which colour?"),
//! `ext_fail` (a task that fails), `mrtr_ask` (not a task, the same form).

use std::time::{Duration, Instant};

use mcpo_gen_e2e::*;
use serde_json::{Value, json};

use super::tasks::{
    SnapshotProxy, assert_completes_with, assert_waits_for_half_a_second_task, get_task, log_lines,
    post_tool, serve_snapshot, start_async, until_ended,
};
use super::*;

/// `mcpo-gen serve --api-key KEY FLAGS -- mcp-fixture-server
/// --tasks-extension --protocol-versions 2026-07-28`, once connected.
fn extension_proxy(flags: &[&str]) -> SnapshotProxy {
    let mut upstream = vec![fixture_binary().display().to_string()];
    upstream.extend(["--tasks-extension", "--protocol-versions", "2026-07-28"].map(String::from));
    serve_snapshot(flags, &upstream)
}

/// What the fixture answers once its colour form got `answer`.
fn answered(answer: &Value) -> Value {
    json!(format!("answer: {answer}"))
}

/// `ext_ask` started with `Prefer: respond-async` on `proxy`: its task
/// shows the upstream's form (`input_required`, its message and schema),
/// the caller answers `colour`, and the task completes with the upstream's
/// account of that answer.
#[track_caller]
fn answer_colour_form(proxy: &Running, colour: &str) {
    let (location, _) = start_async(proxy, "ext_ask", &json!({}));
    let mut waiting = None;
    let shown = wait_for(Duration::from_secs(10), || {
        let reply = get_task(proxy, &location);
        let shown = reply.body.get("inputRequest").is_some();
        waiting = Some(reply);
        shown
    });
    let waiting = waiting.expect("polled");
    assert!(shown, "no form: {waiting:?}");
    assert_eq!(waiting.body["status"], "input_required", "{waiting:?}");
    assert_eq!(
        waiting.body["inputRequest"]["message"], "Which colour?",
        "{waiting:?}"
    );
    assert_eq!(
        waiting.body["inputRequest"]["requestedSchema"]["required"],
        json!(["colour"]),
        "{waiting:?}"
    );
    let answer = json!({"action": "accept", "content": {"colour": colour}});
    let posted = Reply::from(
        http_client(Duration::from_secs(20))
            .post(proxy.url(&format!("{location}/input")))
            .bearer_auth(KEY)
            .json(&answer)
            .send()
            .expect("an answer"),
    );
    assert_eq!(posted.status, 200, "{posted:?}");
    assert_completes_with(
        proxy,
        &location,
        Duration::from_secs(10),
        &answered(&answer),
    );
}

/// `ext_slow` started with `Prefer: respond-async` on `proxy` and deleted
/// at once: it ends `cancelled`, and the upstream (in `upstream_log`'s log)
/// logs its `count`th cancellation.
#[track_caller]
fn cancel_async_slow_task(proxy: &Running, upstream_log: &Running, count: usize) {
    let (location, _) = start_async(proxy, "ext_slow", &json!({"seconds": 30}));
    let deleted = Reply::from(
        http_client(Duration::from_secs(20))
            .delete(proxy.url(&location))
            .bearer_auth(KEY)
            .send()
            .expect("an answer"),
    );
    assert_eq!(deleted.status, 200, "{deleted:?}");
    assert_eq!(deleted.body["status"], "cancelled", "{deleted:?}");
    assert!(
        wait_for(Duration::from_secs(5), || upstream_cancelled(
            upstream_log,
            count
        )),
        "the upstream did not log cancellation {count}; log:\n{}",
        log_lines(upstream_log).join("\n")
    );
}

/// The upstream logged a task's cancellation (`task <id> cancelled`).
fn upstream_cancelled(proxy: &Running, task_count: usize) -> bool {
    log_lines(proxy)
        .iter()
        .filter(|line| line.contains("task ") && line.ends_with(" cancelled"))
        .count()
        >= task_count
}

/// Plain REST calls answer as any call does: a task the upstream made of
/// the call is waited for (its result, or its failure as a 502), and the
/// forms asked for on the way, by a task or an `input_required` result,
/// are declined (a plain REST caller cannot answer them). The document
/// offers `Prefer: respond-async` for every tool of the server.
#[test]
fn plain_calls_wait_for_the_upstreams_task_and_decline_its_forms() {
    let proxy = extension_proxy(&[]);
    assert_waits_for_half_a_second_task(&proxy, "ext_slow");

    let failed = post_tool(&proxy, "ext_fail", &json!({}), false);
    assert_eq!(failed.status, 502, "{failed:?}");
    assert_eq!(
        detail_text(&failed),
        "The upstream MCP server returned error -32603: the task failed on purpose",
        "{failed:?}"
    );

    let declined = answered(&json!({"action": "decline"}));
    for tool in ["ext_ask", "mrtr_ask"] {
        let reply = post_tool(&proxy, tool, &json!({}), false);
        assert_eq!(
            (reply.status, &reply.body),
            (200, &declined),
            "{tool}: {reply:?}"
        );
    }

    let (status, text) = get(&proxy.url("/openapi.json")).expect("the document");
    assert_eq!(status, 200, "{text}");
    let document: Value = serde_json::from_str(&text).expect("JSON");
    for tool in ["ext_slow", "ext_ask", "ext_fail", "mrtr_ask"] {
        assert!(
            document["paths"][format!("/{tool}")]["post"]["responses"]
                .get("202")
                .is_some(),
            "{tool} offers respond-async"
        );
    }
    assert!(document["paths"].get("/tasks/{taskId}").is_some());
}

/// A caller that asks for progress (`Accept: text/event-stream`) gets the
/// upstream task's status messages as `progress` events while the proxy
/// polls it, then the result.
#[test]
fn a_plain_call_streams_the_upstream_tasks_status() {
    let proxy = extension_proxy(&[]);
    let response = http_client(Duration::from_secs(20))
        .post(proxy.url("/ext_slow"))
        .bearer_auth(KEY)
        .header("accept", "text/event-stream")
        // Long enough that a poll lands in its second second on a busy machine.
        .json(&json!({"seconds": 3}))
        .send()
        .expect("an answer");
    assert_eq!(response.status(), 200);
    let events = sse_messages(&response.text().expect("a stream"));
    let messages: Vec<&str> = events
        .iter()
        .filter_map(|event| event.get("message").and_then(Value::as_str))
        .collect();
    assert_eq!(messages.first(), Some(&"step 0"), "{events:?}");
    assert!(messages.contains(&"step 1"), "{events:?}");
    let last = events.last().expect("events");
    assert_eq!(
        last,
        &json!({"status": 200, "body": "done after 3 s"}),
        "{events:?}"
    );
}

/// `Prefer: respond-async`: the upstream's task is the caller's to poll
/// (202, then `GET` until it ended) and to answer: its form shows as
/// `input_required` with the upstream's message and schema, and the
/// caller's `POST .../input` reaches the upstream (`tasks/update`), whose
/// result says what was answered. A failed task ends `failed`.
#[test]
fn an_async_caller_answers_the_form_of_the_upstreams_task() {
    let proxy = extension_proxy(&[]);
    let (location, _) = start_async(&proxy, "ext_slow", &json!({"seconds": 0.3}));
    assert_completes_with(
        &proxy,
        &location,
        Duration::from_secs(10),
        &json!("done after 0.3 s"),
    );

    answer_colour_form(&proxy, "green");

    let (location, _) = start_async(&proxy, "ext_fail", &json!({}));
    let ended = until_ended(&proxy, &location, Duration::from_secs(10));
    assert_eq!(ended.body["status"], "failed", "{ended:?}");
    assert_eq!(ended.body["result"]["status"], 502, "{ended:?}");
}

/// A task ends upstream when its caller stops waiting: a plain call over
/// its `--tool-timeout` (504 at the timeout) and an async task its caller
/// deletes are each cancelled with `tasks/cancel`, which the upstream
/// logs; the tool serves on.
#[test]
fn an_abandoned_task_is_cancelled_upstream() {
    let proxy = extension_proxy(&["--tool-timeout", "ext_slow=1"]);
    let started = Instant::now();
    let late = post_tool(&proxy, "ext_slow", &json!({"seconds": 30}), false);
    assert_timed_out(
        &late,
        started,
        Duration::from_millis(900)..Duration::from_secs(5),
        "expected about 1 s, not the 30 s task",
    );
    assert!(
        wait_for(Duration::from_secs(5), || upstream_cancelled(&proxy, 1)),
        "the upstream did not log the task's cancellation; log:\n{}",
        log_lines(&proxy).join("\n")
    );

    cancel_async_slow_task(&proxy, &proxy, 2);
    let quick = post_tool(&proxy, "ext_slow", &json!({"seconds": 0}), false);
    assert_eq!((quick.status, &quick.body), (200, &json!("done after 0 s")));
}

/// An MCP client of the gateway that offers elicitation gets the
/// upstream's forms, of a task (`ext_ask`) and of an `input_required`
/// result (`mrtr_ask`) alike, and its answer reaches the upstream; one
/// that does not offer elicitation is asked nothing and the form is
/// declined.
#[test]
fn an_mcp_client_of_the_gateway_answers_the_upstreams_forms() {
    let proxy = extension_proxy(&[]);
    let url = proxy.url("/mcp");
    let content = json!({"colour": "blue"});
    let accepted = answered(&json!({"action": "accept", "content": content}));
    for tool in ["ext_ask", "mrtr_ask"] {
        let report = form_client(&url, tool, &content.to_string());
        let forms = report["forms"].as_array().expect("forms");
        assert_eq!(forms.len(), 1, "{tool}: {report}");
        assert_eq!(forms[0]["message"], "Which colour?", "{tool}: {report}");
        assert_eq!(
            report["call"]["result"]["content"][0]["text"], accepted,
            "{tool}: {report}"
        );
        let report = form_client(&url, tool, "-");
        assert_eq!(report["forms"], json!([]), "{tool}: {report}");
        assert_eq!(
            report["call"]["result"]["content"][0]["text"],
            answered(&json!({"action": "decline"})),
            "{tool}: {report}"
        );
    }
}

/// tests/clients/mcp/form_client.py's report of calling `tool` through the
/// gateway at `url`, answering forms with `content` (`-`: no callback).
fn form_client(url: &str, tool: &str, content: &str) -> Value {
    mcp_client_report(
        "form_client.py",
        &[url, tool, "{}", content],
        &[("PROXY_KEY", KEY)],
    )
}

/// The gateway runs tasks for MCP clients of the tasks extension: here the
/// client is a second proxy (rmcp's client, which declares the extension)
/// serving a snapshot of the first one's `/mcp`. Each call the outer proxy
/// makes becomes a task of the inner one, polled with `tasks/get`: a plain
/// call's result, an async task's form (the inner task's `input_required`,
/// answered by the outer REST caller and passed on with `tasks/update`),
/// and a cancel (`tasks/cancel` through both proxies to the upstream).
#[test]
fn the_gateway_runs_tasks_for_a_client_of_the_tasks_extension() {
    let inner = extension_proxy(&[]);
    let (outer, seen) = serve_of_gateway(&inner, KEY, &["--api-key", KEY]);
    assert!(
        seen["server"]["capabilities"]["extensions"]
            .get("io.modelcontextprotocol/tasks")
            .is_some(),
        "the gateway declares the extension: {}",
        seen["server"]
    );

    let slow = post_tool(&outer, "ext_slow", &json!({"seconds": 0.5}), false);
    assert_eq!(
        (slow.status, &slow.body),
        (200, &json!("done after 0.5 s")),
        "{slow:?}"
    );
    assert!(
        inner.logged("started as an upstream task"),
        "the inner proxy ran the call as its client's task"
    );

    answer_colour_form(&outer, "red");

    cancel_async_slow_task(&outer, &inner, 1);
}

/// A POST of `body` to the gateway at `url` as `key` (in `session`, once
/// there is one), as a streamable HTTP client sends it.
fn post_mcp(
    url: &str,
    key: &str,
    session: Option<&str>,
    body: &Value,
) -> reqwest::blocking::Response {
    let mut request = http_client(Duration::from_secs(20))
        .post(url)
        .bearer_auth(key)
        .header("accept", "application/json, text/event-stream");
    if let Some(session) = session {
        request = request
            .header("mcp-session-id", session)
            .header("mcp-protocol-version", "2025-11-25");
    }
    request.json(body).send().expect("the gateway answers")
}

/// One JSON-RPC request to the gateway at `url` as `key`, in the session
/// `session` (opened with [`extension_session`]); its answer.
fn rpc(url: &str, key: &str, session: &str, id: u64, method: &str, params: Value) -> Value {
    let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
    let text = post_mcp(url, key, Some(session), &body)
        .text()
        .unwrap_or_default();
    let messages = match serde_json::from_str::<Value>(&text) {
        Ok(message) => vec![message],
        Err(_) => sse_messages(&text),
    };
    messages
        .into_iter()
        .find(|message| message["id"] == id)
        .unwrap_or_else(|| panic!("no answer to {method}: {text}"))
}

/// A session of a raw client (key `key`) that declares the tasks
/// extension and offers no elicitation.
fn extension_session(url: &str, key: &str) -> String {
    let initialize = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {"extensions": {"io.modelcontextprotocol/tasks": {}}},
        "clientInfo": {"name": "raw-tasks", "version": "1"}}});
    let response = post_mcp(url, key, None, &initialize);
    let session = response
        .headers()
        .get("mcp-session-id")
        .and_then(|value| value.to_str().ok())
        .expect("a session id")
        .to_string();
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    assert_eq!(
        post_mcp(url, key, Some(&session), &initialized).status(),
        202
    );
    session
}

/// `tasks/get` of `task` until it is no longer `working` (10 s at most).
fn task_until_settled(url: &str, key: &str, session: &str, task: &str) -> Value {
    let mut last = Value::Null;
    let settled = wait_for(Duration::from_secs(10), || {
        last = rpc(url, key, session, 90, "tasks/get", json!({"taskId": task}));
        last["result"]["status"] != "working"
    });
    assert!(settled, "still working: {last}");
    last
}

/// The gateway's tasks at their edges, for a raw client of the extension:
/// an answer for another form than the one waited on is refused and the
/// form stays (the right answer then completes the task); a failed task
/// says the upstream's error; another caller's task id is unknown.
#[test]
fn the_gateways_tasks_keep_their_form_and_their_caller() {
    const OTHER_KEY: &str = "another-callers-key";
    let proxy = extension_proxy(&["--api-key", OTHER_KEY]);
    let url = proxy.url("/mcp");
    let session = extension_session(&url, KEY);
    // A call of `tool` answered with a task: that task's state once it
    // settled (no longer `working`), and its id.
    let settled_task = |id: u64, tool: &str| {
        let created = rpc(
            &url,
            KEY,
            &session,
            id,
            "tools/call",
            json!({"name": tool, "arguments": {}}),
        );
        assert_eq!(created["result"]["resultType"], "task", "{created}");
        let task = created["result"]["taskId"]
            .as_str()
            .expect("a task id")
            .to_string();
        (task_until_settled(&url, KEY, &session, &task), task)
    };

    let (waiting, task) = settled_task(1, "ext_ask");
    assert_eq!(waiting["result"]["status"], "input_required", "{waiting}");
    let requests = waiting["result"]["inputRequests"]
        .as_object()
        .expect("inputRequests");
    let (key, request) = requests.iter().next().expect("one input request");
    assert_eq!(request["params"]["message"], "Which colour?", "{waiting}");

    let answer = json!({"action": "accept", "content": {"colour": "teal"}});
    let stale = rpc(
        &url,
        KEY,
        &session,
        2,
        "tasks/update",
        json!({"taskId": task, "inputResponses": {"form-999": answer}}),
    );
    assert_eq!(stale["error"]["code"], -32602, "{stale}");
    let still = rpc(&url, KEY, &session, 3, "tasks/get", json!({"taskId": task}));
    assert_eq!(
        still["result"]["status"], "input_required",
        "the form stays: {still}"
    );

    // Another caller does not see the task.
    let other_session = extension_session(&url, OTHER_KEY);
    let foreign = rpc(
        &url,
        OTHER_KEY,
        &other_session,
        4,
        "tasks/get",
        json!({"taskId": task}),
    );
    assert_eq!(foreign["error"]["code"], -32602, "{foreign}");

    let answered = rpc(
        &url,
        KEY,
        &session,
        5,
        "tasks/update",
        json!({"taskId": task, "inputResponses": {key.as_str(): answer}}),
    );
    assert!(answered.get("error").is_none(), "{answered}");
    let done = task_until_settled(&url, KEY, &session, &task);
    assert_eq!(done["result"]["status"], "completed", "{done}");
    assert_eq!(
        done["result"]["result"]["content"][0]["text"],
        answered_text(&answer),
        "{done}"
    );

    let (failed, _) = settled_task(6, "ext_fail");
    assert_eq!(failed["result"]["status"], "failed", "{failed}");
    assert_eq!(
        failed["result"]["error"]["message"], "the task failed on purpose",
        "{failed}"
    );
}

/// [`answered`] as a plain string.
fn answered_text(answer: &Value) -> String {
    format!("answer: {answer}")
}
