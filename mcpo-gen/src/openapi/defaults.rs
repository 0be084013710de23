//! Spotting `default` values that contradict their own schema.
//!
//! JSON Schema only recommends that a default be valid, but OpenAPI
//! validators (and Swagger UI's "try it out", which pre-fills it) treat an
//! invalid default as an error. Servers in the wild ship `{"type": "integer",
//! "default": "10"}`. This check is deliberately one-sided: it answers `true`
//! only when the default certainly violates the schema, judged on keywords
//! that need no regex engine and no `$ref` resolution.

use serde_json::{Map, Value};

/// Deeper nesting than this is not inspected (it can't be proven invalid).
const MAX_DEPTH: usize = 32;

/// `true` when `default` certainly violates `schema` (the schema holding it).
pub fn default_conflicts(default: &Value, schema: &Map<String, Value>) -> bool {
    object_violates(default, schema, 0)
}

fn violates(value: &Value, schema: &Value, depth: usize) -> bool {
    match schema {
        Value::Bool(accepts) => !accepts,
        Value::Object(map) => object_violates(value, map, depth),
        _ => false,
    }
}

fn object_violates(value: &Value, schema: &Map<String, Value>, depth: usize) -> bool {
    if depth > MAX_DEPTH {
        return false;
    }
    let depth = depth + 1;
    let keyword = |name: &str| schema.get(name);

    if let Some(types) = keyword("type")
        && !type_matches(value, types)
    {
        return true;
    }
    if let Some(Value::Array(allowed)) = keyword("enum")
        && !allowed.iter().any(|candidate| json_equal(candidate, value))
    {
        return true;
    }
    if let Some(constant) = keyword("const")
        && !json_equal(constant, value)
    {
        return true;
    }
    // `not` of a schema that accepts everything rejects everything.
    if let Some(negated) = keyword("not")
        && (negated == &Value::Bool(true) || negated.as_object().is_some_and(Map::is_empty))
    {
        return true;
    }
    if let Some(Value::Array(branches)) = keyword("allOf")
        && branches.iter().any(|branch| violates(value, branch, depth))
    {
        return true;
    }
    for any_keyword in ["anyOf", "oneOf"] {
        if let Some(Value::Array(branches)) = keyword(any_keyword)
            && !branches.is_empty()
            && branches.iter().all(|branch| violates(value, branch, depth))
        {
            return true;
        }
    }
    match value {
        Value::Number(number) => number_violates(number.as_f64(), schema),
        Value::String(text) => string_violates(text, schema),
        Value::Array(items) => array_violates(items, schema, depth),
        Value::Object(members) => members_violate(members, schema, depth),
        Value::Null | Value::Bool(_) => false,
    }
}

fn type_matches(value: &Value, types: &Value) -> bool {
    let matches_one = |name: &str| match name {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "number" => value.is_number(),
        "integer" => value.as_f64().is_some_and(|n| n.fract() == 0.0),
        // Unknown type names are quarantined before this runs.
        _ => true,
    };
    match types {
        Value::String(name) => matches_one(name),
        Value::Array(names) => names.iter().filter_map(Value::as_str).any(matches_one),
        _ => true,
    }
}

/// JSON equality where `1` equals `1.0` (as in JSON Schema's `enum`/`const`).
fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => x == y,
            _ => x.as_f64() == y.as_f64(),
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| json_equal(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(key, x)| y.get(key).is_some_and(|y| json_equal(x, y)))
        }
        _ => a == b,
    }
}

fn number_violates(number: Option<f64>, schema: &Map<String, Value>) -> bool {
    let Some(number) = number else {
        return false;
    };
    let limit = |name: &str| schema.get(name).and_then(Value::as_f64);
    limit("minimum").is_some_and(|min| number < min)
        || limit("maximum").is_some_and(|max| number > max)
        || limit("exclusiveMinimum").is_some_and(|min| number <= min)
        || limit("exclusiveMaximum").is_some_and(|max| number >= max)
}

fn string_violates(text: &str, schema: &Map<String, Value>) -> bool {
    let length = text.chars().count() as u64;
    let limit = |name: &str| schema.get(name).and_then(Value::as_u64);
    if limit("minLength").is_some_and(|min| length < min)
        || limit("maxLength").is_some_and(|max| length > max)
    {
        return true;
    }
    match schema.get("format").and_then(Value::as_str) {
        Some("email") => !text.contains('@'),
        Some("uuid") => !is_uuid(text),
        Some("date-time") => !is_rfc3339_date_time(text),
        _ => false,
    }
}

fn array_violates(items: &[Value], schema: &Map<String, Value>, depth: usize) -> bool {
    let count = items.len() as u64;
    let limit = |name: &str| schema.get(name).and_then(Value::as_u64);
    if limit("minItems").is_some_and(|min| count < min)
        || limit("maxItems").is_some_and(|max| count > max)
    {
        return true;
    }
    let prefix = schema
        .get("prefixItems")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    if items
        .iter()
        .zip(prefix)
        .any(|(item, item_schema)| violates(item, item_schema, depth))
    {
        return true;
    }
    match schema.get("items") {
        Some(rest) => items
            .iter()
            .skip(prefix.len())
            .any(|item| violates(item, rest, depth)),
        None => false,
    }
}

fn members_violate(
    members: &Map<String, Value>,
    schema: &Map<String, Value>,
    depth: usize,
) -> bool {
    if let Some(Value::Array(required)) = schema.get("required")
        && required
            .iter()
            .filter_map(Value::as_str)
            .any(|name| !members.contains_key(name))
    {
        return true;
    }
    let properties = schema.get("properties").and_then(Value::as_object);
    if let Some(properties) = properties
        && members.iter().any(|(name, member)| {
            properties
                .get(name)
                .is_some_and(|property| violates(member, property, depth))
        })
    {
        return true;
    }
    // Extra members are only judged when no pattern could admit them.
    if schema.get("additionalProperties") == Some(&Value::Bool(false))
        && !schema.contains_key("patternProperties")
    {
        return members
            .keys()
            .any(|name| !properties.is_some_and(|p| p.contains_key(name)));
    }
    false
}

fn is_uuid(text: &str) -> bool {
    text.len() == 36
        && text.char_indices().all(|(index, ch)| match index {
            8 | 13 | 18 | 23 => ch == '-',
            _ => ch.is_ascii_hexdigit(),
        })
}

/// RFC 3339 `date-time` (what Python's `rfc3339-validator` accepts).
fn is_rfc3339_date_time(text: &str) -> bool {
    let bytes = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| -> Option<u32> {
        let part = text.get(range)?;
        part.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| part.parse().ok())
            .flatten()
    };
    let (Some(year), Some(month), Some(day), Some(hour), Some(minute), Some(second)) = (
        digits(0..4),
        digits(5..7),
        digits(8..10),
        digits(11..13),
        digits(14..16),
        digits(17..19),
    ) else {
        return false;
    };
    if bytes.get(4) != Some(&b'-')
        || bytes.get(7) != Some(&b'-')
        || !matches!(bytes.get(10), Some(b'T' | b't'))
        || bytes.get(13) != Some(&b':')
        || bytes.get(16) != Some(&b':')
    {
        return false;
    }
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    if day == 0 || day > days_in_month || hour > 23 || minute > 59 || second > 59 {
        return false;
    }
    let mut rest = &text[19..];
    if let Some(fraction) = rest.strip_prefix('.') {
        let count = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if count == 0 {
            return false;
        }
        rest = &fraction[count..];
    }
    match rest {
        "Z" | "z" => true,
        offset => {
            let offset = offset.as_bytes();
            offset.len() == 6
                && matches!(offset[0], b'+' | b'-')
                && offset[3] == b':'
                && [1, 2, 4, 5].iter().all(|&i| offset[i].is_ascii_digit())
                && (offset[1] - b'0') * 10 + (offset[2] - b'0') <= 23
                && (offset[4] - b'0') * 10 + (offset[5] - b'0') <= 59
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn conflicts(default: Value, schema: Value) -> bool {
        default_conflicts(&default, schema.as_object().unwrap())
    }

    #[test]
    fn certain_violations_are_found() {
        assert!(conflicts(json!("10"), json!({"type": "integer"})));
        assert!(conflicts(json!(1.5), json!({"type": "integer"})));
        assert!(conflicts(json!(null), json!({"type": "string"})));
        assert!(conflicts(json!("c"), json!({"enum": ["a", "b"]})));
        assert!(conflicts(json!(0), json!({"minimum": 1})));
        assert!(conflicts(json!(5), json!({"exclusiveMaximum": 5})));
        assert!(conflicts(json!(""), json!({"minLength": 1})));
        assert!(conflicts(json!("x"), json!({"format": "email"})));
        assert!(conflicts(
            json!("2024-02-30T00:00:00Z"),
            json!({"format": "date-time"})
        ));
        assert!(conflicts(json!({}), json!({"required": ["a"]})));
        assert!(conflicts(
            json!({"a": 1}),
            json!({"properties": {"a": {"type": "string"}}})
        ));
        assert!(conflicts(
            json!({"b": 1}),
            json!({"properties": {}, "additionalProperties": false})
        ));
        assert!(conflicts(
            json!([1, "x"]),
            json!({"items": {"type": "integer"}})
        ));
        assert!(conflicts(
            json!(true),
            json!({"anyOf": [{"type": "string"}, {"type": "null"}]})
        ));
    }

    #[test]
    fn valid_or_undecidable_defaults_pass() {
        assert!(!conflicts(json!(1.0), json!({"type": "integer"})));
        assert!(!conflicts(json!(null), json!({"type": ["string", "null"]})));
        assert!(!conflicts(json!(1), json!({"enum": [1.0]})));
        assert!(!conflicts(json!("x"), json!({"pattern": "^y$"})));
        assert!(!conflicts(
            json!("x"),
            json!({"$ref": "#/components/schemas/X"})
        ));
        assert!(!conflicts(
            json!("2024-02-29T23:59:59.5+01:00"),
            json!({"format": "date-time"})
        ));
        assert!(!conflicts(
            json!("123e4567-e89b-12d3-a456-426614174000"),
            json!({"format": "uuid"})
        ));
        assert!(!conflicts(
            json!({"b": 1}),
            json!({"additionalProperties": false, "patternProperties": {"^b": {}}})
        ));
        assert!(!conflicts(
            json!(null),
            json!({"anyOf": [{"type": "string"}, {"type": "null"}]})
        ));
    }
}
