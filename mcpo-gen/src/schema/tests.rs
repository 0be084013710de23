//! One test per lowering rule, on the formatted output, plus a fuzz-ish
//! test that no input can make lowering panic or emit invalid Rust.

use serde_json::{Value, json};

use super::*;

fn tool(name: &str, input: Value) -> LockedTool {
    LockedTool::new(json!({"name": name, "inputSchema": input}))
}

/// Lowers one tool's input schema; returns (source of the items, input type).
fn lower_one(input: Value) -> (String, String) {
    let lowered = lower_tools(&[tool("t", input)]);
    let input = lowered.tools["t"].input.to_string();
    (lowered.items_source(), input)
}

/// `text` without whitespace or trailing commas, so that a match does not
/// depend on where prettyplease breaks a long line.
fn squash(text: &str) -> String {
    let compact: String = text.split_whitespace().collect();
    compact.replace(",)", ")").replace(",>", ">")
}

/// Asserts `source` contains `expected`, ignoring whitespace differences.
#[track_caller]
fn assert_has(source: &str, expected: &str) {
    assert!(
        squash(source).contains(&squash(expected)),
        "expected to find\n{expected}\nin\n{source}"
    );
}

#[test]
fn object_required_optional_and_renames() {
    let (source, input) = lower_one(json!({
        "type": "object",
        "properties": {
            "fooBar": {"type": "string", "description": "camel"},
            "foo_bar": {"type": "integer"},
            "type": {"type": "boolean"},
            "match": {"type": "number"},
            "a.b": {"type": "string"},
            "größe": {"type": "string"}
        },
        "required": ["fooBar", "type"]
    }));
    assert_eq!(input, "TInput");
    assert_has(&source, "/// Arguments of the MCP tool `t`.");
    assert_has(
        &source,
        "#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)] #[serde(crate = \"mcpo_runtime::codegen::serde\")] pub struct TInput {",
    );
    // `foo_bar` is already its own field name and keeps it; `fooBar` yields.
    assert_has(
        &source,
        "/// camel #[serde(rename = \"fooBar\")] pub foo_bar_2: String,",
    );
    assert_has(
        &source,
        "#[serde(default, skip_serializing_if = \"Option::is_none\")] pub foo_bar: Option<i64>,",
    );
    assert_has(&source, "pub r#type: bool,");
    assert_has(
        &source,
        "#[serde(default, skip_serializing_if = \"Option::is_none\")] pub r#match: Option<f64>,",
    );
    assert_has(&source, "#[serde(rename = \"a.b\", default");
    assert_has(&source, "#[serde(rename = \"größe\", default");
}

#[test]
fn nested_objects_and_arrays_of_objects_get_parent_names() {
    let (source, _) = lower_one(json!({
        "type": "object",
        "properties": {
            "options": {"type": "object", "properties": {"depth": {"type": "integer"}}},
            "entities": {"type": "array", "items": {
                "type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]
            }}
        },
        "required": ["entities"]
    }));
    assert_has(&source, "pub entities: Vec<TInputEntitiesItem>,");
    assert_has(&source, "pub options: Option<TInputOptions>,");
    assert_has(
        &source,
        "pub struct TInputEntitiesItem { pub name: String, }",
    );
    assert_has(&source, "pub struct TInputOptions {");
}

#[test]
fn additional_and_pattern_properties() {
    let (source, _) = lower_one(json!({
        "type": "object",
        "properties": {
            "closed": {"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": false},
            "open": {"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": true},
            "typed": {"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": {"type": "integer"}},
            "patterned": {"type": "object", "properties": {"a": {"type": "string"}},
                          "patternProperties": {"^x-": {"type": "string"}}, "additionalProperties": false},
            "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            "anything": {"type": "object"}
        }
    }));
    assert_has(
        &source,
        "#[serde(deny_unknown_fields)] pub struct TInputClosed {",
    );
    assert_has(
        &source,
        "pub struct TInputOpen { #[serde(default, skip_serializing_if = \"Option::is_none\")] pub a: Option<String>, }",
    );
    assert_has(
        &source,
        "#[serde(flatten)] pub additional_properties: ::std::collections::BTreeMap<String, i64>,",
    );
    assert_has(
        &source,
        "#[serde(flatten)] pub additional_properties: ::std::collections::BTreeMap<String, serde_json::Value>,",
    );
    assert!(!squash(&source).contains("#[serde(deny_unknown_fields)] pub struct TInputPatterned"));
    assert_has(
        &source,
        "pub labels: Option<::std::collections::BTreeMap<String, String>>,",
    );
    assert_has(
        &source,
        "pub anything: Option<serde_json::Map<String, serde_json::Value>>,",
    );
}

#[test]
fn enums_and_consts() {
    let (source, _) = lower_one(json!({
        "type": "object",
        "properties": {
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit", "Self", ""]},
            "level": {"type": "integer", "enum": [1, 2, 3]},
            "mixed": {"enum": ["a", 1]},
            "maybe": {"type": ["string", "null"], "enum": ["x", null]},
            "kind": {"const": "fixed"},
            "answer": {"const": 42}
        },
        "required": ["unit", "maybe"]
    }));
    assert_has(
        &source,
        "pub enum TInputUnit { #[serde(rename = \"celsius\")] Celsius, #[serde(rename = \"fahrenheit\")] Fahrenheit, #[serde(rename = \"Self\")] SelfValue, #[serde(rename = \"\")] Value, }",
    );
    assert_has(&source, "/// - enum: `[1,2,3]`");
    assert_has(&source, "pub level: Option<i64>,");
    assert_has(&source, "pub mixed: Option<serde_json::Value>,");
    assert_has(&source, "pub maybe: Option<TInputMaybe>,");
    assert_has(&source, "pub kind: Option<String>,");
    assert_has(&source, "pub answer: Option<i64>,");
}

#[test]
fn integers_that_cannot_be_negative_are_u64() {
    let (source, _) = lower_one(json!({
        "type": "object",
        "properties": {
            "count": {"type": "integer", "minimum": 0},
            "page": {"type": "integer", "minimum": 1, "maximum": 100},
            "after": {"type": "integer", "exclusiveMinimum": 0},
            "maybe": {"type": ["integer", "null"], "minimum": 0},
            "offset": {"type": "integer", "minimum": -1},
            "plain": {"type": "integer"},
            "ratio": {"type": "number", "minimum": 0}
        },
        "required": ["count", "page", "after", "offset", "plain", "ratio"]
    }));
    assert_has(&source, "pub count: u64,");
    assert_has(&source, "pub page: u64,");
    assert_has(&source, "pub after: u64,");
    assert_has(&source, "pub maybe: Option<u64>,");
    assert_has(&source, "pub offset: i64,");
    assert_has(&source, "pub plain: i64,");
    assert_has(&source, "pub ratio: f64,");
}

#[test]
fn nullable_both_ways_and_required_nullable() {
    let (source, _) = lower_one(json!({
        "type": "object",
        "properties": {
            "a": {"type": ["string", "null"]},
            "b": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
            "c": {"oneOf": [{"type": "null"}, {"type": "object", "properties": {"x": {"type": "string"}}}]}
        },
        "required": ["a", "b", "c"]
    }));
    // Required nullable: no `default`, serde accepts an explicit null as None.
    assert_has(
        &source,
        "pub a: Option<String>, pub b: Option<i64>, pub c: Option<TInputC>,",
    );
}

#[test]
fn unions_become_untagged_enums_only_when_distinguishable() {
    let (source, _) = lower_one(json!({
        "type": "object",
        "properties": {
            "id": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
            "num": {"anyOf": [{"type": "number"}, {"type": "integer"}]},
            "texts": {"anyOf": [{"type": "string", "format": "uri"}, {"type": "string", "enum": ["none"]}]},
            "shape": {"oneOf": [
                {"title": "circle", "type": "object", "properties": {"radius": {"type": "number"}}, "required": ["radius"]},
                {"title": "square", "type": "object", "properties": {"side": {"type": "number"}}, "required": ["side"]}
            ]},
            "blurry": {"anyOf": [
                {"type": "object", "properties": {"a": {"type": "string"}}},
                {"type": "object", "properties": {"b": {"type": "string"}}}
            ]},
            "lists": {"anyOf": [{"type": "array", "items": {"type": "string"}}, {"type": "array", "items": {"type": "integer"}}]},
            "multi": {"type": ["number", "string", "boolean"]}
        }
    }));
    assert_has(
        &source,
        "#[serde(untagged)] #[allow(clippy::large_enum_variant, clippy::enum_variant_names)] pub enum TInputId { String(String), Integer(i64), }",
    );
    assert_has(&source, "pub num: Option<f64>,");
    assert_has(&source, "pub texts: Option<String>,");
    assert_has(
        &source,
        "pub enum TInputShape { Circle(TInputShapeCircle), Square(TInputShapeSquare), }",
    );
    assert_has(&source, "pub blurry: Option<serde_json::Value>,");
    assert_has(&source, "pub lists: Option<serde_json::Value>,");
    assert_has(
        &source,
        "pub enum TInputMulti { Boolean(bool), String(String), Number(f64), }",
    );
}

#[test]
fn all_of_merges_objects_and_keeps_primitives() {
    let (source, _) = lower_one(json!({
        "type": "object",
        "$defs": {"Base": {"type": "object", "properties": {"id": {"type": "string"}}, "required": ["id"]}},
        "properties": {
            "merged": {"allOf": [{"$ref": "#/$defs/Base"}, {"properties": {"extra": {"type": "integer"}}}]},
            "short": {"allOf": [{"type": "string"}, {"minLength": 2}]},
            "clash": {"allOf": [{"type": "string"}, {"type": "integer"}]},
            "untyped": {"allOf": [{"minLength": 2}]}
        }
    }));
    assert_has(
        &source,
        "pub struct TInputMerged { pub id: String, #[serde(default, skip_serializing_if = \"Option::is_none\")] pub extra: Option<i64>, }",
    );
    assert_has(&source, "pub short: Option<String>,");
    assert_has(&source, "pub clash: Option<serde_json::Value>,");
    assert_has(&source, "pub untyped: Option<serde_json::Value>,");
}

#[test]
fn refs_between_defs_and_recursion() {
    let (source, _) = lower_one(json!({
        "type": "object",
        "definitions": {
            "Node": {"type": "object", "properties": {
                "value": {"type": "string"},
                "children": {"type": "array", "items": {"$ref": "#/definitions/Node"}},
                "parent": {"$ref": "#/definitions/Node"},
                "meta": {"$ref": "#/definitions/Meta"}
            }, "required": ["value"]},
            "Meta": {"type": "object", "properties": {"owner": {"$ref": "#/definitions/Owner"}}},
            "Owner": {"type": "string", "format": "email"},
            "Loop": {"$ref": "#/definitions/Loop"},
            "SelfArray": {"type": "array", "items": {"$ref": "#/definitions/SelfArray"}}
        },
        "properties": {
            "root": {"$ref": "#/definitions/Node"},
            "again": {"$ref": "#/definitions/Node"},
            "loop": {"$ref": "#/definitions/Loop"},
            "arrays": {"$ref": "#/definitions/SelfArray"},
            "missing": {"$ref": "#/definitions/Nope"},
            "external": {"$ref": "https://example.com/schema.json"},
            "me": {"$ref": "#"}
        }
    }));
    assert_has(&source, "pub root: Option<TNode>,");
    assert_has(&source, "pub again: Option<TNode>,");
    assert_has(&source, "pub children: Option<Vec<TNode>>,");
    assert_has(&source, "pub parent: Option<Box<TNode>>,");
    assert_has(&source, "pub meta: Option<TMeta>,");
    assert_has(&source, "pub owner: Option<String>,");
    assert_has(
        &source,
        "pub loop: Option<serde_json::Value>,"
            .replace("loop", "r#loop")
            .as_str(),
    );
    assert_has(&source, "pub arrays: Option<Vec<serde_json::Value>>,");
    assert_has(&source, "pub missing: Option<serde_json::Value>,");
    assert_has(&source, "pub external: Option<serde_json::Value>,");
    assert_has(&source, "pub me: Option<Box<TInput>>,");
    assert_eq!(source.matches("pub struct TNode ").count(), 1);
}

#[test]
fn tuples_only_when_closed_and_exact() {
    let (source, _) = lower_one(json!({
        "type": "object",
        "properties": {
            "point": {"type": "array", "prefixItems": [{"type": "number"}, {"type": "number"}], "items": false, "minItems": 2},
            "open": {"type": "array", "prefixItems": [{"type": "number"}, {"type": "string"}]},
            "draft7": {"type": "array", "items": [{"type": "string"}], "additionalItems": false, "minItems": 1}
        }
    }));
    assert_has(&source, "pub point: Option<(f64, f64)>,");
    assert_has(&source, "pub open: Option<Vec<serde_json::Value>>,");
    assert_has(&source, "pub draft7: Option<(String,)>,");
}

#[test]
fn roots_that_are_not_typed_objects() {
    for schema in [
        json!({"$schema": "http://json-schema.org/draft-07/schema#"}),
        json!({}),
        json!(true),
        json!("garbage"),
        json!({"type": "object"}),
        json!({"type": "string"}),
    ] {
        let (source, input) = lower_one(schema.clone());
        assert_eq!(source.trim(), "", "{schema}");
        assert_eq!(
            squash(&input),
            squash("serde_json :: Map < String , serde_json :: Value >"),
            "{schema}"
        );
    }
    // `properties: {}` is a tool without arguments: an empty struct.
    let (source, input) = lower_one(json!({"type": "object", "properties": {}}));
    assert_eq!(input, "TInput");
    assert_has(&source, "pub struct TInput {}");
}

#[test]
fn constraints_and_defaults_are_documented() {
    let (source, _) = lower_one(json!({
        "type": "object",
        "properties": {
            "when": {"type": "string", "format": "date-time", "description": "Start."},
            "count": {"type": "integer", "minimum": 0, "exclusiveMaximum": 100, "multipleOf": 5, "default": 10},
            "code": {"type": "string", "pattern": "^[A-Z`]+$", "minLength": 3}
        }
    }));
    assert_has(&source, "/// Start. /// /// - format: `\"date-time\"`");
    assert_has(
        &source,
        "/// - minimum: `0` /// - exclusiveMaximum: `100` /// - multipleOf: `5` /// - Default: `10`",
    );
    assert_has(&source, "/// - pattern: `\"^[A-Z']+$\"`");
}

#[test]
fn docs_are_safe_for_any_text() {
    let nasty = "Ends */ here /* and `code` **bold**\r\nline two\rthree\u{0}\u{7}\n\n- item\n\"quoted\" \\ backslash #[doc]";
    let long = "word ".repeat(2000);
    let lowered = lower_tools(&[LockedTool::new(json!({
        "name": "docs",
        "inputSchema": {"type": "object", "description": nasty, "properties": {
            "x": {"type": "string", "description": long, "title": "A\ntitle"}
        }}
    }))]);
    let source = lowered.items_source();
    syn::parse_file(&source).expect("the formatted source parses again");
    assert!(!source.contains('\r'));
    assert!(!source.contains('\u{0}'));
    assert_has(
        &source,
        "/// Ends */ here /* and `code` **bold** /// line two /// three",
    );
    assert_has(&source, "/// **A title**");
}

#[test]
fn names_are_unique_and_never_reserved() {
    let lowered = lower_tools(&[
        LockedTool::new(
            json!({"name": "get-time", "inputSchema": {"type": "object", "properties": {}}}),
        ),
        LockedTool::new(
            json!({"name": "get_time", "inputSchema": {"type": "object", "properties": {}}}),
        ),
        LockedTool::new(
            json!({"name": "app", "inputSchema": {"type": "object", "properties": {}}}),
        ),
        LockedTool::new(
            json!({"name": "x", "inputSchema": {"type": "object", "properties": {
                "": {"type": "object", "properties": {"a": {"type": "string"}}}
            }}}),
        ),
        LockedTool::new(
            json!({"name": "typed", "inputSchema": {"type": "object", "properties": {}},
            "outputSchema": {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}}),
        ),
    ]);
    assert_eq!(lowered.tools["get-time"].input.to_string(), "GetTimeInput");
    assert_eq!(lowered.tools["get_time"].input.to_string(), "GetTime2Input");
    assert_eq!(lowered.tools["app"].input.to_string(), "AppInput");
    assert_eq!(
        lowered.tools["typed"]
            .output
            .as_ref()
            .map(ToString::to_string),
        Some("TypedOutput".to_string())
    );
    assert!(lowered.tools["x"].output.is_none());
    let source = lowered.items_source();
    assert_has(&source, "pub struct XInputValue {");
    assert_has(&source, "pub struct TypedOutput { pub ok: bool, }");
}

#[test]
fn lowering_is_deterministic_and_order_independent() {
    let a = tool(
        "a",
        json!({"type": "object", "properties": {"x": {"type": "object", "properties": {"y": {}}}}}),
    );
    let b = tool(
        "b",
        json!({"type": "object", "properties": {"x": {"enum": ["p", "q"]}}}),
    );
    let first = lower_tools(&[a.clone(), b.clone()]).items_source();
    let second = lower_tools(&[b, a]).items_source();
    assert_eq!(first, second);
}

/// A tiny deterministic generator (no `rand` dependency needed).
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn pick<'a>(&mut self, options: &[&'a str]) -> &'a str {
        options[(self.next() % options.len() as u64) as usize]
    }
}

const KEYWORDS: &[&str] = &[
    "type",
    "properties",
    "required",
    "items",
    "prefixItems",
    "additionalProperties",
    "patternProperties",
    "enum",
    "const",
    "anyOf",
    "oneOf",
    "allOf",
    "$ref",
    "$defs",
    "definitions",
    "minItems",
    "additionalItems",
    "title",
    "description",
    "format",
    "not",
];
const TYPES: &[&str] = &[
    "object", "array", "string", "integer", "number", "boolean", "null", "bogus",
];
const REFS: &[&str] = &[
    "#",
    "#/$defs/a",
    "#/$defs/b",
    "#/definitions/a",
    "#/properties/x",
    "#/$defs/%61",
    "x.json#",
    "#/nope/~1",
    "%",
    "#/$defs/a/items",
];
const NAMES: &[&str] = &[
    "a", "b", "x", "type", "fooBar", "foo_bar", "a.b", "é", "", "Self", "self", "0", "Input",
];

fn random_schema(rng: &mut XorShift, depth: usize) -> Value {
    let roll = rng.next() % 10;
    if depth == 0 || roll == 0 {
        return match rng.next() % 6 {
            0 => json!(true),
            1 => json!(false),
            2 => json!(null),
            3 => json!(7),
            4 => json!("s"),
            _ => json!({}),
        };
    }
    let mut object = serde_json::Map::new();
    for _ in 0..(rng.next() % 5) {
        let keyword = rng.pick(KEYWORDS);
        let value = match keyword {
            "type" if rng.next().is_multiple_of(3) => json!([rng.pick(TYPES), rng.pick(TYPES)]),
            "type" => json!(rng.pick(TYPES)),
            "$ref" => json!(rng.pick(REFS)),
            "required" => json!([rng.pick(NAMES), rng.pick(NAMES)]),
            "enum" => json!([rng.pick(NAMES), rng.next() % 3, null]),
            "const" => random_schema(rng, 0),
            "minItems" => json!(rng.next() % 4),
            "properties" | "$defs" | "definitions" | "patternProperties" => {
                let mut map = serde_json::Map::new();
                for _ in 0..(rng.next() % 4) {
                    map.insert(rng.pick(NAMES).to_string(), random_schema(rng, depth - 1));
                }
                Value::Object(map)
            }
            "anyOf" | "oneOf" | "allOf" | "prefixItems" => Value::Array(
                (0..rng.next() % 4)
                    .map(|_| random_schema(rng, depth - 1))
                    .collect(),
            ),
            _ => random_schema(rng, depth - 1),
        };
        object.insert(keyword.to_string(), value);
    }
    Value::Object(object)
}

#[test]
fn random_and_hostile_schemas_never_panic_and_always_render() {
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let mut tools: Vec<LockedTool> = (0..400_usize)
        .map(|index| {
            let mut definition =
                json!({"name": format!("fuzz{index}"), "inputSchema": random_schema(&mut rng, 5)});
            if index.is_multiple_of(3) {
                definition["outputSchema"] = random_schema(&mut rng, 4);
            }
            LockedTool::new(definition)
        })
        .collect();
    // Deep nesting, self-reference and reference cycles through unions.
    let mut deep = json!({"type": "string"});
    for _ in 0..150 {
        let inner = deep.clone();
        deep = json!({"type": "object", "properties": {"next": inner}, "anyOf": [deep]});
        if deep.to_string().len() > 200_000 {
            break;
        }
    }
    let mut nested_arrays = json!({"type": "integer"});
    for _ in 0..300 {
        nested_arrays = json!({"type": "array", "items": nested_arrays});
    }
    for (name, schema) in [
        ("deep", deep),
        (
            "arrays",
            json!({"type": "object", "properties": {"a": nested_arrays}}),
        ),
        ("self", json!({"$ref": "#"})),
        (
            "cycle",
            json!({"$defs": {"a": {"anyOf": [{"$ref": "#/$defs/b"}, {"type": "string"}]},
                                  "b": {"oneOf": [{"$ref": "#/$defs/a"}, {"type": "integer"}]}},
                        "type": "object", "properties": {"v": {"$ref": "#/$defs/a"}}}),
        ),
        (
            "allof-self",
            json!({"allOf": [{"$ref": "#"}], "properties": {"x": {"allOf": [{"$ref": "#/properties/x"}]}}}),
        ),
        (
            "wide",
            json!({"anyOf": (0..200).map(|i| json!({"$ref": format!("#/$defs/d{}", i % 7)})).collect::<Vec<_>>(),
                        "$defs": {"d0": {"anyOf": [{"$ref": "#/$defs/d1"}, {"$ref": "#/$defs/d1"}]}}}),
        ),
    ] {
        tools.push(tool(name, schema));
    }
    let lowered = lower_tools(&tools);
    let file = syn::parse2::<syn::File>(lowered.items.clone()).expect("items parse as a file");
    prettyplease::unparse(&file);
    for (name, types) in &lowered.tools {
        syn::parse2::<syn::Type>(types.input.clone())
            .unwrap_or_else(|error| panic!("{name}: input type: {error}"));
        if let Some(output) = &types.output {
            syn::parse2::<syn::Type>(output.clone())
                .unwrap_or_else(|error| panic!("{name}: output type: {error}"));
        }
    }
    assert_eq!(lowered.tools.len(), tools.len());
}
