//! The frozen OpenAPI document passes an independent validator
//! (`openapi-spec-validator`, Python) for assorted tool schemas, garbage
//! included, and for every tool of the schema corpus.
//!
//! Each tool gets a document of its own (so a failure names the tool) and
//! all tools share one more document (so cross-tool name collisions are
//! exercised); one validator run checks them all. Set `OPENAPI_VALIDITY_KEEP=1`
//! to keep the documents for a look.
//!
//! The same documents go through Open WebUI's own OpenAPI-to-tool conversion
//! (`tests/open_webui/convert.py`, from the pinned `open-webui` wheel): it
//! must not raise on any of them, and must make exactly the tools into tools.

use std::path::{Path, PathBuf};
use std::process::Command;

use std::collections::BTreeMap;

use mcpo_gen::lock::{
    CrateLock, Lock, LockedSurface, MultiLock, ProxyCrate, ResourceList, ServerFacts, SurfaceKind,
    Upstream, canonical_pretty, lock_items,
};
use mcpo_gen::openapi::{combined_document, document};
use serde_json::{Value, json};

mod support;
use support::arbitrary_schema::arbitrary_schema;

fn validator() -> PathBuf {
    let bin_dir = std::env::var_os("MCPO_TEST_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/test-tools/venv/bin")
        });
    let validator = bin_dir.join("openapi-spec-validator");
    assert!(
        validator.is_file(),
        "{} is missing: run scripts/setup-test-deps.sh (or point MCPO_TEST_TOOLS at a \
         directory holding openapi-spec-validator)",
        validator.display()
    );
    validator
}

/// The `open-webui` wheel `scripts/setup-test-deps.sh` downloads (exactly one).
fn open_webui_wheel() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/test-tools/open-webui");
    let wheels: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|entry| entry.path())
                .filter(|path| path.extension().is_some_and(|ext| ext == "whl"))
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        wheels.len(),
        1,
        "one open-webui wheel in {}: run scripts/setup-test-deps.sh",
        dir.display()
    );
    wheels[0].clone()
}

/// Open WebUI's conversion of each document: no error, and the tools it
/// makes are exactly the document's tool operations (by operationId).
fn assert_open_webui_loads(label: &str, documents: &[(PathBuf, Value)]) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/open_webui/convert.py");
    let output = Command::new("python3")
        .arg(script)
        .arg(open_webui_wheel())
        .args(documents.iter().map(|(path, _)| path))
        .output()
        .expect("run python3 tests/open_webui/convert.py");
    assert!(
        output.status.success(),
        "{label}: convert.py failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let results: Value = serde_json::from_slice(&output.stdout).expect("convert.py prints JSON");
    for (path, doc) in documents {
        let result = &results[path.to_string_lossy().as_ref()];
        assert!(
            result.get("error").is_none(),
            "{label}: Open WebUI cannot load {}: {}",
            path.display(),
            result["error"]
        );
        // The tools, and the resource list and reads (issue 28): never the
        // prompts, the template and prompt lists or completions.
        let mut expected: Vec<&str> = doc["paths"]
            .as_object()
            .into_iter()
            .flatten()
            .filter_map(|(path, item)| Some((path, item.as_object()?)))
            .flat_map(|(path, item)| item.iter().map(move |(method, op)| (path, method, op)))
            .filter(|(path, method, operation)| {
                operation.get("x-mcp-tool").is_some()
                    || operation.get("x-mcp-resource-template").is_some()
                    || (*method == "get"
                        && (path.ends_with("/resources") || path.ends_with("/resources/read")))
            })
            .filter_map(|(_, _, operation)| operation["operationId"].as_str())
            .collect();
        let mut got: Vec<&str> = result["tools"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|tool| tool["name"].as_str())
            .collect();
        expected.sort();
        got.sort();
        assert_eq!(got, expected, "{label}: {}", path.display());
    }
}

fn lock_of(tools: Vec<Value>) -> Lock {
    Lock::new(
        ServerFacts {
            name: "validity-check".into(),
            version: "0.0.1".into(),
            title: Some("Validity check".into()),
            protocol_version: "2025-06-18".into(),
            capabilities: json!({"tools": {}}),
            instructions: Some("Instructions with `markdown` and */ in them.".into()),
        },
        Upstream::StreamableHttp {
            url: "http://127.0.0.1:9/mcp".into(),
            headers: mcpo_runtime::lock::ValueSources::from_names(["Authorization".to_string()]),
            oauth: None,
        },
        tools,
    )
    .expect("test tools have unique names")
}

/// Writes one document per tool plus one with all of them, validates them in
/// one run and fails with the validator's output.
fn assert_documents_valid(label: &str, tools: &[Value]) {
    let validator = validator();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut files = Vec::new();
    let mut documents = Vec::new();
    let mut write = |name: String, lock: &Lock| {
        let doc = document(lock);
        assert_eq!(doc, document(lock), "{name}: document is not deterministic");
        let path = dir.path().join(name);
        std::fs::write(&path, canonical_pretty(&doc)).expect("write document");
        files.push(path.clone());
        documents.push((path, doc));
    };
    for (index, tool) in tools.iter().enumerate() {
        write(
            format!("{label}-tool-{index:03}.json"),
            &lock_of(vec![tool.clone()]),
        );
    }
    write(format!("{label}-all-tools.json"), &lock_of(tools.to_vec()));

    assert_open_webui_loads(label, &documents);
    let output = Command::new(&validator)
        .args(["--schema", "3.1", "--validation-errors", "all"])
        .args(&files)
        .output()
        .expect("run openapi-spec-validator");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let failing: Vec<&str> = report
        .lines()
        .filter(|line| !line.trim_end().ends_with(": OK"))
        .collect();
    let keep = std::env::var_os("OPENAPI_VALIDITY_KEEP").is_some();
    if !output.status.success() || !failing.is_empty() || keep {
        // Name the tools behind the failing files.
        let mut culprits = String::new();
        for (index, tool) in tools.iter().enumerate() {
            let file = format!("{label}-tool-{index:03}.json");
            if failing.iter().any(|line| line.contains(&file)) {
                culprits.push_str(&format!("\n{file}: {tool}"));
            }
        }
        // Keep the documents for a look.
        let kept = dir.keep();
        if keep && output.status.success() && failing.is_empty() {
            eprintln!("{label} documents kept in {}", kept.display());
            return;
        }
        panic!(
            "openapi-spec-validator rejected {label} documents ({status}); documents kept in {kept}\n\
             {report}\nfailing tools:{culprits}",
            status = output.status,
            kept = kept.display(),
        );
    }
    assert_eq!(
        report.lines().filter(|line| line.ends_with(": OK")).count(),
        files.len(),
        "every file is reported OK:\n{report}"
    );
}

/// Varied real-world and edge-case tool definitions.
fn assorted_tools() -> Vec<Value> {
    vec![
        // mcp-server-time, verbatim shape.
        json!({"name": "get_current_time", "description": "Get current time in a specific timezones",
            "inputSchema": {"type": "object", "properties": {"timezone": {"type": "string",
                "description": "IANA timezone name (e.g., 'America/New_York', 'Europe/London'). Use 'America/New_York' as local timezone if no timezone provided by the user."}},
                "required": ["timezone"]}}),
        json!({"name": "get-time", "inputSchema": {"type": "object"}}),
        json!({"name": "get_time", "title": "Same id as get-time in mcpo", "inputSchema": {"type": "object"}}),
        json!({"name": "no_schema_at_all"}),
        json!({"name": "draft07_only", "inputSchema": {"$schema": "http://json-schema.org/draft-07/schema#"}}),
        // zod-to-json-schema style: draft-07, definitions, refs into properties.
        json!({"name": "zod_style", "inputSchema": {
            "$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
            "additionalProperties": false,
            "properties": {
                "entities": {"type": "array", "items": {"type": "object",
                    "properties": {"name": {"type": "string"}, "observations": {"type": "array", "items": {"type": "string"}}},
                    "required": ["name"], "additionalProperties": false}},
                "more": {"$ref": "#/properties/entities"},
                "first": {"$ref": "#/properties/entities/items"},
                "pair": {"type": "array", "items": [{"type": "string"}, {"type": "number"}], "minItems": 2, "maxItems": 2},
                "pairSecond": {"$ref": "#/properties/pair/items/1"},
                "kind": {"$ref": "#/definitions/Kind"}
            },
            "definitions": {"Kind": {"type": "string", "enum": ["a", "b"]}},
            "required": ["entities"]}}),
        // pydantic style: $defs, anyOf-null, titles, defaults.
        json!({"name": "pydantic_style", "inputSchema": {
            "type": "object", "title": "pydantic_styleArguments",
            "$defs": {
                "Node": {"type": "object", "title": "Node", "properties": {
                    "value": {"type": "integer", "title": "Value"},
                    "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}, "default": []}},
                    "required": ["value"]},
                "Wrapper": {"type": "object", "properties": {"node": {"$ref": "#/$defs/Node"}, "self": {"$ref": "#"}}},
                "Color": {"type": "string", "enum": ["red", "green"], "title": "Color"}
            },
            "properties": {
                "tree": {"$ref": "#/$defs/Node"},
                "wrapper": {"anyOf": [{"$ref": "#/$defs/Wrapper"}, {"type": "null"}], "default": null},
                "color": {"$ref": "#/$defs/Color", "default": "red"},
                "limit": {"anyOf": [{"type": "integer", "minimum": 1}, {"type": "null"}], "default": null, "title": "Limit"},
                "when": {"type": "string", "format": "date-time", "default": "2024-01-01T00:00:00Z"},
                "id": {"type": "string", "format": "uuid"},
                "mail": {"type": "string", "format": "email"},
                "site": {"type": "string", "format": "uri"}
            },
            "required": ["tree"]},
            "outputSchema": {"type": "object", "$defs": {"Node": {"type": "object", "properties": {"v": {"type": "integer"}}}},
                "properties": {"result": {"$ref": "#/$defs/Node"}}, "required": ["result"]},
            "annotations": {"readOnlyHint": true, "destructiveHint": false, "idempotentHint": true, "openWorldHint": false, "title": "Pydantic"}}),
        json!({"name": "every_keyword", "description": "Descriptions with */ and `backticks` and\n\n# markdown\n\n".to_string() + &"long text ".repeat(300),
            "inputSchema": {"type": "object", "properties": {
                "tuple": {"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}], "items": false},
                "nullable": {"type": ["string", "null"]},
                "const": {"const": "fixed"},
                "oneOf": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
                "allOf": {"allOf": [{"type": "object", "properties": {"a": {"type": "string"}}}, {"required": ["a"]}]},
                "map": {"type": "object", "additionalProperties": {"type": "integer"}},
                "closed": {"type": "object", "additionalProperties": false, "properties": {"x": {}}},
                "open": {"type": "object", "additionalProperties": true},
                "patterned": {"type": "object", "patternProperties": {"^x-": {"type": "string"}, "^\\p{L}+$": {}}},
                "numbers": {"type": "number", "minimum": 0, "exclusiveMaximum": 10, "multipleOf": 0.5},
                "text": {"type": "string", "minLength": 1, "maxLength": 5, "pattern": "^[a-z]+$"},
                "unicode_pattern": {"type": "string", "pattern": "^\\p{Lu}\\p{Ll}*$"},
                "named_group": {"type": "string", "pattern": "(?<year>\\d{4})-\\k<year>"},
                "empty": {},
                "true": true,
                "false": false,
                "if_then": {"if": {"type": "string"}, "then": {"minLength": 1}, "else": {"type": "number"}},
                "contains": {"type": "array", "contains": {"type": "string"}, "minContains": 1},
                "unevaluated": {"type": "object", "unevaluatedProperties": false},
                "deps": {"type": "object", "dependentRequired": {"a": ["b"]}, "dependentSchemas": {"c": {"required": ["d"]}}},
                "names": {"type": "object", "propertyNames": {"pattern": "^[a-z]+$"}},
                "type": {"type": "string"}, "match": {"type": "string"},
                "fooBar": {"type": "string"}, "foo_bar": {"type": "string"},
                "a.b": {"type": "string"}, "größe": {"type": "string"}, "a b/c~d%e": {"type": "string"},
                "ref_to_odd": {"$ref": "#/properties/a b~1c~0d%25e"},
                "content": {"type": "string", "contentMediaType": "application/json", "contentEncoding": "base64"},
                "examples": {"type": "string", "examples": ["x"], "deprecated": true, "readOnly": false}
            }, "required": ["type"]}}),
        // Garbage, and draft-04 leftovers.
        json!({"name": "garbage", "inputSchema": {
            "type": "objekt", "properties": {"a": 5, "b": null, "c": "string", "d": {"type": 7},
                "e": {"type": "integer", "default": "ten"}, "f": {"type": "string", "default": null},
                "g": {"type": "number", "minimum": 1, "exclusiveMinimum": true},
                "h": {"type": "array", "items": 3}, "i": {"enum": "abc"}, "j": {"anyOf": []},
                "k": {"pattern": "(("}, "l": {"$ref": "https://example.com/remote.json"},
                "m": {"$ref": "#/nowhere/at/all"}, "n": {"$ref": "#/required"},
                "o": {"discriminator": {"mapping": 1}}, "p": {"minLength": -1, "maxItems": 1.5},
                "q": {"required": ["x", 1]}, "r": {"$schema": "http://example.com/unknown-dialect"},
                "s": {"$id": "urn:example:s", "type": "string"}, "t": {"multipleOf": 0},
                "u": {"format": 5, "title": [], "description": {}}, "v": {"dependencies": {"a": 1, "b": ["c"]}},
                "w": {"type": ["string", "string"]}, "x": {"type": []}, "y": {"$defs": 5, "definitions": [1]},
                "z": {"examples": "not a list", "deprecated": "yes", "uniqueItems": "no"}},
            "required": "a", "$defs": {"Loop": {"$ref": "#/$defs/Loop"}}, "definitions": [1, 2]}}),
        json!({"name": "input_not_an_object", "inputSchema": "not a schema"}),
        json!({"name": "input_is_list", "inputSchema": [1, 2, 3]}),
        json!({"name": "input_true", "inputSchema": true}),
        json!({"name": "input_false", "inputSchema": false}),
        json!({"name": "output_garbage", "inputSchema": {"type": "object"}, "outputSchema": 42}),
        json!({"name": "output_false", "inputSchema": {"type": "object"}, "outputSchema": false}),
        json!({"name": "healthz", "description": "Collides with the operational route", "inputSchema": {"type": "object"}}),
        json!({"name": "a/b c", "description": "Needs escaping in the route", "inputSchema": {"type": "object"}}),
        json!({"name": "{curly}", "inputSchema": {"type": "object"}}),
        json!({"name": "ツール", "inputSchema": {"type": "object"}}),
        json!({"name": "error", "inputSchema": {"type": "object", "$defs": {"Detail": {"type": "string"}},
            "properties": {"d": {"$ref": "#/$defs/Detail"}}}}),
        json!({"name": "anchors", "inputSchema": {"type": "object",
            "$defs": {"Item": {"$anchor": "item", "type": "string"}},
            "properties": {"x": {"$ref": "#item"}, "y": {"$ref": "urn:nowhere#item"}}}}),
        json!({"name": "own_id", "inputSchema": {"$id": "https://example.com/tool.json", "type": "object",
            "definitions": {"D": {"type": "integer"}},
            "properties": {"x": {"$ref": "https://example.com/tool.json#/definitions/D"}}}}),
        json!({"name": "required_beside_allof", "inputSchema": {"type": "object",
            "allOf": [{"$ref": "#/$defs/Base"}], "required": ["base", "extra"],
            "$defs": {"Base": {"type": "object", "properties": {"base": {"type": "string"}}}}}}),
        json!({"name": "annotated", "title": "A titled tool", "inputSchema": {"type": "object"},
            "annotations": {"destructiveHint": true}, "execution": {"taskSupport": "forbidden"}}),
    ]
}

#[test]
fn assorted_tool_schemas_give_valid_documents() {
    assert_documents_valid("assorted", &assorted_tools());
}

/// Issue 20: tools named like the proxy's own routes, and integers bounded
/// to their 64-bit type (through unions, refs and nullable types), still
/// give valid documents.
#[test]
fn operational_route_names_and_bounded_integers_give_valid_documents() {
    let integers = json!({
        "type": "object",
        "$defs": {"Count": {"type": "integer", "minimum": 0}},
        "properties": {
            "plain": {"type": "integer"},
            "count": {"$ref": "#/$defs/Count"},
            "either": {"anyOf": [{"$ref": "#/$defs/Count"}, {"type": "string"}]},
            "maybe": {"type": ["integer", "null"], "exclusiveMinimum": 0},
            "wide": {"type": "integer", "maximum": 1e30, "minimum": -1e30},
            "draft4": {"type": "integer", "minimum": 0, "exclusiveMinimum": true}
        }
    });
    let tools: Vec<Value> = ["docs", "openapi.json", "healthz", "readyz", "metrics"]
        .iter()
        .map(|name| json!({"name": name, "inputSchema": integers}))
        .collect();
    assert_documents_valid("operational-names", &tools);
}

#[test]
fn empty_server_gives_a_valid_document() {
    assert_documents_valid("empty", &[]);
}

/// The schema corpus the fixture server serves (`tests/corpus/tools.json`).
#[test]
fn schema_corpus_gives_valid_documents() {
    let corpus_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/corpus/tools.json");
    let Ok(text) = std::fs::read_to_string(&corpus_path) else {
        // The corpus is written by another part of the project; until it
        // exists there is nothing to check (the assorted test covers the rest).
        eprintln!("{} not found: corpus not checked", corpus_path.display());
        return;
    };
    let corpus: Value = serde_json::from_str(&text).expect("tests/corpus/tools.json is JSON");
    let tools = corpus["tools"]
        .as_array()
        .expect("tests/corpus/tools.json has a \"tools\" list")
        .clone();
    assert!(!tools.is_empty(), "the corpus has tools");
    assert_documents_valid("corpus", &tools);
}

/// The locks of the committed generated examples: real servers' tool lists
/// (mcp-server-time, server-everything, ...), each as one whole document.
#[test]
fn generated_example_locks_give_valid_documents() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../generated-examples");
    let mut lock_paths: Vec<PathBuf> = std::fs::read_dir(&examples)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|entry| entry.path().join("mcp.lock.json"))
                .filter(|path| path.is_file())
                .collect()
        })
        .unwrap_or_default();
    lock_paths.sort();
    if lock_paths.is_empty() {
        eprintln!("no generated-examples/*/mcp.lock.json yet: nothing to check");
        return;
    }
    let mut committed_documents = Vec::new();
    for lock_path in lock_paths {
        let lock = CrateLock::read(&lock_path).expect("committed locks parse");
        let crate_dir = lock_path.parent().expect("a crate folder");
        let label = crate_dir
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_else(|| "example".into());
        committed_documents.push(crate_dir.join("openapi.json"));
        for (server, lock) in lock.servers() {
            let tools: Vec<Value> = lock
                .tools
                .iter()
                .map(|tool| tool.definition.clone())
                .collect();
            let label = match server {
                Some(server) => {
                    committed_documents
                        .push(crate_dir.join("servers").join(server).join("openapi.json"));
                    format!("{label}-{server}")
                }
                None => label.clone(),
            };
            assert_documents_valid(&label, &tools);
        }
    }
    // The committed files too: a multi-server crate's combined document is
    // built from its servers' and validated here only.
    let output = Command::new(validator())
        .args(["--schema", "3.1", "--validation-errors", "all"])
        .args(&committed_documents)
        .output()
        .expect("run openapi-spec-validator");
    let report = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{report}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        report.lines().filter(|line| line.ends_with(": OK")).count(),
        committed_documents.len(),
        "every committed document is reported OK:\n{report}"
    );
}

/// Garbage in, a valid document out: random schemas through the validator.
#[test]
fn arbitrary_schemas_give_valid_documents() {
    let mut seed = 2026;
    let tools: Vec<Value> = (0..80)
        .map(|n| {
            json!({"name": format!("random_{n}"),
                "inputSchema": arbitrary_schema(&mut seed, 5),
                "outputSchema": arbitrary_schema(&mut seed, 4)})
        })
        .collect();
    assert_documents_valid("arbitrary", &tools);
}

/// Issue 28: a lock's resources, resource templates and prompts, `lock_of`'s
/// server with `capabilities`.
fn surface_lock(tools: Vec<Value>, capabilities: Value, surface: LockedSurface) -> Lock {
    let mut lock = lock_of(tools);
    lock.server.capabilities = capabilities;
    lock.surface = surface;
    lock
}

fn assorted_surface() -> LockedSurface {
    LockedSurface {
        resources: lock_items(
            SurfaceKind::Resource,
            vec![
                json!({"uri": "file:///readme.md", "name": "readme", "mimeType": "text/markdown",
                       "description": "The readme, with */ and `backticks`."}),
                json!({"uri": "file:///logo.png", "name": "logo", "mimeType": "image/png"}),
                json!({"uri": "mem://odd", "name": "odd", "mimeType": "*/*; q=0"}),
                json!({"uri": "mem://config", "mimeType": "application/ld+json", "size": 12}),
            ],
        )
        .expect("keyed resources"),
        resource_templates: lock_items(
            SurfaceKind::ResourceTemplate,
            vec![
                json!({"name": "file", "title": "A file at a ref",
                       "uriTemplate": "repo://{owner}/{repo}/blob/{+path}{?ref,depth}",
                       "mimeType": "application/octet-stream"}),
                json!({"name": "a note/with slash", "uriTemplate": "note://{id}{#section}",
                       "description": "A note.\n\nWith paragraphs."}),
                json!({"name": "ツール", "uriTemplate": "x://{;params}{.ext}{/seg*}{&more}"}),
                json!({"name": "static", "uriTemplate": "x://always"}),
                json!({"name": "broken", "uriTemplate": "x://{unclosed"}),
                json!({"name": "file_2", "uriTemplate": "f://{p}"}),
            ],
        )
        .expect("keyed templates"),
        prompts: lock_items(
            SurfaceKind::Prompt,
            vec![
                json!({"name": "greet", "description": "Say hello", "arguments": [
                    {"name": "name", "description": "Who", "required": true},
                    {"name": "style", "title": "Style"}
                ]}),
                json!({"name": "no_arguments"}),
                json!({"name": "odd name/x", "arguments": [
                    {"name": "a b", "required": true}, {"name": "$ref"}, {"name": "type"}
                ]}),
            ],
        )
        .expect("keyed prompts"),
        resource_list: ResourceList::Pinned,
    }
}

/// Validates `documents` (name, document) in one validator run and through
/// Open WebUI's conversion.
fn assert_named_documents_valid(label: &str, documents: Vec<(String, Value)>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut written = Vec::new();
    for (name, doc) in documents {
        let path = dir.path().join(format!("{label}-{name}.json"));
        std::fs::write(&path, canonical_pretty(&doc)).expect("write document");
        written.push((path, doc));
    }
    assert_open_webui_loads(label, &written);
    let output = Command::new(validator())
        .args(["--schema", "3.1", "--validation-errors", "all"])
        .args(written.iter().map(|(path, _)| path))
        .output()
        .expect("run openapi-spec-validator");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let ok = report.lines().filter(|line| line.ends_with(": OK")).count();
    let failed = !output.status.success() || ok != written.len();
    if failed || std::env::var_os("OPENAPI_VALIDITY_KEEP").is_some() {
        let kept = dir.keep();
        assert!(
            !failed,
            "openapi-spec-validator rejected {label} documents; kept in {}\n{report}",
            kept.display()
        );
        eprintln!("{label} documents kept in {}", kept.display());
    }
}

/// Issue 28: documents with resources, resource templates (several
/// variables, optional query ones, every operator, odd names, one that does
/// not parse), prompts (with and without arguments), completions, a live
/// resource list, and the combined document of servers with and without
/// them, pass the validator and Open WebUI's loader (which makes the
/// resource list and reads tools, and nothing of the prompts).
#[test]
fn resources_templates_and_prompts_give_valid_documents() {
    let all = json!({"tools": {}, "resources": {}, "prompts": {}, "completions": {}});
    let tools = vec![
        json!({"name": "read_file", "inputSchema": {"type": "object"}}),
        json!({"name": "resources", "inputSchema": {"type": "object"}}),
        json!({"name": "resource", "inputSchema": {"type": "object",
            "$defs": {"List": {"type": "string"}}, "properties": {"l": {"$ref": "#/$defs/List"}}}}),
    ];
    let full = surface_lock(tools.clone(), all.clone(), assorted_surface());
    let no_completions = surface_lock(vec![], json!({"resources": {}}), assorted_surface());
    let prompts_only = surface_lock(
        vec![],
        json!({"prompts": {}, "completions": {}}),
        LockedSurface {
            prompts: assorted_surface().prompts,
            ..LockedSurface::default()
        },
    );
    let live = surface_lock(
        vec![],
        json!({"resources": {}}),
        LockedSurface {
            resource_list: ResourceList::Live,
            ..LockedSurface::default()
        },
    );
    let plain = lock_of(tools);
    let mut documents = Vec::new();
    for (name, lock) in [
        ("full", &full),
        ("no-completions", &no_completions),
        ("prompts-only", &prompts_only),
        ("live", &live),
    ] {
        let doc = document(lock);
        assert_eq!(doc, document(lock), "{name}: document is not deterministic");
        documents.push((name.to_string(), doc));
    }
    let servers: BTreeMap<String, Lock> = [
        ("alpha".to_string(), plain),
        ("beta".to_string(), full),
        ("gamma".to_string(), live),
    ]
    .into();
    let multi = MultiLock::new(ProxyCrate::from_name("multi"), servers);
    let server_documents: BTreeMap<String, Value> = multi
        .servers
        .iter()
        .map(|(name, lock)| (name.clone(), document(lock)))
        .collect();
    documents.push((
        "combined".to_string(),
        combined_document(&multi, &server_documents),
    ));
    assert_named_documents_valid("surface", documents);
}
