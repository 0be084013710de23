//! Schema fidelity, end to end (issue 4 items 3, 4 and 6): the committed
//! `generated-examples/corpus-proxy`, started against the fixture server
//! serving the schema corpus (`tests/corpus/tools.json`).
//!
//! - Every `examples` entry of every corpus tool goes through the proxy and
//!   comes back from the echoing fixture unchanged, and the upstream's own
//!   stdin (recorded with `tee`) shows it received exactly those arguments.
//! - Every constraint kind of the corpus gives a 422 whose single `detail`
//!   entry names the offending field (`loc`) and the rule (`type`), and none
//!   of those requests reaches the upstream.
//! - The corpus `openapi.json` passes `openapi-spec-validator`, every `$ref`
//!   in it resolves, and (checked by Python's `jsonschema`, independently of
//!   the proxy's Rust validator) its request and response schemas accept the
//!   corpus examples and reject the bad requests.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use mcpo_gen_e2e::*;
use serde_json::{Value, json};

const CRATE: &str = "corpus-proxy";

/// One corpus tool: its name, the valid arguments its schema lists, and
/// whether it declares an `outputSchema` (then the proxy returns
/// `structuredContent`, otherwise the parsed text of the echo).
struct CorpusTool {
    name: String,
    examples: Vec<Value>,
    has_output_schema: bool,
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
    serde_json::from_str(&text)
        .unwrap_or_else(|error| panic!("{} is not JSON: {error}", path.display()))
}

fn corpus_path() -> PathBuf {
    workspace_root().join("tests/corpus/tools.json")
}

fn crate_dir() -> PathBuf {
    workspace_root().join("generated-examples").join(CRATE)
}

fn corpus_tools() -> Vec<CorpusTool> {
    let corpus = read_json(&corpus_path());
    let tools = corpus["tools"].as_array().expect("the corpus lists tools");
    tools
        .iter()
        .map(|tool| CorpusTool {
            name: tool["name"].as_str().expect("a tool name").to_string(),
            examples: tool["inputSchema"]["examples"]
                .as_array()
                .cloned()
                .unwrap_or_default(),
            has_output_schema: tool.get("outputSchema").is_some(),
        })
        .collect()
}

/// Tool name -> HTTP path, read from the committed `openapi.json` (its
/// `x-mcp-tool` extension), so the test also checks that the document
/// leads a client to a route that exists: `météo` is `/m%C3%A9t%C3%A9o`.
fn routes_from_openapi() -> BTreeMap<String, String> {
    let document = read_json(&crate_dir().join("openapi.json"));
    let paths = document["paths"].as_object().expect("openapi paths");
    paths
        .iter()
        .filter_map(|(path, item)| {
            let tool = item["post"]["x-mcp-tool"]["name"].as_str()?;
            Some((tool.to_string(), path.clone()))
        })
        .collect()
}

/// The running proxy, and the file where everything the proxy wrote to the
/// upstream's stdin is recorded.
struct CorpusProxy {
    proxy: Running,
    routes: BTreeMap<String, String>,
    upstream_log: PathBuf,
    _scratch: tempfile::TempDir,
}

impl CorpusProxy {
    /// The proxy with its defaults (lax types, as mcpo).
    fn start() -> CorpusProxy {
        Self::start_with(&[])
    }

    /// The proxy with `flags` before the upstream command.
    fn start_with(flags: &[&str]) -> CorpusProxy {
        let bin = build(&[CRATE, "mcp-fixture-server"]);
        let scratch = tempfile::tempdir().expect("a temp dir");
        let upstream_log = scratch.path().join("upstream-stdin.jsonl");
        let fixture = bin.join("mcp-fixture-server");
        let corpus = corpus_path();
        // `tee` copies each JSON-RPC line the proxy sends before the fixture
        // reads it: the log is what the upstream received, byte for byte.
        let mut args = vec!["--quiet"];
        args.extend_from_slice(flags);
        args.extend([
            "--",
            "sh",
            "-c",
            r#"tee -a "$0" | "$1" --tools "$2""#,
            path_str(&upstream_log),
            path_str(&fixture),
            path_str(&corpus),
        ]);
        let proxy = start_proxy(&bin.join(CRATE), &args);
        wait_ready(&proxy);
        CorpusProxy {
            proxy,
            routes: routes_from_openapi(),
            upstream_log,
            _scratch: scratch,
        }
    }

    fn url(&self, tool: &str) -> String {
        let route = self
            .routes
            .get(tool)
            .unwrap_or_else(|| panic!("openapi.json has no route for tool {tool:?}"));
        self.proxy.url(route)
    }

    fn call(&self, tool: &str, body: &Value) -> Reply {
        post_json(&self.url(tool), body, None)
    }

    /// `(tool, arguments)` of every `tools/call` the upstream received, in
    /// order. Waits until the last one is `until` (calls are sequential, but
    /// the fixture may read its stdin a moment after answering the proxy).
    fn upstream_calls_until(&self, until: &(String, Value)) -> Vec<(String, Value)> {
        let mut calls = Vec::new();
        wait_until(Duration::from_secs(10), || {
            calls = self.upstream_calls();
            calls.last() == Some(until)
        });
        calls
    }

    fn upstream_calls(&self) -> Vec<(String, Value)> {
        let log = std::fs::read_to_string(&self.upstream_log).unwrap_or_default();
        log.lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|message| message["method"] == "tools/call")
            .map(|message| {
                let params = &message["params"];
                let name = params["name"].as_str().unwrap_or_default().to_string();
                // An absent `arguments` is what an empty body means.
                let arguments = params.get("arguments").cloned().unwrap_or(json!({}));
                (name, arguments)
            })
            .collect()
    }
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("test paths are UTF-8")
}

/// The proxy's handshake offers the revision the lock records (the newest
/// one with an `initialize`), never the stateless 2026-07-28 inside it.
#[test]
fn the_handshake_offers_the_locked_protocol_revision() {
    let corpus = CorpusProxy::start();
    let lock = read_json(&crate_dir().join("mcp.lock.json"));
    let mut offered = Value::Null;
    wait_until(Duration::from_secs(10), || {
        let log = std::fs::read_to_string(&corpus.upstream_log).unwrap_or_default();
        offered = log
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .find(|message| message["method"] == "initialize")
            .map(|message| message["params"]["protocolVersion"].clone())
            .unwrap_or(Value::Null);
        !offered.is_null()
    });
    assert_eq!(offered, lock["server"]["protocolVersion"]);
    assert_eq!(offered, "2025-11-25");
}

#[test]
fn the_crate_the_lock_and_the_corpus_list_the_same_tools() {
    let corpus: BTreeSet<String> = corpus_tools().into_iter().map(|tool| tool.name).collect();
    let routed: BTreeSet<String> = routes_from_openapi().into_keys().collect();
    let lock = read_json(&crate_dir().join("mcp.lock.json"));
    let locked: BTreeSet<String> = lock["tools"]
        .as_array()
        .expect("lock tools")
        .iter()
        .filter_map(|tool| tool["name"].as_str().map(str::to_string))
        .collect();
    assert!(corpus.len() >= 20, "the corpus is the full one: {corpus:?}");
    assert_eq!(corpus, locked, "the lock is a snapshot of the corpus");
    assert_eq!(corpus, routed, "openapi.json routes every corpus tool");
    // The lock names the fixture by command name, never by a path of the
    // machine that generated it.
    assert_eq!(lock["upstream"]["command"], "mcp-fixture-server");
    assert_eq!(
        lock["upstream"]["args"],
        json!(["--tools", "tests/corpus/tools.json"])
    );
}

#[test]
fn every_example_of_every_corpus_tool_reaches_the_upstream_verbatim_and_echoes_back() {
    let corpus = CorpusProxy::start();
    let tools = corpus_tools();
    let mut sent = Vec::new();
    let mut failures = Vec::new();
    for tool in &tools {
        assert!(
            !tool.examples.is_empty(),
            "corpus tool {} lists no examples",
            tool.name
        );
        for example in &tool.examples {
            let reply = corpus.call(&tool.name, example);
            sent.push((tool.name.clone(), example.clone()));
            // serde_json's Value equality is exact about numbers: `1` and
            // `1.0` differ, so a re-typed value would show up here.
            if reply.status != 200 || &reply.body != example {
                let returned = if tool.has_output_schema {
                    "structuredContent"
                } else {
                    "parsed echo text"
                };
                failures.push(format!(
                    "{}: sent {example}\n  got {} ({returned}): {}",
                    tool.name, reply.status, reply.body
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} examples did not round-trip:\n{}",
        failures.len(),
        sent.len(),
        failures.join("\n")
    );
    assert!(sent.len() >= 40, "every example was sent: {}", sent.len());

    // The upstream's own stdin: the same calls, the same arguments, in order.
    let received = corpus.upstream_calls_until(sent.last().expect("calls were made"));
    assert_eq!(received.len(), sent.len(), "one upstream call per request");
    for (received, sent) in received.iter().zip(&sent) {
        assert_eq!(received, sent, "the upstream received what the client sent");
    }
}

/// A request the proxy must refuse with exactly one 422 entry.
struct Rejected {
    tool: &'static str,
    body: Value,
    loc: Value,
    kind: &'static str,
}

fn rejected(tool: &'static str, body: Value, loc: Value, kind: &'static str) -> Rejected {
    Rejected {
        tool,
        body,
        loc,
        kind,
    }
}

/// One case per constraint kind the corpus uses (several where the kind
/// appears in different shapes: nullable, `$ref`, `allOf`, tuples, ...).
fn rejected_cases() -> Vec<Rejected> {
    let enums_base = || json!({"unit": "kelvin", "version": "v1", "maybe_unit": null});
    let with = |base: Value, key: &str, value: Value| {
        let mut object = base;
        object[key] = value;
        object
    };
    let entity = |name: &str| json!({"name": name, "entityType": "p", "observations": []});
    vec![
        // type
        rejected(
            "constraints",
            json!({"age": "x"}),
            json!(["body", "age"]),
            "type",
        ),
        rejected(
            "constraints",
            json!({"age": 1.5}),
            json!(["body", "age"]),
            "type",
        ),
        rejected(
            "nullable",
            json!({"note": 1, "count": null}),
            json!(["body", "note"]),
            "type",
        ),
        rejected(
            "match",
            json!({"pattern": 1}),
            json!(["body", "pattern"]),
            "type",
        ),
        rejected(
            "météo",
            json!({"ville": 1}),
            json!(["body", "ville"]),
            "type",
        ),
        rejected(
            "a.b",
            json!({"type": "x", "fooBar": "x", "foo_bar": "x", "a.b": "no"}),
            json!(["body", "a.b"]),
            "type",
        ),
        rejected("constraints", json!([1, 2]), json!(["body"]), "type"),
        rejected("empty_schema", json!("text"), json!(["body"]), "type"),
        // required
        rejected("constraints", json!({}), json!(["body", "age"]), "missing"),
        rejected(
            "nullable",
            json!({"note": null}),
            json!(["body", "count"]),
            "missing",
        ),
        rejected("root_all_of", json!({}), json!(["body", "a"]), "missing"),
        rejected(
            "unions",
            json!({"id": "a", "person": {"age": 3}}),
            json!(["body", "person", "name"]),
            "missing",
        ),
        // enum
        rejected(
            "enums",
            with(enums_base(), "unit", json!("rankine")),
            json!(["body", "unit"]),
            "enum",
        ),
        rejected(
            "enums",
            with(enums_base(), "level", json!(4)),
            json!(["body", "level"]),
            "enum",
        ),
        rejected(
            "enums",
            with(enums_base(), "ratio", json!(2)),
            json!(["body", "ratio"]),
            "enum",
        ),
        rejected(
            "enums",
            with(enums_base(), "mixed", json!("x")),
            json!(["body", "mixed"]),
            "enum",
        ),
        rejected(
            "enums",
            with(enums_base(), "maybe_unit", json!("kelvin")),
            json!(["body", "maybe_unit"]),
            "enum",
        ),
        rejected(
            "get-time",
            json!({"timezone": "UTC", "format": "epoch"}),
            json!(["body", "format"]),
            "enum",
        ),
        rejected(
            "structured",
            json!({"status": "bad"}),
            json!(["body", "status"]),
            "enum",
        ),
        // const
        rejected(
            "enums",
            with(enums_base(), "version", json!("v2")),
            json!(["body", "version"]),
            "const",
        ),
        rejected(
            "enums",
            with(enums_base(), "answer", json!(41)),
            json!(["body", "answer"]),
            "const",
        ),
        rejected(
            "enums",
            with(enums_base(), "flag", json!(false)),
            json!(["body", "flag"]),
            "const",
        ),
        // numeric bounds
        rejected(
            "constraints",
            json!({"age": -1}),
            json!(["body", "age"]),
            "minimum",
        ),
        rejected(
            "constraints",
            json!({"age": 151}),
            json!(["body", "age"]),
            "maximum",
        ),
        rejected(
            "constraints",
            json!({"age": 1, "ratio": 0}),
            json!(["body", "ratio"]),
            "exclusiveMinimum",
        ),
        rejected(
            "constraints",
            json!({"age": 1, "ratio": 1}),
            json!(["body", "ratio"]),
            "exclusiveMaximum",
        ),
        rejected(
            "constraints",
            json!({"age": 1, "step": 0.3}),
            json!(["body", "step"]),
            "multipleOf",
        ),
        rejected(
            "constraints",
            json!({"age": 1, "even": 3}),
            json!(["body", "even"]),
            "multipleOf",
        ),
        // string constraints
        rejected(
            "constraints",
            json!({"age": 1, "name": "a"}),
            json!(["body", "name"]),
            "minLength",
        ),
        rejected(
            "get-time",
            json!({"timezone": ""}),
            json!(["body", "timezone"]),
            "minLength",
        ),
        rejected(
            "unions",
            json!({"id": "a", "code": "x"}),
            json!(["body", "code"]),
            "minLength",
        ),
        rejected(
            "constraints",
            json!({"age": 1, "name": "abcdefghijk"}),
            json!(["body", "name"]),
            "maxLength",
        ),
        rejected(
            "constraints",
            json!({"age": 1, "code": "abc"}),
            json!(["body", "code"]),
            "pattern",
        ),
        // formats (jsonschema checks these four and `date`)
        rejected(
            "defaults_and_formats",
            json!({"when": "yesterday"}),
            json!(["body", "when"]),
            "format",
        ),
        rejected(
            "defaults_and_formats",
            json!({"homepage": "not a uri"}),
            json!(["body", "homepage"]),
            "format",
        ),
        rejected(
            "defaults_and_formats",
            json!({"email": "nope"}),
            json!(["body", "email"]),
            "format",
        ),
        rejected(
            "defaults_and_formats",
            json!({"id": "not-a-uuid"}),
            json!(["body", "id"]),
            "format",
        ),
        rejected(
            "defs_and_refs",
            json!({"tree": {"label": "r", "meta": {"owner": "nope"}}}),
            json!(["body", "tree", "meta", "owner"]),
            "format",
        ),
        // array constraints
        rejected(
            "constraints",
            json!({"age": 1, "items": []}),
            json!(["body", "items"]),
            "minItems",
        ),
        rejected(
            "constraints",
            json!({"age": 1, "items": ["a", "b", "c", "d"]}),
            json!(["body", "items"]),
            "maxItems",
        ),
        rejected(
            "nested_objects",
            json!({"graph": {"entities": [], "tags": ["a", "a"]}}),
            json!(["body", "graph", "tags"]),
            "uniqueItems",
        ),
        // additionalProperties false / schema, patternProperties
        rejected(
            "get-time",
            json!({"timezone": "UTC", "zone": "x"}),
            json!(["body", "zone"]),
            "additionalProperties",
        ),
        rejected(
            "additional_properties",
            json!({"extra": 1}),
            json!(["body", "extra"]),
            "additionalProperties",
        ),
        rejected(
            "additional_properties",
            json!({"strict": {"a": "x", "b": 1}}),
            json!(["body", "strict", "b"]),
            "additionalProperties",
        ),
        rejected(
            "additional_properties",
            json!({"headers": {"y-no": "1"}}),
            json!(["body", "headers", "y-no"]),
            "additionalProperties",
        ),
        rejected(
            "additional_properties",
            json!({"headers": {"x-ok": 1}}),
            json!(["body", "headers", "x-ok"]),
            "type",
        ),
        rejected(
            "additional_properties",
            json!({"counts": {"apples": "x"}}),
            json!(["body", "counts", "apples"]),
            "type",
        ),
        // A numeric object key stays a field name, not an array index.
        rejected(
            "additional_properties",
            json!({"labels": {"0": 1}}),
            json!(["body", "labels", "0"]),
            "type",
        ),
        // oneOf / anyOf
        rejected("unions", json!({"id": 1.5}), json!(["body", "id"]), "oneOf"),
        rejected(
            "unions",
            json!({"id": "a", "shape": {"radius": 1, "width": 2}}),
            json!(["body", "shape"]),
            "oneOf",
        ),
        rejected(
            "nullable",
            json!({"note": null, "count": null, "owner": {}}),
            json!(["body", "owner"]),
            "oneOf",
        ),
        rejected("root_union", json!({}), json!(["body"]), "oneOf"),
        rejected(
            "root_union",
            json!({"path": "/a", "url": "https://example.com"}),
            json!(["body"]),
            "oneOf",
        ),
        rejected(
            "unions",
            json!({"id": "a", "value": {}}),
            json!(["body", "value"]),
            "anyOf",
        ),
        rejected(
            "unions",
            json!({"id": "a", "either": 5}),
            json!(["body", "either"]),
            "anyOf",
        ),
        rejected(
            "nullable",
            json!({"note": null, "count": 1.5}),
            json!(["body", "count"]),
            "anyOf",
        ),
        // prefixItems tuples
        rejected(
            "tuples",
            json!({"point": ["a", 2]}),
            json!(["body", "point", 0]),
            "type",
        ),
        rejected(
            "tuples",
            json!({"point": [1, 2, 3]}),
            json!(["body", "point", 2]),
            "falseSchema",
        ),
        rejected(
            "tuples",
            json!({"point": [1]}),
            json!(["body", "point"]),
            "minItems",
        ),
        rejected(
            "tuples",
            json!({"point": [1, 2], "entry": ["k", {"v": "x"}]}),
            json!(["body", "entry", 1, "v"]),
            "type",
        ),
        rejected(
            "tuples",
            json!({"point": [1, 2], "range": ["not a date"]}),
            json!(["body", "range", 0]),
            "format",
        ),
        // nested fields in arrays of objects: the index is in `loc`
        rejected(
            "nested_objects",
            json!({"graph": {"entities": [entity("a"), {"name": "b", "entityType": "p", "observations": [1]}]}}),
            json!(["body", "graph", "entities", 1, "observations", 0]),
            "type",
        ),
        rejected(
            "nested_objects",
            json!({"graph": {"entities": [entity("a"), {"entityType": "p", "observations": []}]}}),
            json!(["body", "graph", "entities", 1, "name"]),
            "missing",
        ),
        rejected(
            "nested_objects",
            json!({"graph": {"entities": [{"name": "a", "entityType": "p", "observations": [], "position": {"x": 1}}]}}),
            json!(["body", "graph", "entities", 0, "position", "y"]),
            "missing",
        ),
        rejected(
            "nested_objects",
            json!({"graph": {"entities": []}, "matrix": [[1], [2, "x"]]}),
            json!(["body", "matrix", 1, 1]),
            "type",
        ),
        rejected(
            "draft07_definitions",
            json!({"points": [{"x": 1}]}),
            json!(["body", "points", 0, "y"]),
            "missing",
        ),
        // recursive $defs, a $ref to the root
        rejected(
            "defs_and_refs",
            json!({"tree": {"label": "r", "children": [{"label": "a"}, {"children": []}]}}),
            json!(["body", "tree", "children", 1, "label"]),
            "missing",
        ),
        rejected(
            "defs_and_refs",
            json!({"tree": {"label": "r"}, "list": {"value": 1, "next": {"value": "x"}}}),
            json!(["body", "list", "next", "value"]),
            "type",
        ),
        rejected(
            "defs_and_refs",
            json!({"tree": {"label": "r"}, "nested_call": {}}),
            json!(["body", "nested_call", "tree"]),
            "missing",
        ),
        rejected(
            "any_values",
            json!({}),
            json!(["body", "payload"]),
            "missing",
        ),
    ]
}

#[test]
fn every_constraint_kind_is_a_422_at_the_field_and_never_reaches_the_upstream() {
    // Strict types: some cases send a string where a number or boolean goes,
    // which the default (lax, as mcpo) converts; tests/proxy_contract/lax_types.rs has those.
    let corpus = CorpusProxy::start_with(&["--strict-types"]);
    let cases = rejected_cases();
    let mut failures = Vec::new();
    for case in &cases {
        let reply = corpus.call(case.tool, &case.body);
        let expected = json!([{"loc": case.loc, "type": case.kind}]);
        let got = reply.body["detail"].as_array().map(|entries| {
            entries
                .iter()
                .map(|entry| json!({"loc": entry["loc"], "type": entry["type"]}))
                .collect::<Vec<_>>()
        });
        let has_messages = reply.body["detail"].as_array().is_some_and(|entries| {
            entries
                .iter()
                .all(|entry| entry["msg"].as_str().is_some_and(|msg| !msg.is_empty()))
        });
        if reply.status != 422 || got.map(Value::from) != Some(expected.clone()) || !has_messages {
            failures.push(format!(
                "{} {}: expected 422 {expected}\n  got {} {}",
                case.tool, case.body, reply.status, reply.body
            ));
        }
    }

    // Not JSON at all: refused before any schema is looked at.
    let malformed = post_raw(&corpus.url("constraints"), "{\"age\": ", None);
    assert_eq!(malformed.status, 422, "{malformed:?}");
    assert_eq!(
        malformed.body["detail"][0]["loc"],
        json!(["body"]),
        "{malformed:?}"
    );
    assert_eq!(
        malformed.body["detail"][0]["type"], "json_invalid",
        "{malformed:?}"
    );

    assert!(
        failures.is_empty(),
        "{} of {} bad requests were not refused as expected:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );

    // A good call still works, and it is the only call the upstream saw.
    let good = (
        "constraints".to_string(),
        json!({"age": 1, "code": "ABC-1"}),
    );
    let reply = corpus.call(&good.0, &good.1);
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.body, good.1);
    assert_eq!(
        corpus.upstream_calls_until(&good),
        vec![good.clone()],
        "no refused request reached the upstream"
    );
}

/// Integer-valued numbers such as `2.0` are integers to JSON Schema (the
/// frozen schema accepts them and so would the upstream): the typed `i64`
/// check must accept them too, and with `--strict-types` the upstream gets
/// `2.0` as sent (by default it gets `2`, as from mcpo: tests/proxy_contract/lax_types.rs).
#[test]
fn integer_valued_numbers_are_integers_as_json_schema_says() {
    let corpus = CorpusProxy::start_with(&["--strict-types"]);
    for (tool, body) in [
        ("constraints", json!({"age": 2.0})),
        (
            "enums",
            json!({"unit": "kelvin", "version": "v1", "maybe_unit": null, "level": 2.0}),
        ),
        ("nullable", json!({"note": null, "count": 1.0})),
    ] {
        let reply = corpus.call(tool, &body);
        assert_eq!(reply.status, 200, "{tool} {body}: {reply:?}");
        assert_eq!(reply.body, body, "{tool}");
    }
}

#[test]
fn the_corpus_openapi_document_is_valid_and_its_refs_resolve() {
    let document_path = crate_dir().join("openapi.json");
    let validator = tools_bin().join("openapi-spec-validator");
    let output = Command::new(&validator)
        .arg(&document_path)
        .output()
        .expect("openapi-spec-validator runs");
    assert!(
        output.status.success(),
        "openapi-spec-validator refused {}:\n{}{}",
        document_path.display(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );

    // Every `$ref` is local to components (the tools' `$defs` were moved
    // there, `#` rewritten) and points at something that exists.
    let document = read_json(&document_path);
    let mut refs = Vec::new();
    collect_refs(&document, &mut refs);
    assert!(
        refs.len() > 22,
        "tools refer to their schemas: {}",
        refs.len()
    );
    let dangling: Vec<&String> = refs
        .iter()
        .filter(|reference| {
            !reference.starts_with("#/components/")
                || reference
                    .strip_prefix('#')
                    .and_then(|pointer| document.pointer(pointer))
                    .is_none()
        })
        .collect();
    assert!(
        dangling.is_empty(),
        "refs that do not resolve: {dangling:?}"
    );
    for (name, path) in routes_from_openapi() {
        let operation = &document["paths"][&path]["post"];
        assert!(
            operation["requestBody"]["content"]["application/json"]["schema"].is_object(),
            "{name}: a request schema"
        );
        assert!(
            operation["responses"]["422"].is_object(),
            "{name}: 422 documented"
        );
    }
}

/// The Python `jsonschema` side of the cross-check: reads
/// `{"document", "valid": [[schema, value]], "invalid": [[schema, value]]}`
/// (each schema as the operation states it, usually a `$ref` into
/// components, resolved against the whole document) and prints the cases
/// where the document's schema disagrees.
const CROSS_CHECK: &str = r##"
import json, sys
from jsonschema import Draft202012Validator, FormatChecker
spec = json.load(open(sys.argv[1]))
document = spec["document"]
def validator(schema):
    root = dict(document)
    root.update(schema)
    return Draft202012Validator(root, format_checker=FormatChecker())
problems = []
for schema, value in spec["valid"]:
    errors = [e.message for e in validator(schema).iter_errors(value)]
    if errors:
        problems.append({"schema": schema, "value": value, "refused": errors[:3]})
for schema, value in spec["invalid"]:
    if validator(schema).is_valid(value):
        problems.append({"schema": schema, "value": value, "accepted": True})
print(json.dumps(problems))
"##;

/// The schema of an operation's request body or 200 response, as written
/// in the document.
fn operation_schema(document: &Value, path: &str, response: bool) -> Value {
    let operation = &document["paths"][path]["post"];
    let content = if response {
        &operation["responses"]["200"]["content"]
    } else {
        &operation["requestBody"]["content"]
    };
    let schema = &content["application/json"]["schema"];
    assert!(
        schema.is_object(),
        "{path}: no schema (response: {response})"
    );
    schema.clone()
}

#[test]
fn the_openapi_schemas_accept_the_examples_and_refuse_the_bad_requests() {
    let document = read_json(&crate_dir().join("openapi.json"));
    let routes = routes_from_openapi();
    let mut valid = Vec::new();
    for tool in corpus_tools() {
        let path = &routes[&tool.name];
        for example in &tool.examples {
            valid.push(json!([operation_schema(&document, path, false), example]));
            if tool.has_output_schema {
                // The echo's structuredContent is the arguments: the
                // documented response schema must describe it.
                valid.push(json!([operation_schema(&document, path, true), example]));
            }
        }
    }
    let invalid: Vec<Value> = rejected_cases()
        .iter()
        // Python's FormatChecker needs optional packages for `uri`; the
        // proxy's own format checks are covered by the 422 test.
        .filter(|case| case.kind != "format")
        .map(|case| {
            json!([
                operation_schema(&document, &routes[case.tool], false),
                case.body
            ])
        })
        .collect();
    let scratch = tempfile::tempdir().expect("a temp dir");
    let spec_path = scratch.path().join("cases.json");
    let spec = json!({"document": document, "valid": valid, "invalid": invalid});
    std::fs::write(&spec_path, spec.to_string()).expect("write cases");
    let output = Command::new(tools_bin().join("python"))
        .args(["-c", CROSS_CHECK])
        .arg(&spec_path)
        .output()
        .expect("the venv python runs");
    assert!(
        output.status.success(),
        "the cross-check failed to run: {}",
        tail(&String::from_utf8_lossy(&output.stderr), 2000)
    );
    let problems: Value =
        serde_json::from_slice(&output.stdout).expect("the cross-check prints JSON");
    assert_eq!(
        problems,
        json!([]),
        "openapi.json disagrees with the tools' schemas"
    );
}

/// The last `max` bytes of a long text (Python tracebacks print the whole
/// document).
fn tail(text: &str, max: usize) -> &str {
    let mut start = text.len().saturating_sub(max);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

fn collect_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(object) => {
            for (key, item) in object {
                match (key.as_str(), item) {
                    ("$ref", Value::String(reference)) => out.push(reference.clone()),
                    _ => collect_refs(item, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_refs(item, out)),
        _ => {}
    }
}

/// A request with an exact raw body and content type (`None`: no
/// `Content-Type` header at all).
fn post_with_type(url: &str, body: &str, content_type: Option<&str>) -> (u16, Value) {
    let mut request = reqwest::blocking::Client::new()
        .post(url)
        .body(body.to_string());
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    let response = request.send().expect("the proxy answers");
    let status = response.status().as_u16();
    let text = response.text().unwrap_or_default();
    (status, json_or_text(text))
}

/// Issue 20: the corpus has a tool named `docs`. It is `POST /docs`, next to
/// Swagger UI's `GET /docs`, and the document says so; errors under `/docs/`
/// are JSON like every other error.
#[test]
fn the_docs_tool_and_swagger_ui_share_the_path() {
    let corpus = CorpusProxy::start();
    let document = read_json(&crate_dir().join("openapi.json"));
    assert_eq!(corpus.routes["docs"], "/docs");
    assert_eq!(
        document["paths"]["/docs"]["post"]["x-mcp-tool"]["name"],
        "docs"
    );
    let description = document["info"]["description"].as_str().unwrap_or_default();
    assert!(
        description.contains("`/docs` (Swagger UI)"),
        "{description}"
    );

    let arguments = json!({"text": "*/", "markdown": "**b**"});
    let reply = corpus.call("docs", &arguments);
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.body, arguments, "the tool's echo");
    let url = |path: &str| corpus.proxy.url(path);
    let (status, page) = get(&url("/docs/")).expect("the docs page");
    assert_eq!(status, 200);
    assert!(page.to_lowercase().contains("swagger"), "{page}");
    let (status, initializer) = get(&url("/docs/swagger-initializer.js")).expect("a docs file");
    assert_eq!(status, 200);
    assert!(initializer.contains("/openapi.json"), "{initializer}");

    let (status, missing) = get(&url("/docs/no-such-file.js")).expect("an answer");
    assert_eq!(status, 404);
    assert_eq!(
        serde_json::from_str::<Value>(&missing).ok(),
        Some(json!({"detail": "Not Found"})),
        "{missing}"
    );
    let (status, wrong) = post_with_type(&url("/docs/"), "{}", Some("application/json"));
    assert_eq!(
        (status, wrong),
        (405, json!({"detail": "Method Not Allowed"}))
    );
    let response = reqwest::blocking::Client::new()
        .delete(url("/docs"))
        .send()
        .expect("an answer");
    assert_eq!(response.status().as_u16(), 405);
    assert_eq!(
        response.json::<Value>().ok(),
        Some(json!({"detail": "Method Not Allowed"}))
    );
}

/// Issue 20: what the document says about request bodies, their content
/// types and integer ranges is what the proxy does.
#[test]
fn the_document_states_what_the_proxy_does_with_bodies_and_integers() {
    let corpus = CorpusProxy::start();
    let document = read_json(&crate_dir().join("openapi.json"));
    for (name, path) in &corpus.routes {
        let operation = &document["paths"][path]["post"];
        // The body is required exactly when the proxy refuses an empty one.
        let (status, body) = post_with_type(&corpus.url(name), "", None);
        assert!(matches!(status, 200 | 422), "{name}: {status} {body}");
        assert_eq!(
            operation["requestBody"]["required"],
            status == 422,
            "{name}: {body}"
        );
        for status in ["400", "408", "413", "415", "422"] {
            assert!(
                operation["responses"][status]["$ref"].is_string(),
                "{name}: {status} documented"
            );
        }
    }

    // An empty body (no content type, or JSON's) is `{}`.
    let docs = corpus.url("docs");
    for content_type in [None, Some("application/json")] {
        let (status, body) = post_with_type(&docs, "", content_type);
        assert_eq!((status, body), (200, json!({})), "{content_type:?}");
    }
    // JSON under another name is JSON; anything else is 415 with a detail.
    let (status, _) = post_with_type(&docs, "{}", Some("application/merge-patch+json"));
    assert_eq!(status, 200);
    let (status, body) = post_with_type(&docs, "{}", Some("text/plain"));
    assert_eq!(status, 415, "{body}");
    assert!(body["detail"].is_string(), "{body}");

    // A plain `integer` is an i64: the document's bounds are the proxy's.
    let schemas = &document["components"]["schemas"];
    let even = &schemas["ConstraintsInput"]["properties"]["even"];
    assert_eq!(even["minimum"], json!(i64::MIN), "{even}");
    assert_eq!(even["maximum"], json!(i64::MAX), "{even}");
    let constraints = corpus.url("constraints");
    let within = format!(r#"{{"age": 1, "even": {}}}"#, i64::MAX - 1);
    let (status, body) = post_with_type(&constraints, &within, None);
    assert_eq!(status, 200, "{body}");
    let beyond = format!(r#"{{"age": 1, "even": {}}}"#, i64::MAX as u64 + 1);
    let (status, body) = post_with_type(&constraints, &beyond, None);
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["detail"][0]["loc"], json!(["body", "even"]), "{body}");
    // One that cannot be negative is a u64, up to its very end.
    let age = &schemas["UnionsAged"]["properties"]["age"];
    assert_eq!(age["minimum"], json!(0), "{age}");
    assert_eq!(age["maximum"], json!(u64::MAX), "{age}");
    let unions = corpus.url("unions");
    let person = |age: &str| format!(r#"{{"id": "x", "person": {{"name": "A", "age": {age}}}}}"#);
    let (status, body) = post_with_type(&unions, &person(&u64::MAX.to_string()), None);
    assert_eq!(status, 200, "{body}");
    let (status, body) = post_with_type(&unions, &person("18446744073709551616"), None);
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["detail"][0]["type"], "int_parsing_size", "{body}");
}
