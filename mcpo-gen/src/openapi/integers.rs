//! The 64-bit range of input integers, written into the document.
//!
//! The proxy reads a JSON Schema `integer` into an `i64`, or a `u64` when
//! the schema's own `minimum` / `exclusiveMinimum` is not negative (see
//! `schema::lower`), and refuses any integer literal beyond 64 bits (422
//! `int_parsing_size`). A tool schema rarely says so, so an OpenAPI client
//! would believe `2^63` is a fine value for a plain `integer`. This pass
//! adds the bound the typed field enforces where the schema has none (or a
//! looser one) to the *carried* input schemas only: the proxy keeps
//! validating against the lock's original schema, so nothing it accepts or
//! refuses changes.
//!
//! The bounds are never looser than what the proxy accepts: where the
//! lowering may read a non-negative integer as `i64` after all (anywhere
//! below a branch of `allOf` / `anyOf` / `oneOf`, which merge into the
//! enclosing field's type), the `i64` bound is used, on the schema itself or
//! beside a `$ref` whose target is an integer. A field the proxy cannot
//! type at all takes any 64-bit integer: there the document is stricter
//! than the proxy, never looser. Subschemas that only constrain
//! (`not`, `if`, `contains`, ...) are left alone: a bound there would change
//! their meaning.

use serde_json::{Map, Value, json};

use super::quarantine::{MAX_REF_HOPS, resolve_local};

/// Positions whose value is itself a field's value (an object property, an
/// array item): integers there are lowered on their own.
const VALUE_KEYWORDS_ONE: &[&str] = &["additionalProperties", "items"];
const VALUE_KEYWORDS_MAP: &[&str] = &["properties", "patternProperties"];
const VALUE_KEYWORDS_LIST: &[&str] = &["prefixItems"];
/// Branches that the lowering merges into the enclosing field's type.
const BRANCH_KEYWORDS: &[&str] = &["allOf", "anyOf", "oneOf"];

/// How the proxy reads an integer schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Width {
    Signed,
    Unsigned,
}

/// Adds the bounds to every input component named in `components`, in
/// `document` (refs are resolved against a snapshot of it).
pub(super) fn bound_input_integers(document: &mut Value, components: &[String]) {
    let snapshot = document.clone();
    let Some(Value::Object(schemas)) = document.pointer_mut("/components/schemas") else {
        return;
    };
    for name in components {
        if let Some(schema) = schemas.get_mut(name) {
            walk(&snapshot, schema, false);
        }
    }
}

fn walk(document: &Value, schema: &mut Value, in_branch: bool) {
    let Some(object) = schema.as_object_mut() else {
        return;
    };
    if let Some(width) = integer_width(object) {
        let width = if in_branch { Width::Signed } else { width };
        add_bounds(object, width);
    } else if in_branch
        && let Some(reference) = object.get("$ref").and_then(Value::as_str)
        && refers_to_integer(document, reference)
    {
        add_bounds(object, Width::Signed);
    }
    for (keyword, value) in object.iter_mut() {
        let keyword = keyword.as_str();
        if VALUE_KEYWORDS_ONE.contains(&keyword) {
            walk(document, value, in_branch);
        } else if VALUE_KEYWORDS_MAP.contains(&keyword) {
            if let Value::Object(entries) = value {
                for entry in entries.values_mut() {
                    walk(document, entry, in_branch);
                }
            }
        } else if VALUE_KEYWORDS_LIST.contains(&keyword) {
            if let Value::Array(items) = value {
                for item in items {
                    walk(document, item, in_branch);
                }
            }
        } else if BRANCH_KEYWORDS.contains(&keyword)
            && let Value::Array(branches) = value
        {
            for branch in branches {
                walk(document, branch, true);
            }
        }
    }
}

/// `Some` for a schema the proxy types as one integer: `type` is
/// `integer`, alone or with `null` (a `u64` when its own lower bound is not
/// negative), or a list of types without `number` (always `i64`: the other
/// branches of such a union are typed apart). `None` when numbers are
/// `f64` or the type is unknown.
fn integer_width(schema: &Map<String, Value>) -> Option<Width> {
    let types: Vec<&str> = match schema.get("type")? {
        Value::String(name) => vec![name.as_str()],
        Value::Array(names) => names.iter().filter_map(Value::as_str).collect(),
        _ => return None,
    };
    if !types.contains(&"integer") || types.contains(&"number") {
        return None;
    }
    let only_integer = types.iter().all(|name| matches!(*name, "integer" | "null"));
    let not_negative = |keyword| {
        schema
            .get(keyword)
            .and_then(Value::as_f64)
            .is_some_and(|bound| bound >= 0.0)
    };
    Some(
        if only_integer && (not_negative("minimum") || not_negative("exclusiveMinimum")) {
            Width::Unsigned
        } else {
            Width::Signed
        },
    )
}

fn refers_to_integer(document: &Value, reference: &str) -> bool {
    let mut reference = reference.to_string();
    for _ in 0..MAX_REF_HOPS {
        let Some(Value::Object(target)) = resolve_local(document, &reference) else {
            return false;
        };
        if integer_width(target).is_some() {
            return true;
        }
        match target.get("$ref").and_then(Value::as_str) {
            Some(next) => reference = next.to_string(),
            None => return false,
        }
    }
    false
}

/// Sets `minimum` / `maximum` to the width's limits where the schema has no
/// bound or a looser one; a tighter bound (or an `exclusive*` one within the
/// range) is kept as it is.
fn add_bounds(schema: &mut Map<String, Value>, width: Width) {
    let (low, high): (Value, Value) = match width {
        Width::Signed => (json!(i64::MIN), json!(i64::MAX)),
        Width::Unsigned => (json!(0), json!(u64::MAX)),
    };
    let (low_f, high_f) = (low.as_f64().unwrap_or(0.0), high.as_f64().unwrap_or(0.0));
    let number =
        |schema: &Map<String, Value>, keyword: &str| schema.get(keyword).and_then(Value::as_f64);
    // An unsigned width has a lower bound >= 0 by definition.
    if width == Width::Signed {
        let lower = [
            number(schema, "minimum"),
            number(schema, "exclusiveMinimum"),
        ]
        .into_iter()
        .flatten()
        .reduce(f64::max);
        if lower.is_none_or(|lower| lower < low_f) {
            schema.insert("minimum".into(), low);
        }
    }
    let upper = [
        number(schema, "maximum"),
        number(schema, "exclusiveMaximum"),
    ]
    .into_iter()
    .flatten()
    .reduce(f64::min);
    if upper.is_none_or(|upper| upper > high_f) {
        schema.insert("maximum".into(), high);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bounded(input: Value) -> Value {
        let mut document = json!({"components": {"schemas": {"In": input}}});
        bound_input_integers(&mut document, &["In".to_string()]);
        document["components"]["schemas"]["In"].clone()
    }

    #[test]
    fn integers_get_the_range_of_their_rust_type() {
        let schema = bounded(json!({"type": "object", "properties": {
            "plain": {"type": "integer"},
            "count": {"type": "integer", "minimum": 0},
            "after": {"type": ["integer", "null"], "exclusiveMinimum": 3},
            "offset": {"type": "integer", "minimum": -5, "maximum": 10},
            "huge": {"type": "integer", "maximum": 1e30},
            "mixed": {"type": ["integer", "string"], "minimum": 1},
            "ratio": {"type": ["integer", "number"]},
            "list": {"type": "array", "items": {"type": "integer"}},
            "name": {"type": "string"}
        }}));
        let p = &schema["properties"];
        assert_eq!(
            p["plain"],
            json!({"type": "integer", "minimum": i64::MIN, "maximum": i64::MAX})
        );
        assert_eq!(
            p["count"],
            json!({"type": "integer", "minimum": 0, "maximum": u64::MAX})
        );
        assert_eq!(p["after"]["maximum"], json!(u64::MAX));
        assert!(p["after"].get("minimum").is_none());
        assert_eq!(
            p["offset"],
            json!({"type": "integer", "minimum": -5, "maximum": 10})
        );
        assert_eq!(p["huge"]["maximum"], json!(i64::MAX));
        assert_eq!(p["mixed"]["minimum"], json!(1));
        assert_eq!(p["mixed"]["maximum"], json!(i64::MAX));
        assert_eq!(p["ratio"], json!({"type": ["integer", "number"]}));
        assert_eq!(p["list"]["items"]["maximum"], json!(i64::MAX));
        assert_eq!(p["name"], json!({"type": "string"}));
    }

    #[test]
    fn branches_and_constraints_are_bounded_safely() {
        let mut document = json!({"components": {"schemas": {
            "In": {"type": "object", "properties": {
                "either": {"anyOf": [{"type": "integer", "minimum": 0}, {"$ref": "#/components/schemas/Count"}]},
                "not_five": {"not": {"type": "integer", "maximum": 5}},
                "direct": {"$ref": "#/components/schemas/Count"}
            }},
            "Count": {"type": "integer", "minimum": 0},
            "Output": {"type": "integer"}
        }}});
        bound_input_integers(&mut document, &["In".to_string(), "Count".to_string()]);
        let schemas = &document["components"]["schemas"];
        let p = &schemas["In"]["properties"];
        assert_eq!(p["either"]["anyOf"][0]["maximum"], json!(i64::MAX));
        assert_eq!(
            p["either"]["anyOf"][1],
            json!({"$ref": "#/components/schemas/Count", "minimum": i64::MIN, "maximum": i64::MAX})
        );
        assert_eq!(
            p["not_five"],
            json!({"not": {"type": "integer", "maximum": 5}})
        );
        assert_eq!(p["direct"], json!({"$ref": "#/components/schemas/Count"}));
        assert_eq!(schemas["Count"]["maximum"], json!(u64::MAX));
        assert_eq!(schemas["Output"], json!({"type": "integer"}));
    }
}
