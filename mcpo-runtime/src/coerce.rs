//! Lax input types, as mcpo's pydantic models accept them: language models
//! often write numbers and booleans as strings (`{"count": "2"}`), and mcpo
//! forwards `2`. Guided by the tool's frozen input schema, a value whose JSON
//! type is not one the schema allows there is converted when pydantic's lax
//! mode would convert it; the result is then validated against the schema
//! and is what goes upstream. `--strict-types` turns this off.
//!
//! The conversions (pydantic v2's lax table, for JSON input):
//! - to `integer`: a string holding an integer (`" 2 "`, `"-3"`, `"2.0"`),
//!   an integral number (`2.0`), `true` / `false` (1 / 0);
//! - to `number`: a string holding a finite number, `true` / `false`;
//! - to `boolean`: `"true"`/`"false"`, `"yes"`/`"no"`, `"on"`/`"off"`,
//!   `"t"`/`"f"`, `"y"`/`"n"`, `"1"`/`"0"` (any case), and the numbers 1 / 0.
//!
//! Nothing else is converted (a number is not made a string, as in pydantic
//! v2). A value that already has an allowed type is left alone, so in a
//! union of `string` and `integer` the string `"2"` stays a string.

use serde_json::{Number, Value};

/// Deeper than this, schemas are not followed (a `$ref` cycle, say).
const MAX_SCHEMA_DEPTH: usize = 64;

/// Converts `value` in place where `schema` (the document `root`) asks for
/// another type and a lax conversion exists. Returns whether anything changed.
pub fn coerce(root: &Value, value: &mut Value) -> bool {
    Walker { root }.coerce(root, value, 0)
}

struct Walker<'a> {
    root: &'a Value,
}

impl<'a> Walker<'a> {
    fn coerce(&self, schema: &'a Value, value: &mut Value, depth: usize) -> bool {
        if depth > MAX_SCHEMA_DEPTH {
            return false;
        }
        let Some(object) = schema.as_object() else {
            return false;
        };
        let mut changed = false;
        if let Some(target) = object
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|reference| self.resolve(reference))
        {
            changed |= self.coerce(target, value, depth + 1);
        }
        for part in object
            .get("allOf")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            changed |= self.coerce(part, value, depth + 1);
        }
        let alternatives: Vec<&Value> = ["anyOf", "oneOf"]
            .iter()
            .filter_map(|keyword| object.get(*keyword).and_then(Value::as_array))
            .flatten()
            .collect();
        if !alternatives.is_empty() {
            changed |= self.coerce_union(&alternatives, value, depth);
        }

        let allowed = allowed_types(object);
        if !allowed.is_empty() && !allowed.iter().any(|kind| has_type(value, kind)) {
            for kind in &allowed {
                if let Some(converted) = convert(value, kind) {
                    *value = converted;
                    changed = true;
                    break;
                }
            }
        }
        // An integral float where only integers are allowed goes up as one.
        if allowed.contains(&"integer")
            && !allowed.contains(&"number")
            && let Some(integer) = value.as_f64().and_then(integral).filter(|_| value.is_f64())
        {
            *value = integer;
            changed = true;
        }

        match value {
            Value::Object(fields) => {
                let properties = object.get("properties").and_then(Value::as_object);
                let additional = object.get("additionalProperties");
                for (name, field) in fields.iter_mut() {
                    match properties.and_then(|properties| properties.get(name)) {
                        Some(property) => changed |= self.coerce(property, field, depth + 1),
                        None => {
                            if let Some(additional) = additional.filter(|schema| schema.is_object())
                            {
                                changed |= self.coerce(additional, field, depth + 1);
                            }
                        }
                    }
                }
            }
            Value::Array(items) => {
                let positional = object
                    .get("prefixItems")
                    .or_else(|| object.get("items").filter(|items| items.is_array()))
                    .and_then(Value::as_array);
                let rest = object
                    .get("items")
                    .filter(|items| items.is_object())
                    .or_else(|| {
                        object
                            .get("additionalItems")
                            .filter(|items| items.is_object())
                    });
                for (index, item) in items.iter_mut().enumerate() {
                    let item_schema = positional
                        .and_then(|positional| positional.get(index))
                        .or(rest);
                    if let Some(item_schema) = item_schema {
                        changed |= self.coerce(item_schema, item, depth + 1);
                    }
                }
            }
            _ => {}
        }
        changed
    }

    /// pydantic's smart unions: a member the value already fits is followed
    /// as it is; otherwise the first member a conversion fits.
    fn coerce_union(&self, alternatives: &[&'a Value], value: &mut Value, depth: usize) -> bool {
        let fits = |member: &Value| {
            let allowed = member.as_object().map(allowed_types).unwrap_or_default();
            allowed.is_empty() || allowed.iter().any(|kind| has_type(value, kind))
        };
        if let Some(member) = alternatives.iter().find(|member| fits(member)) {
            return self.coerce(member, value, depth + 1);
        }
        for member in alternatives {
            let mut candidate = value.clone();
            let allowed = member.as_object().map(allowed_types).unwrap_or_default();
            if self.coerce(member, &mut candidate, depth + 1)
                && allowed.iter().any(|kind| has_type(&candidate, kind))
            {
                *value = candidate;
                return true;
            }
        }
        false
    }

    /// A local reference (`#/$defs/x`, `#`): JSON pointer into the root.
    fn resolve(&self, reference: &str) -> Option<&'a Value> {
        let pointer = reference.strip_prefix('#')?;
        if pointer.is_empty() {
            return Some(self.root);
        }
        self.root.pointer(pointer)
    }
}

/// The JSON types a schema allows here: `type` (string or list), or the
/// types of its `enum` / `const` values when it has no `type`.
fn allowed_types(schema: &serde_json::Map<String, Value>) -> Vec<&'static str> {
    let named = |name: &str| -> Option<&'static str> {
        [
            "integer", "number", "boolean", "string", "null", "object", "array",
        ]
        .into_iter()
        .find(|known| *known == name)
    };
    match schema.get("type") {
        Some(Value::String(name)) => named(name).into_iter().collect(),
        Some(Value::Array(names)) => names
            .iter()
            .filter_map(Value::as_str)
            .filter_map(named)
            .collect(),
        _ => {
            let values: Vec<&Value> = match (schema.get("enum"), schema.get("const")) {
                (Some(Value::Array(values)), _) => values.iter().collect(),
                (_, Some(value)) => vec![value],
                _ => return Vec::new(),
            };
            let mut kinds: Vec<&'static str> = Vec::new();
            for value in values {
                let kind = match value {
                    Value::Null => "null",
                    Value::Bool(_) => "boolean",
                    Value::Number(number) if number.is_f64() => "number",
                    Value::Number(_) => "integer",
                    Value::String(_) => "string",
                    Value::Array(_) => "array",
                    Value::Object(_) => "object",
                };
                if !kinds.contains(&kind) {
                    kinds.push(kind);
                }
            }
            kinds
        }
    }
}

/// Whether `value` already is a `kind` (JSON Schema's meaning: `2.0` is an
/// integer, and every integer a number).
fn has_type(value: &Value, kind: &str) -> bool {
    match (kind, value) {
        ("null", Value::Null)
        | ("boolean", Value::Bool(_))
        | ("string", Value::String(_))
        | ("array", Value::Array(_))
        | ("object", Value::Object(_))
        | ("number", Value::Number(_)) => true,
        ("integer", Value::Number(number)) => {
            !number.is_f64() || number.as_f64().and_then(integral).is_some()
        }
        _ => false,
    }
}

/// `float` as a JSON integer when it is integral and exactly representable.
fn integral(float: f64) -> Option<Value> {
    if !float.is_finite() || float.fract() != 0.0 || float.abs() >= 9.007_199_254_740_992e15 {
        return None;
    }
    Some(Value::from(float as i64))
}

/// The lax conversion of `value` to `kind`, if there is one.
fn convert(value: &Value, kind: &str) -> Option<Value> {
    match (kind, value) {
        ("integer", Value::String(text)) => integer_from_text(text.trim()),
        ("integer", Value::Bool(flag)) => Some(Value::from(i64::from(*flag))),
        ("number", Value::String(text)) => {
            let text = text.trim();
            if let Ok(integer) = text.parse::<i64>() {
                return Some(Value::from(integer));
            }
            parse_finite(text)
                .and_then(Number::from_f64)
                .map(Value::Number)
        }
        ("number", Value::Bool(flag)) => Some(Value::from(i64::from(*flag))),
        ("boolean", Value::String(text)) => match text.trim().to_ascii_lowercase().as_str() {
            "true" | "t" | "yes" | "y" | "on" | "1" => Some(Value::Bool(true)),
            "false" | "f" | "no" | "n" | "off" | "0" => Some(Value::Bool(false)),
            _ => None,
        },
        ("boolean", Value::Number(number)) => {
            let float = number.as_f64()?;
            (float == 1.0 || float == 0.0).then_some(Value::Bool(float == 1.0))
        }
        _ => None,
    }
}

/// An integer as Python's `int()` reads it (sign, digits, single `_`
/// between digits), or written with a zero fraction (`"4.0"`), as pydantic's
/// lax mode takes it; no exponent.
fn integer_from_text(text: &str) -> Option<Value> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if !fraction.chars().all(|c| c == '0') || (text.contains('.') && whole.is_empty()) {
        return None;
    }
    let (sign, digits) = match whole.strip_prefix(['+', '-']) {
        Some(rest) => (&whole[..1], rest),
        None => ("", whole),
    };
    let well_formed = !digits.is_empty()
        && !digits.starts_with('_')
        && !digits.ends_with('_')
        && !digits.contains("__")
        && digits.chars().all(|c| c.is_ascii_digit() || c == '_');
    if !well_formed {
        return None;
    }
    let literal = format!("{sign}{}", digits.replace('_', ""));
    if let Ok(integer) = literal.parse::<i64>() {
        return Some(Value::from(integer));
    }
    literal.parse::<u64>().ok().map(Value::from)
}

/// A finite float from text; `nan`, `inf` and friends are not numbers here.
fn parse_finite(text: &str) -> Option<f64> {
    let looks_numeric = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | '.' | 'e' | 'E'));
    looks_numeric
        .then(|| text.parse::<f64>().ok())
        .flatten()
        .filter(|float| float.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn coerced(schema: Value, value: Value) -> Value {
        let mut value = value;
        coerce(&schema, &mut value);
        value
    }

    #[test]
    fn numbers_and_booleans_written_as_strings_become_their_type() {
        let schema = json!({"type": "object", "properties": {
            "count": {"type": "integer"},
            "ratio": {"type": "number"},
            "on": {"type": "boolean"},
            "name": {"type": "string"}
        }});
        assert_eq!(
            coerced(
                schema.clone(),
                json!({"count": " 2 ", "ratio": "1.5", "on": "Yes", "name": "7"})
            ),
            json!({"count": 2, "ratio": 1.5, "on": true, "name": "7"})
        );
        assert_eq!(
            coerced(schema.clone(), json!({"count": 2.0, "ratio": "3", "on": 0})),
            json!({"count": 2, "ratio": 3, "on": false})
        );
        assert_eq!(
            coerced(
                schema,
                json!({"count": "2.5", "ratio": "nan", "on": "maybe"})
            ),
            json!({"count": "2.5", "ratio": "nan", "on": "maybe"}),
            "what pydantic refuses is left for validation to refuse"
        );
    }

    #[test]
    fn nested_objects_arrays_refs_and_nullable_types_are_followed() {
        let schema = json!({
            "type": "object",
            "$defs": {"Point": {"type": "object", "properties": {"x": {"type": "integer"}}}},
            "properties": {
                "points": {"type": "array", "items": {"$ref": "#/$defs/Point"}},
                "limit": {"type": ["integer", "null"]},
                "pair": {"type": "array", "prefixItems": [{"type": "number"}, {"type": "boolean"}]},
                "scores": {"type": "object", "additionalProperties": {"type": "number"}}
            }
        });
        assert_eq!(
            coerced(
                schema,
                json!({"points": [{"x": "1"}, {"x": 2}], "limit": "10",
                       "pair": ["0.5", "false"], "scores": {"a": "1e3"}})
            ),
            json!({"points": [{"x": 1}, {"x": 2}], "limit": 10,
                   "pair": [0.5, false], "scores": {"a": 1000.0}})
        );
    }

    #[test]
    fn unions_keep_a_value_that_already_fits_a_member() {
        let schema = json!({"anyOf": [{"type": "string"}, {"type": "integer"}]});
        assert_eq!(coerced(schema, json!("2")), json!("2"));
        let schema = json!({"anyOf": [{"type": "null"}, {"type": "integer"}]});
        assert_eq!(coerced(schema, json!("2")), json!(2));
        let schema = json!({"enum": [1, 2, 3]});
        assert_eq!(coerced(schema, json!("3")), json!(3));
    }

    #[test]
    fn a_recursive_schema_does_not_recurse_forever() {
        let schema = json!({"$ref": "#"});
        assert_eq!(coerced(schema, json!("x")), json!("x"));
    }
}
