//! The committed `generated-examples/everything-proxy`, started against the
//! real `@modelcontextprotocol/server-everything` over stdio and over
//! streamable HTTP, every tool called over HTTP with real results.

use std::time::{Duration, Instant};

use mcpo_gen_e2e::*;
use serde_json::{Value, json};

fn everything_binary() -> std::path::PathBuf {
    build(&["everything-proxy"]).join("everything-proxy")
}

fn stdio_proxy() -> Running {
    stdio_proxy_with(&[])
}

/// everything-proxy with `flags`, server-everything over stdio as its
/// upstream, once connected.
fn stdio_proxy_with(flags: &[&str]) -> Running {
    let server = node_server("server-everything");
    let upstream = ["--", "node", server.to_str().unwrap(), "stdio"];
    let proxy = start_proxy(&everything_binary(), &[flags, &upstream].concat());
    wait_ready(&proxy);
    proxy
}

/// The names of the tools in the committed everything-proxy lock.
fn locked_tools() -> std::collections::BTreeSet<String> {
    let lock = workspace_root().join("generated-examples/everything-proxy/mcp.lock.json");
    let lock: Value = serde_json::from_str(&std::fs::read_to_string(lock).unwrap()).unwrap();
    strings_of(&lock["tools"], "name")
        .into_iter()
        .map(str::to_string)
        .collect()
}

/// Calls every tool of the server (every tool the committed lock has: a
/// tool added to it fails this until it is called here) and checks what
/// each really returns.
fn call_every_tool(proxy: &Running) {
    let called = std::cell::RefCell::new(std::collections::BTreeSet::new());
    let call = |tool: &str, body: Value| {
        called.borrow_mut().insert(tool.to_string());
        let reply = proxy.post(&format!("/{tool}"), &body);
        assert_eq!(reply.status, 200, "{tool}: {reply:?}");
        reply.body
    };

    assert_eq!(
        call("echo", json!({"message": "héllo"})),
        json!("Echo: héllo")
    );
    assert_eq!(
        call("get-sum", json!({"a": 2, "b": 3.5})),
        json!("The sum of 2 and 3.5 is 5.5.")
    );

    // Several content blocks -> a list; images -> data URLs.
    let image = call("get-tiny-image", json!({}));
    let blocks = image.as_array().expect("several blocks are a list");
    assert!(
        blocks.iter().any(|b| b
            .as_str()
            .is_some_and(|s| s.starts_with("data:image/png;base64,"))),
        "{image}"
    );

    let annotated = call(
        "get-annotated-message",
        json!({"messageType": "error", "includeImage": true}),
    );
    assert!(
        annotated.to_string().contains("data:image/png;base64,"),
        "{annotated}"
    );

    // One text block holding JSON -> that JSON.
    let env = call("get-env", json!({}));
    assert!(env.is_object() && env.get("PATH").is_some(), "{env}");

    // Resource links and embedded resources come through as objects.
    let links = call("get-resource-links", json!({"count": 2}));
    let link_objects: Vec<&Value> = links
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["type"] == "resource_link")
        .collect();
    assert_eq!(link_objects.len(), 2, "{links}");
    assert!(
        link_objects[0]["uri"]
            .as_str()
            .unwrap()
            .starts_with("demo://")
    );

    let reference = call(
        "get-resource-reference",
        json!({"resourceType": "Text", "resourceId": 1}),
    );
    assert!(
        reference
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b["uri"] == "demo://resource/dynamic/text/1" && b["text"].is_string()),
        "{reference}"
    );

    // structuredContent, typed by the tool's outputSchema.
    let weather = call("get-structured-content", json!({"location": "Chicago"}));
    assert!(weather["temperature"].is_number(), "{weather}");
    assert!(weather["conditions"].is_string(), "{weather}");
    assert!(weather["humidity"].is_number(), "{weather}");

    let gzip = call(
        "gzip-file-as-resource",
        json!({"name": "a.gz", "data": "data:text/plain;base64,aGVsbG8=", "outputType": "resource"}),
    );
    assert_eq!(gzip["mimeType"], "application/gzip", "{gzip}");
    assert!(
        gzip["blob"].as_str().is_some_and(|b| b.starts_with("H4sI")),
        "{gzip}"
    );

    let logging = call("toggle-simulated-logging", json!({}));
    assert!(logging.as_str().unwrap().contains("logging"), "{logging}");
    let updates = call("toggle-subscriber-updates", json!({}));
    assert!(updates.as_str().unwrap().contains("update"), "{updates}");

    let long = call(
        "trigger-long-running-operation",
        json!({"duration": 0.2, "steps": 2}),
    );
    assert!(long.as_str().unwrap().contains("completed"), "{long}");

    // A tool that can only run as an MCP task (`execution.taskSupport:
    // "required"`): the proxy calls it upstream as a task and waits for its
    // result (about 4 s), which answers as a plain call's would.
    let research = call("simulate-research-query", json!({"topic": "rust"}));
    assert!(
        research
            .as_str()
            .is_some_and(|report| report.starts_with(&report_on("rust"))),
        "{research}"
    );

    // The proxy offers form elicitation upstream (so server-everything
    // lists this tool), but a plain call has nobody to fill the form in:
    // the proxy declines it, and the tool says so.
    assert_eq!(
        call("trigger-elicitation-request", json!({})),
        json!([
            "❌ User declined to provide the requested information.",
            "\nRaw result: {\n  \"action\": \"decline\"\n}"
        ])
    );

    // Schema enforcement on a real schema: enum value outside the list.
    let bad = proxy.post("/get-structured-content", &json!({"location": "Paris"}));
    assert_eq!(bad.status, 422, "{bad:?}");
    assert_eq!(
        bad.body["detail"][0]["loc"],
        json!(["body", "location"]),
        "{bad:?}"
    );

    assert_eq!(
        called.into_inner(),
        locked_tools(),
        "the tools called here are the locked ones"
    );
}

#[test]
fn every_tool_over_stdio() {
    let proxy = stdio_proxy();
    call_every_tool(&proxy);
}

#[test]
fn every_tool_over_streamable_http() {
    let server = start_everything_http();
    let proxy = start_proxy(
        &everything_binary(),
        &[
            "--server-type",
            "streamable-http",
            "--",
            &server.url("/mcp"),
        ],
    );
    wait_ready(&proxy);
    call_every_tool(&proxy);
}

#[test]
fn an_http_upstream_gets_the_configured_headers() {
    // The fixture refuses MCP requests without the header; the proxy sends it.
    let tools = workspace_root().join("tests/fixture-server/tools/errors.json");
    let server = start_fixture_http(&[
        "--tools",
        tools.to_str().unwrap(),
        "--require-header",
        "X-Api-Token: s3cr3t-value",
    ]);
    let url = server.url("/mcp");

    // Without the header the upstream never becomes ready; tool calls say so.
    let refused = start_proxy(
        &everything_binary(),
        &[
            "--on-drift",
            "ignore",
            "--server-type",
            "streamable-http",
            "--",
            &url,
        ],
    );
    let reply = refused.post("/echo", &json!({"message": "x"}));
    assert!(matches!(reply.status, 502 | 503), "{reply:?}");
    assert!(!reply.body.to_string().contains("s3cr3t"), "{reply:?}");

    let proxy = start_proxy(
        &everything_binary(),
        &[
            "--on-drift",
            "ignore",
            "--server-type",
            "streamable-http",
            "--header",
            "X-Api-Token: s3cr3t-value",
            "--",
            &url,
        ],
    );
    wait_ready(&proxy);
    // everything-proxy's `echo` route takes {message}; the fixture's echo
    // returns the arguments it received.
    let reply = proxy.post("/echo", &json!({"message": "through"}));
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.body["message"], "through", "{reply:?}");
}

/// A live snapshot of the pinned server gives the committed lock's server
/// facts, tools, resources, resource templates and prompts, fields rmcp does
/// not model included: server-everything declares the `tasks` capability
/// (its `simulate-research-query` needs task augmentation), which rmcp's
/// typed capabilities drop.
#[test]
fn a_live_snapshot_keeps_what_rmcp_does_not_model() {
    let server = node_server("server-everything");
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("everything-live");
    let dir = dir.to_str().unwrap();
    generate(dir, &["--", "node", server.to_str().unwrap(), "stdio"]);
    let read_lock = |path: &std::path::Path| -> Value {
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    };
    let live = read_lock(&std::path::Path::new(dir).join("mcp.lock.json"));
    let committed =
        read_lock(&workspace_root().join("generated-examples/everything-proxy/mcp.lock.json"));
    assert!(
        live["server"]["capabilities"]["tasks"].is_object(),
        "{}",
        live["server"]
    );
    assert!(
        !committed["prompts"].is_null(),
        "the committed lock has the server's prompts"
    );
    assert_snapshot_matches(&live, &committed, "over stdio");

    // The same over streamable HTTP, where rmcp's client parses JSON bodies
    // before a transport wrapper could see them.
    let http_server = start_everything_http();
    let http_dir = out.path().join("everything-live-http");
    let http_dir = http_dir.to_str().unwrap();
    generate(
        http_dir,
        &[
            "--server-type",
            "streamable-http",
            "--",
            &http_server.url("/mcp"),
        ],
    );
    let over_http = read_lock(&std::path::Path::new(http_dir).join("mcp.lock.json"));
    assert_snapshot_matches(&over_http, &committed, "over streamable HTTP");
}

/// `--env-path` (mcpo's flag): a dotenv file's variables reach a stdio
/// upstream's environment, and the proxy's own key does not.
#[test]
fn a_dotenv_file_reaches_the_stdio_upstream() {
    let (_scratch, env_file) = scratch_file(
        "upstream.env",
        "# for the upstream\nMCPO_TEST_DOTENV=\"from the dotenv file\"\n",
    );
    let server = node_server("server-everything");
    let proxy = Launch::proxy(&everything_binary())
        .args(&[
            "--env-path",
            env_file.to_str().unwrap(),
            "--",
            "node",
            server.to_str().unwrap(),
            "stdio",
        ])
        .env(&[("MCPO_API_KEY", "not-for-the-upstream")])
        .start();
    wait_ready(&proxy);
    let reply = post_json(
        &proxy.url("/get-env"),
        &json!({}),
        Some("not-for-the-upstream"),
    );
    assert_eq!(reply.status, 200, "{reply:?}");
    let text = reply.body.to_string();
    assert!(text.contains("from the dotenv file"), "{text}");
    assert!(!text.contains("not-for-the-upstream"), "{text}");
}

// Long-running tools: progress as server-sent events, task-required tools,
// `Prefer: respond-async` jobs and their cancellation.

/// The API key of the proxies started with one here.
const KEY: &str = "everything-test-key";
/// A second key of the same proxy, another caller.
const OTHER_KEY: &str = "everything-other-key";

/// The media type a caller asks for to get a call's progress.
const EVENT_STREAM: &str = "text/event-stream";

/// What server-everything logs on its stderr (which the proxy echoes into
/// its own log) once a research task was cancelled: its next stage fails to
/// update a task in that terminal status.
const TASK_CANCELLED: &str = "terminal status \"cancelled\"";

/// The research tool's report on `topic` starts so.
fn report_on(topic: &str) -> String {
    format!("# Research Report: {topic}")
}

/// A request to the proxy: `method` to `path`, with the bearer `key` (if
/// any), `headers`, and `body` sent as JSON (if any); the response, its
/// body not read yet.
fn send(
    proxy: &Running,
    method: reqwest::Method,
    path: &str,
    key: Option<&str>,
    headers: &[(&str, &str)],
    body: Option<String>,
) -> reqwest::blocking::Response {
    static CLIENT: std::sync::OnceLock<reqwest::blocking::Client> = std::sync::OnceLock::new();
    let client = CLIENT.get_or_init(|| {
        reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("an HTTP client")
    });
    let mut request = client.request(method.clone(), proxy.url(path));
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body);
    }
    request
        .send()
        .unwrap_or_else(|error| panic!("{method} {path}: {error}"))
}

/// `POST /{tool}` with `arguments` and the key [`KEY`], asking for an event
/// stream.
fn call_streamed(proxy: &Running, tool: &str, arguments: &Value) -> reqwest::blocking::Response {
    send(
        proxy,
        reqwest::Method::POST,
        &format!("/{tool}"),
        Some(KEY),
        &[("accept", EVENT_STREAM)],
        Some(arguments.to_string()),
    )
}

/// One server-sent event: its name, its data (JSON), and when the test read
/// it, from the request's start.
#[derive(Debug)]
struct StreamEvent {
    name: String,
    data: Value,
    at: Duration,
}

/// The events of a `200 text/event-stream` answer, read as they come until
/// the stream ends (comments, like keep-alives, skipped).
#[track_caller]
fn read_events(response: reqwest::blocking::Response, started: Instant) -> Vec<StreamEvent> {
    use std::io::BufRead as _;
    assert_eq!(response.status().as_u16(), 200, "{response:?}");
    let content_type = header_text(response.headers(), "content-type");
    assert!(content_type.starts_with(EVENT_STREAM), "{response:?}");
    let mut events = Vec::new();
    let mut name = String::new();
    let mut data: Vec<String> = Vec::new();
    let mut end_event = |name: &mut String, data: &mut Vec<String>| {
        if !data.is_empty() {
            let text = data.join("\n");
            events.push(StreamEvent {
                name: std::mem::take(name),
                data: serde_json::from_str(&text)
                    .unwrap_or_else(|error| panic!("event data is JSON ({error}): {text}")),
                at: started.elapsed(),
            });
        }
        name.clear();
        data.clear();
    };
    for line in std::io::BufReader::new(response).lines() {
        let line = line.expect("the stream reads to its end");
        if line.is_empty() {
            end_event(&mut name, &mut data);
        } else if let Some(value) = line.strip_prefix("event:") {
            name = value.trim().to_string();
        } else if let Some(value) = line.strip_prefix("data:") {
            data.push(value.strip_prefix(' ').unwrap_or(value).to_string());
        }
    }
    end_event(&mut name, &mut data);
    events
}

/// The one event that ends a stream, `result` or `error`: the last one,
/// after only `progress` events, which are returned with it.
#[track_caller]
fn split_outcome(events: &[StreamEvent]) -> (&StreamEvent, &[StreamEvent]) {
    let (outcome, progress) = events.split_last().expect("the stream has events");
    assert!(
        progress.iter().all(|event| event.name == "progress"),
        "only progress before the outcome: {events:#?}"
    );
    assert!(
        outcome.name == "result" || outcome.name == "error",
        "the stream ends with its outcome: {events:#?}"
    );
    (outcome, progress)
}

/// The `progress` numbers of progress events, which must each say `total`
/// and rise.
#[track_caller]
fn rising_progress(progress: &[StreamEvent], total: f64) -> Vec<f64> {
    let numbers: Vec<f64> = progress
        .iter()
        .map(|event| {
            assert_eq!(event.data["total"].as_f64(), Some(total), "{event:?}");
            event.data["progress"]
                .as_f64()
                .unwrap_or_else(|| panic!("a progress number: {event:?}"))
        })
        .collect();
    assert!(
        numbers.windows(2).all(|pair| pair[0] < pair[1]),
        "progress rises: {numbers:?}"
    );
    numbers
}

/// A call with `Accept: text/event-stream` answers its progress as it
/// comes: `trigger-long-running-operation` (4 steps over 2 s) gives rising
/// `progress` events of total 4, the first read well before the call ends,
/// then one `result` event with the status and body the JSON call answers.
/// Whatever is refused before the call goes upstream (a schema violation,
/// a body that is not JSON, a missing key) is a plain JSON error, no stream.
#[test]
fn progress_comes_as_server_sent_events_while_the_call_runs() {
    let proxy = stdio_proxy_with(&["--api-key", KEY]);

    let started = Instant::now();
    let response = call_streamed(
        &proxy,
        "trigger-long-running-operation",
        &json!({"duration": 2, "steps": 4}),
    );
    let events = read_events(response, started);
    let (outcome, progress) = split_outcome(&events);
    assert!(progress.len() >= 2, "progress events: {events:#?}");
    let numbers = rising_progress(progress, 4.0);
    assert!(
        numbers.iter().all(|n| (1.0..=4.0).contains(n)),
        "{numbers:?}"
    );
    assert_eq!(outcome.name, "result", "{events:#?}");
    assert_eq!(outcome.data["status"], 200, "{events:#?}");
    assert!(
        outcome.data["body"]
            .as_str()
            .is_some_and(|body| body.contains("completed")),
        "{events:#?}"
    );
    // The steps are 0.5 s apart: a proxy that held the events back until
    // the call's end would send them all at once.
    assert!(
        outcome.at >= progress[0].at + Duration::from_secs(1),
        "the first progress came with the result, not while the call ran: {events:#?}"
    );

    let plain_error = |response: reqwest::blocking::Response, status: u16| {
        let reply = Reply::from(response);
        assert_eq!(reply.status, status, "{reply:?}");
        assert_eq!(
            reply.header("content-type"),
            Some("application/json"),
            "{reply:?}"
        );
        reply
    };
    let invalid = plain_error(
        call_streamed(
            &proxy,
            "get-structured-content",
            &json!({"location": "Paris"}),
        ),
        422,
    );
    assert_eq!(
        detail_locs(&invalid.body),
        [json!(["body", "location"])],
        "{invalid:?}"
    );
    let not_json = plain_error(
        send(
            &proxy,
            reqwest::Method::POST,
            "/get-structured-content",
            Some(KEY),
            &[("accept", EVENT_STREAM)],
            Some("{not json".to_string()),
        ),
        422,
    );
    assert_eq!(
        not_json.body["detail"][0]["type"], "json_invalid",
        "{not_json:?}"
    );
    plain_error(
        send(
            &proxy,
            reqwest::Method::POST,
            "/trigger-long-running-operation",
            None,
            &[("accept", EVENT_STREAM)],
            Some(json!({"duration": 0.1, "steps": 1}).to_string()),
        ),
        401,
    );
}

/// A call over its `--tool-timeout` is 504 and stopped upstream. The
/// task-required `simulate-research-query` (4 s) at 1.5 s: 504 in about
/// that time, and the proxy cancels the task (`tasks/cancel`), which
/// server-everything then reports on its stderr. Asked for as an event
/// stream, `trigger-long-running-operation` (6 s) at 1.5 s: its progress
/// so far, then one `error` event with the 504 and its body.
#[test]
fn calls_over_their_tool_timeout_are_504_and_tasks_are_cancelled_upstream() {
    let proxy = stdio_proxy_with(&[
        "--api-key",
        KEY,
        "--tool-timeout",
        "simulate-research-query=1.5",
        "--tool-timeout",
        "trigger-long-running-operation=1.5",
    ]);

    let started = Instant::now();
    let late = post_json(
        &proxy.url("/simulate-research-query"),
        &json!({"topic": "rust"}),
        Some(KEY),
    );
    assert_timed_out(
        &late,
        started,
        Duration::from_millis(1400)..Duration::from_millis(3500),
        "expected about 1.5 s, not the 4 s task",
    );
    assert!(
        wait_for(Duration::from_secs(6), || proxy.logged(TASK_CANCELLED)),
        "server-everything did not report the task cancelled within {:?}",
        started.elapsed()
    );

    let started = Instant::now();
    let response = call_streamed(
        &proxy,
        "trigger-long-running-operation",
        &json!({"duration": 6, "steps": 12}),
    );
    let events = read_events(response, started);
    let (outcome, progress) = split_outcome(&events);
    assert!(
        !progress.is_empty(),
        "progress before the timeout: {events:#?}"
    );
    rising_progress(progress, 12.0);
    assert_eq!(outcome.name, "error", "{events:#?}");
    assert_eq!(outcome.data["status"], 504, "{events:#?}");
    assert!(
        outcome.data["body"]["detail"].is_string(),
        "the body a JSON call gets: {events:#?}"
    );
    assert!(
        outcome.at < Duration::from_millis(3500),
        "the stream ended after {:?}, expected about 1.5 s",
        outcome.at
    );

    let echo = post_json(&proxy.url("/echo"), &json!({"message": "after"}), Some(KEY));
    assert_eq!(echo.status, 200, "{echo:?}");
}

/// `simulate-research-query` on `topic` started with `Prefer:
/// respond-async`: its task id.
#[track_caller]
fn start_research(proxy: &Running, topic: &str, key: &str) -> String {
    start_research_with(proxy, &json!({"topic": topic}), key)
}

/// A task-capable tool's call with `Prefer: respond-async`: its 202 and
/// the headers that say where and when to look.
#[track_caller]
fn start_research_with(proxy: &Running, arguments: &Value, key: &str) -> String {
    let reply = Reply::from(send(
        proxy,
        reqwest::Method::POST,
        "/simulate-research-query",
        Some(key),
        &[("prefer", "respond-async")],
        Some(arguments.to_string()),
    ));
    assert_eq!(reply.status, 202, "{reply:?}");
    let id = reply.body["taskId"]
        .as_str()
        .filter(|id| !id.is_empty())
        .unwrap_or_else(|| panic!("a taskId: {reply:?}"))
        .to_string();
    assert_eq!(
        reply.body,
        json!({"taskId": id, "tool": "simulate-research-query", "status": "working"}),
        "{reply:?}"
    );
    assert_eq!(
        reply.header("location"),
        Some(format!("/tasks/{id}").as_str()),
        "{reply:?}"
    );
    assert_eq!(reply.header("retry-after"), Some("1"), "{reply:?}");
    assert_eq!(
        reply.header("preference-applied"),
        Some("respond-async"),
        "{reply:?}"
    );
    id
}

/// `method /tasks/{id}` with `key` (if any).
fn task_request(proxy: &Running, method: reqwest::Method, id: &str, key: Option<&str>) -> Reply {
    Reply::from(send(proxy, method, &format!("/tasks/{id}"), key, &[], None))
}

/// `Prefer: respond-async` on the task-required `simulate-research-query`:
/// 202 with `Location: /tasks/{taskId}`, `Retry-After` and
/// `Preference-Applied`; `GET` there says `working` (with the upstream's
/// status message and `Retry-After`) and, once it ended, `completed` with
/// the report as the synchronous call's `{status, body}`. `DELETE` while
/// it runs cancels it upstream (server-everything reports it) and a later
/// `GET` says `cancelled`; `DELETE` of an ended task is 409, whether the
/// proxy saw the end or only the upstream did; an unknown id is 404. A
/// task belongs to the key that started it: another key gets 404 (and
/// cannot cancel it), no key 401. A tool that cannot run as a task
/// (`get-sum`) ignores the preference and answers at once.
#[test]
fn a_task_tool_called_with_respond_async_is_a_job_to_poll_or_cancel() {
    let proxy = stdio_proxy_with(&["--api-key", KEY, "--api-key", OTHER_KEY]);
    let get = |id: &str, key: Option<&str>| task_request(&proxy, reqwest::Method::GET, id, key);
    let delete =
        |id: &str, key: Option<&str>| task_request(&proxy, reqwest::Method::DELETE, id, key);

    let sum = Reply::from(send(
        &proxy,
        reqwest::Method::POST,
        "/get-sum",
        Some(KEY),
        &[("prefer", "respond-async")],
        Some(json!({"a": 2, "b": 3.5}).to_string()),
    ));
    assert_eq!(sum.status, 200, "{sum:?}");
    assert_eq!(sum.body, json!("The sum of 2 and 3.5 is 5.5."), "{sum:?}");
    assert_eq!(sum.header("preference-applied"), None, "{sum:?}");
    assert_eq!(sum.header("location"), None, "{sum:?}");

    // Started in this order, they end upstream in this order: once `polled`
    // is seen completed, `unseen` has ended too.
    let unseen = start_research(&proxy, "unseen", KEY);
    let polled = start_research(&proxy, "rust", KEY);
    let cancelled = start_research(&proxy, "cancelled", KEY);
    assert!(unseen != polled && polled != cancelled, "distinct task ids");

    let working = get(&polled, Some(KEY));
    assert_eq!(working.status, 200, "{working:?}");
    assert_eq!(working.body["taskId"], polled.as_str(), "{working:?}");
    assert_eq!(
        working.body["tool"], "simulate-research-query",
        "{working:?}"
    );
    assert_eq!(working.body["status"], "working", "{working:?}");
    assert!(
        working.body["statusMessage"].is_string(),
        "the upstream's status message: {working:?}"
    );
    assert_eq!(working.header("retry-after"), Some("1"), "{working:?}");

    // Another key's task is unknown to a caller, and stays running.
    assert_eq!(get(&polled, Some(OTHER_KEY)).status, 404);
    assert_eq!(delete(&polled, Some(OTHER_KEY)).status, 404);
    assert_eq!(get(&polled, None).status, 401);
    assert_eq!(delete(&polled, None).status, 401);
    let unknown = "0123456789abcdef0123456789abcdef";
    assert_eq!(get(unknown, Some(KEY)).status, 404);
    assert_eq!(delete(unknown, Some(KEY)).status, 404);

    assert!(
        !proxy.logged(TASK_CANCELLED),
        "no task was cancelled yet: {:?}",
        proxy.log
    );
    let stopped = delete(&cancelled, Some(KEY));
    assert_eq!(stopped.status, 200, "{stopped:?}");
    assert_eq!(stopped.body["status"], "cancelled", "{stopped:?}");
    let after = get(&cancelled, Some(KEY));
    assert_eq!(after.status, 200, "{after:?}");
    assert_eq!(after.body["status"], "cancelled", "{after:?}");
    assert!(after.body.get("result").is_none(), "{after:?}");
    assert_eq!(delete(&cancelled, Some(KEY)).status, 409);
    assert!(
        wait_for(Duration::from_secs(5), || proxy.logged(TASK_CANCELLED)),
        "server-everything did not report the task cancelled"
    );

    let mut last = working;
    assert!(
        wait_for(Duration::from_secs(20), || {
            last = get(&polled, Some(KEY));
            assert_eq!(last.status, 200, "{last:?}");
            last.body["status"] != "working"
        }),
        "the task still works after 20 s: {last:?}"
    );
    assert_eq!(last.body["status"], "completed", "{last:?}");
    assert_eq!(last.body["taskId"], polled.as_str(), "{last:?}");
    assert_eq!(last.body["result"]["status"], 200, "{last:?}");
    assert!(
        last.body["result"]["body"]
            .as_str()
            .is_some_and(|report| report.starts_with(&report_on("rust"))),
        "{last:?}"
    );
    assert_eq!(get(&polled, Some(OTHER_KEY)).status, 404);
    let late = delete(&polled, Some(KEY));
    assert_eq!(late.status, 409, "{late:?}");

    // Ended upstream, never polled: the upstream refuses the cancel.
    let late = delete(&unseen, Some(KEY));
    assert_eq!(late.status, 409, "{late:?}");
    let ended = get(&unseen, Some(KEY));
    assert_eq!(ended.body["status"], "completed", "{ended:?}");
    assert!(
        ended.body["result"]["body"]
            .as_str()
            .is_some_and(|report| report.starts_with(&report_on("unseen"))),
        "{ended:?}"
    );
}

// Forms: server-everything asking the caller of a task to fill one in
// (`elicitation/create`), answered over REST.

/// What `simulate-research-query` with `"ambiguous": true` asks about
/// `topic` once its first two stages (about 2 s) are done.
fn form_message(topic: &str) -> String {
    format!(
        "The research query \"{topic}\" could have multiple interpretations. Please clarify what you're looking for:"
    )
}

/// The research tool's interpretation once its form was declined.
const DECLINED_FORM: &str = "User declined - using default interpretation";
/// The research tool's interpretation once its form was cancelled.
const CANCELLED_FORM: &str = "User cancelled - using default interpretation";

/// `simulate-research-query` on an ambiguous `topic`, started with
/// `Prefer: respond-async` and the key [`KEY`]: its task id.
#[track_caller]
fn start_ambiguous_research(proxy: &Running, topic: &str) -> String {
    start_research_with(proxy, &json!({"topic": topic, "ambiguous": true}), KEY)
}

/// `POST /tasks/{id}/input` with `answer` and `key` (if any).
fn answer_form(proxy: &Running, id: &str, key: Option<&str>, answer: &Value) -> Reply {
    Reply::from(send(
        proxy,
        reqwest::Method::POST,
        &format!("/tasks/{id}/input"),
        key,
        &[],
        Some(answer.to_string()),
    ))
}

/// What `GET /tasks/{id}` (key [`KEY`]) answers once the task shows the form
/// it waits on, within 20 s; until then it works. (The upstream says
/// `input_required` a moment before its form reaches the proxy.)
#[track_caller]
fn wait_for_form(proxy: &Running, id: &str) -> Reply {
    let mut last = None;
    let shown = wait_for(Duration::from_secs(20), || {
        let reply = task_request(proxy, reqwest::Method::GET, id, Some(KEY));
        assert_eq!(reply.status, 200, "{reply:?}");
        assert!(
            matches!(
                reply.body["status"].as_str(),
                Some("working" | "input_required")
            ),
            "{reply:?}"
        );
        let shown = reply.body.get("inputRequest").is_some();
        last = Some(reply);
        shown
    });
    let last = last.expect("polled at least once");
    assert!(shown, "no form within 20 s: {last:?}");
    assert_eq!(last.body["status"], "input_required", "{last:?}");
    last
}

/// What `GET /tasks/{id}` (key [`KEY`]) answers once the task, its form
/// answered, ended, within 30 s; until then it shows no form.
#[track_caller]
fn wait_for_end_after_form(proxy: &Running, id: &str) -> Reply {
    let mut last = None;
    let ended = wait_for(Duration::from_secs(30), || {
        let reply = task_request(proxy, reqwest::Method::GET, id, Some(KEY));
        assert_eq!(reply.status, 200, "{reply:?}");
        assert!(
            reply.body.get("inputRequest").is_none(),
            "the form was answered: {reply:?}"
        );
        let running = matches!(
            reply.body["status"].as_str(),
            Some("working" | "input_required")
        );
        last = Some(reply);
        !running
    });
    let last = last.expect("polled at least once");
    assert!(ended, "still running after 30 s: {last:?}");
    last
}

/// A task that `completed` with a report on `topic (interpretation)`.
#[track_caller]
fn assert_report(ended: &Reply, topic: &str, interpretation: &str) {
    assert_eq!(ended.body["status"], "completed", "{ended:?}");
    assert_eq!(ended.body["result"]["status"], 200, "{ended:?}");
    let report = report_on(&format!("{topic} ({interpretation})"));
    assert!(
        ended.body["result"]["body"]
            .as_str()
            .is_some_and(|body| body.starts_with(&report)),
        "expected {report:?}: {ended:?}"
    );
}

/// The interpretations a research task's form offers (`const`s).
fn form_choices(form: &Reply) -> Vec<&str> {
    choices(&form.body["inputRequest"])
}

/// The interpretations a research task's `form` (its message and
/// `requestedSchema`) offers (`const`s).
fn choices(form: &Value) -> Vec<&str> {
    strings_of(
        &form["requestedSchema"]["properties"]["interpretation"]["oneOf"],
        "const",
    )
}

/// A plain call of an ambiguous research query, in the background: its
/// form cannot be answered (see [`assert_plain_call_declined`]).
fn ambiguous_plain_call(proxy: &Running) -> std::thread::JoinHandle<Reply> {
    let url = proxy.url("/simulate-research-query");
    std::thread::spawn(move || {
        post_json(
            &url,
            &json!({"topic": "python", "ambiguous": true}),
            Some(KEY),
        )
    })
}

/// The answer to a plain (synchronous) `simulate-research-query` call on
/// an ambiguous `topic`: a caller that did not ask for `Prefer:
/// respond-async` cannot fill a form in, so the proxy declines it upstream
/// and the report uses the default interpretation.
#[track_caller]
fn assert_plain_call_declined(plain: Reply, topic: &str) {
    assert_eq!(plain.status, 200, "{plain:?}");
    let report = report_on(&format!("{topic} ({DECLINED_FORM})"));
    assert!(
        plain
            .body
            .as_str()
            .is_some_and(|body| body.starts_with(&report)),
        "expected {report:?}: {plain:?}"
    );
}

/// A research task on an ambiguous topic, started with `Prefer:
/// respond-async`, stops after its second stage to ask for a clarification:
/// `GET /tasks/{taskId}` then says `input_required` with the form's message
/// as `statusMessage` and the message and schema (verbatim) as
/// `inputRequest`, and `POST /tasks/{taskId}/input` answers it, `working`
/// again. An answer is checked first: content the form's schema refuses
/// (with its `loc`), `accept` without content, an unknown action or field
/// are 422 and the form still waits. `accept` with `snake` gives a report
/// on `python (snake)`; `decline` and `cancel` give the tool's default
/// interpretation, which says which. Answering a task that waits on no form
/// (not yet, answered, cancelled, ended) is 409; the form is its task's key's
/// (another key and an unknown id 404, no key 401). DELETE while the form
/// waits cancels the task upstream (server-everything reports it). A plain
/// call meanwhile cannot answer its form: the proxy declines it.
#[test]
fn a_task_waiting_on_a_form_is_input_required_until_its_caller_answers() {
    let proxy = stdio_proxy_with(&["--api-key", KEY, "--api-key", OTHER_KEY]);
    let get = |id: &str, key: Option<&str>| task_request(&proxy, reqwest::Method::GET, id, key);
    let answer = |id: &str, answer: &Value| answer_form(&proxy, id, Some(KEY), answer);
    let started = Instant::now();

    let plain = ambiguous_plain_call(&proxy);
    let accepted = start_ambiguous_research(&proxy, "python");
    let declined = start_ambiguous_research(&proxy, "jazz");
    let cancelled = start_ambiguous_research(&proxy, "opera");
    let deleted = start_ambiguous_research(&proxy, "python");

    // The forms come after about 2 s: nothing to answer yet.
    let early = answer(&accepted, &json!({"action": "decline"}));
    assert_eq!(early.status, 409, "{early:?}");
    assert!(early.detail_contains("not waiting for input"), "{early:?}");

    let form = wait_for_form(&proxy, &accepted);
    let message = form_message("python");
    assert_eq!(
        form.body,
        json!({
            "taskId": accepted,
            "tool": "simulate-research-query",
            "status": "input_required",
            "statusMessage": message,
            "inputRequest": {
                "message": message,
                "requestedSchema": {
                    "type": "object",
                    "properties": {
                        "interpretation": {
                            "type": "string",
                            "title": "Clarification",
                            "description": "Which interpretation of the topic do you mean?",
                            "oneOf": [
                                {"const": "programming", "title": "Python programming language"},
                                {"const": "snake", "title": "Python snake species"},
                                {"const": "comedy", "title": "Monty Python comedy group"}
                            ]
                        }
                    },
                    "required": ["interpretation"]
                }
            }
        }),
        "{form:?}"
    );
    let jazz = wait_for_form(&proxy, &declined);
    assert_eq!(
        jazz.body["inputRequest"]["message"],
        form_message("jazz"),
        "{jazz:?}"
    );
    assert_eq!(
        form_choices(&jazz),
        ["technical", "historical", "current"],
        "{jazz:?}"
    );
    wait_for_form(&proxy, &cancelled);
    wait_for_form(&proxy, &deleted);

    // The form is its task's key's.
    let snake = json!({"action": "accept", "content": {"interpretation": "snake"}});
    assert_eq!(get(&accepted, Some(OTHER_KEY)).status, 404);
    let foreign = answer_form(&proxy, &accepted, Some(OTHER_KEY), &snake);
    assert_eq!(foreign.status, 404, "{foreign:?}");
    let anonymous = answer_form(&proxy, &accepted, None, &snake);
    assert_eq!(anonymous.status, 401, "{anonymous:?}");
    let unknown = answer("0123456789abcdef0123456789abcdef", &snake);
    assert_eq!(unknown.status, 404, "{unknown:?}");

    // Answers refused before they go upstream.
    let refused = |body: Value| {
        let reply = answer(&accepted, &body);
        assert_eq!(reply.status, 422, "{body}: {reply:?}");
        assert!(!detail_locs(&reply.body).is_empty(), "{body}: {reply:?}");
        reply
    };
    let outside = refused(json!({"action": "accept", "content": {"interpretation": "nope"}}));
    assert_eq!(
        detail_locs(&outside.body),
        [json!(["body", "content", "interpretation"])],
        "{outside:?}"
    );
    let missing = refused(json!({"action": "accept", "content": {}}));
    assert_eq!(
        detail_locs(&missing.body),
        [json!(["body", "content", "interpretation"])],
        "{missing:?}"
    );
    refused(json!({"action": "accept"}));
    refused(json!({"action": "maybe"}));
    refused(json!({"action": "decline", "reason": "busy"}));
    let still = get(&accepted, Some(KEY));
    assert_eq!(
        still.body, form.body,
        "a refused answer leaves the form waiting"
    );

    let working =
        |id: &str| json!({"taskId": id, "tool": "simulate-research-query", "status": "working"});
    let taken = answer(&accepted, &snake);
    assert_eq!(taken.status, 200, "{taken:?}");
    assert_eq!(taken.body, working(&accepted), "{taken:?}");
    let again = answer(&accepted, &snake);
    assert_eq!(again.status, 409, "answered once: {again:?}");
    let taken = answer(&declined, &json!({"action": "decline"}));
    assert_eq!(taken.status, 200, "{taken:?}");
    assert_eq!(taken.body, working(&declined), "{taken:?}");
    let taken = answer(&cancelled, &json!({"action": "cancel"}));
    assert_eq!(taken.status, 200, "{taken:?}");
    assert_eq!(taken.body, working(&cancelled), "{taken:?}");

    // DELETE while the form waits.
    assert!(
        !proxy.logged(TASK_CANCELLED),
        "no task was cancelled yet: {:?}",
        proxy.log
    );
    let stopped = task_request(&proxy, reqwest::Method::DELETE, &deleted, Some(KEY));
    assert_eq!(stopped.status, 200, "{stopped:?}");
    assert_eq!(stopped.body["status"], "cancelled", "{stopped:?}");
    let after = get(&deleted, Some(KEY));
    assert_eq!(after.status, 200, "{after:?}");
    assert_eq!(after.body["status"], "cancelled", "{after:?}");
    assert!(after.body.get("inputRequest").is_none(), "{after:?}");
    let late = answer(&deleted, &snake);
    assert_eq!(late.status, 409, "{late:?}");
    assert!(
        wait_for(Duration::from_secs(5), || proxy.logged(TASK_CANCELLED)),
        "server-everything did not report the task cancelled"
    );

    for (id, topic, interpretation) in [
        (&accepted, "python", "snake"),
        (&declined, "jazz", DECLINED_FORM),
        (&cancelled, "opera", CANCELLED_FORM),
    ] {
        let ended = wait_for_end_after_form(&proxy, id);
        assert_report(&ended, topic, interpretation);
        let late = answer(id, &json!({"action": "decline"}));
        assert_eq!(late.status, 409, "{topic}, ended: {late:?}");
    }

    assert_plain_call_declined(plain.join().expect("the plain call"), "python");
    eprintln!("forms answered in {:?}", started.elapsed());
}

/// The same over a streamable HTTP upstream, where server-everything sends
/// its form on the task's open `tasks/result` stream: the form shows, the
/// accepted answer reaches the upstream (a report on `python (comedy)`),
/// and a plain call's form is declined.
#[test]
fn a_task_form_is_answered_over_a_streamable_http_upstream_too() {
    let server = start_everything_http();
    let proxy = start_proxy(
        &everything_binary(),
        &[
            "--api-key",
            KEY,
            "--server-type",
            "streamable-http",
            "--",
            &server.url("/mcp"),
        ],
    );
    wait_ready(&proxy);

    let plain = ambiguous_plain_call(&proxy);
    let id = start_ambiguous_research(&proxy, "python");
    let form = wait_for_form(&proxy, &id);
    assert_eq!(
        form.body["statusMessage"],
        form_message("python"),
        "{form:?}"
    );
    assert_eq!(
        form_choices(&form),
        ["programming", "snake", "comedy"],
        "{form:?}"
    );
    let taken = answer_form(
        &proxy,
        &id,
        Some(KEY),
        &json!({"action": "accept", "content": {"interpretation": "comedy"}}),
    );
    assert_eq!(taken.status, 200, "{taken:?}");
    assert_eq!(taken.body["status"], "working", "{taken:?}");
    assert_report(&wait_for_end_after_form(&proxy, &id), "python", "comedy");

    assert_plain_call_declined(plain.join().expect("the plain call"), "python");
}

// The same forms, and the task's status, relayed to an MCP client of the
// proxy's gateway (`/mcp`) that calls the task-required tool.

/// What `tests/clients/mcp/task_form_client.py` (the official Python SDK)
/// printed after calling `simulate-research-query` on `topic` through the
/// gateway at `url` in `mode` (`accept` with an interpretation, `none`,
/// `failing`, `progress`; see the script), within 60 s.
fn task_form_client(mode: &str, url: &str, topic: &str, answer: &[&str]) -> Value {
    mcp_client_report(
        "task_form_client.py",
        &[&[mode, url, topic], answer].concat(),
        &[],
    )
}

/// The report's call ended with a research report on `about` (one text
/// block, not an error).
#[track_caller]
fn assert_mcp_report(report: &Value, about: &str) {
    let result = &report["call"]["result"];
    assert_eq!(result["isError"], false, "{report}");
    let expected = report_on(about);
    assert!(
        result["content"][0]["text"]
            .as_str()
            .is_some_and(|text| text.starts_with(&expected)),
        "expected {expected:?}: {report}"
    );
}

/// A form a 2025-11-25 upstream asks for during a plain call (no task:
/// server-everything's `trigger-elicitation-request`) reaches the MCP
/// client of the gateway that made the call, when that call is all the
/// upstream is doing, and its answer goes back; a client that does not
/// offer elicitation gets it declined (tests/clients/mcp/form_client.py),
/// and so does one whose call shares the session with another.
#[test]
fn an_mcp_client_of_the_gateway_answers_a_plain_calls_form() {
    let proxy = stdio_proxy();
    let url = proxy.url("/mcp");
    let form_client = |content: &str| {
        mcp_client_report(
            "form_client.py",
            &[&url, "trigger-elicitation-request", "{}", content],
            &[],
        )
    };
    let accepted = form_client(r#"{"name": "Ada", "check": true}"#);
    let forms = accepted["forms"].as_array().expect("forms");
    assert_eq!(forms.len(), 1, "{accepted}");
    assert_eq!(
        forms[0]["message"], "Please provide inputs for the following fields:",
        "{accepted}"
    );
    let texts = &accepted["call"]["result"]["content"];
    assert_eq!(
        texts[0]["text"], "✅ User provided the requested information!",
        "{accepted}"
    );
    assert!(
        texts[1]["text"].as_str().is_some_and(
            |text| text.contains("- Name: Ada") && text.contains("- Agreed to terms: true")
        ),
        "{accepted}"
    );
    let declined_text = "❌ User declined to provide the requested information.";
    let declined = form_client("-");
    assert_eq!(declined["forms"], json!([]), "{declined}");
    assert_eq!(
        declined["call"]["result"]["content"][0]["text"], declined_text,
        "{declined}"
    );

    // With another call in flight on the upstream session, whose form it
    // is cannot be known: it is declined, not shown to either caller.
    std::thread::scope(|scope| {
        let busy = scope.spawn(|| {
            proxy.post(
                "/trigger-long-running-operation",
                &json!({"duration": 8, "steps": 4}),
            )
        });
        std::thread::sleep(Duration::from_millis(500));
        let ambiguous = form_client(r#"{"name": "Ada"}"#);
        assert_eq!(ambiguous["forms"], json!([]), "{ambiguous}");
        assert_eq!(
            ambiguous["call"]["result"]["content"][0]["text"], declined_text,
            "{ambiguous}"
        );
        let busy = busy.join().expect("the other call");
        assert_eq!(busy.status, 200, "{busy:?}");
    });
}

/// An MCP client of the gateway that offers elicitation and calls the
/// task-required `simulate-research-query` on an ambiguous topic gets the
/// upstream's form (`elicitation/create`, its message and the three
/// interpretations of "python") about 2 s in, and its answer goes back
/// upstream: `comedy` gives a report on `python (comedy)`. A client that
/// does not offer elicitation is asked nothing and the form is declined
/// upstream; a client whose form callback fails answers it as `cancel`;
/// the report then says which default it used. A client that sends a
/// `progressToken` gets the task's status messages as progress
/// notifications, numbered 1, 2, ... without a total, in the upstream's
/// stage order, the first well before the result. The four clients run at
/// once on one proxy.
#[test]
fn an_mcp_client_of_the_gateway_answers_a_task_form_and_sees_its_status() {
    let proxy = stdio_proxy();
    let url = proxy.url("/mcp");
    let started = Instant::now();
    let [accepted, without_forms, failing, progress] = std::thread::scope(|scope| {
        [
            ("accept", "python", &["comedy"][..]),
            ("none", "python", &[]),
            ("failing", "python", &[]),
            ("progress", "rust", &[]),
        ]
        .map(|(mode, topic, answer)| {
            let url = &url;
            scope.spawn(move || task_form_client(mode, url, topic, answer))
        })
        .map(|client| client.join().expect("a client's report"))
    });
    eprintln!("four gateway clients done in {:?}", started.elapsed());

    // The form reached the client as the upstream asked it, before the end.
    let forms = accepted["forms"].as_array().expect("forms");
    assert_eq!(forms.len(), 1, "one form: {accepted}");
    let form = &forms[0]["params"];
    assert_eq!(form["mode"], "form", "{accepted}");
    assert_eq!(form["message"], form_message("python"), "{accepted}");
    assert_eq!(
        choices(form),
        ["programming", "snake", "comedy"],
        "{accepted}"
    );
    assert_eq!(
        form["requestedSchema"]["required"],
        json!(["interpretation"]),
        "{accepted}"
    );
    let asked_at = forms[0]["at"].as_f64().expect("when");
    assert!(
        (1.5..accepted["result_at"].as_f64().expect("when")).contains(&asked_at),
        "after the first two stages, before the result: {accepted}"
    );
    assert_mcp_report(&accepted, "python (comedy)");

    assert_eq!(without_forms["forms"], json!([]), "{without_forms}");
    assert_mcp_report(&without_forms, &format!("python ({DECLINED_FORM})"));

    assert_eq!(
        failing["forms"].as_array().map(Vec::len),
        Some(1),
        "the failing callback was asked: {failing}"
    );
    assert_mcp_report(&failing, &format!("python ({CANCELLED_FORM})"));

    // Progress: the research's stages, as the upstream's status says them.
    const STAGES: [&str; 4] = [
        "Gathering sources...",
        "Analyzing content...",
        "Synthesizing findings...",
        "Generating report...",
    ];
    assert_eq!(progress["forms"], json!([]), "{progress}");
    assert_mcp_report(&progress, "rust");
    let notifications = progress["progress"].as_array().expect("progress");
    assert!(notifications.len() >= 2, "{progress}");
    let mut stages = Vec::new();
    for (number, notification) in (1..).zip(notifications) {
        assert_eq!(
            notification["progress"],
            json!(f64::from(number)),
            "{progress}"
        );
        assert_eq!(notification["total"], Value::Null, "{progress}");
        let message = notification["message"].as_str().unwrap_or_default();
        let stage = STAGES.iter().position(|stage| *stage == message);
        stages.push(stage.unwrap_or_else(|| panic!("{message:?} is a stage: {progress}")));
    }
    assert!(
        stages.windows(2).all(|pair| pair[0] < pair[1]),
        "each stage once, in order: {progress}"
    );
    let first = notifications[0]["at"].as_f64().expect("when");
    let last = notifications[notifications.len() - 1]["at"]
        .as_f64()
        .expect("when");
    let result_at = progress["result_at"].as_f64().expect("when");
    assert!(
        last <= result_at && first + 1.0 <= result_at,
        "progress came while the task ran, before its result: {progress}"
    );
}
