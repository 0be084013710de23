//! What a generated tool's types check: its input struct reads the
//! arguments (after the frozen schema did), its output struct reads the
//! `structuredContent` (a mismatch only warns), and the JSON body a result
//! answers with.

use axum::http::StatusCode;
use rmcp::model::CallToolResult;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{ApiError, ValidationIssue};
use crate::result::{self, ToolAnswer};
use crate::validate;

/// A generated tool's typed input check: its arguments read as its input struct.
pub(crate) type InputCheck = fn(&Value) -> Result<(), Vec<ValidationIssue>>;

/// A tool's typed checks as plain function pointers.
#[derive(Clone, Copy)]
pub(crate) struct TypedChecks {
    pub(crate) input: InputCheck,
    pub(crate) output: fn(&Value) -> Result<(), serde_json::Error>,
}

impl TypedChecks {
    /// No typed checks: a caller that gets the upstream's result as it is
    /// (an MCP client of the gateway).
    pub(crate) const NONE: TypedChecks = TypedChecks {
        input: |_| Ok(()),
        output: |_| Ok(()),
    };
}

pub(crate) fn check_input<I: DeserializeOwned>(
    arguments: &Value,
) -> Result<(), Vec<ValidationIssue>> {
    // The copy is only needed when there is a whole float to rewrite; most
    // bodies have none, and the typed check then reads them as they are.
    if has_integral_float(arguments) {
        validate::deserialize_input::<I>(&integral_floats_as_integers(arguments)).map(drop)
    } else {
        validate::deserialize_input::<I>(arguments).map(drop)
    }
}

/// Whether [`integral_floats_as_integers`] would change anything in `value`.
fn has_integral_float(value: &Value) -> bool {
    match value {
        Value::Number(number) if number.is_f64() => number
            .as_f64()
            .is_some_and(|float| float.fract() == 0.0 && float.abs() < 9.0e15),
        Value::Array(items) => items.iter().any(has_integral_float),
        Value::Object(fields) => fields.values().any(has_integral_float),
        _ => false,
    }
}

/// JSON Schema counts `2.0` as an integer, and Python clients send it; the
/// typed check reads it as `2` so that an `i64` field accepts what the schema
/// accepts. Only this copy is changed: upstream gets the client's JSON.
fn integral_floats_as_integers(value: &Value) -> Value {
    match value {
        Value::Number(number) if number.is_f64() => number
            .as_f64()
            .filter(|float| float.fract() == 0.0 && float.abs() < 9.0e15)
            .map(|float| Value::from(float as i64))
            .unwrap_or_else(|| value.clone()),
        Value::Array(items) => {
            Value::Array(items.iter().map(integral_floats_as_integers).collect())
        }
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(key, field)| (key.clone(), integral_floats_as_integers(field)))
                .collect(),
        ),
        other => other.clone(),
    }
}

pub(crate) fn check_output<O: DeserializeOwned>(
    structured: &Value,
) -> Result<(), serde_json::Error> {
    O::deserialize(structured).map(drop)
}

/// The JSON body a tool's result answers with: its `structuredContent`
/// (checked against the locked outputSchema, which only warns) or its
/// content mapped as mcpo maps it; a tool error is a 500.
pub(crate) fn answer_body(
    tool: &str,
    result: CallToolResult,
    checks: TypedChecks,
) -> Result<Value, ApiError> {
    match result::answer_for(result) {
        ToolAnswer::Structured(structured) => {
            if let Err(error) = (checks.output)(&structured) {
                tracing::warn!(
                    tool,
                    %error,
                    "structuredContent does not match the tool's locked outputSchema; returning it unchanged"
                );
            }
            Ok(structured)
        }
        ToolAnswer::Content(mapped) => Ok(mapped),
        ToolAnswer::ToolError(text) => Err(ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, text)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_floats_read_as_integers_for_the_typed_check() {
        let sent = serde_json::json!({"age": 2.0, "ratio": 2.5, "list": [1e2, 3], "huge": 1e300});
        assert_eq!(
            integral_floats_as_integers(&sent),
            serde_json::json!({"age": 2, "ratio": 2.5, "list": [100, 3], "huge": 1e300})
        );
        assert!(has_integral_float(&sent));
        assert!(has_integral_float(&serde_json::json!({"a": [{"b": 3.0}]})));
        assert!(!has_integral_float(
            &serde_json::json!({"ratio": 2.5, "list": [1, "2.0"], "huge": 1e300})
        ));
    }
}
