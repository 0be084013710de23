//! Component schemas in the form simple OpenAPI consumers can walk.
//!
//! Open WebUI (`resolve_schema` in `open_webui/utils/tools.py`) turns each
//! operation into a tool for the model by following `$ref`s to
//! `#/components/...` with plain dictionary lookups and recursing into
//! `properties`, `items`, `oneOf`, `anyOf` and `allOf`, expecting an object at
//! each. A boolean schema there, or a `$ref` into the middle of a component
//! (through a list, or with `~1`/`%25` escapes) makes it raise, and the
//! server's tools never load. So, without changing what any schema accepts:
//!
//! - boolean schemas at those places and as component roots become their
//!   object spellings, `true` -> `{}` and `false` -> `{"not": {}}` (the same
//!   schemas in JSON Schema 2020-12);
//! - a `$ref` to anything but a whole component points at a component of its
//!   own, a copy of its target (`XInputEntitiesItems`);
//! - a `$ref` beside other keywords (`{"$ref": ..., "description": ...}`,
//!   which Open WebUI replaces by the target, description lost) moves into
//!   an `allOf` branch of its own: `{"allOf": [{"$ref": ...}], "description": ...}`.
//! - an input schema whose properties are all in `allOf` branches (which
//!   Open WebUI does not look into for parameters) also names them at its
//!   root, each with its branches' schemas, and their `required` names
//!   ([`lift_all_of_properties`]): constraints the branches already make.
//! - an array schema without `items` or `prefixItems` says `"items": {}`
//!   (client generators such as openapi-python-client refuse it otherwise).
//!
//! The proxy validates against the schemas in `mcp.lock.json`, never this
//! document, so these spellings change nothing it enforces.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::naming::{UniqueNames, camel_ident};
use crate::schema::document::resolve_fragment_pointer;

const COMPONENT_PREFIX: &str = "#/components/schemas/";

/// Keywords holding one subschema (2020-12; the document is 2020-12 by now).
const SCHEMA_KEYWORDS: &[&str] = &[
    "additionalProperties",
    "contains",
    "contentSchema",
    "else",
    "if",
    "items",
    "not",
    "propertyNames",
    "then",
    "unevaluatedItems",
    "unevaluatedProperties",
];
const LIST_KEYWORDS: &[&str] = &["allOf", "anyOf", "oneOf", "prefixItems"];
const MAP_KEYWORDS: &[&str] = &[
    "$defs",
    "dependentSchemas",
    "patternProperties",
    "properties",
];

/// Where Open WebUI expects an object: `properties` values, `items`, and the
/// branches of `allOf`/`anyOf`/`oneOf`.
const WALKED_SCHEMA: &[&str] = &["items"];
const WALKED_LIST: &[&str] = &["allOf", "anyOf", "oneOf"];
const WALKED_MAP: &[&str] = &["properties"];

pub(super) fn make_walkable(document: &mut Value) {
    hoist_inner_ref_targets(document);
    let Some(Value::Object(schemas)) = document.pointer_mut("/components/schemas") else {
        return;
    };
    for schema in schemas.values_mut() {
        objectify_boolean(schema);
        objectify_walked_booleans(schema);
        for_each_object_mut(schema, &mut ref_beside_keywords_into_all_of);
        for_each_object_mut(schema, &mut array_items_stated);
    }
}

/// `{"type": "array"}` -> `{"type": "array", "items": {}}`: the same schema.
fn array_items_stated(object: &mut Map<String, Value>) {
    let is_array = match object.get("type") {
        Some(Value::String(kind)) => kind == "array",
        Some(Value::Array(kinds)) => kinds.iter().any(|kind| kind == "array"),
        _ => false,
    };
    if is_array && !object.contains_key("items") && !object.contains_key("prefixItems") {
        object.insert("items".into(), json!({}));
    }
}

/// `{"$ref": R, k: v}` -> `{"allOf": [{"$ref": R}], k: v}`: in 2020-12 `$ref`
/// applies beside its siblings exactly as one more `allOf` branch does.
fn ref_beside_keywords_into_all_of(object: &mut Map<String, Value>) {
    if object.len() < 2 || !object.get("$ref").is_some_and(Value::is_string) {
        return;
    }
    let Some(reference) = object.remove("$ref") else {
        return;
    };
    let branch = json!({"$ref": reference});
    match object.get_mut("allOf") {
        Some(Value::Array(branches)) => branches.push(branch),
        _ => {
            object.insert("allOf".into(), json!([branch]));
        }
    }
}

/// For each input root component in `roots`: the properties and `required`
/// names of its `allOf` branches (whole components by `$ref` followed, one
/// level) that the root does not name itself are added to the root. A name
/// several branches declare gets `{"allOf": [their schemas]}`. Validation
/// does not change: every branch applies to the whole object anyway.
pub(super) fn lift_all_of_properties(document: &mut Value, roots: &[String]) {
    for root in roots {
        let pointer = format!(
            "/components/schemas/{}",
            root.replace('~', "~0").replace('/', "~1")
        );
        let Some(schema) = document.pointer(&pointer).and_then(Value::as_object) else {
            continue;
        };
        let Some(branches) = schema.get("allOf").and_then(Value::as_array) else {
            continue;
        };
        let own: Map<String, Value> = schema
            .get("properties")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let mut lifted: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        let mut required: Vec<Value> = Vec::new();
        for branch in branches {
            let branch = match branch.get("$ref").and_then(Value::as_str) {
                Some(reference) if is_whole_component(reference) => {
                    match resolve_fragment_pointer(document, reference) {
                        Ok(resolved) => resolved.value,
                        Err(_) => continue,
                    }
                }
                _ => branch,
            };
            if let Some(properties) = branch.get("properties").and_then(Value::as_object) {
                for (name, property) in properties {
                    if !own.contains_key(name) {
                        lifted
                            .entry(name.clone())
                            .or_default()
                            .push(property.clone());
                    }
                }
            }
            for name in branch
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if name.is_string() && !required.contains(name) {
                    required.push(name.clone());
                }
            }
        }
        if lifted.is_empty() {
            continue;
        }
        let Some(Value::Object(schema)) = document.pointer_mut(&pointer) else {
            continue;
        };
        let properties = schema
            .entry("properties")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(properties) = properties.as_object_mut() {
            for (name, mut schemas) in lifted {
                let property = if schemas.len() == 1 {
                    schemas.remove(0)
                } else {
                    json!({"allOf": schemas})
                };
                properties.insert(name, property);
            }
        }
        if !required.is_empty() && schema.get("required").is_none_or(Value::is_array) {
            let mut names = schema
                .get("required")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for name in required {
                if !names.contains(&name) {
                    names.push(name);
                }
            }
            schema.insert("required".into(), Value::Array(names));
        }
    }
}

/// `true` -> `{}`, `false` -> `{"not": {}}`; anything else is left alone.
fn objectify_boolean(schema: &mut Value) {
    match schema {
        Value::Bool(true) => *schema = json!({}),
        Value::Bool(false) => *schema = json!({"not": {}}),
        _ => {}
    }
}

fn objectify_walked_booleans(schema: &mut Value) {
    let Some(object) = schema.as_object_mut() else {
        return;
    };
    for (keyword, value) in object.iter_mut() {
        let keyword = keyword.as_str();
        if SCHEMA_KEYWORDS.contains(&keyword) {
            if WALKED_SCHEMA.contains(&keyword) {
                objectify_boolean(value);
            }
            objectify_walked_booleans(value);
        } else if LIST_KEYWORDS.contains(&keyword) {
            for item in value.as_array_mut().into_iter().flatten() {
                if WALKED_LIST.contains(&keyword) {
                    objectify_boolean(item);
                }
                objectify_walked_booleans(item);
            }
        } else if MAP_KEYWORDS.contains(&keyword) {
            for item in value.as_object_mut().into_iter().flatten().map(|(_, v)| v) {
                if WALKED_MAP.contains(&keyword) {
                    objectify_boolean(item);
                }
                objectify_walked_booleans(item);
            }
        }
    }
}

/// Calls `visit` on every schema object under `schema` (itself included).
fn for_each_object_mut(schema: &mut Value, visit: &mut dyn FnMut(&mut Map<String, Value>)) {
    let Some(object) = schema.as_object_mut() else {
        return;
    };
    visit(object);
    for (keyword, value) in object.iter_mut() {
        let keyword = keyword.as_str();
        if SCHEMA_KEYWORDS.contains(&keyword) {
            for_each_object_mut(value, visit);
        } else if LIST_KEYWORDS.contains(&keyword) {
            for item in value.as_array_mut().into_iter().flatten() {
                for_each_object_mut(item, visit);
            }
        } else if MAP_KEYWORDS.contains(&keyword) {
            for item in value.as_object_mut().into_iter().flatten().map(|(_, v)| v) {
                for_each_object_mut(item, visit);
            }
        }
    }
}

/// Whether `reference` names one whole component by a plain name.
fn is_whole_component(reference: &str) -> bool {
    reference
        .strip_prefix(COMPONENT_PREFIX)
        .is_some_and(|name| {
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        })
}

fn hoist_inner_ref_targets(document: &mut Value) {
    // Every ref that points inside a component (or at one by an escaped name).
    let mut inner: BTreeMap<String, Option<String>> = BTreeMap::new();
    let Some(Value::Object(schemas)) = document.pointer_mut("/components/schemas") else {
        return;
    };
    for schema in schemas.values_mut() {
        for_each_object_mut(schema, &mut |object| {
            if let Some(Value::String(reference)) = object.get("$ref")
                && !is_whole_component(reference)
            {
                inner.insert(reference.clone(), None);
            }
        });
    }
    if inner.is_empty() {
        return;
    }
    let mut names = UniqueNames::new();
    for name in schemas.keys() {
        names.reserve(name);
    }
    // Copies of the targets as they are now; refs inside them are rewritten
    // below with everyone else's.
    let mut copies = Vec::new();
    for (reference, component) in inner.iter_mut() {
        let Ok(resolved) = resolve_fragment_pointer(document, reference) else {
            continue; // Not a local schema: quarantined before this runs.
        };
        let tokens = resolved.pointer.tokens();
        if tokens.len() < 3 || tokens[0] != "components" || tokens[1] != "schemas" {
            continue;
        }
        let mut target = resolved.value.clone();
        if !(target.is_object() || target.is_boolean()) {
            continue;
        }
        objectify_boolean(&mut target);
        let words: Vec<&str> = tokens[3..]
            .iter()
            .map(String::as_str)
            .filter(|token| *token != "properties")
            .collect();
        let name = names.claim(&format!(
            "{}{}",
            camel_ident(&tokens[2]).trim_start_matches("r#"),
            if words.is_empty() {
                String::new()
            } else {
                camel_ident(&words.join("_"))
                    .trim_start_matches("r#")
                    .to_string()
            }
        ));
        *component = Some(format!("{COMPONENT_PREFIX}{name}"));
        copies.push((name, target));
    }
    let Some(Value::Object(schemas)) = document.pointer_mut("/components/schemas") else {
        return;
    };
    schemas.extend(copies);
    for schema in schemas.values_mut() {
        for_each_object_mut(schema, &mut |object| {
            let replacement = object
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|reference| inner.get(reference).cloned().flatten());
            if let Some(replacement) = replacement {
                object.insert("$ref".into(), Value::String(replacement));
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document_with(schemas: Value) -> Value {
        json!({"openapi": "3.1.0", "components": {"schemas": schemas}})
    }

    fn make(schema: Value) -> Value {
        let mut doc = document_with(json!({"T": schema}));
        make_walkable(&mut doc);
        doc["components"]["schemas"]["T"].clone()
    }

    #[test]
    fn booleans_where_open_webui_walks_become_objects() {
        let mut doc = document_with(json!({
            "TOutput": false,
            "TInput": {"type": "object", "properties": {"a": true, "b": false,
                "c": {"type": "array", "items": false, "prefixItems": [true]},
                "d": {"anyOf": [true, {"allOf": [false]}], "oneOf": [true]}},
                "additionalProperties": false}
        }));
        make_walkable(&mut doc);
        let schemas = &doc["components"]["schemas"];
        assert_eq!(schemas["TOutput"], json!({"not": {}}));
        let properties = &schemas["TInput"]["properties"];
        assert_eq!(properties["a"], json!({}));
        assert_eq!(properties["b"], json!({"not": {}}));
        assert_eq!(
            properties["c"],
            json!({"type": "array", "items": {"not": {}}, "prefixItems": [true]})
        );
        assert_eq!(
            make(json!({"type": ["array", "null"]})),
            json!({"type": ["array", "null"], "items": {}})
        );
        assert_eq!(
            make(json!({"type": "array", "prefixItems": [true]})),
            json!({"type": "array", "prefixItems": [true]})
        );
        assert_eq!(
            properties["d"],
            json!({"anyOf": [{}, {"allOf": [{"not": {}}]}], "oneOf": [{}]})
        );
        // Not walked by Open WebUI: kept as written.
        assert_eq!(schemas["TInput"]["additionalProperties"], false);
    }

    #[test]
    fn properties_of_root_all_of_branches_are_named_at_the_root() {
        let mut doc = document_with(json!({
            "TInput": {"allOf": [
                {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
                {"$ref": "#/components/schemas/TBase"},
                {"properties": {"a": {"minLength": 1}, "own": {"type": "number"}}}
            ], "properties": {"own": {"type": "integer"}}},
            "TBase": {"properties": {"b": {"type": "integer"}}, "required": ["b"]},
            "TOutput": {"allOf": [{"properties": {"x": {}}}]}
        }));
        lift_all_of_properties(&mut doc, &["TInput".to_string()]);
        let schemas = &doc["components"]["schemas"];
        assert_eq!(
            schemas["TInput"]["properties"],
            json!({"a": {"allOf": [{"type": "string"}, {"minLength": 1}]},
                "b": {"type": "integer"}, "own": {"type": "integer"}})
        );
        assert_eq!(schemas["TInput"]["required"], json!(["a", "b"]));
        assert!(schemas["TOutput"].get("properties").is_none());
    }

    #[test]
    fn refs_beside_other_keywords_move_into_all_of() {
        let mut doc = document_with(json!({
            "TInput": {"type": "object", "properties": {
                "alone": {"$ref": "#/components/schemas/TNode"},
                "described": {"$ref": "#/components/schemas/TNode", "description": "d"},
                "both": {"$ref": "#/components/schemas/TNode", "allOf": [{"required": ["x"]}]}
            }},
            "TNode": {"type": "object"}
        }));
        make_walkable(&mut doc);
        let properties = &doc["components"]["schemas"]["TInput"]["properties"];
        let node = json!({"$ref": "#/components/schemas/TNode"});
        assert_eq!(properties["alone"], node);
        assert_eq!(
            properties["described"],
            json!({"allOf": [node], "description": "d"})
        );
        assert_eq!(
            properties["both"],
            json!({"allOf": [{"required": ["x"]}, node]})
        );
    }

    #[test]
    fn refs_into_components_point_at_copies_of_their_targets() {
        let mut doc = document_with(json!({
            "TInput": {"type": "object", "properties": {
                "pair": {"type": "array", "prefixItems": [{"type": "string"}, true]},
                "second": {"$ref": "#/components/schemas/TInput/properties/pair/prefixItems/1"},
                "tree": {"type": "object", "properties": {
                    "kids": {"type": "array", "items": {"$ref": "#/components/schemas/TInput/properties/tree"}}}},
                "again": {"$ref": "#/components/schemas/TInput/properties/tree"},
                "odd": {"$ref": "#/components/schemas/TInput/properties/a~1b"},
                "a/b": {"type": "string"}
            }}
        }));
        make_walkable(&mut doc);
        let schemas = &doc["components"]["schemas"];
        let properties = &schemas["TInput"]["properties"];
        assert_eq!(
            properties["second"]["$ref"],
            "#/components/schemas/TInputPairPrefixItems1"
        );
        assert_eq!(schemas["TInputPairPrefixItems1"], json!({}));
        assert_eq!(
            properties["again"]["$ref"],
            "#/components/schemas/TInputTree"
        );
        // The copy refers to itself, as the original referred to its place.
        assert_eq!(
            schemas["TInputTree"]["properties"]["kids"]["items"]["$ref"],
            "#/components/schemas/TInputTree"
        );
        assert_eq!(
            properties["tree"]["properties"]["kids"]["items"]["$ref"],
            "#/components/schemas/TInputTree"
        );
        assert_eq!(properties["odd"]["$ref"], "#/components/schemas/TInputAB");
        assert_eq!(schemas["TInputAB"], json!({"type": "string"}));
    }
}
