//! Issue 28's surface where the running server and the lock part ways, over
//! REST and over MCP (the official Python SDK,
//! `tests/clients/mcp/live_surface_client.py`), with `mcpo-gen serve --lock`
//! in front of the fixture server's `--resources` surface
//! (tests/fixture-server/README.md):
//!
//! - a live resource list (`mcpo-gen --live-resources`): the lock pins the
//!   templates and prompts, not the resources; the proxy lists and reads
//!   what the server lists now, and still refuses, itself, a URI neither
//!   listed now nor matched by a locked template;
//! - drift of the surface: the lock of the fixture's first surface served
//!   against its second (`--prompts-v2`). Under `--on-drift refuse` (the
//!   default) each changed prompt, template and resource is refused (409,
//!   JSON-RPC -32010) while the unchanged ones serve, and `/readyz` lists
//!   them; under `--on-drift warn` they are forwarded and answered as the
//!   server answers now.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use mcpo_gen_e2e::*;
use serde_json::{Value, json};

use super::{
    KEY, client_script, definitions, http_client, keys, mcp_python, only_prompt_text,
    only_read_text, resources_upstream, rpc_error_message, run_client,
};

/// The proxy's own 404 for a URI it does not offer (an upstream's "resource
/// not found" has another detail).
const NOT_OFFERED: &str = "nor a match of a locked resource template";
/// An upstream's own "resource not found", as the proxy passes it on.
const UPSTREAM_NOT_FOUND: &str = "the upstream MCP server has no such resource";
/// What every drift refusal tells the operator to do.
const REVIEW: &str = "run `mcpo-gen update`";
/// JSON-RPC error code of a request refused because its item drifted.
const DRIFTED: i64 = -32010;

/// Snapshots the fixture (`--resources EXTRA`) with `flags` into the crate
/// `out`; its lock.
fn snapshot(out: &Path, flags: &[&str], extra: &[&str]) -> Value {
    let upstream = resources_upstream(extra);
    generate(out, &with_upstream(flags, &upstream));
    let text = std::fs::read_to_string(out.join("mcp.lock.json")).expect("the lock");
    serde_json::from_str(&text).expect("the lock is JSON")
}

/// `mcpo-gen serve --api-key KEY --lock CRATE FLAGS -- FIXTURE --resources
/// EXTRA`, its upstream connected (the drift check done: `/readyz` is 200
/// only once the connection's first check has run).
fn serve_lock(crate_dir: &Path, flags: &[&str], extra: &[&str]) -> Running {
    let crate_dir = crate_dir.to_str().expect("a UTF-8 path");
    Launch::serve()
        .args(&["--api-key", KEY, "--lock", crate_dir])
        .args(flags)
        .args(&resources_upstream(extra))
        .start_ready()
}

/// An HTTP answer: status and JSON body.
#[derive(Debug)]
struct Answer {
    status: u16,
    body: Value,
}

impl Answer {
    /// The `detail` of an error body, as text.
    fn detail(&self) -> String {
        match &self.body["detail"] {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        }
    }
}

fn client() -> &'static reqwest::blocking::Client {
    static CLIENT: OnceLock<reqwest::blocking::Client> = OnceLock::new();
    CLIENT.get_or_init(|| http_client(Duration::from_secs(120)))
}

fn answer(request: reqwest::blocking::RequestBuilder) -> Answer {
    let response = request
        .header("authorization", format!("Bearer {KEY}"))
        .send()
        .expect("the proxy answers");
    let status = response.status().as_u16();
    let text = response.text().expect("the whole body");
    Answer {
        status,
        body: json_or_text(text),
    }
}

/// Every byte but `A-Za-z0-9-._~` percent-encoded.
fn encoded(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(byte).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

/// GET `path` with the query `query`, with the API key.
fn get(proxy: &Running, path: &str, query: &[(&str, &str)]) -> Answer {
    let mut url = proxy.url(path);
    for (index, (name, value)) in query.iter().enumerate() {
        url.push(if index == 0 { '?' } else { '&' });
        url.push_str(&format!("{}={}", encoded(name), encoded(value)));
    }
    answer(client().get(url))
}

/// `GET /resources/read?uri=URI`.
fn read(proxy: &Running, uri: &str) -> Answer {
    get(proxy, "/resources/read", &[("uri", uri)])
}

/// POST `body` as JSON to `path`, with the API key.
fn post(proxy: &Running, path: &str, body: &Value) -> Answer {
    answer(client().post(proxy.url(path)).json(body))
}

/// The one text content of a 200 read, which must be the only content.
#[track_caller]
fn read_text(answer: &Answer) -> String {
    assert_eq!(answer.status, 200, "{answer:?}");
    only_read_text(&answer.body)
}

/// The text of a 200 prompt result's only message.
#[track_caller]
fn prompt_text(answer: &Answer) -> String {
    assert_eq!(answer.status, 200, "{answer:?}");
    only_prompt_text(&answer.body)
}

/// A drift refusal: 409 whose detail names `subject` (e.g. `prompt
/// "greet"`) as changed and says to review it with `mcpo-gen update`.
#[track_caller]
fn assert_refused(answer: &Answer, subject: &str) {
    assert_eq!(answer.status, 409, "{subject}: {answer:?}");
    let detail = answer.detail();
    assert!(
        detail.starts_with(&format!("{subject} changed since the lock was made")),
        "the refusal names {subject}: {answer:?}"
    );
    assert!(detail.contains(REVIEW), "{answer:?}");
}

/// The proxy's own 404 for a URI it does not offer (never forwarded).
#[track_caller]
fn assert_not_offered(answer: &Answer, uri: &str) {
    assert_eq!(answer.status, 404, "{uri}: {answer:?}");
    assert!(answer.detail().contains(NOT_OFFERED), "{uri}: {answer:?}");
}

/// Runs live_surface_client.py against the proxy's `/mcp` with `requests`
/// (see the script) and returns each request's outcome, after checking the
/// session's capabilities.
fn mcp_outcomes(proxy: &Running, requests: &Value) -> Vec<Value> {
    let script = client_script("live_surface_client.py");
    let script = script.to_str().expect("a UTF-8 path");
    let requests = requests.to_string();
    let report = run_client(
        &mcp_python(),
        &[script, &proxy.url("/mcp"), KEY, &requests],
        &[],
        Duration::from_secs(120),
    );
    assert_eq!(report["protocol_version"], "2025-11-25", "{report}");
    assert_eq!(
        report["capabilities"]["resources"],
        json!({"subscribe": true, "listChanged": false}),
        "{report}"
    );
    assert_eq!(
        report["capabilities"]["prompts"],
        json!({"listChanged": false}),
        "{report}"
    );
    report["outcomes"]
        .as_array()
        .unwrap_or_else(|| panic!("outcomes: {report}"))
        .clone()
}

/// The result of an MCP outcome, which must have succeeded.
#[track_caller]
fn result_of(outcome: &Value) -> &Value {
    let result = &outcome["result"];
    assert!(!result.is_null(), "the request succeeds: {outcome}");
    result
}

/// The JSON-RPC error of an MCP outcome, which must have failed.
#[track_caller]
fn error_of(outcome: &Value) -> &Value {
    let error = &outcome["error"];
    assert!(error.is_object(), "the request fails: {outcome}");
    error
}

/// `--live-resources`: the lock holds the templates and prompts but no
/// resources, and says the list is live; the proxy of that lock lists what
/// the server lists now (five notes where the snapshot saw three, read
/// through pages of three), reads a URI listed now (a template match or
/// not), and refuses itself a URI neither listed now nor matched by a
/// template. An MCP session sees the same live list.
#[test]
fn a_live_resource_list_is_listed_and_read_as_the_server_lists_it_now() {
    let scratch = tempfile::tempdir().expect("a temp dir");
    let crate_dir = scratch.path().join("live");
    let lock = snapshot(&crate_dir, &["--live-resources"], &[]);
    assert_eq!(lock["resourceList"], "live", "{lock:#}");
    assert!(
        lock.get("resources").is_none(),
        "a live list locks no resources: {lock:#}"
    );
    assert_eq!(
        keys(&definitions(&lock, "resourceTemplates"), "name"),
        ["note", "repo"]
    );
    assert_eq!(
        keys(&definitions(&lock, "prompts"), "name"),
        ["code_review", "greet", "no_args"]
    );

    let proxy = serve_lock(
        &crate_dir,
        &[],
        &["--resource-count", "5", "--page-size", "3"],
    );
    let listed = get(&proxy, "/resources", &[]);
    assert_eq!(listed.status, 200, "{listed:?}");
    let live = listed.body["resources"].clone();
    assert_eq!(
        keys(&live, "uri"),
        [
            "text://hello",
            "text://notes/1",
            "text://notes/2",
            "text://notes/3",
            "text://notes/4",
            "text://notes/5",
            "blob://pixel.png",
            "blob://big",
        ],
        "the server's list now, in its order, every page"
    );
    assert_eq!(
        live[5],
        json!({"uri": "text://notes/5", "name": "note_5", "description": "Note number 5.", "mimeType": "text/plain"})
    );
    let templates = get(&proxy, "/resources/templates", &[]);
    assert_eq!(
        templates.body["resourceTemplates"],
        definitions(&lock, "resourceTemplates"),
        "{templates:?}"
    );

    // Listed now (and a match of the `note` template): the listed contents.
    assert_eq!(read_text(&read(&proxy, "text://notes/5")), "note 5");
    assert_eq!(
        read_text(&get(&proxy, "/resources/templates/note", &[("id", "5")])),
        "note 5"
    );
    // Not listed, a template match: read through the template.
    assert_eq!(read_text(&read(&proxy, "text://notes/7")), "id=7");
    // Listed now, no template matches it.
    let pixel = read(&proxy, "blob://pixel.png");
    assert_eq!(pixel.status, 200, "{pixel:?}");
    let content = &pixel.body["contents"][0];
    assert_eq!(
        (&content["uri"], &content["mimeType"]),
        (&json!("blob://pixel.png"), &json!("image/png")),
        "{pixel:?}"
    );
    assert!(content["blob"].is_string(), "{pixel:?}");
    // Neither listed now nor a template match: the proxy's own 404, the
    // read never forwarded (the fixture's not-found has another detail).
    for uri in ["blob://nope", "text://notes/5/1", "text://hello/"] {
        assert_not_offered(&read(&proxy, uri), uri);
    }

    let outcomes = mcp_outcomes(
        &proxy,
        &json!([
            {"list": "resources"},
            {"list": "templates"},
            {"read": "text://notes/5"},
            {"read": "blob://pixel.png"},
            {"read": "blob://nope"},
        ]),
    );
    assert_eq!(
        result_of(&outcomes[0]),
        &live,
        "resources/list is the live list"
    );
    assert_eq!(
        result_of(&outcomes[1]),
        &definitions(&lock, "resourceTemplates")
    );
    assert_eq!(
        result_of(&outcomes[2])["contents"][0]["text"],
        "note 5",
        "{}",
        outcomes[2]
    );
    assert_eq!(
        result_of(&outcomes[3])["contents"][0]["blob"],
        content["blob"]
    );
    assert_eq!(
        error_of(&outcomes[4]),
        &json!({"code": -32002, "message": "Resource not found", "data": {"uri": "blob://nope"}})
    );
}

/// The sentences `/readyz` lists under `tool_drift` for the fixture's
/// second surface against the lock of its first: each changed prompt,
/// template and resource (the added prompt `summarize` is not exposed, so
/// not listed).
fn expected_drift() -> BTreeSet<String> {
    [
        r#"prompt "greet" changed since the lock was made (arguments, description)"#,
        r#"prompt "code_review" changed since the lock was made (arguments)"#,
        r#"resource template "note" changed since the lock was made (uriTemplate)"#,
        r#"resource "text://hello" changed since the lock was made (mimeType)"#,
    ]
    .into_iter()
    .map(String::from)
    .collect()
}

/// `/readyz`: ready, listing the drifted items.
#[track_caller]
fn assert_ready_with_drift(proxy: &Running) {
    let readyz = get(proxy, "/readyz", &[]);
    assert_eq!(readyz.status, 200, "{readyz:?}");
    let listed: BTreeSet<String> = readyz.body["tool_drift"]
        .as_array()
        .unwrap_or_else(|| panic!("tool_drift: {readyz:?}"))
        .iter()
        .map(|line| line.as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(listed, expected_drift(), "{readyz:?}");
}

/// The lock of the fixture's first surface, in `scratch/v1`.
fn first_surface_lock(scratch: &Path) -> (PathBuf, Value) {
    let crate_dir = scratch.join("v1");
    let lock = snapshot(&crate_dir, &[], &[]);
    (crate_dir, lock)
}

/// "Drift refused as for tools": the lock of the first surface served
/// against the second under the default `--on-drift refuse`. The changed
/// prompts (`greet`, `code_review`), template (`note`: every URI it
/// matches, a locked note included, and its completion) and resource
/// (`text://hello`) are 409 naming the change and `mcpo-gen update`; the
/// unchanged ones serve; the added prompt stays unknown; `/readyz` lists
/// each. Over MCP the same refusals are JSON-RPC -32010 with the same
/// message, and the lists stay the locked ones.
#[test]
fn a_drifted_surface_is_refused_item_by_item_and_the_rest_serves() {
    let scratch = tempfile::tempdir().expect("a temp dir");
    let (crate_dir, lock) = first_surface_lock(scratch.path());
    let proxy = serve_lock(&crate_dir, &[], &["--prompts-v2"]);
    assert_ready_with_drift(&proxy);

    let greet = post(&proxy, "/prompts/greet", &json!({"name": "Ada"}));
    assert_refused(&greet, r#"prompt "greet""#);
    assert!(
        greet.detail().contains("(arguments, description)"),
        "{greet:?}"
    );
    assert_refused(
        &post(&proxy, "/prompts/code_review", &json!({"code": "x = 1"})),
        r#"prompt "code_review""#,
    );
    assert_refused(
        &post(
            &proxy,
            "/prompts/greet/complete",
            &json!({"argument": "style", "value": "f"}),
        ),
        r#"prompt "greet""#,
    );
    let no_args = post(&proxy, "/prompts/no_args", &json!({}));
    assert_eq!(
        prompt_text(&no_args),
        "I am the fixture's prompt without arguments."
    );
    let summarize = post(&proxy, "/prompts/summarize", &json!({"text": "t"}));
    assert_eq!(
        summarize.status, 404,
        "a prompt the lock does not know: {summarize:?}"
    );

    let note = r#"resource template "note""#;
    assert_refused(
        &get(&proxy, "/resources/templates/note", &[("id", "1")]),
        note,
    );
    assert_refused(
        &post(
            &proxy,
            "/resources/templates/note/complete",
            &json!({"argument": "id", "value": "1"}),
        ),
        note,
    );
    // A match of the template only, and a locked resource it matches too
    // (unchanged itself, but readable through a drifted template).
    assert_refused(&read(&proxy, "text://notes/9"), note);
    assert!(
        lock["resources"]
            .as_array()
            .expect("locked resources")
            .iter()
            .any(|resource| resource["uri"] == "text://notes/1"),
        "text://notes/1 is locked: {lock:#}"
    );
    assert_refused(&read(&proxy, "text://notes/1"), note);
    let hello = read(&proxy, "text://hello");
    assert_refused(&hello, r#"resource "text://hello""#);
    assert!(hello.detail().contains("(mimeType)"), "{hello:?}");

    // Unchanged: a resource, the other template (route, read by URI,
    // completion), and what the lock does not offer is still 404.
    let pixel = read(&proxy, "blob://pixel.png");
    assert_eq!(pixel.status, 200, "{pixel:?}");
    assert_eq!(pixel.body["contents"][0]["mimeType"], "image/png");
    assert_eq!(
        read_text(&get(
            &proxy,
            "/resources/templates/repo",
            &[("owner", "a"), ("repo", "b"), ("path", "x")]
        )),
        "owner=a repo=b path=x"
    );
    assert_eq!(
        read_text(&read(&proxy, "repo://a/b/blob/src/x.rs?ref=main")),
        "owner=a repo=b path=src/x.rs ref=main"
    );
    let owners = post(
        &proxy,
        "/resources/templates/repo/complete",
        &json!({"argument": "owner", "value": "mo"}),
    );
    assert_eq!(
        (owners.status, &owners.body["values"]),
        (200, &json!(["modelcontextprotocol", "mozilla"])),
        "{owners:?}"
    );
    assert_not_offered(&read(&proxy, "text://notes/1/2"), "text://notes/1/2");
    // The lists stay the locked ones.
    assert_eq!(
        get(&proxy, "/prompts", &[]).body["prompts"],
        definitions(&lock, "prompts")
    );
    assert_eq!(
        get(&proxy, "/resources", &[]).body["resources"],
        definitions(&lock, "resources")
    );

    let outcomes = mcp_outcomes(
        &proxy,
        &json!([
            {"prompt": "greet", "arguments": {"name": "Ada"}},
            {"read": "text://hello"},
            {"read": "text://notes/9"},
            {"prompt": "no_args"},
            {"read": "blob://pixel.png"},
            {"list": "prompts"},
            {"list": "templates"},
        ]),
    );
    assert_eq!(
        error_of(&outcomes[0]),
        &json!({"code": DRIFTED, "message": greet.detail(), "data": {"status": 409}}),
        "prompts/get of a drifted prompt"
    );
    assert_eq!(
        error_of(&outcomes[1]),
        &json!({"code": DRIFTED, "message": hello.detail(), "data": {"status": 409}}),
        "resources/read of a drifted resource"
    );
    let refused = error_of(&outcomes[2]);
    assert!(
        rpc_error_message(refused, DRIFTED).starts_with(note),
        "{refused}"
    );
    assert_eq!(
        result_of(&outcomes[3])["messages"][0]["role"],
        "assistant",
        "{}",
        outcomes[3]
    );
    assert_eq!(
        result_of(&outcomes[4])["contents"][0]["uri"],
        "blob://pixel.png"
    );
    assert_eq!(result_of(&outcomes[5]), &definitions(&lock, "prompts"));
    assert_eq!(
        result_of(&outcomes[6]),
        &definitions(&lock, "resourceTemplates")
    );
}

/// Under `--on-drift warn` the drifted items are forwarded and answered as
/// the server answers now (`/readyz` still lists them): the second
/// `greet`'s answer, `text://hello` as `text/markdown`, a note listed
/// now; a URI only the old `note` template matched reaches the server,
/// whose own not-found it is; arguments the locked prompt allows but the
/// server no longer does are the server's refusal (422), not the proxy's.
#[test]
fn with_on_drift_warn_a_drifted_surface_is_forwarded() {
    let scratch = tempfile::tempdir().expect("a temp dir");
    let (crate_dir, _) = first_surface_lock(scratch.path());
    let proxy = serve_lock(&crate_dir, &["--on-drift", "warn"], &["--prompts-v2"]);
    assert_ready_with_drift(&proxy);

    let greet = post(
        &proxy,
        "/prompts/greet",
        &json!({"name": "Ada", "style": "formal"}),
    );
    assert_eq!(prompt_text(&greet), "Hello Ada in formal style");
    assert_eq!(
        greet.body["description"], "Greets someone by name in the style asked for.",
        "the server's description now: {greet:?}"
    );
    let review = post(&proxy, "/prompts/code_review", &json!({"code": "x = 1"}));
    assert_eq!(prompt_text(&review), "Please review this code:\n\nx = 1");
    let style = post(
        &proxy,
        "/prompts/greet/complete",
        &json!({"argument": "style", "value": "fr"}),
    );
    assert_eq!(
        (style.status, &style.body["values"]),
        (200, &json!(["friendly"])),
        "{style:?}"
    );
    // Valid for the locked `greet` (style optional), not for the server's.
    let unstyled = post(&proxy, "/prompts/greet", &json!({"name": "Ada"}));
    assert_eq!(unstyled.status, 422, "{unstyled:?}");
    assert!(
        unstyled.detail().contains("style"),
        "the server's refusal: {unstyled:?}"
    );

    let hello = read(&proxy, "text://hello");
    assert_eq!(read_text(&hello), "Hello, resources!");
    assert_eq!(hello.body["contents"][0]["mimeType"], "text/markdown");
    assert_eq!(
        read_text(&get(&proxy, "/resources/templates/note", &[("id", "1")])),
        "note 1"
    );
    let gone = read(&proxy, "text://notes/9");
    assert_eq!(gone.status, 404, "{gone:?}");
    assert!(
        gone.detail().contains(UPSTREAM_NOT_FOUND),
        "forwarded, the server's own not-found: {gone:?}"
    );

    let outcomes = mcp_outcomes(
        &proxy,
        &json!([
            {"prompt": "greet", "arguments": {"name": "Ada", "style": "formal"}},
            {"read": "text://hello"},
        ]),
    );
    assert_eq!(
        result_of(&outcomes[0])["messages"][0]["content"]["text"],
        "Hello Ada in formal style"
    );
    assert_eq!(
        result_of(&outcomes[1])["contents"][0]["mimeType"],
        "text/markdown"
    );
}
