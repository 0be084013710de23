//! Where subschemas live inside a JSON Schema object, and JSON Pointer helpers.
//!
//! One table of applicator keywords drives every traversal (anchor collection,
//! the final `$ref` check, the `required`/`allOf` fix-up), so they all agree on
//! what counts as a schema position.

use serde_json::{Map, Value};

/// Keywords whose value is one subschema (2020-12, plus draft-07's `additionalItems`).
pub(super) const SINGLE_SCHEMA_KEYWORDS: &[&str] = &[
    "additionalItems",
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

/// Keywords whose value maps names to subschemas.
pub(super) const MAP_SCHEMA_KEYWORDS: &[&str] = &[
    "$defs",
    "definitions",
    "dependentSchemas",
    "patternProperties",
    "properties",
];

/// Keywords whose value is a list of subschemas (`items` too in draft-07 tuple form).
pub(super) const LIST_SCHEMA_KEYWORDS: &[&str] = &["allOf", "anyOf", "oneOf", "prefixItems"];

/// Calls `visit` with the JSON Pointer tokens (relative to `schema`) and the
/// value of every schema position below `schema`, including `schema` itself.
/// Handles draft-07 tuple `items` and schema-valued `dependencies` too.
pub(super) fn for_each_schema<'a>(
    schema: &'a Value,
    tokens: &mut Vec<String>,
    visit: &mut dyn FnMut(&[String], &'a Value),
) {
    visit(tokens, schema);
    let Some(object) = schema.as_object() else {
        return;
    };
    for (keyword, value) in object {
        let keyword_str = keyword.as_str();
        let is_single = SINGLE_SCHEMA_KEYWORDS.contains(&keyword_str) && !value.is_array();
        let is_list = LIST_SCHEMA_KEYWORDS.contains(&keyword_str)
            || (keyword_str == "items" && value.is_array());
        let is_map = MAP_SCHEMA_KEYWORDS.contains(&keyword_str) || keyword_str == "dependencies";
        tokens.push(keyword.clone());
        if is_single {
            for_each_schema(value, tokens, visit);
        } else if is_list {
            for (index, item) in value.as_array().into_iter().flatten().enumerate() {
                tokens.push(index.to_string());
                for_each_schema(item, tokens, visit);
                tokens.pop();
            }
        } else if is_map {
            for (name, item) in value.as_object().into_iter().flatten() {
                // `dependencies` mixes schemas with lists of names.
                if keyword_str == "dependencies" && item.is_array() {
                    continue;
                }
                tokens.push(name.clone());
                for_each_schema(item, tokens, visit);
                tokens.pop();
            }
        }
        tokens.pop();
    }
}

/// Calls `visit` on every schema object below (and including) `schema`,
/// children after their parent. Only 2020-12 positions: run it on schemas
/// that were already carried into the document.
pub(super) fn for_each_schema_object_mut(
    schema: &mut Value,
    visit: &mut dyn FnMut(&mut Map<String, Value>),
) {
    let Some(object) = schema.as_object_mut() else {
        return;
    };
    visit(object);
    for (keyword, value) in object.iter_mut() {
        let keyword_str = keyword.as_str();
        if SINGLE_SCHEMA_KEYWORDS.contains(&keyword_str) {
            for_each_schema_object_mut(value, visit);
        } else if LIST_SCHEMA_KEYWORDS.contains(&keyword_str) {
            if let Some(items) = value.as_array_mut() {
                for item in items {
                    for_each_schema_object_mut(item, visit);
                }
            }
        } else if MAP_SCHEMA_KEYWORDS.contains(&keyword_str)
            && let Some(entries) = value.as_object_mut()
        {
            for item in entries.values_mut() {
                for_each_schema_object_mut(item, visit);
            }
        }
    }
}

/// Splits a JSON Pointer (`/a/b~1c`, already percent-decoded) into tokens.
pub(super) fn pointer_tokens(pointer: &str) -> Option<Vec<String>> {
    if pointer.is_empty() {
        return Some(Vec::new());
    }
    let rest = pointer.strip_prefix('/')?;
    Some(
        rest.split('/')
            .map(|token| token.replace("~1", "/").replace("~0", "~"))
            .collect(),
    )
}

/// Follows pointer tokens through objects and arrays.
pub(super) fn resolve_tokens<'a>(mut value: &'a Value, tokens: &[String]) -> Option<&'a Value> {
    for token in tokens {
        value = match value {
            Value::Object(map) => map.get(token)?,
            Value::Array(items) => {
                // RFC 6901: no leading zeros, no signs.
                if token.len() > 1 && token.starts_with('0') {
                    return None;
                }
                items.get(token.parse::<usize>().ok()?)?
            }
            _ => return None,
        };
    }
    Some(value)
}

/// Decodes `%XX` escapes of a URI fragment; `None` if they don't form UTF-8.
pub(super) fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%'
            && let Some(hex) = text.get(index + 1..index + 3)
            && let Ok(byte) = u8::from_str_radix(hex, 16)
        {
            out.push(byte);
            index += 3;
            continue;
        }
        out.push(bytes[index]);
        index += 1;
    }
    String::from_utf8(out).ok()
}

/// Bytes allowed verbatim in a URI fragment besides `/` (RFC 3986 `pchar`
/// and `?`); `%` is always escaped so decoding gives back the token.
fn is_fragment_safe(byte: u8) -> bool {
    byte.is_ascii_alphanumeric()
        || matches!(
            byte,
            b'-' | b'.'
                | b'_'
                | b'~'
                | b'!'
                | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
                | b':'
                | b'@'
                | b'?'
        )
}

/// `#/components/schemas/{component}/{tokens...}` with every token escaped
/// for a JSON Pointer and then for a URI fragment.
pub(super) fn component_ref(component: &str, tokens: &[String]) -> String {
    let mut reference = format!("#/components/schemas/{component}");
    for token in tokens {
        reference.push('/');
        let escaped = token.replace('~', "~0").replace('/', "~1");
        for byte in escaped.bytes() {
            if is_fragment_safe(byte) {
                reference.push(byte as char);
            } else {
                reference.push_str(&format!("%{byte:02X}"));
            }
        }
    }
    reference
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pointers_round_trip_through_refs() {
        let tokens = vec!["properties".to_string(), "a b/c~é%".to_string()];
        let reference = component_ref("X", &tokens);
        assert_eq!(
            reference,
            "#/components/schemas/X/properties/a%20b~1c~0%C3%A9%25"
        );
        let fragment = reference.trim_start_matches('#');
        let decoded = percent_decode(fragment).unwrap();
        let parsed = pointer_tokens(&decoded).unwrap();
        assert_eq!(&parsed[3..], &tokens[..]);
    }

    #[test]
    fn resolve_follows_objects_and_arrays_only_with_canonical_indices() {
        let doc = json!({"a": [{"b": 1}, {"c": 2}]});
        let tokens = |text: &str| pointer_tokens(text).unwrap();
        assert_eq!(resolve_tokens(&doc, &tokens("/a/1/c")), Some(&json!(2)));
        assert_eq!(resolve_tokens(&doc, &tokens("/a/01/c")), None);
        assert_eq!(resolve_tokens(&doc, &tokens("/a/-1")), None);
        assert_eq!(resolve_tokens(&doc, &tokens("")), Some(&doc));
        assert_eq!(pointer_tokens("no-slash"), None);
    }

    #[test]
    fn every_schema_position_is_visited() {
        let schema = json!({
            "properties": {"a": {"items": [{"$anchor": "t"}]}},
            "dependencies": {"x": ["y"], "z": {"not": true}},
            "anyOf": [{}],
            "enum": [{"type": "object"}]
        });
        let mut seen = Vec::new();
        for_each_schema(&schema, &mut Vec::new(), &mut |tokens, _| {
            seen.push(tokens.join("/"))
        });
        seen.sort();
        assert_eq!(
            seen,
            [
                "",
                "anyOf/0",
                "dependencies/z",
                "dependencies/z/not",
                "properties/a",
                "properties/a/items/0"
            ]
        );
    }
}
