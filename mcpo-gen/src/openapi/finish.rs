//! Whole-document checks once every component exists.
//!
//! A `$ref` rewritten from a tool schema can still point nowhere (a pointer
//! into a keyword that was quarantined, or that never existed): validators
//! abort on those, so they are quarantined too. And OpenAPI validators
//! reject a component whose `required` names a property they can't find
//! beside an `allOf`; declaring the name as `true` in one extra `allOf`
//! branch satisfies them without changing what the schema accepts. Last,
//! the schemas are spelled so that simple consumers can walk them
//! ([`walkable`]).

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use super::quarantine::{MAX_REF_HOPS, quarantine_unusable_refs, resolve_local};
use super::walkable;

pub(super) fn finish(document: &mut Value) {
    // Refs written by the generator itself: quarantined as they are.
    quarantine_unusable_refs(document, &|reference| reference.to_string());
    declare_required_names_beside_all_of(document);
    walkable::make_walkable(document);
}

/// Property names an OpenAPI validator finds for `schema`: its `properties`
/// and those of its `allOf`/`anyOf`/`oneOf`/`items`/`not`, refs followed.
fn collect_property_names(
    document: &Value,
    schema: &Value,
    names: &mut BTreeSet<String>,
    seen_refs: &mut BTreeSet<String>,
) {
    if seen_refs.len() > MAX_REF_HOPS {
        return;
    }
    let Some(object) = schema.as_object() else {
        return;
    };
    if let Some(reference) = object.get("$ref").and_then(Value::as_str)
        && seen_refs.insert(reference.to_string())
        && let Some(target) = resolve_local(document, reference)
    {
        collect_property_names(document, target, names, seen_refs);
    }
    if let Some(properties) = object.get("properties").and_then(Value::as_object) {
        names.extend(properties.keys().cloned());
    }
    for keyword in ["allOf", "anyOf", "oneOf"] {
        for branch in object
            .get(keyword)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            collect_property_names(document, branch, names, seen_refs);
        }
    }
    for keyword in ["items", "not"] {
        if let Some(sub) = object.get(keyword) {
            collect_property_names(document, sub, names, seen_refs);
        }
    }
}

fn declare_required_names_beside_all_of(document: &mut Value) {
    let Some(schemas) = document
        .pointer("/components/schemas")
        .and_then(Value::as_object)
    else {
        return;
    };
    let mut fixes: Vec<(String, Vec<String>)> = Vec::new();
    for (component, schema) in schemas {
        let Some(required) = schema.get("required").and_then(Value::as_array) else {
            continue;
        };
        if !schema.get("allOf").is_some_and(Value::is_array) {
            continue;
        }
        let mut names = BTreeSet::new();
        collect_property_names(document, schema, &mut names, &mut BTreeSet::new());
        let missing: Vec<String> = required
            .iter()
            .filter_map(Value::as_str)
            .filter(|name| !names.contains(*name))
            .map(str::to_string)
            .collect();
        if !missing.is_empty() {
            fixes.push((component.clone(), missing));
        }
    }
    for (component, missing) in fixes {
        let pointer = format!(
            "/components/schemas/{}",
            component.replace('~', "~0").replace('/', "~1")
        );
        if let Some(Value::Array(all_of)) = document
            .pointer_mut(&pointer)
            .and_then(|schema| schema.get_mut("allOf"))
        {
            let properties: Map<String, Value> = missing
                .into_iter()
                // `{}`, not `true`: the same schema, and one Open WebUI can walk.
                .map(|name| (name, json!({})))
                .collect();
            all_of.push(json!({"properties": properties}));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openapi::quarantine::ORIGINAL_KEYWORDS;

    #[test]
    fn broken_refs_are_quarantined_good_ones_kept() {
        let mut document = json!({"components": {"schemas": {
            "A": {"properties": {
                "good": {"$ref": "#/components/schemas/B"},
                "deep": {"$ref": "#/components/schemas/B/properties/x"},
                "missing": {"$ref": "#/components/schemas/Nope"},
                "loop": {"$ref": "#/components/schemas/Loop"},
                "not_schema": {"$ref": "#/components/schemas/B/required"}
            }},
            "B": {"properties": {"x": {"type": "string"}}, "required": ["x"]},
            "Loop": {"$ref": "#/components/schemas/Loop2"},
            "Loop2": {"$ref": "#/components/schemas/Loop", "type": "string"}
        }}});
        finish(&mut document);
        let properties = &document["components"]["schemas"]["A"]["properties"];
        assert!(properties["good"]["$ref"].is_string());
        assert!(properties["deep"]["$ref"].is_string());
        for name in ["missing", "not_schema"] {
            assert!(properties[name].get("$ref").is_none());
            assert!(properties[name][ORIGINAL_KEYWORDS]["$ref"].is_string());
        }
        // The loop is cut once, where it passes; refs into it stay.
        let schemas = &document["components"]["schemas"];
        assert_eq!(properties["loop"]["$ref"], "#/components/schemas/Loop");
        assert_eq!(
            schemas["Loop"][ORIGINAL_KEYWORDS]["$ref"],
            "#/components/schemas/Loop2"
        );
        // Beside `type`, the ref is an `allOf` branch (see walkable.rs).
        assert_eq!(
            schemas["Loop2"]["allOf"],
            json!([{"$ref": "#/components/schemas/Loop"}])
        );
    }

    #[test]
    fn required_names_beside_all_of_get_declared() {
        let mut document = json!({"components": {"schemas": {
            "A": {"allOf": [{"$ref": "#/components/schemas/B"}], "required": ["x", "y"]},
            "B": {"properties": {"x": {}}, "allOf": [{"$ref": "#/components/schemas/B"}]}
        }}});
        finish(&mut document);
        assert_eq!(
            document["components"]["schemas"]["A"]["allOf"],
            json!([{"$ref": "#/components/schemas/B"}, {"properties": {"y": {}}}])
        );
    }
}
