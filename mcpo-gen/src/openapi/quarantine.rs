//! Keywords this document can't carry as they are, kept verbatim under
//! [`ORIGINAL_KEYWORDS`], and the `$ref`s no resolver could use.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use crate::schema::document::keywords::for_each_subschema_object_mut;
use crate::schema::document::resolve_fragment_pointer;

/// Extension keyword holding source keywords this document can't carry as-is.
pub const ORIGINAL_KEYWORDS: &str = "x-original-keywords";

/// Deeper `$ref` chains than this are not followed.
pub(super) const MAX_REF_HOPS: usize = 64;

/// Moves `keyword: value` under [`ORIGINAL_KEYWORDS`] of `object`.
pub(super) fn quarantine(object: &mut Map<String, Value>, keyword: &str, value: Value) {
    let original = object
        .entry(ORIGINAL_KEYWORDS)
        .or_insert_with(|| Value::Object(Map::new()));
    if let Some(original) = original.as_object_mut() {
        original.insert(keyword.to_string(), value);
    }
}

/// The schema a document-local `$ref` points at, if it is a schema.
pub(super) fn resolve_local<'a>(document: &'a Value, reference: &str) -> Option<&'a Value> {
    resolve_fragment_pointer(document, reference)
        .ok()
        .map(|resolved| resolved.value)
        .filter(|target| target.is_object() || target.is_boolean())
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
            for_each_subschema_object_mut(schema, &mut |object| {
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
        let pointer = resolve_fragment_pointer(document, reference)
            .map(|resolved| resolved.pointer.to_string())
            .ok();
        let target = pointer
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
            for_each_subschema_object_mut(schema, &mut |object| {
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
