use super::*;

fn carry_input(schema: Value, tool: &str) -> BTreeMap<String, Value> {
    let mut names = UniqueNames::new();
    carry_tool_schema(&schema, &camel_ident(tool), Role::Input, &mut names)
        .components
        .into_iter()
        .collect()
}

#[test]
fn defs_move_to_components_and_refs_follow() {
    let components = carry_input(
        json!({
            "type": "object",
            "properties": {
                "tree": {"$ref": "#/$defs/Node"},
                "leaf": {"$ref": "#/definitions/leaf-kind"},
                "deep": {"$ref": "#/$defs/Node/properties/children"},
                "again": {"$ref": "#/properties/tree"}
            },
            "$defs": {"Node": {
                "type": "object",
                "properties": {
                    "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}},
                    "kind": {"$ref": "#/definitions/leaf-kind"},
                    "root": {"$ref": "#"}
                }
            }},
            "definitions": {"leaf-kind": {"enum": ["a", "b"]}}
        }),
        "get-tree",
    );
    let names: Vec<_> = components.keys().cloned().collect();
    assert_eq!(names, ["GetTreeInput", "GetTreeLeafKind", "GetTreeNode"]);
    let input = &components["GetTreeInput"];
    assert!(input.get("$defs").is_none() && input.get("definitions").is_none());
    assert_eq!(
        input["properties"]["tree"]["$ref"],
        "#/components/schemas/GetTreeNode"
    );
    assert_eq!(
        input["properties"]["leaf"]["$ref"],
        "#/components/schemas/GetTreeLeafKind"
    );
    assert_eq!(
        input["properties"]["deep"]["$ref"],
        "#/components/schemas/GetTreeNode/properties/children"
    );
    assert_eq!(
        input["properties"]["again"]["$ref"],
        "#/components/schemas/GetTreeInput/properties/tree"
    );
    let node = &components["GetTreeNode"];
    assert_eq!(
        node["properties"]["children"]["items"]["$ref"],
        "#/components/schemas/GetTreeNode"
    );
    assert_eq!(
        node["properties"]["kind"]["$ref"],
        "#/components/schemas/GetTreeLeafKind"
    );
    assert_eq!(
        node["properties"]["root"]["$ref"],
        "#/components/schemas/GetTreeInput"
    );
}

#[test]
fn def_names_collide_across_tools_and_with_roots() {
    let mut names = UniqueNames::new();
    let schema = json!({"type": "object", "$defs": {"Input": {}, "item": {}}});
    let first = carry_tool_schema(&schema, "Get", Role::Input, &mut names);
    let second = carry_tool_schema(&schema, "Get", Role::Input, &mut names);
    let listed = |carried: &Carried| {
        carried
            .components
            .iter()
            .map(|(name, _)| name.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(listed(&first), ["GetInput", "GetInput2", "GetItem"]);
    assert_eq!(listed(&second), ["GetInput3", "GetInput4", "GetItem2"]);
}

#[test]
fn draft07_spellings_become_2020_12() {
    let components = carry_input(
        json!({
            "$schema": "http://json-schema.org/draft-07/schema#",
            "$id": "https://example.com/s.json",
            "properties": {
                "pair": {"type": "array", "items": [{"type": "string"}, {"type": "integer"}],
                         "additionalItems": false},
                "n": {"type": "number", "minimum": 1, "exclusiveMinimum": true,
                      "maximum": 9, "exclusiveMaximum": false},
                "second": {"$ref": "https://example.com/s.json#/properties/pair/items/1"},
                "named": {"$ref": "#leaf"}
            },
            "dependencies": {"a": ["b", "b"], "c": {"required": ["d"]}},
            "definitions": {"x": {"$anchor": "leaf", "type": "string"}}
        }),
        "t",
    );
    let input = &components["TInput"];
    assert_eq!(input["type"], "object");
    assert_eq!(
        input[ORIGINAL_KEYWORDS]["$schema"],
        "http://json-schema.org/draft-07/schema#"
    );
    let pair = &input["properties"]["pair"];
    assert_eq!(pair["prefixItems"][1]["type"], "integer");
    assert_eq!(pair["items"], false);
    let n = &input["properties"]["n"];
    assert_eq!(n["exclusiveMinimum"], 1);
    assert!(n.get("minimum").is_none());
    assert_eq!(n["maximum"], 9);
    assert!(n.get("exclusiveMaximum").is_none());
    assert_eq!(
        input["properties"]["second"]["$ref"],
        "#/components/schemas/TInput/properties/pair/prefixItems/1"
    );
    assert_eq!(
        input["properties"]["named"]["$ref"],
        "#/components/schemas/TX"
    );
    assert_eq!(input["dependentRequired"], json!({"a": ["b"]}));
    assert_eq!(input["dependentSchemas"], json!({"c": {"required": ["d"]}}));
    assert_eq!(components["TX"][ORIGINAL_KEYWORDS]["$anchor"], "leaf");
}

#[test]
fn external_and_broken_refs_are_quarantined_not_followed() {
    let components = carry_input(
        json!({"properties": {
                "remote": {"$ref": "https://example.com/other.json#/x"},
                "relative": {"$ref": "other.json"},
                "anchor": {"$ref": "#nowhere"},
                "number": {"$ref": 5},
                "pointer": {"$ref": "#/properties/nowhere"},
                "loop": {"$ref": "#/$defs/Loop"}
            }, "$defs": {"Loop": {"$ref": "#/$defs/Loop"}}}),
        "t",
    );
    let properties = &components["TInput"]["properties"];
    for name in ["remote", "relative", "anchor", "number", "pointer"] {
        assert!(properties[name].get("$ref").is_none(), "{name}");
        assert!(properties[name][ORIGINAL_KEYWORDS].get("$ref").is_some());
    }
    // Quarantined as the tool wrote it, not as rewritten.
    assert_eq!(
        properties["pointer"][ORIGINAL_KEYWORDS]["$ref"],
        "#/properties/nowhere"
    );
    // A ref to a def that is itself an alias loop still resolves; the
    // loop inside the def is what gets cut.
    assert_eq!(properties["loop"]["$ref"], "#/components/schemas/TLoop");
    assert_eq!(
        components["TLoop"][ORIGINAL_KEYWORDS]["$ref"],
        "#/$defs/Loop"
    );
}

#[test]
fn garbage_is_quarantined_and_never_panics() {
    let garbage = [
        json!(null),
        json!(5),
        json!("x"),
        json!([1, 2]),
        json!(false),
        json!({"$schema": "http://json-schema.org/draft-07/schema#"}),
        json!({"type": "objekt", "properties": [], "required": "a", "minLength": -1,
                   "anyOf": [], "allOf": {}, "items": 3, "pattern": "((", "enum": 1,
                   "multipleOf": 0, "exclusiveMinimum": "x", "$ref": ["#"],
                   "discriminator": {"x": 1}, "$defs": [], "definitions": 7,
                   "dependencies": {"a": 1}, "patternProperties": {"\\p{L}": {}, "^a": 5}}),
        json!({"properties": {"a": 1, "b": null, "c": {"items": [true, 7]}}}),
    ];
    for schema in garbage {
        let components = carry_input(schema.clone(), "g");
        assert!(components.contains_key("GInput"), "{schema}");
    }
    let weird = &carry_input(
        json!({"type": "objekt", "patternProperties": {"\\p{L}": {}, "^a": 5}, "required": ["a", "a"]}),
        "g",
    )["GInput"];
    assert_eq!(weird[ORIGINAL_KEYWORDS]["type"], "objekt");
    assert_eq!(weird["type"], "object");
    assert_eq!(
        weird["patternProperties"],
        json!({"^a": {INVALID_SCHEMA: 5}})
    );
    assert_eq!(
        weird[ORIGINAL_KEYWORDS]["patternProperties"],
        json!({"\\p{L}": {}})
    );
    assert_eq!(weird["required"], json!(["a"]));
    let only_dialect = &carry_input(
        json!({"$schema": "http://json-schema.org/draft-07/schema#"}),
        "g",
    )["GInput"];
    assert_eq!(only_dialect["type"], "object");
}

#[test]
fn conflicting_defaults_are_quarantined_valid_ones_kept() {
    let input = &carry_input(
        json!({"properties": {
            "bad": {"type": "integer", "default": "10"},
            "null": {"type": "string", "default": null},
            "ok": {"type": ["string", "null"], "default": null},
            "enum": {"enum": ["a"], "default": "b"}
        }}),
        "d",
    )["DInput"];
    let properties = &input["properties"];
    assert_eq!(properties["bad"][ORIGINAL_KEYWORDS]["default"], "10");
    assert!(properties["null"].get("default").is_none());
    assert_eq!(properties["ok"]["default"], Value::Null);
    assert!(properties["enum"].get("default").is_none());
}

#[test]
fn output_schema_keeps_its_own_type_and_boolean_roots() {
    let mut names = UniqueNames::new();
    let carried = carry_tool_schema(&json!(true), "T", Role::Output, &mut names);
    assert_eq!(
        carried.components,
        vec![("TOutput".to_string(), json!(true))]
    );
    let carried = carry_tool_schema(
        &json!({"anyOf": [{"type": "string"}]}),
        "T",
        Role::Output,
        &mut names,
    );
    assert!(carried.components[0].1.get("type").is_none());
    let carried = carry_tool_schema(&json!(true), "T", Role::Input, &mut names);
    assert_eq!(carried.components[0].1, json!({"type": "object"}));
}
