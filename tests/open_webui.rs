//! Open WebUI's own OpenAPI-to-tool conversion (`convert_openapi_to_tool_payload`
//! and `resolve_schema` from `open_webui/utils/tools.py`, read out of the pinned
//! `open-webui` wheel by `tests/open_webui/convert.py`) on every committed
//! example's `openapi.json`: every tool of the lock comes out exactly once,
//! named by its operationId, with its description, its parameters, their
//! types and descriptions, and its required list; nothing else comes out
//! (`/healthz`, `/readyz`), and no document makes the conversion raise.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use mcpo_gen_e2e::*;
use serde_json::{Value, json};

/// The wheel `scripts/setup-test-deps.sh` downloads (exactly one).
fn open_webui_wheel() -> PathBuf {
    let dir = workspace_root().join("target/test-tools/open-webui");
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

/// Open WebUI's tool payloads per document (panics on a conversion error).
fn convert(documents: &[PathBuf]) -> BTreeMap<String, Value> {
    let output = Command::new("python3")
        .arg(workspace_root().join("tests/open_webui/convert.py"))
        .arg(open_webui_wheel())
        .args(documents)
        .output()
        .expect("python3 runs");
    assert_exit_code(&output, 0);
    let results: BTreeMap<String, Value> =
        serde_json::from_slice(&output.stdout).expect("convert.py prints JSON");
    let errors: Vec<String> = results
        .iter()
        .filter_map(|(path, result)| result.get("error").map(|error| format!("{path}: {error}")))
        .collect();
    assert!(
        errors.is_empty(),
        "Open WebUI cannot load these tool servers:\n{}",
        errors.join("\n")
    );
    results
        .into_iter()
        .map(|(path, result)| (path, result["tools"].clone()))
        .collect()
}

/// `schema` with a lock-local `$ref` (`#/...`) followed, once.
fn followed<'a>(root: &'a Value, schema: &'a Value) -> &'a Value {
    schema
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|reference| reference.strip_prefix('#'))
        .and_then(|pointer| root.pointer(pointer))
        .unwrap_or(schema)
}

fn string_set(value: Option<&Value>) -> Vec<String> {
    let mut names: Vec<String> = value
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The tool's parameters as the lock states them: the root's properties and
/// required names, and those of its `allOf` branches.
fn locked_parameters(input: &Value) -> (BTreeMap<String, Value>, Vec<String>) {
    let mut properties = BTreeMap::new();
    let mut required = string_set(input.get("required"));
    let branches = input.get("allOf").and_then(Value::as_array);
    for part in std::iter::once(input).chain(branches.into_iter().flatten()) {
        let part = followed(input, part);
        for (name, schema) in part
            .get("properties")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            properties
                .entry(name.clone())
                .or_insert_with(|| schema.clone());
        }
        required.extend(string_set(part.get("required")));
    }
    required.sort();
    required.dedup();
    (properties, required)
}

#[test]
fn open_webui_loads_every_tool_of_every_example_and_nothing_else() {
    let examples = workspace_root().join("generated-examples");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&examples)
        .expect("generated-examples/")
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|dir| dir.join("openapi.json").is_file())
        .collect();
    dirs.sort();
    assert!(dirs.len() >= 8, "the committed examples: {dirs:?}");
    // What Open WebUI is given: a single-server crate's document, or each
    // server's own of a multi-server crate (`/{name}/openapi.json`), with the
    // lock's section of that server.
    let read = |path: &Path| -> Value {
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    };
    let mut cases: Vec<(String, Value, PathBuf)> = Vec::new();
    for dir in &dirs {
        let label = dir.file_name().unwrap().to_string_lossy().into_owned();
        let lock = read(&dir.join("mcp.lock.json"));
        match lock["servers"].as_object() {
            Some(servers) => {
                for (name, server) in servers {
                    let document = dir.join("servers").join(name).join("openapi.json");
                    cases.push((format!("{label}/{name}"), server.clone(), document));
                }
            }
            None => cases.push((label, lock, dir.join("openapi.json"))),
        }
    }
    assert!(
        cases
            .iter()
            .any(|(label, ..)| label == "multi-proxy/everything-sse"),
        "the multi-server example's servers are among the cases"
    );
    let documents: Vec<PathBuf> = cases
        .iter()
        .map(|(.., document)| document.clone())
        .collect();
    let payloads = convert(&documents);

    let mut checked_properties = 0;
    for (label, lock, document_path) in &cases {
        let document = read(document_path);
        let tools = payloads[&document_path.to_string_lossy().into_owned()]
            .as_array()
            .expect("a list of tools")
            .clone();

        // operationId per tool name, from the document.
        let mut ids: BTreeMap<String, String> = BTreeMap::new();
        for item in document["paths"].as_object().unwrap().values() {
            for operation in item.as_object().unwrap().values() {
                if let Some(name) = operation["x-mcp-tool"]["name"].as_str() {
                    let id = operation["operationId"].as_str().expect("a tool has an id");
                    assert!(
                        ids.insert(name.into(), id.into()).is_none(),
                        "{label}: {name} twice"
                    );
                }
            }
        }
        let locked = lock["tools"].as_array().unwrap();
        // Besides the tools, a model gets the resource list and the reads
        // (by URI, and one per locked template, its variables as
        // parameters); never the prompts, the template list or completions.
        let templates = lock["resourceTemplates"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let has_resources = lock.get("resources").is_some()
            || lock.get("resourceList").is_some()
            || !templates.is_empty();
        let mut resource_reads: Vec<String> = Vec::new();
        if has_resources {
            resource_reads.extend(["list_resources".into(), "read_resource".into()]);
        }
        for item in document["paths"].as_object().unwrap().values() {
            for operation in item.as_object().unwrap().values() {
                if operation.get("x-mcp-resource-template").is_some() {
                    let id = operation["operationId"]
                        .as_str()
                        .expect("a template read has an id");
                    resource_reads.push(id.into());
                    let spec = tools.iter().find(|tool| tool["name"] == id).expect(id);
                    let template = &operation["x-mcp-resource-template"]["name"];
                    let locked_template = templates
                        .iter()
                        .find(|entry| &entry["name"] == template)
                        .expect("the template is locked");
                    let uri = locked_template["definition"]["uriTemplate"]
                        .as_str()
                        .unwrap();
                    for (name, parameter) in spec["parameters"]["properties"].as_object().unwrap() {
                        assert!(
                            uri.contains(name.as_str()),
                            "{label}/{id}: {name} is a variable of {uri}"
                        );
                        assert_eq!(parameter["type"], "string", "{label}/{id}/{name}");
                    }
                }
            }
        }
        assert_eq!(
            resource_reads.len() - if has_resources { 2 } else { 0 },
            templates.len(),
            "{label}: one read per locked template"
        );
        let mut expected: Vec<&str> = ids
            .values()
            .map(String::as_str)
            .chain(resource_reads.iter().map(String::as_str))
            .collect();
        let mut got: Vec<&str> = tools
            .iter()
            .map(|tool| tool["name"].as_str().unwrap())
            .collect();
        expected.sort();
        got.sort();
        assert_eq!(
            got, expected,
            "{label}: Open WebUI's tools are the tools and resource reads, once each"
        );
        assert_eq!(
            ids.len(),
            locked.len(),
            "{label}: one operation per locked tool"
        );

        for entry in locked {
            let definition = &entry["definition"];
            let name = definition["name"].as_str().unwrap();
            let tool = tools
                .iter()
                .find(|tool| tool["name"] == ids[name].as_str())
                .unwrap();
            let context = format!("{label}/{name}");
            if let Some(description) = definition["description"]
                .as_str()
                .filter(|d| !d.trim().is_empty())
            {
                assert_eq!(tool["description"], description, "{context}");
            } else {
                assert!(
                    tool["description"].as_str().is_some_and(|d| !d.is_empty()),
                    "{context}"
                );
            }

            let input = definition.get("inputSchema").cloned().unwrap_or(json!({}));
            let (properties, required) = locked_parameters(&input);
            let parameters = &tool["parameters"];
            let given = parameters["properties"]
                .as_object()
                .cloned()
                .unwrap_or_default();
            assert_eq!(
                given.keys().collect::<Vec<_>>(),
                properties.keys().collect::<Vec<_>>(),
                "{context}: parameters"
            );
            assert_eq!(
                string_set(parameters.get("required")),
                required,
                "{context}: required"
            );
            for (property, schema) in &properties {
                let seen = &given[property];
                let schema = match schema {
                    Value::Bool(true) => json!({}),
                    Value::Bool(false) => json!({"not": {}}),
                    other => other.clone(),
                };
                assert!(seen.is_object(), "{context}.{property}: {seen}");
                for keyword in ["type", "description", "enum", "const", "default", "format"] {
                    if let Some(value) = schema.get(keyword) {
                        assert_eq!(
                            seen.get(keyword),
                            Some(value),
                            "{context}.{property}: {keyword}"
                        );
                    }
                }
                // A bare `$ref` in the lock: Open WebUI sees its target.
                if schema
                    .as_object()
                    .is_some_and(|o| o.len() == 1 && o.contains_key("$ref"))
                {
                    let target = followed(&input, &schema);
                    if let Some(kind) = target.get("type") {
                        assert_eq!(
                            seen.get("type"),
                            Some(kind),
                            "{context}.{property}: $ref type"
                        );
                    }
                }
                checked_properties += 1;
            }
        }
    }
    assert!(
        checked_properties > 50,
        "{checked_properties} parameters checked"
    );
}

/// The operational routes are still documented, without an id.
#[test]
fn operational_routes_have_no_operation_id() {
    let document: Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(&workspace_root()).join("generated-examples/time-proxy/openapi.json"),
        )
        .unwrap(),
    )
    .unwrap();
    for path in ["/healthz", "/readyz"] {
        let operation = &document["paths"][path]["get"];
        assert!(operation.is_object(), "{path} documented");
        assert!(
            operation.get("operationId").is_none(),
            "{path}: {operation}"
        );
    }
}
