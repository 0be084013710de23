//! Request validation: the frozen `inputSchema` of each tool (compiled once
//! at startup), then the typed input struct. Both produce FastAPI-style 422
//! entries whose `loc` starts with `"body"`.

use std::collections::HashMap;

use jsonschema::{Validator, error::ValidationErrorKind, paths::LocationSegment};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{LocSegment, ValidationIssue};
use crate::lock::LockedTool;

/// More entries than this do not help anyone and make huge responses.
const MAX_ISSUES: usize = 50;

/// Instance values longer than this are not echoed in messages.
const MAX_ECHOED_CHARS: usize = 80;

/// One compiled validator per tool whose schema compiled, and every tool's
/// input schema (for lax type conversion).
#[derive(Default)]
pub struct InputValidators {
    by_tool: HashMap<String, Validator>,
    schemas: HashMap<String, Value>,
}

impl InputValidators {
    /// Compiles every tool's `inputSchema`. A schema that does not compile is
    /// logged and skipped: the typed struct still checks that tool's input.
    pub fn compile(tools: &[LockedTool]) -> Self {
        let mut by_tool = HashMap::new();
        let mut schemas = HashMap::new();
        for tool in tools {
            if let Some(schema) = tool.definition.get("inputSchema") {
                schemas.insert(tool.name.clone(), schema.clone());
            }
            let Some(schema) = tool.definition.get("inputSchema") else {
                tracing::warn!(tool = %tool.name, "the lock has no inputSchema for this tool; only its typed input is checked");
                continue;
            };
            match compile_schema(schema) {
                Ok(validator) => {
                    by_tool.insert(tool.name.clone(), validator);
                }
                Err(reason) => tracing::warn!(
                    tool = %tool.name,
                    %reason,
                    "the tool's inputSchema does not compile; requests to it are checked against its typed input only"
                ),
            }
        }
        InputValidators { by_tool, schemas }
    }

    /// Converts `body` where the tool's schema wants another type and
    /// pydantic's lax mode (mcpo's) would convert it (see [`crate::coerce`]).
    pub fn coerce(&self, tool: &str, body: &mut Value) -> bool {
        self.schemas
            .get(tool)
            .is_some_and(|schema| crate::coerce::coerce(schema, body))
    }

    /// Whether the tool's schema wants only a `number` at `path` (below the
    /// body), where a JSON integer beyond 64 bits may go up as a double.
    pub fn takes_double_at(&self, tool: &str, path: &[LocSegment]) -> bool {
        self.schemas
            .get(tool)
            .is_some_and(|schema| crate::coerce::takes_double_at(schema, path))
    }

    /// Checks `body` against the tool's schema; no validator means no check.
    pub fn validate(&self, tool: &str, body: &Value) -> Result<(), Vec<ValidationIssue>> {
        let Some(validator) = self.by_tool.get(tool) else {
            return Ok(());
        };
        let issues: Vec<ValidationIssue> = validator
            .iter_errors(body)
            .flat_map(|error| issues_from_schema_error(body, &error))
            .take(MAX_ISSUES)
            .collect();
        if issues.is_empty() {
            Ok(())
        } else {
            Err(issues)
        }
    }
}

/// Checks `value` against a schema given at run time (a form an upstream
/// asks to be filled in); `field` is where the value sits in the body. A
/// schema that does not compile checks nothing: the upstream checks again.
pub fn check_against(
    schema: &Value,
    value: &Value,
    field: &str,
) -> Result<(), Vec<ValidationIssue>> {
    let Ok(validator) = compile_schema(schema) else {
        return Ok(());
    };
    let issues: Vec<ValidationIssue> = validator
        .iter_errors(value)
        .flat_map(|error| issues_from_schema_error(value, &error))
        .take(MAX_ISSUES)
        .map(|mut issue| {
            issue.loc.insert(1, LocSegment::Field(field.to_string()));
            issue
        })
        .collect();
    if issues.is_empty() {
        Ok(())
    } else {
        Err(issues)
    }
}

fn compile_schema(schema: &Value) -> Result<Validator, String> {
    let options = || jsonschema::options().should_validate_formats(true);
    match options().build(schema) {
        Ok(validator) => Ok(validator),
        Err(first_error) => {
            // An unknown `$schema` URI cannot be fetched offline; the schema
            // itself is often fine under the default draft.
            let mut without_dialect = schema.clone();
            let had_dialect = without_dialect
                .as_object_mut()
                .and_then(|object| object.remove("$schema"))
                .is_some();
            if had_dialect && let Ok(validator) = options().build(&without_dialect) {
                tracing::info!(%first_error, "compiled an inputSchema after ignoring its $schema");
                return Ok(validator);
            }
            Err(first_error.to_string())
        }
    }
}

/// Converts one jsonschema error into 422 entries (several for
/// `additionalProperties`, one per unexpected field).
fn issues_from_schema_error(
    body: &Value,
    error: &jsonschema::ValidationError<'_>,
) -> Vec<ValidationIssue> {
    let mut loc = body_loc(body, error.instance_path().segments());
    match error.kind() {
        ValidationErrorKind::Required { property } => {
            let field = match property {
                Value::String(name) => name.clone(),
                other => other.to_string(),
            };
            loc.push(LocSegment::Field(field));
            vec![ValidationIssue {
                loc,
                msg: "Field required".into(),
                kind: "missing".into(),
            }]
        }
        ValidationErrorKind::AdditionalProperties { unexpected } if !unexpected.is_empty() => {
            unexpected
                .iter()
                .map(|field| {
                    let mut field_loc = loc.clone();
                    field_loc.push(LocSegment::Field(field.clone()));
                    ValidationIssue {
                        loc: field_loc,
                        msg: "Extra inputs are not permitted".into(),
                        kind: "additionalProperties".into(),
                    }
                })
                .collect()
        }
        kind => vec![ValidationIssue {
            loc,
            msg: schema_error_message(error),
            kind: kind.keyword().to_string(),
        }],
    }
}

/// jsonschema's own message, with the offending value masked when it is an
/// object, an array or a long string (they would swamp the message).
fn schema_error_message(error: &jsonschema::ValidationError<'_>) -> String {
    let echo_is_short = match error.instance().as_ref() {
        Value::String(text) => text.chars().count() <= MAX_ECHOED_CHARS,
        Value::Array(_) | Value::Object(_) => false,
        _ => true,
    };
    if echo_is_short {
        error.to_string()
    } else {
        error.masked_with("input").to_string()
    }
}

/// `["body", ...]` for a JSON pointer into `body`. jsonschema reports a
/// numeric object key as an index; walking the body tells the two apart.
fn body_loc<'a>(
    body: &Value,
    segments: impl Iterator<Item = LocationSegment<'a>>,
) -> Vec<LocSegment> {
    let mut loc = vec![LocSegment::from("body")];
    let mut current = Some(body);
    for segment in segments {
        let (entry, next) = match (segment, current) {
            (LocationSegment::Index(index), Some(Value::Array(items))) => {
                (LocSegment::Index(index), items.get(index))
            }
            (LocationSegment::Index(index), node) => {
                let key = index.to_string();
                let next = node.and_then(|node| node.get(&key));
                (LocSegment::Field(key), next)
            }
            (LocationSegment::Property(name), node) => {
                let next = node.and_then(|node| node.get(name.as_ref()));
                (LocSegment::Field(name.into_owned()), next)
            }
        };
        loc.push(entry);
        current = next;
    }
    loc
}

/// Refuses integer literals outside the 64-bit range. serde_json reads them as
/// the nearest double, so the upstream would receive a different number (its
/// `arbitrary_precision` feature would keep them, but rmcp's untagged message
/// types do not deserialize with it). A 422 is better than a silent change;
/// decimals rounding to the nearest double is ordinary JSON, left alone, and
/// so is a wide integer where `takes_double` says the schema wants only a
/// `number` (see [`crate::coerce::takes_double_at`]): mcpo sends a Python
/// `float` there, the same double.
pub fn check_exact_integers(
    raw: &[u8],
    body: &Value,
    takes_double: impl Fn(&[LocSegment]) -> bool,
) -> Result<(), Vec<ValidationIssue>> {
    let wide = wide_integers(raw);
    if wide.is_empty() {
        return Ok(());
    }
    let ordinals: Vec<usize> = wide.iter().map(|(_, ordinal)| *ordinal).collect();
    let mut paths = vec![None; ordinals.len()];
    let (mut seen, mut next) = (0, 0);
    collect_number_paths(
        body,
        &ordinals,
        &mut seen,
        &mut next,
        &mut vec![LocSegment::from("body")],
        &mut paths,
    );
    for ((literal, _), path) in wide.iter().zip(paths) {
        let loc = match path {
            Some(loc) if takes_double(&loc[1..]) => continue,
            Some(loc) => loc,
            // Duplicate keys made the text and the value disagree: no field to name.
            None => vec![LocSegment::from("body")],
        };
        return Err(vec![ValidationIssue {
            loc,
            msg: if literal.len() <= MAX_ECHOED_CHARS {
                format!(
                    "Integer {literal} is outside the 64-bit range this proxy can forward exactly"
                )
            } else {
                format!(
                    "An integer of {} digits is outside the 64-bit range this proxy can forward exactly",
                    literal.trim_start_matches('-').len()
                )
            },
            kind: "int_parsing_size".into(),
        }]);
    }
    Ok(())
}

/// The integer literals (no `.` or exponent) of a JSON text that fit
/// neither `i64` nor `u64`, each with how many number literals come before
/// it. Expects valid JSON: string contents are skipped.
fn wide_integers(raw: &[u8]) -> Vec<(&str, usize)> {
    let mut found = Vec::new();
    let mut index = 0;
    let mut in_string = false;
    let mut numbers_seen = 0;
    while let Some(&byte) = raw.get(index) {
        index += 1;
        match (in_string, byte) {
            (true, b'\\') => index += 1,
            (true, b'"') | (false, b'"') => in_string = !in_string,
            (false, b'-' | b'0'..=b'9') => {
                let start = index - 1;
                while raw.get(index).is_some_and(|byte| {
                    matches!(byte, b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-')
                }) {
                    index += 1;
                }
                let Ok(literal) = std::str::from_utf8(&raw[start..index]) else {
                    return found;
                };
                let integral = !literal.contains(['.', 'e', 'E']);
                if integral && literal.parse::<i64>().is_err() && literal.parse::<u64>().is_err() {
                    found.push((literal, numbers_seen));
                }
                numbers_seen += 1;
            }
            _ => {}
        }
    }
    found
}

/// Walks `node` in document order (objects keep the order of the text: the
/// generated crate enables serde_json's `preserve_order`), counting numbers
/// in `seen`; the number with ordinal `ordinals[i]` gets its `loc` in
/// `paths[i]` when it is the double a wide literal reads as. `next` is the
/// first ordinal not reached yet (`ordinals` ascend).
fn collect_number_paths(
    node: &Value,
    ordinals: &[usize],
    seen: &mut usize,
    next: &mut usize,
    loc: &mut Vec<LocSegment>,
    paths: &mut [Option<Vec<LocSegment>>],
) {
    if *next >= ordinals.len() {
        return;
    }
    match node {
        Value::Number(number) => {
            if ordinals[*next] == *seen {
                if number.is_f64() {
                    paths[*next] = Some(loc.clone());
                }
                *next += 1;
            }
            *seen += 1;
        }
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                loc.push(LocSegment::Index(index));
                collect_number_paths(item, ordinals, seen, next, loc, paths);
                loc.pop();
            }
        }
        Value::Object(fields) => {
            for (name, field) in fields {
                loc.push(LocSegment::Field(name.clone()));
                collect_number_paths(field, ordinals, seen, next, loc, paths);
                loc.pop();
            }
        }
        _ => {}
    }
}

/// Deserializes the validated body into the tool's typed input; on failure
/// one 422 entry located by the path serde reached.
pub fn deserialize_input<I: DeserializeOwned>(body: &Value) -> Result<I, Vec<ValidationIssue>> {
    serde_path_to_error::deserialize::<_, I>(body).map_err(|error| {
        let mut loc = vec![LocSegment::from("body")];
        for segment in error.path().iter() {
            match segment {
                serde_path_to_error::Segment::Seq { index } => loc.push(LocSegment::Index(*index)),
                serde_path_to_error::Segment::Map { key } => {
                    loc.push(LocSegment::Field(key.clone()))
                }
                serde_path_to_error::Segment::Enum { variant } => {
                    loc.push(LocSegment::Field(variant.clone()))
                }
                serde_path_to_error::Segment::Unknown => {}
            }
        }
        let message = error.inner().to_string();
        vec![issue_from_serde_message(loc, message)]
    })
}

/// Classifies serde's message; a missing field is located at the field,
/// like FastAPI does.
fn issue_from_serde_message(mut loc: Vec<LocSegment>, message: String) -> ValidationIssue {
    if let Some(field) = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.strip_suffix('`'))
    {
        loc.push(LocSegment::Field(field.to_string()));
        return ValidationIssue {
            loc,
            msg: "Field required".into(),
            kind: "missing".into(),
        };
    }
    let kind = if message.starts_with("invalid type") {
        "type"
    } else if message.starts_with("unknown field") {
        "additionalProperties"
    } else if message.starts_with("unknown variant") {
        "enum"
    } else {
        "value_error"
    };
    ValidationIssue {
        loc,
        msg: message,
        kind: kind.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn integers_past_64_bits_are_refused_where_they_are() {
        // The same double written as a decimal comes first: the loc names
        // the wide literal, not the first number equal to it.
        let raw = br#"{"note": "99999999999999999999 in a string", "same": 1.2345678901234568e29, "list": [1, -5, 1.5e300, 123456789012345678901234567890]}"#;
        let body: Value = serde_json::from_slice(raw).unwrap();
        let issues = check_exact_integers(raw, &body, |_| false).unwrap_err();
        assert_eq!(issues[0].kind, "int_parsing_size");
        assert_eq!(
            issues[0].loc,
            vec![
                LocSegment::from("body"),
                LocSegment::from("list"),
                LocSegment::Index(3)
            ]
        );
        assert!(issues[0].msg.contains("123456789012345678901234567890"));
    }

    #[test]
    fn integers_within_64_bits_and_decimals_pass() {
        for raw in [
            r#"{"max": 18446744073709551615, "min": -9223372036854775808}"#,
            r#"{"decimal": 123456789012345678901234567890.5, "exponent": 1e30}"#,
            r#"{"escaped": "quote \" then 99999999999999999999999"}"#,
            r#"[]"#,
        ] {
            let body: Value = serde_json::from_str(raw).unwrap();
            assert_eq!(
                check_exact_integers(raw.as_bytes(), &body, |_| false),
                Ok(()),
                "{raw}"
            );
        }
        let raw = br#"{"a": -99999999999999999999}"#;
        let body: Value = serde_json::from_slice(raw).unwrap();
        assert!(check_exact_integers(raw, &body, |_| false).is_err());
    }

    #[test]
    fn integers_past_64_bits_go_up_as_doubles_only_where_the_schema_wants_a_number() {
        let validators = validators(json!({"type": "object", "properties": {
            "ratio": {"type": "number"},
            "ratios": {"type": "array", "items": {"type": "number"}},
            "count": {"type": "integer"}
        }}));
        let takes_double = |path: &[LocSegment]| validators.takes_double_at("tool", path);
        let raw =
            br#"{"ratio": 18446744073709552000, "ratios": [1, -123456789012345678901234567890]}"#;
        let body: Value = serde_json::from_slice(raw).unwrap();
        assert_eq!(check_exact_integers(raw, &body, takes_double), Ok(()));
        // One past every `number` is still refused, where it is.
        let raw =
            br#"{"ratio": 18446744073709552000, "untyped": 1, "count": 18446744073709552000}"#;
        let body: Value = serde_json::from_slice(raw).unwrap();
        let issues = check_exact_integers(raw, &body, takes_double).unwrap_err();
        assert_eq!(
            issues[0].loc,
            vec![LocSegment::from("body"), LocSegment::from("count")]
        );
        let raw = br#"{"other": 18446744073709552000}"#;
        let body: Value = serde_json::from_slice(raw).unwrap();
        assert!(check_exact_integers(raw, &body, takes_double).is_err());
        assert!(!validators.takes_double_at("no-such-tool", &[LocSegment::from("ratio")]));
    }

    fn validators(schema: Value) -> InputValidators {
        InputValidators::compile(&[LockedTool::new(
            json!({"name": "tool", "inputSchema": schema}),
        )])
    }

    fn issues(schema: Value, body: Value) -> Vec<Value> {
        match validators(schema).validate("tool", &body) {
            Ok(()) => Vec::new(),
            Err(issues) => issues
                .iter()
                .map(|issue| serde_json::to_value(issue).unwrap_or_default())
                .collect(),
        }
    }

    #[test]
    fn valid_body_passes() {
        let schema =
            json!({"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]});
        assert!(issues(schema, json!({"a": "x"})).is_empty());
    }

    #[test]
    fn missing_field_points_at_the_field() {
        let schema = json!({"type": "object", "properties": {"inner": {"type": "object", "required": ["zone"]}}});
        assert_eq!(
            issues(schema, json!({"inner": {}})),
            vec![
                json!({"loc": ["body", "inner", "zone"], "msg": "Field required", "type": "missing"})
            ]
        );
    }

    #[test]
    fn type_error_in_array_uses_numeric_index() {
        let schema = json!({"type": "object", "properties": {"list": {"type": "array", "items": {"type": "integer"}}}});
        let found = issues(schema, json!({"list": [1, "two"]}));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0]["loc"], json!(["body", "list", 1]));
        assert_eq!(found[0]["type"], json!("type"));
        assert!(
            found[0]["msg"]
                .as_str()
                .is_some_and(|msg| msg.contains("two"))
        );
    }

    #[test]
    fn numeric_object_keys_stay_strings() {
        let schema = json!({"type": "object", "properties": {"7": {"type": "string"}}});
        assert_eq!(
            issues(schema, json!({"7": 1}))[0]["loc"],
            json!(["body", "7"])
        );
    }

    #[test]
    fn keyword_is_the_type() {
        let schema = json!({"type": "object", "properties": {
            "n": {"type": "integer", "minimum": 3},
            "s": {"type": "string", "pattern": "^a"},
            "e": {"enum": ["x", "y"]}
        }});
        let mut kinds: Vec<String> = issues(schema, json!({"n": 1, "s": "b", "e": "z"}))
            .iter()
            .map(|issue| issue["type"].as_str().unwrap_or_default().to_string())
            .collect();
        kinds.sort();
        assert_eq!(kinds, ["enum", "minimum", "pattern"]);
    }

    #[test]
    fn additional_properties_get_one_entry_each() {
        let schema = json!({"type": "object", "properties": {}, "additionalProperties": false});
        let found = issues(schema, json!({"x": 1, "y": 2}));
        let locs: Vec<&Value> = found.iter().map(|issue| &issue["loc"]).collect();
        assert_eq!(locs, [&json!(["body", "x"]), &json!(["body", "y"])]);
        assert!(
            found
                .iter()
                .all(|issue| issue["type"] == "additionalProperties")
        );
    }

    #[test]
    fn formats_are_enforced() {
        let schema =
            json!({"type": "object", "properties": {"when": {"type": "string", "format": "date"}}});
        assert_eq!(
            issues(schema, json!({"when": "not a date"}))[0]["type"],
            json!("format")
        );
    }

    #[test]
    fn large_values_are_not_echoed() {
        let schema = json!({"type": "object", "properties": {"s": {"type": "integer"}}});
        let long = "x".repeat(500);
        let found = issues(schema, json!({"s": long}));
        assert!(
            found[0]["msg"]
                .as_str()
                .is_some_and(|msg| !msg.contains(&long))
        );
    }

    #[test]
    fn uncompilable_schema_is_skipped_not_fatal() {
        let broken = validators(
            json!({"type": "object", "properties": {"a": {"$ref": "https://example.invalid/x.json"}}}),
        );
        assert!(broken.validate("tool", &json!({"a": 1})).is_ok());
        let bad_type = validators(json!({"type": 12}));
        assert!(bad_type.validate("tool", &json!({})).is_ok());
    }

    #[test]
    fn unknown_dialect_falls_back_to_the_default_draft() {
        let schema = json!({"$schema": "https://example.invalid/custom", "type": "object", "required": ["a"]});
        assert_eq!(issues(schema, json!({}))[0]["type"], json!("missing"));
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Input {
        zone: String,
        items: Vec<u32>,
    }

    #[test]
    fn serde_errors_are_located() {
        let missing = deserialize_input::<Input>(&json!({"items": []})).err();
        assert_eq!(
            missing.map(|issues| serde_json::to_value(&issues[0]).unwrap_or_default()),
            Some(json!({"loc": ["body", "zone"], "msg": "Field required", "type": "missing"}))
        );
        let wrong = deserialize_input::<Input>(&json!({"zone": "z", "items": [1, "x"]}))
            .err()
            .unwrap_or_default();
        assert_eq!(
            wrong[0].loc,
            vec![
                LocSegment::from("body"),
                LocSegment::from("items"),
                LocSegment::Index(1)
            ]
        );
        assert_eq!(wrong[0].kind, "type");
    }
}
