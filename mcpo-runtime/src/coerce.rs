//! Lax input types, as mcpo's pydantic models accept them: language models
//! often write numbers and booleans as strings (`{"count": "2"}`), and mcpo
//! forwards `2`. Guided by the tool's frozen input schema, a value whose JSON
//! type is not one the schema allows there is converted when pydantic's lax
//! mode would convert it; the result is then validated against the schema
//! and is what goes upstream. `--strict-types` turns this off.
//!
//! The conversions (pydantic v2's lax table, for JSON input, as measured on
//! mcpo 0.0.20 with pydantic-core 2.50; tests/mcpo_compat.rs compares):
//! - to `integer`: a string holding an integer, Unicode whitespace around it
//!   (`" 2 "`, `"-3"`, `"+5"`, `"007"`), single `_` between digits
//!   (`"5_000"`), a zero fraction (`"2.0"`, not `"2."`); no exponent, no
//!   `0x`; an integral number within 64 bits (`2.0`, `1e18`); `true` /
//!   `false` (1 / 0);
//! - to `number`: a string Rust's (and pydantic-core's) float parser reads
//!   once trimmed (`" 5 "`, `".5"`, `"1e3"`), or once single `_`s are
//!   removed from the untrimmed text (`"5_000"`, `"1_0.5"`), when the result
//!   is finite; `true` / `false`;
//! - to `boolean`: `"true"`/`"false"`, `"yes"`/`"no"`, `"on"`/`"off"`,
//!   `"t"`/`"f"`, `"y"`/`"n"`, `"1"`/`"0"`, in any case but exactly (no
//!   whitespace around: `" true "` is refused), and the numbers 1 / 0.
//!
//! Nothing else is converted (a number is not made a string, as in pydantic
//! v2). A value that already has an allowed type is left alone, so in a
//! union of `string` and `integer` the string `"2"` stays a string.
//!
//! [`takes_double_at`] tells where a JSON integer beyond 64 bits may go up as
//! the nearest double: where only a `number` is allowed, as mcpo (a Python
//! `float`) forwards it.

use serde_json::{Number, Value};

use crate::error::LocSegment;

/// Deeper than this, schemas are not followed (a `$ref` cycle, say).
const MAX_SCHEMA_DEPTH: usize = 64;

/// More schema nodes than this are not visited for one question.
const MAX_SCHEMA_VISITS: usize = 10_000;

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

/// `float` as a JSON integer when it is integral and within `i64` (pydantic
/// refuses a float beyond it for an `int`: `int_parsing_size`). Every such
/// double is an integer the `i64` holds exactly.
fn integral(float: f64) -> Option<Value> {
    const I64_RANGE: std::ops::Range<f64> =
        -9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0;
    if float.fract() != 0.0 || !I64_RANGE.contains(&float) {
        return None;
    }
    Some(Value::from(float as i64))
}

/// The lax conversion of `value` to `kind`, if there is one.
fn convert(value: &Value, kind: &str) -> Option<Value> {
    match (kind, value) {
        ("integer", Value::String(text)) => integer_from_text(text.trim()),
        ("integer", Value::Bool(flag)) => Some(Value::from(i64::from(*flag))),
        ("number", Value::String(text)) => number_from_text(text),
        ("number", Value::Bool(flag)) => Some(Value::from(i64::from(*flag))),
        // Not trimmed: pydantic refuses `" true "`.
        ("boolean", Value::String(text)) => match text.to_ascii_lowercase().as_str() {
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
    let (whole, fraction) = match text.split_once('.') {
        // `"2."` and `".0"` are refused; `"2.00"` is 2.
        Some((whole, fraction)) if whole.is_empty() || fraction.is_empty() => return None,
        Some(split) => split,
        None => (text, ""),
    };
    if !fraction.chars().all(|c| c == '0') {
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

/// A `number` from text as pydantic-core reads a float: the trimmed text
/// by Rust's float grammar, else the untrimmed text without its `_`s (none
/// leading, trailing or doubled); only a finite result (`"inf"`, `"nan"`,
/// `"1e400"` are refused here: JSON has no such numbers). A trimmed `i64`
/// goes up as that integer, exactly.
fn number_from_text(text: &str) -> Option<Value> {
    let trimmed = text.trim();
    if let Ok(integer) = trimmed.parse::<i64>() {
        return Some(Value::from(integer));
    }
    let float = trimmed.parse::<f64>().ok().or_else(|| {
        let well_placed = text.contains('_')
            && !text.starts_with('_')
            && !text.ends_with('_')
            && !text.contains("__");
        well_placed
            .then(|| text.replace('_', "").parse::<f64>().ok())
            .flatten()
    })?;
    Number::from_f64(float)
        .filter(|_| float.is_finite())
        .map(Value::Number)
}

/// The JSON types a value may have at `path` below `schema`, as far as the
/// schema tells: `None` when anything goes there.
fn types_at(
    root: &Value,
    schema: &Value,
    path: &[LocSegment],
    depth: usize,
    budget: &mut usize,
) -> Option<Vec<&'static str>> {
    if depth > MAX_SCHEMA_DEPTH || *budget == 0 {
        return None;
    }
    *budget -= 1;
    let object = match schema {
        Value::Object(object) => object,
        // `false`: nothing is allowed; `true` (or garbage): anything.
        Value::Bool(false) => return Some(Vec::new()),
        _ => return None,
    };
    let mut types = match path.split_first() {
        None => Some(allowed_types(object)).filter(|types| !types.is_empty()),
        Some((step, rest)) => {
            let child = match step {
                LocSegment::Field(name) => object
                    .get("properties")
                    .and_then(|properties| properties.get(name))
                    .or_else(|| object.get("additionalProperties")),
                LocSegment::Index(index) => object
                    .get("prefixItems")
                    .or_else(|| object.get("items").filter(|items| items.is_array()))
                    .and_then(|positional| positional.get(*index))
                    .or_else(|| object.get("items").filter(|items| !items.is_array()))
                    .or_else(|| object.get("additionalItems")),
            };
            child.and_then(|child| types_at(root, child, rest, depth + 1, budget))
        }
    };
    let walker = Walker { root };
    if let Some(target) = object
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|reference| walker.resolve(reference))
    {
        types = intersect(types, types_at(root, target, path, depth + 1, budget));
    }
    for part in object
        .get("allOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        types = intersect(types, types_at(root, part, path, depth + 1, budget));
    }
    for keyword in ["anyOf", "oneOf"] {
        if let Some(alternatives) = object.get(keyword).and_then(Value::as_array) {
            let mut union = Some(Vec::new());
            for alternative in alternatives {
                union = match (union, types_at(root, alternative, path, depth + 1, budget)) {
                    (Some(mut kinds), Some(more)) => {
                        for kind in more {
                            if !kinds.contains(&kind) {
                                kinds.push(kind);
                            }
                        }
                        Some(kinds)
                    }
                    _ => None,
                };
            }
            types = intersect(types, union);
        }
    }
    types
}

/// The types both allow (`integer` is a kind of `number`); `None` is any.
fn intersect(
    left: Option<Vec<&'static str>>,
    right: Option<Vec<&'static str>>,
) -> Option<Vec<&'static str>> {
    let (left, right) = match (left, right) {
        (None, other) | (other, None) => return other,
        (Some(left), Some(right)) => (left, right),
    };
    let mut both = Vec::new();
    for kind in &left {
        let kept = if right.contains(kind) {
            Some(*kind)
        } else if (*kind == "number" && right.contains(&"integer"))
            || (*kind == "integer" && right.contains(&"number"))
        {
            Some("integer")
        } else {
            None
        };
        if let Some(kept) = kept.filter(|kept| !both.contains(kept)) {
            both.push(kept);
        }
    }
    Some(both)
}

/// Whether the schema `root` allows a `number` at `path` (below the body)
/// and never an `integer` or an untyped value: there a JSON integer beyond
/// 64 bits goes up as the nearest double, as mcpo's Python `float` sends it.
/// Anywhere else such an integer is refused (mcpo forwards it exactly).
pub fn takes_double_at(root: &Value, path: &[LocSegment]) -> bool {
    // A schema that branches into itself is not followed forever.
    let mut budget = MAX_SCHEMA_VISITS;
    types_at(root, root, path, 0, &mut budget)
        .is_some_and(|types| types.contains(&"number") && !types.contains(&"integer"))
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
    /// What mcpo 0.0.20 (pydantic-core 2.50) does with each string, measured
    /// (tests/mcpo_compat.rs compares the end-to-end cases): `None` is
    /// refused (422).
    #[test]
    fn strings_for_an_integer_convert_as_pydantic_converts_them() {
        let schema = json!({"type": "integer"});
        for (sent, expected) in [
            (" 5 ", Some(json!(5))),
            ("\t5\n", Some(json!(5))),
            ("\u{a0}5\u{3000}", Some(json!(5))),
            ("+5", Some(json!(5))),
            ("00012", Some(json!(12))),
            ("5_000", Some(json!(5000))),
            (" 1_0 ", Some(json!(10))),
            ("1_000.00", Some(json!(1000))),
            ("-5.000", Some(json!(-5))),
            ("18446744073709551615", Some(json!(u64::MAX))),
            ("1_0.5", None),
            ("1__0", None),
            ("_1", None),
            ("5_", None),
            ("+_1", None),
            ("1_.0", None),
            ("1.0_", None),
            ("1.", None),
            (".0", None),
            ("5.0_0", None),
            ("0x10", None),
            ("0b11", None),
            ("1e2", None),
            ("1 0", None),
            ("+ 5", None),
            ("--5", None),
            ("\u{1c}5", None),
            ("\u{665}", None),
            ("true", None),
            ("", None),
            ("  ", None),
        ] {
            let converted = coerced(schema.clone(), json!(sent));
            match expected {
                Some(expected) => assert_eq!(converted, expected, "{sent:?}"),
                None => assert_eq!(converted, json!(sent), "{sent:?} is left to be refused"),
            }
        }
    }

    #[test]
    fn numbers_for_an_integer_convert_when_integral_within_64_bits() {
        let schema = json!({"type": "integer"});
        for (sent, expected) in [
            (json!(1.0), json!(1)),
            (json!(-0.0), json!(0)),
            (json!(1e2), json!(100)),
            (json!(1e18), json!(1_000_000_000_000_000_000_i64)),
            (
                json!(9_007_199_254_740_993.0),
                json!(9_007_199_254_740_992_i64),
            ),
            (json!(-(2_f64.powi(63))), json!(i64::MIN)),
            (json!(true), json!(1)),
            // Refused by pydantic (int_from_float, int_parsing_size).
            (json!(2.5), json!(2.5)),
            (json!(1e19), json!(1e19)),
            (json!(-1e19), json!(-1e19)),
            (json!(2_f64.powi(63)), json!(2_f64.powi(63))),
        ] {
            assert_eq!(coerced(schema.clone(), sent.clone()), expected, "{sent}");
        }
    }

    #[test]
    fn strings_for_a_number_convert_as_pydantic_converts_them() {
        let schema = json!({"type": "number"});
        for (sent, expected) in [
            (" 5 ", Some(json!(5))),
            ("\u{85}5", Some(json!(5))),
            ("5_000", Some(json!(5000.0))),
            ("1_0.5", Some(json!(10.5))),
            ("1_0.5_5", Some(json!(10.55))),
            ("1e_2", Some(json!(100.0))),
            ("1_e2", Some(json!(100.0))),
            ("-_1", Some(json!(-1.0))),
            ("1._5", Some(json!(1.5))),
            ("1_0e1_0", Some(json!(1e11))),
            (".5", Some(json!(0.5))),
            ("5.", Some(json!(5.0))),
            ("+.5e-3", Some(json!(0.0005))),
            ("1E+2", Some(json!(100.0))),
            ("00012", Some(json!(12))),
            ("1e-400", Some(json!(0.0))),
            ("18446744073709551616", Some(json!(1.8446744073709552e19))),
            (
                "123456789012345678901234567890",
                Some(json!(1.2345678901234568e29)),
            ),
            // Trimmed first, `_`s removed from the untrimmed text after.
            (" 1_0 ", None),
            ("1_0\u{a0}", None),
            ("1__0", None),
            ("_1", None),
            ("5_", None),
            ("1.5_", None),
            ("0x10", None),
            ("0x1p3", None),
            ("1d2", None),
            ("1e", None),
            ("e2", None),
            (".", None),
            ("\u{1c}5", None),
            ("\u{661}", None),
            ("true", None),
            // Non-finite: mcpo sends null and the upstream fails; refused here.
            ("inf", None),
            ("-Infinity", None),
            ("nan", None),
            ("1e400", None),
        ] {
            let converted = coerced(schema.clone(), json!(sent));
            match expected {
                Some(expected) => assert_eq!(converted, expected, "{sent:?}"),
                None => assert_eq!(converted, json!(sent), "{sent:?} is left to be refused"),
            }
        }
    }

    #[test]
    fn strings_for_a_boolean_convert_exactly_in_any_case_without_trimming() {
        let schema = json!({"type": "boolean"});
        for (sent, expected) in [
            ("true", Some(true)),
            ("TRUE", Some(true)),
            ("tRuE", Some(true)),
            ("yes", Some(true)),
            ("On", Some(true)),
            ("1", Some(true)),
            ("t", Some(true)),
            ("Y", Some(true)),
            ("false", Some(false)),
            ("no", Some(false)),
            ("off", Some(false)),
            ("0", Some(false)),
            ("F", Some(false)),
            ("n", Some(false)),
            (" true ", None),
            ("false ", None),
            ("\ttrue\n", None),
            (" 1 ", None),
            ("2", None),
            ("-1", None),
            ("+1", None),
            ("01", None),
            ("1.0", None),
            ("truee", None),
            ("", None),
        ] {
            let converted = coerced(schema.clone(), json!(sent));
            match expected {
                Some(expected) => assert_eq!(converted, json!(expected), "{sent:?}"),
                None => assert_eq!(converted, json!(sent), "{sent:?} is left to be refused"),
            }
        }
        for (sent, expected) in [
            (json!(1), json!(true)),
            (json!(0.0), json!(false)),
            (json!(2), json!(2)),
            (json!(0.5), json!(0.5)),
        ] {
            assert_eq!(coerced(schema.clone(), sent.clone()), expected, "{sent}");
        }
    }

    #[test]
    fn a_double_is_taken_where_only_a_number_is_allowed() {
        let path = |steps: &[&str]| -> Vec<LocSegment> {
            steps
                .iter()
                .map(|step| match step.parse::<usize>() {
                    Ok(index) => LocSegment::Index(index),
                    Err(_) => LocSegment::from(*step),
                })
                .collect()
        };
        let schema = json!({
            "type": "object",
            "$defs": {"Ratio": {"type": "number"}},
            "properties": {
                "ratio": {"type": "number"},
                "count": {"type": "integer"},
                "either": {"type": ["number", "integer"]},
                "maybe": {"anyOf": [{"type": "number"}, {"type": "null"}]},
                "loose": {"anyOf": [{"type": "number"}, {}]},
                "narrowed": {"allOf": [{"type": "number"}, {"type": "integer"}]},
                "referred": {"$ref": "#/$defs/Ratio"},
                "list": {"type": "array", "items": {"type": "number"}},
                "pair": {"type": "array", "prefixItems": [{"type": "integer"}, {"type": "number"}]},
                "untyped": {"description": "anything"},
                "scores": {"type": "object", "additionalProperties": {"type": "number"}}
            }
        });
        for (steps, expected) in [
            (&["ratio"][..], true),
            (&["maybe"], true),
            (&["referred"], true),
            (&["list", "3"], true),
            (&["pair", "1"], true),
            (&["scores", "any"], true),
            (&["count"], false),
            (&["either"], false),
            (&["loose"], false),
            (&["narrowed"], false),
            (&["pair", "0"], false),
            (&["untyped"], false),
            (&["unnamed"], false),
            (&["ratio", "deeper"], false),
            (&[], false),
        ] {
            assert_eq!(
                takes_double_at(&schema, &path(steps)),
                expected,
                "{steps:?}"
            );
        }
        assert!(!takes_double_at(&json!({"$ref": "#"}), &path(&["a"])));
        let branching = json!({"anyOf": [{"$ref": "#"}, {"$ref": "#"}]});
        assert!(!takes_double_at(&branching, &path(&["a"])));
    }
}
