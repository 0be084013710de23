//! Whole-document checks once every component exists.
//!
//! A `$ref` rewritten from a tool schema can still point nowhere (a pointer
//! into a keyword that was quarantined, or that never existed): validators
//! abort on those, so they are quarantined too. And OpenAPI validators
//! reject a component whose `required` names a property they can't find
//! beside an `allOf`; declaring the name as `true` in one extra `allOf`
//! branch satisfies them without changing what the schema accepts.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use super::carry::ORIGINAL_KEYWORDS;
use super::walk::{for_each_schema_object_mut, percent_decode, pointer_tokens, resolve_tokens};

/// Deeper `$ref` chains than this are not followed when collecting names.
const MAX_REF_HOPS: usize = 64;

pub(super) fn finish(document: &mut Value) {
    quarantine_broken_refs(document);
    declare_required_names_beside_all_of(document);
}

/// The schema a document-local `$ref` points at, if it is a schema.
fn resolve_local<'a>(document: &'a Value, reference: &str) -> Option<&'a Value> {
    let fragment = reference.strip_prefix('#')?;
    let tokens = pointer_tokens(&percent_decode(fragment)?)?;
    resolve_tokens(document, &tokens).filter(|target| target.is_object() || target.is_boolean())
}

fn quarantine_broken_refs(document: &mut Value) {
    quarantine_unusable_refs(document, &|reference| reference.to_string());
}

/// Moves `$ref`s that a resolver can't use under `x-original-keywords`,
/// written as `original_of` says (the tool's own spelling, before
/// rewriting): refs that point at no schema (every occurrence), and alias
/// loops (`A = {"$ref": A}`), cut at the schema the loop passes through.
pub(super) fn quarantine_unusable_refs(document: &mut Value, original_of: &dyn Fn(&str) -> String) {
    let references = schema_refs(document);
    let dangling: BTreeSet<String> = references
        .iter()
        .filter(|reference| resolve_local(document, reference).is_none())
        .cloned()
        .collect();
    if let Some(Value::Object(schemas)) = document.pointer_mut("/components/schemas") {
        for schema in schemas.values_mut() {
            for_each_schema_object_mut(schema, &mut |object| {
                let is_dangling = object
                    .get("$ref")
                    .and_then(Value::as_str)
                    .is_some_and(|reference| dangling.contains(reference));
                if is_dangling && let Some(Value::String(reference)) = object.remove("$ref") {
                    quarantine(object, "$ref", Value::String(original_of(&reference)));
                }
            });
        }
    }
    for reference in references.difference(&dangling) {
        // Earlier cuts may have broken this loop already.
        if !is_ref_cycle(document, reference) {
            continue;
        }
        let target = reference
            .strip_prefix('#')
            .and_then(percent_decode)
            .and_then(|pointer| document.pointer_mut(&pointer))
            .and_then(Value::as_object_mut);
        if let Some(object) = target
            && let Some(Value::String(next)) = object.remove("$ref")
        {
            quarantine(object, "$ref", Value::String(original_of(&next)));
        }
    }
}

/// Every `$ref` string under `components/schemas`.
fn schema_refs(document: &Value) -> BTreeSet<String> {
    let mut references = BTreeSet::new();
    let mut schemas = document
        .pointer("/components/schemas")
        .cloned()
        .unwrap_or(Value::Null);
    if let Some(schemas) = schemas.as_object_mut() {
        for schema in schemas.values_mut() {
            for_each_schema_object_mut(schema, &mut |object| {
                if let Some(Value::String(reference)) = object.get("$ref") {
                    references.insert(reference.clone());
                }
            });
        }
    }
    references
}

/// `true` when following `$ref` from schema to schema comes back to
/// `reference` without passing through any other keyword: an alias loop
/// (`A = {"$ref": A}`) that describes nothing and sends resolvers into
/// endless recursion.
fn is_ref_cycle(document: &Value, reference: &str) -> bool {
    let mut current = reference.to_string();
    for _ in 0..MAX_REF_HOPS {
        let next = resolve_local(document, &current)
            .and_then(|target| target.get("$ref"))
            .and_then(Value::as_str);
        match next {
            Some(next) if next == reference => return true,
            Some(next) => current = next.to_string(),
            None => return false,
        }
    }
    // A chain this long is as good as a loop for a resolver.
    true
}

fn quarantine(object: &mut Map<String, Value>, keyword: &str, value: Value) {
    let original = object
        .entry(ORIGINAL_KEYWORDS)
        .or_insert_with(|| Value::Object(Map::new()));
    if let Some(original) = original.as_object_mut() {
        original.insert(keyword.to_string(), value);
    }
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
                .map(|name| (name, Value::Bool(true)))
                .collect();
            all_of.push(json!({"properties": properties}));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(schemas["Loop2"]["$ref"], "#/components/schemas/Loop");
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
            json!([{"$ref": "#/components/schemas/B"}, {"properties": {"y": true}}])
        );
    }
}
