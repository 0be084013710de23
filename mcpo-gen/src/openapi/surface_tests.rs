use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::lock::{
    Lock, LockedSurface, MultiLock, ProxyCrate, ResourceList, ServerFacts, SurfaceKind, Upstream,
    lock_items,
};
use crate::openapi::{combined_document, document};

fn lock_with(capabilities: Value, tools: Vec<Value>, surface: LockedSurface) -> Lock {
    let mut lock = Lock::new(
        ServerFacts {
            name: "demo".into(),
            version: "1.2.3".into(),
            title: None,
            protocol_version: "2025-06-18".into(),
            capabilities,
            instructions: None,
        },
        Upstream::Stdio {
            command: "uvx".into(),
            args: vec!["demo-server".into()],
            env: mcpo_runtime::lock::ValueSources::default(),
        },
        tools,
    )
    .unwrap();
    lock.surface = surface;
    lock
}

fn items(kind: SurfaceKind, definitions: Vec<Value>) -> Vec<crate::lock::LockedItem> {
    lock_items(kind, definitions).unwrap()
}

/// Resources (one binary), templates (several variables, an optional query
/// one, odd names, one that does not parse) and prompts (with and without
/// arguments).
fn full_surface() -> LockedSurface {
    LockedSurface {
        resources: items(
            SurfaceKind::Resource,
            vec![
                json!({"uri": "file:///readme.md", "name": "readme", "mimeType": "text/markdown"}),
                json!({"uri": "file:///logo.png", "name": "logo", "mimeType": "image/png",
                       "description": "The logo."}),
                json!({"uri": "data://config", "name": "config", "mimeType": "application/json"}),
            ],
        ),
        resource_templates: items(
            SurfaceKind::ResourceTemplate,
            vec![
                json!({"name": "file", "title": "A file of a repository",
                       "description": "Reads one file.\nAt a ref.",
                       "uriTemplate": "repo://{owner}/{repo}/blob/{+path}{?ref}",
                       "mimeType": "application/octet-stream"}),
                json!({"name": "a note", "uriTemplate": "note://{id}"}),
                json!({"name": "broken", "uriTemplate": "x://{unclosed"}),
                json!({"name": "static", "uriTemplate": "x://always", "mimeType": "Image/GIF; q=1"}),
            ],
        ),
        prompts: items(
            SurfaceKind::Prompt,
            vec![
                json!({"name": "greet", "description": "Say hello", "arguments": [
                    {"name": "name", "description": "Who", "required": true},
                    {"name": "style"}
                ]}),
                json!({"name": "simple", "title": "Simple prompt"}),
                json!({"name": "größe/x", "arguments": [{"name": "n", "required": false}]}),
            ],
        ),
        resource_list: ResourceList::Pinned,
    }
}

fn operation<'a>(doc: &'a Value, path: &str, method: &str) -> &'a Value {
    let operation = &doc["paths"][path][method];
    assert!(
        operation.is_object(),
        "no {method} {path} in {:#}",
        doc["paths"]
    );
    operation
}

fn paths(doc: &Value) -> Vec<(String, String)> {
    let mut routes: Vec<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |method| (method.clone(), path.clone()))
        })
        .collect();
    routes.sort();
    routes
}

fn route_list(routes: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut routes: Vec<(String, String)> = routes
        .iter()
        .map(|(method, path)| (method.to_string(), path.to_string()))
        .collect();
    routes.sort();
    routes
}

fn capabilities_with_completions() -> Value {
    json!({"tools": {}, "resources": {}, "prompts": {}, "completions": {}})
}

#[test]
fn a_full_surface_gets_every_route_of_the_design() {
    let doc = document(&lock_with(
        capabilities_with_completions(),
        vec![json!({"name": "echo"})],
        full_surface(),
    ));
    assert_eq!(
        paths(&doc),
        route_list(&[
            ("post", "/echo"),
            ("get", "/healthz"),
            ("get", "/readyz"),
            ("get", "/resources"),
            ("get", "/resources/read"),
            ("get", "/resources/templates"),
            ("get", "/resources/templates/file"),
            ("post", "/resources/templates/file/complete"),
            ("get", "/resources/templates/a%20note"),
            ("post", "/resources/templates/a%20note/complete"),
            // No variables: nothing to complete.
            ("get", "/resources/templates/static"),
            ("get", "/prompts"),
            ("post", "/prompts/greet"),
            ("post", "/prompts/greet/complete"),
            ("post", "/prompts/simple"),
            ("post", "/prompts/gr%C3%B6%C3%9Fe%2Fx"),
            ("post", "/prompts/gr%C3%B6%C3%9Fe%2Fx/complete"),
        ])
    );
    // Only the list and the reads (and tools) are operations to call.
    let ids: BTreeMap<String, String> = paths(&doc)
        .into_iter()
        .filter_map(|(method, path)| {
            let id = doc["paths"][&path][&method]["operationId"].as_str()?;
            Some((format!("{method} {path}"), id.to_string()))
        })
        .collect();
    let expected: BTreeMap<String, String> = [
        ("post /echo", "echo"),
        ("get /resources", "list_resources"),
        ("get /resources/read", "read_resource"),
        ("get /resources/templates/file", "read_file"),
        ("get /resources/templates/a%20note", "read_a_note"),
        ("get /resources/templates/static", "read_static"),
    ]
    .iter()
    .map(|(route, id)| (route.to_string(), id.to_string()))
    .collect();
    assert_eq!(ids, expected);
    let tags = |path: &str, method: &str| operation(&doc, path, method)["tags"].clone();
    assert_eq!(tags("/resources/read", "get"), json!(["resources"]));
    assert_eq!(tags("/prompts/greet/complete", "post"), json!(["prompts"]));
    assert_eq!(
        tags("/resources/templates/file/complete", "post"),
        json!(["resources"])
    );
    let tag_names: Vec<&str> = doc["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|tag| tag["name"].as_str().unwrap())
        .collect();
    assert_eq!(tag_names, ["tools", "operations", "resources", "prompts"]);
}

#[test]
fn template_routes_take_their_variables_as_query_parameters() {
    let doc = document(&lock_with(json!({"resources": {}}), vec![], full_surface()));
    let file = operation(&doc, "/resources/templates/file", "get");
    let parameters: Vec<(String, bool)> = file["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            assert_eq!(p["in"], "query");
            assert_eq!(p["schema"], json!({"type": "string"}));
            (
                p["name"].as_str().unwrap().to_string(),
                p["required"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        parameters,
        [
            ("owner".to_string(), true),
            ("repo".to_string(), true),
            ("path".to_string(), true),
            ("ref".to_string(), false)
        ]
    );
    assert_eq!(file["summary"], "A file of a repository");
    let description = file["description"].as_str().unwrap();
    assert!(
        description.starts_with("Reads one file.\nAt a ref."),
        "{description}"
    );
    assert!(description.contains("`repo://{owner}/{repo}/blob/{+path}{?ref}`"));
    assert_eq!(file["x-mcp-resource-template"]["name"], "file");
    assert_eq!(
        file["x-mcp-resource-template"]["sha256"]
            .as_str()
            .unwrap()
            .len(),
        64
    );
    assert_eq!(file["security"], json!([{"bearerAuth": []}, {}]));
    let content = file["responses"]["200"]["content"].as_object().unwrap();
    assert_eq!(
        content["application/json"]["schema"]["$ref"],
        "#/components/schemas/ReadResourceResult"
    );
    assert_eq!(
        content["application/octet-stream"]["schema"],
        json!({"type": "string", "format": "binary"})
    );
    assert_eq!(content.len(), 2);
    let note = operation(&doc, "/resources/templates/a%20note", "get");
    assert_eq!(note["summary"], "Read a note");
    assert_eq!(note["parameters"][0]["name"], "id");
    // Normalized: lower case, no parameters.
    let r#static = operation(&doc, "/resources/templates/static", "get");
    assert!(r#static.get("parameters").is_none());
    assert!(r#static["responses"]["200"]["content"]["image/gif"].is_object());
    // No completion routes without the `completions` capability.
    assert!(
        doc["paths"]
            .get("/resources/templates/file/complete")
            .is_none()
    );
    // The template that does not parse has no route; the description says so.
    assert!(doc["paths"].get("/resources/templates/broken").is_none());
    let info = doc["info"]["description"].as_str().unwrap();
    assert!(
        info.contains("No read route for the template(s) `broken`"),
        "{info}"
    );
    let listed = operation(&doc, "/resources/templates", "get");
    assert!(listed.get("operationId").is_none());
    assert_eq!(
        listed["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/ResourceTemplateList"
    );
}

#[test]
fn read_resource_takes_a_uri_and_answers_the_locked_binary_types() {
    let doc = document(&lock_with(json!({"resources": {}}), vec![], full_surface()));
    let read = operation(&doc, "/resources/read", "get");
    assert_eq!(
        read["parameters"],
        json!([{"name": "uri", "in": "query", "required": true,
                "description": "The resource's URI.", "schema": {"type": "string"}}])
    );
    let mut types: Vec<&str> = read["responses"]["200"]["content"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    types.sort();
    // Text and JSON are answered as JSON only.
    assert_eq!(
        types,
        [
            "application/json",
            "application/octet-stream",
            "image/gif",
            "image/png"
        ]
    );
    let statuses: Vec<&str> = read["responses"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        statuses,
        [
            "200", "400", "401", "404", "409", "422", "502", "503", "504"
        ]
    );
    let responses = doc["components"]["responses"].as_object().unwrap();
    for (status, response) in read["responses"].as_object().unwrap() {
        if status != "200" {
            let name = response["$ref"].as_str().unwrap();
            let name = name.strip_prefix("#/components/responses/").unwrap();
            assert!(responses.contains_key(name), "{name}");
        }
    }
    let list = operation(&doc, "/resources", "get");
    assert_eq!(list["operationId"], "list_resources");
    assert_eq!(
        list["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/ResourceList"
    );
    // Pinned: answered from the lock.
    assert!(list["responses"].get("502").is_none());
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for name in [
        "ResourceList",
        "ResourceTemplateList",
        "PromptList",
        "ReadResourceResult",
        "GetPromptResult",
    ] {
        assert_eq!(schemas[name]["title"], name);
    }
    assert!(!schemas.contains_key("CompletionResult"));
    assert!(!schemas.contains_key("CompletionRequest"));
}

/// The description of the shared response `operation` answers `status` with.
fn refusal<'a>(doc: &'a Value, operation: &Value, status: &str) -> &'a str {
    let name = operation["responses"][status]["$ref"].as_str().unwrap();
    let name = name.strip_prefix("#/components/responses/").unwrap();
    doc["components"]["responses"][name]["description"]
        .as_str()
        .unwrap_or_else(|| panic!("no response {name}"))
}

#[test]
fn reads_and_posts_state_their_own_refusals() {
    let doc = document(&lock_with(
        capabilities_with_completions(),
        vec![],
        full_surface(),
    ));
    // A read: the upstream's "invalid params" or "resource not found" is a
    // 404 (the runtime maps both so); a 422 is only the proxy's own checks.
    for path in ["/resources/read", "/resources/templates/file"] {
        let read = operation(&doc, path, "get");
        let not_found = refusal(&doc, read, "404");
        assert!(not_found.contains("(-32002)"), "{not_found}");
        assert!(not_found.contains("(-32602)"), "{not_found}");
        let invalid = refusal(&doc, read, "422");
        assert!(invalid.contains("8 KiB"), "{invalid}");
        assert!(invalid.contains("missing"), "{invalid}");
        assert!(!invalid.contains("invalid params"), "{invalid}");
    }
    // A prompt or a completion: the upstream's "invalid params" is a 422.
    for path in ["/prompts/greet", "/prompts/greet/complete"] {
        let post = operation(&doc, path, "post");
        let invalid = refusal(&doc, post, "422");
        assert!(invalid.contains("invalid params (-32602)"), "{invalid}");
        assert!(!refusal(&doc, post, "404").contains("-32602"));
    }
    // Only the refusals a route answers are in the document.
    let prompts_only = LockedSurface {
        prompts: full_surface().prompts,
        ..LockedSurface::default()
    };
    let doc = document(&lock_with(json!({"prompts": {}}), vec![], prompts_only));
    let responses = doc["components"]["responses"].as_object().unwrap();
    assert!(responses.contains_key("InvalidParameters"));
    assert!(!responses.contains_key("ResourceNotFound"));
    assert!(!responses.contains_key("InvalidQuery"));
}

#[test]
fn prompt_routes_take_their_arguments_as_the_body() {
    let doc = document(&lock_with(
        capabilities_with_completions(),
        vec![],
        full_surface(),
    ));
    let greet = operation(&doc, "/prompts/greet", "post");
    assert!(greet.get("operationId").is_none());
    assert_eq!(greet["summary"], "Say hello");
    assert_eq!(greet["x-mcp-prompt"]["name"], "greet");
    assert_eq!(greet["requestBody"]["required"], true);
    let reference = greet["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        .as_str()
        .unwrap();
    assert_eq!(reference, "#/components/schemas/GreetPromptArguments");
    let schemas = &doc["components"]["schemas"];
    assert_eq!(
        schemas["GreetPromptArguments"],
        json!({
            "type": "object",
            "title": "GreetPromptArguments",
            "description": "The arguments of the prompt `greet`.",
            "properties": {
                "name": {"type": "string", "description": "Who"},
                "style": {"type": "string"}
            },
            "required": ["name"],
            "additionalProperties": false
        })
    );
    assert_eq!(
        greet["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/GetPromptResult"
    );
    let statuses: Vec<&str> = greet["responses"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        statuses,
        [
            "200", "400", "401", "404", "408", "409", "413", "415", "422", "502", "503", "504"
        ]
    );
    // Without arguments: an empty object, the body optional.
    let simple = operation(&doc, "/prompts/simple", "post");
    assert_eq!(simple["summary"], "Simple prompt");
    assert_eq!(simple["requestBody"]["required"], false);
    assert_eq!(schemas["SimplePromptArguments"]["properties"], json!({}));
    assert!(schemas["SimplePromptArguments"].get("required").is_none());
    assert!(doc["paths"].get("/prompts/simple/complete").is_none());
    let optional = operation(&doc, "/prompts/gr%C3%B6%C3%9Fe%2Fx", "post");
    assert_eq!(optional["requestBody"]["required"], false);
    // Completion: the request names one of the prompt's arguments, the
    // result is a component.
    let complete = operation(&doc, "/prompts/greet/complete", "post");
    assert!(complete.get("operationId").is_none());
    let request = &complete["requestBody"]["content"]["application/json"]["schema"];
    assert_eq!(
        request["properties"]["argument"]["enum"],
        json!(["name", "style"])
    );
    assert_eq!(request["required"], json!(["argument"]));
    assert_eq!(request["additionalProperties"], false);
    assert_eq!(
        complete["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/CompletionResult"
    );
    assert!(
        complete["description"]
            .as_str()
            .unwrap()
            .contains("(`name`, `style`)")
    );
    assert!(schemas.get("CompletionRequest").is_none());
    let prompts = operation(&doc, "/prompts", "get");
    assert!(prompts.get("operationId").is_none());
    assert_eq!(
        prompts["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/PromptList"
    );
}

#[test]
fn routes_exist_only_for_what_the_lock_holds() {
    // Prompts only: no resource routes, no resources tag.
    let prompts_only = LockedSurface {
        prompts: full_surface().prompts,
        ..LockedSurface::default()
    };
    let doc = document(&lock_with(json!({"prompts": {}}), vec![], prompts_only));
    assert!(doc["paths"].get("/resources").is_none());
    assert!(doc["paths"].get("/resources/read").is_none());
    assert!(doc["paths"]["/prompts"].is_object());
    assert!(
        !doc["components"]["schemas"]
            .as_object()
            .unwrap()
            .contains_key("ResourceList")
    );
    assert!(!doc.to_string().contains("\"name\":\"resources\""));
    // Templates only: the list and read by URI too (a template describes URIs).
    let templates_only = LockedSurface {
        resource_templates: full_surface().resource_templates,
        ..LockedSurface::default()
    };
    let doc = document(&lock_with(json!({"resources": {}}), vec![], templates_only));
    assert!(doc["paths"]["/resources"]["get"].is_object());
    assert!(doc["paths"]["/resources/read"]["get"].is_object());
    assert!(doc["paths"].get("/prompts").is_none());
    // A live list and nothing else: the list is forwarded, so it can fail upstream.
    let live = LockedSurface {
        resource_list: ResourceList::Live,
        ..LockedSurface::default()
    };
    let doc = document(&lock_with(json!({"resources": {}}), vec![], live));
    let list = operation(&doc, "/resources", "get");
    assert_eq!(list["operationId"], "list_resources");
    for status in ["502", "503", "504"] {
        assert!(list["responses"][status]["$ref"].is_string(), "{status}");
    }
    assert!(doc["paths"]["/resources/read"]["get"].is_object());
    assert!(doc["paths"].get("/resources/templates").is_none());
    let info = doc["info"]["description"].as_str().unwrap();
    assert!(
        info.contains("forwards the server's current resource list"),
        "{info}"
    );
}

#[test]
fn read_ids_are_unique_against_tool_ids_and_tools_keep_theirs() {
    let surface = LockedSurface {
        resource_templates: items(
            SurfaceKind::ResourceTemplate,
            vec![
                json!({"name": "file", "uriTemplate": "f://{p}"}),
                json!({"name": "resource", "uriTemplate": "r://{p}"}),
            ],
        ),
        ..LockedSurface::default()
    };
    let tools = vec![
        json!({"name": "list_resources"}),
        json!({"name": "read_file"}),
    ];
    let doc = document(&lock_with(json!({"resources": {}}), tools, surface));
    let id = |path: &str, method: &str| {
        operation(&doc, path, method)["operationId"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(id("/list_resources", "post"), "list_resources");
    assert_eq!(id("/read_file", "post"), "read_file");
    assert_eq!(id("/resources", "get"), "list_resources_2");
    assert_eq!(id("/resources/read", "get"), "read_resource");
    assert_eq!(id("/resources/templates/file", "get"), "read_file_2");
    // `read_resource` is the read by URI's.
    assert_eq!(
        id("/resources/templates/resource", "get"),
        "read_resource_2"
    );
}

#[test]
fn tools_named_like_the_new_routes_keep_their_post() {
    let tools = vec![json!({"name": "resources"}), json!({"name": "prompts"})];
    let doc = document(&lock_with(
        capabilities_with_completions(),
        tools,
        full_surface(),
    ));
    for name in ["resources", "prompts"] {
        let item = &doc["paths"][format!("/{name}")];
        assert_eq!(item["post"]["x-mcp-tool"]["name"], name);
        assert!(item["get"].is_object());
        assert!(item["get"].get("x-mcp-tool").is_none());
    }
}

#[test]
fn the_description_says_what_a_model_can_call() {
    let doc = document(&lock_with(json!({"resources": {}}), vec![], full_surface()));
    let info = doc["info"]["description"].as_str().unwrap();
    assert!(
        info.contains("only tools, the resource list and resource reads are operations to call"),
        "{info}"
    );
    assert!(info.contains("`list_resources`, `read_resource` and `read_{template}`"));
    assert!(info.contains("## Resources and prompts"));
    // Without the surface, the description is the tools-only one.
    let plain = document(&lock_with(
        json!({"tools": {}}),
        vec![],
        LockedSurface::default(),
    ));
    let info = plain["info"]["description"].as_str().unwrap();
    assert!(info.contains("only tools are operations to call"));
    assert!(!info.contains("Resources and prompts"));
}

#[test]
fn a_lock_without_a_surface_gets_the_same_document() {
    let tools = vec![json!({"name": "t", "inputSchema": {"type": "object",
            "properties": {"q": {"type": "string"}}}})];
    let plain = document(&lock_with(
        json!({"tools": {}, "completions": {}}),
        tools.clone(),
        LockedSurface::default(),
    ));
    let text = plain.to_string();
    for absent in [
        "ResourceList",
        "\"resources\"",
        "\"prompts\"",
        "ItemNotFound",
        "CallTimeout",
        "/complete",
    ] {
        assert!(!text.contains(absent), "{absent}");
    }
    assert_eq!(
        plain["tags"],
        json!([plain["tags"][0].clone(), plain["tags"][1].clone()])
    );
}

#[test]
fn surface_documents_are_deterministic_and_odd_input_does_not_panic() {
    let lock = lock_with(capabilities_with_completions(), vec![], full_surface());
    assert_eq!(document(&lock), document(&lock));
    let odd = LockedSurface {
        resources: items(
            SurfaceKind::Resource,
            vec![
                json!({"uri": "", "mimeType": 7}),
                json!({"uri": "x://a", "mimeType": "*/*"}),
                json!({"uri": "x://b", "mimeType": "no-slash"}),
                json!({"uri": "x://c", "mimeType": "a/b/c"}),
                json!({"uri": "x://d", "mimeType": "application/vnd.api+json"}),
                json!({"uri": "x://e", "mimeType": "text/html; charset=utf-8"}),
            ],
        ),
        resource_templates: items(
            SurfaceKind::ResourceTemplate,
            vec![
                json!({"name": "", "uriTemplate": "{x}"}),
                json!({"name": "no template"}),
                json!({"name": "number", "uriTemplate": 5}),
                json!({"name": "close", "uriTemplate": "a}b"}),
                json!({"name": "`tick`", "uriTemplate": "{`}"}),
                json!({"name": "dup", "uriTemplate": "{a}/{a}{?a,b}", "title": "", "description": 3}),
            ],
        ),
        prompts: items(
            SurfaceKind::Prompt,
            vec![
                json!({"name": "", "arguments": "none"}),
                json!({"name": "p", "arguments": [{"name": "a"}, {"name": "a", "required": true},
                    {"required": true}, 5, {"name": 3}]}),
            ],
        ),
        resource_list: ResourceList::Pinned,
    };
    let doc = document(&lock_with(capabilities_with_completions(), vec![], odd));
    let read = operation(&doc, "/resources/read", "get");
    let types: Vec<&String> = read["responses"]["200"]["content"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(types, ["application/json"]);
    // No path segment for an empty name.
    assert!(doc["paths"].get("/resources/templates/").is_none());
    let info = doc["info"]["description"].as_str().unwrap();
    assert!(
        info.contains("template(s) ``, `'tick'`, `close`, `no template`, `number`:"),
        "{info}"
    );
    for skipped in ["no%20template", "number", "close", "%60tick%60"] {
        assert!(
            doc["paths"]
                .get(format!("/resources/templates/{skipped}"))
                .is_none(),
            "{skipped}"
        );
    }
    let dup = operation(&doc, "/resources/templates/dup", "get");
    let names: Vec<&str> = dup["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["a", "b"]);
    assert_eq!(dup["summary"], "Read dup");
    assert_eq!(
        doc["components"]["schemas"]["PPromptArguments"]["properties"],
        json!({"a": {"type": "string"}})
    );
    // The first of two same-named arguments counts.
    assert!(
        doc["components"]["schemas"]["PPromptArguments"]
            .get("required")
            .is_none()
    );
    assert!(doc["paths"].get("/prompts/").is_none());
    assert!(doc["paths"]["/prompts/p"]["post"].is_object());
}

#[test]
fn shared_names_are_reserved_from_tools_when_the_lock_has_a_surface() {
    let tools = vec![json!({"name": "resource", "inputSchema": {"type": "object",
        "properties": {"l": {"$ref": "#/$defs/List"}}, "$defs": {"List": {"type": "string"}}}})];
    let surface = LockedSurface {
        prompts: items(SurfaceKind::Prompt, vec![json!({"name": "p"})]),
        ..LockedSurface::default()
    };
    let with = document(&lock_with(json!({"prompts": {}}), tools.clone(), surface));
    let schemas = with["components"]["schemas"].as_object().unwrap();
    assert!(schemas.contains_key("ResourceList2"));
    assert!(
        !schemas.contains_key("ResourceList"),
        "no resource routes here"
    );
    // Without a surface, the tool keeps the name it always had.
    let without = document(&lock_with(json!({}), tools, LockedSurface::default()));
    assert!(
        without["components"]["schemas"]
            .as_object()
            .unwrap()
            .contains_key("ResourceList")
    );
}

#[test]
fn the_combined_document_carries_each_servers_routes_under_its_prefix() {
    let servers: BTreeMap<String, Lock> = [
        (
            "alpha".to_string(),
            lock_with(
                json!({"tools": {}}),
                vec![json!({"name": "t"})],
                LockedSurface::default(),
            ),
        ),
        (
            "beta".to_string(),
            lock_with(capabilities_with_completions(), vec![], full_surface()),
        ),
        (
            "gamma".to_string(),
            lock_with(json!({"resources": {}}), vec![], full_surface()),
        ),
    ]
    .into();
    let lock = MultiLock::new(ProxyCrate::from_name("multi"), servers);
    let documents: BTreeMap<String, Value> = lock
        .servers
        .iter()
        .map(|(name, lock)| (name.clone(), document(lock)))
        .collect();
    let combined = combined_document(&lock, &documents);
    let paths = combined["paths"].as_object().unwrap();
    for path in [
        "/beta/resources",
        "/beta/resources/read",
        "/beta/resources/templates/file",
        "/beta/resources/templates/file/complete",
        "/beta/prompts/greet",
        "/gamma/prompts/greet",
    ] {
        assert!(paths.contains_key(path), "{path}");
    }
    assert!(!paths.contains_key("/alpha/resources"));
    assert!(!paths.contains_key("/gamma/prompts/greet/complete"));
    assert_eq!(
        combined["paths"]["/beta/resources/read"]["get"]["operationId"],
        "beta_read_resource"
    );
    assert_eq!(
        combined["paths"]["/gamma/resources/templates/file"]["get"]["operationId"],
        "gamma_read_file"
    );
    assert!(
        combined["paths"]["/beta/prompts/greet"]["post"]
            .get("operationId")
            .is_none()
    );
    // Shared once; each server's prompt arguments its own.
    let schemas = combined["components"]["schemas"].as_object().unwrap();
    assert!(schemas.contains_key("ReadResourceResult"));
    assert!(!schemas.contains_key("BetaReadResourceResult"));
    assert!(schemas.contains_key("BetaGreetPromptArguments"));
    assert!(schemas.contains_key("GammaGreetPromptArguments"));
    // The first server has none, yet the others' tags and responses are there.
    let tags: Vec<&str> = combined["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|tag| tag["name"].as_str().unwrap())
        .collect();
    assert_eq!(tags, ["tools", "operations", "resources", "prompts"]);
    let responses = combined["components"]["responses"].as_object().unwrap();
    let text = combined.to_string();
    for reference in text.split("\"$ref\":\"").skip(1) {
        let target = &reference[..reference.find('"').unwrap()];
        if let Some(name) = target.strip_prefix("#/components/responses/") {
            assert!(responses.contains_key(name), "dangling {target}");
        }
        if let Some(name) = target.strip_prefix("#/components/schemas/") {
            let name = name.split('/').next().unwrap();
            assert!(schemas.contains_key(name), "dangling {target}");
        }
    }
    assert!(
        combined["info"]["description"]
            .as_str()
            .unwrap()
            .contains("every tool, resource route and prompt of every server")
    );
}
