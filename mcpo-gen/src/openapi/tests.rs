use super::*;
use crate::lock::{ServerFacts, Upstream};

fn lock_of(tools: Vec<Value>) -> Lock {
    Lock::new(
        ServerFacts {
            name: "demo".into(),
            version: "1.2.3".into(),
            title: Some("Demo Server".into()),
            protocol_version: "2025-06-18".into(),
            capabilities: json!({"tools": {}}),
            instructions: Some("Use wisely.".into()),
        },
        Upstream::Stdio {
            command: "uvx".into(),
            args: vec!["demo-server".into()],
            env: mcpo_runtime::lock::ValueSources::default(),
        },
        tools,
    )
    .unwrap()
}

fn operation<'a>(doc: &'a Value, path: &str) -> &'a Value {
    &doc["paths"][path]["post"]
}

#[test]
fn operation_ids_are_unique_and_keep_clean_names() {
    let doc = document(&lock_of(vec![
        json!({"name": "get-time"}),
        json!({"name": "get_time"}),
        json!({"name": "a b"}),
        json!({"name": "a_u0020b"}),
        json!({"name": "größe"}),
        json!({"name": "healthz"}),
    ]));
    let id = |path: &str| {
        operation(&doc, path)["operationId"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(id("/get-time"), "get-time");
    assert_eq!(id("/get_time"), "get_time");
    assert_eq!(id("/a_u0020b"), "a_u0020b");
    assert_eq!(id("/a%20b"), "a_u0020b_2");
    assert_eq!(id("/gr%C3%B6%C3%9Fe"), "gr_u00f6_u00dfe");
    assert_eq!(id("/healthz"), "healthz");
    for path in ["/healthz", "/readyz"] {
        assert!(doc["paths"][path]["get"].get("operationId").is_none());
    }
}

#[test]
fn tool_operation_carries_metadata_and_contract() {
    let doc = document(&lock_of(vec![json!({
        "name": "get_current_time",
        "description": "\n  Get the time.\nIn a zone.",
        "inputSchema": {"type": "object", "properties": {"timezone": {"type": "string"}},
                        "required": ["timezone"]},
        "outputSchema": {"type": "object", "properties": {"datetime": {"type": "string"}}},
        "annotations": {"readOnlyHint": true, "destructiveHint": false}
    })]));
    let op = operation(&doc, "/get_current_time");
    assert_eq!(op["summary"], "Get the time.");
    assert_eq!(op["description"], "\n  Get the time.\nIn a zone.");
    assert_eq!(op["x-mcp-tool"]["annotations"]["readOnlyHint"], true);
    assert_eq!(op["security"], json!([{"bearerAuth": []}, {}]));
    // `timezone` is required, so an empty body (`{}`) is refused.
    assert_eq!(op["requestBody"]["required"], true);
    assert_eq!(
        op["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/GetCurrentTimeInput"
    );
    assert_eq!(
        op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/GetCurrentTimeOutput"
    );
    for status in [
        "400", "401", "404", "408", "413", "415", "422", "500", "502", "503", "504",
    ] {
        assert!(op["responses"][status]["$ref"].is_string(), "{status}");
    }
    let schemas = &doc["components"]["schemas"];
    assert_eq!(
        schemas["GetCurrentTimeInput"]["required"],
        json!(["timezone"])
    );
    assert!(schemas["GetCurrentTimeOutput"].is_object());
    let info = &doc["info"];
    assert_eq!(info["title"], "Demo Server (demo)");
    assert_eq!(info["version"], "1.2.3");
    let description = info["description"].as_str().unwrap();
    assert!(description.contains("uvx demo-server"));
    assert!(description.contains("mcp.lock.json"));
    assert!(description.contains("Use wisely."));
    assert_eq!(doc["paths"]["/healthz"]["get"]["security"], json!([]));
}

#[test]
fn tools_named_like_operational_routes_keep_them_beside_the_get() {
    let names = ["docs", "openapi.json", "healthz", "readyz", "metrics"];
    let doc = document(&lock_of(
        names.iter().map(|name| json!({"name": name})).collect(),
    ));
    for name in names {
        let item = &doc["paths"][format!("/{name}")];
        assert_eq!(item["post"]["x-mcp-tool"]["name"], name, "{item}");
    }
    assert!(doc["paths"]["/healthz"]["get"].get("operationId").is_none());
    let description = doc["info"]["description"].as_str().unwrap();
    assert!(
        description.contains("`/docs` (Swagger UI)"),
        "{description}"
    );
    assert!(description.contains("(`POST /docs`)"), "{description}");
}

#[test]
fn input_integers_state_their_64_bit_range_and_outputs_are_left_alone() {
    let doc = document(&lock_of(vec![json!({
        "name": "t",
        "inputSchema": {"type": "object", "properties": {
            "n": {"type": "integer"}, "page": {"type": "integer", "minimum": 1}}},
        "outputSchema": {"type": "object", "properties": {"n": {"type": "integer"}}}
    })]));
    let schemas = &doc["components"]["schemas"];
    assert_eq!(
        schemas["TInput"]["properties"]["n"],
        json!({"type": "integer", "minimum": i64::MIN, "maximum": i64::MAX})
    );
    assert_eq!(
        schemas["TInput"]["properties"]["page"],
        json!({"type": "integer", "minimum": 1, "maximum": u64::MAX})
    );
    assert_eq!(
        schemas["TOutput"]["properties"]["n"],
        json!({"type": "integer"})
    );
}

#[test]
fn tool_without_output_schema_documents_the_mcpo_mapping() {
    let doc = document(&lock_of(vec![json!({"name": "t"})]));
    let op = operation(&doc, "/t");
    assert_eq!(
        op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/ToolResult"
    );
    assert_eq!(
        doc["components"]["schemas"]["TInput"],
        json!({"type": "object", "title": "TInput"})
    );
}

#[test]
fn same_lock_same_document_and_no_shared_name_is_taken() {
    let tools = vec![
        json!({"name": "error", "inputSchema": {"type": "object", "$defs": {"Detail": {}}}}),
        json!({"name": "tool", "inputSchema": {"$defs": {"Result": {"type": "string"}}}}),
    ];
    let first = document(&lock_of(tools.clone()));
    assert_eq!(first, document(&lock_of(tools)));
    let schemas = first["components"]["schemas"].as_object().unwrap();
    assert!(schemas.contains_key("ErrorDetail2"));
    assert!(schemas.contains_key("ToolResult2"));
    assert_eq!(schemas["ErrorDetail"]["required"], json!(["detail"]));
}

#[test]
fn components_are_titled_with_their_distinct_names() {
    let result = json!({"type": "object", "title": "TimeResult"});
    let doc = document(&lock_of(vec![
        json!({"name": "get_time", "inputSchema": {"type": "object", "title": "get_timeArguments"},
                "outputSchema": result}),
        json!({"name": "convert", "inputSchema": {"type": "object", "title": "ConvertInput",
                "$defs": {"R": {"type": "object", "title": "TimeResult"}}},
                "outputSchema": {"type": "object", "title": []}}),
    ]));
    let schemas = &doc["components"]["schemas"];
    let titles: Vec<&str> = ["GetTimeInput", "GetTimeOutput", "ConvertInput", "ConvertR"]
        .iter()
        .map(|name| schemas[name]["title"].as_str().unwrap())
        .collect();
    assert_eq!(
        titles,
        ["GetTimeInput", "GetTimeOutput", "ConvertInput", "ConvertR"]
    );
    assert_eq!(
        schemas["GetTimeInput"][ORIGINAL_KEYWORDS]["title"],
        "get_timeArguments"
    );
    assert_eq!(
        schemas["ConvertR"][ORIGINAL_KEYWORDS]["title"],
        "TimeResult"
    );
    assert!(schemas["ConvertInput"].get(ORIGINAL_KEYWORDS).is_none());
    // An invalid title was kept there already, verbatim.
    assert_eq!(
        schemas["ConvertOutput"][ORIGINAL_KEYWORDS]["title"],
        json!([])
    );
}

#[test]
fn long_summaries_are_cut_on_a_char_boundary() {
    let doc = document(&lock_of(vec![
        json!({"name": "t", "description": "é".repeat(500)}),
    ]));
    let summary = operation(&doc, "/t")["summary"].as_str().unwrap();
    assert_eq!(summary.chars().count(), SUMMARY_MAX_CHARS);
    assert!(summary.ends_with('…'));
}

#[test]
fn a_thousand_tools_get_distinct_ids_and_components() {
    let tools = (0..1000)
        .map(|n| {
            // Pairs that differ only by `-` vs `_` and case.
            let name = if n % 2 == 0 {
                format!("tool-{}", n / 2)
            } else {
                format!("tool_{}", n / 2)
            };
            json!({"name": name, "inputSchema": {"type": "object", "$defs": {"Item": {}},
                    "properties": {"i": {"$ref": "#/$defs/Item"}}}})
        })
        .collect();
    let doc = document(&lock_of(tools));
    let paths = doc["paths"].as_object().unwrap();
    let ids: std::collections::BTreeSet<&str> = paths
        .values()
        .flat_map(|item| item.as_object().unwrap().values())
        .filter_map(|op| op["operationId"].as_str())
        .collect();
    assert_eq!(ids.len(), 1000);
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    // Input + one def per tool, plus the five shared schemas.
    assert_eq!(schemas.len(), 2005);
    // `tool-0` and `tool_0` both camel-case to `Tool0`: suffixed, and each
    // tool's ref follows its own def.
    assert_eq!(
        schemas["Tool0Input"]["properties"]["i"]["$ref"],
        "#/components/schemas/Tool0Item"
    );
    assert_eq!(
        schemas["Tool0Input2"]["properties"]["i"]["$ref"],
        "#/components/schemas/Tool0Item2"
    );
}

use super::arbitrary_schema::arbitrary_schema;
use crate::schema::document::keywords::for_each_subschema;
use crate::schema::document::resolve_fragment_pointer;

#[test]
fn arbitrary_schemas_never_panic_and_leave_no_dangling_refs() {
    let mut seed = 7;
    for round in 0..300 {
        let tools = (0..3)
            .map(|n| {
                json!({"name": format!("t{round}_{n}"),
                        "inputSchema": arbitrary_schema(&mut seed, 5),
                        "outputSchema": arbitrary_schema(&mut seed, 4)})
            })
            .collect();
        let doc = document(&lock_of(tools));
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        for schema in schemas.values() {
            for_each_subschema(schema, &mut |_, sub| {
                let Some(reference) = sub.get("$ref").and_then(Value::as_str) else {
                    return;
                };
                let target = resolve_fragment_pointer(&doc, reference);
                assert!(
                    target.is_ok_and(|t| t.value.is_object() || t.value.is_boolean()),
                    "round {round}: {reference} dangles in {doc}"
                );
            });
        }
    }
}
