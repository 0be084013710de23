//! What a tool does when it is called.
//!
//! Every tool echoes by default; a tool file can give a tool another behaviour under
//! `"behaviors": {"<tool name>": {"kind": "...", ...}}`. The kinds exist to drive the
//! proxy's error paths (isError results, JSON-RPC errors, timeouts, crashes) and its
//! result mapping (every content block type, structured content).

use std::time::Duration;

use rmcp::{
    ErrorData,
    model::{CallToolResult, ContentBlock, ErrorCode, JsonObject},
};
use serde::Deserialize;
use serde_json::Value;

use crate::long_calls::LongCallTool;

/// One tool's behaviour, as written in the tool file.
///
/// Unknown fields are rejected so that a typo (`"millis"` for `"ms"`) fails loudly at
/// startup instead of silently turning into the default.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Behavior {
    /// Return the arguments as received: a text block with their compact JSON and,
    /// when the tool declares an `outputSchema`, `structuredContent` = the arguments.
    #[default]
    Echo,
    /// A tool-level failure: `isError: true` with `message` as the only text block.
    Error {
        #[serde(default = "default_error_message")]
        message: String,
    },
    /// A protocol-level failure: the call is answered with a JSON-RPC error.
    JsonrpcError {
        code: i32,
        message: String,
        #[serde(default)]
        data: Option<Value>,
    },
    /// Wait `ms` milliseconds, then echo (timeout tests).
    Sleep { ms: u64 },
    /// Exit the whole process with code 1 without answering (respawn tests).
    Crash,
    /// Return these MCP content blocks exactly (parsed at load time, so a malformed
    /// block is a startup error rather than a failed call).
    Content { blocks: Vec<ContentBlock> },
    /// Return `structuredContent` = `value`, with `text` (or, when absent, the compact
    /// JSON of `value`, as the MCP spec recommends for older clients) as a text block.
    Structured {
        value: Value,
        #[serde(default)]
        text: Option<String>,
    },
    /// Return `structuredContent` = `{"nested": [[...[1]...]]}` with `depth`
    /// arrays: a reply deeper than JSON readers accept (a tool file could not
    /// hold it, the server's own reader would refuse the file).
    Nested { depth: usize },
    /// `touch_resource` (only with `--resources`): answered by the server's
    /// resources surface, which knows the subscriptions. Not for tool files.
    #[serde(skip)]
    TouchResource,
    /// `--tasks-extension`'s tools: answered by `long_calls`. Not for tool files.
    #[serde(skip)]
    LongCall(LongCallTool),
}

fn default_error_message() -> String {
    "the tool failed".to_owned()
}

/// The outcome of running a behaviour that the server can send back.
pub enum Outcome {
    Result(CallToolResult),
    Error(ErrorData),
}

impl Behavior {
    /// Run the behaviour. `has_output_schema` decides whether an echo also carries
    /// `structuredContent`. `cancelled` resolves when the client cancels the request,
    /// so a long sleep does not outlive its caller.
    pub async fn run(
        &self,
        arguments: JsonObject,
        has_output_schema: bool,
        cancelled: impl Future<Output = ()>,
    ) -> Outcome {
        match self {
            Behavior::Echo => Outcome::Result(echo(arguments, has_output_schema)),
            Behavior::Error { message } => {
                Outcome::Result(CallToolResult::error(vec![ContentBlock::text(
                    message.clone(),
                )]))
            }
            Behavior::JsonrpcError {
                code,
                message,
                data,
            } => Outcome::Error(ErrorData::new(
                ErrorCode(*code),
                message.clone(),
                data.clone(),
            )),
            Behavior::Sleep { ms } => {
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_millis(*ms)) => {}
                    () = cancelled => {
                        return Outcome::Error(ErrorData::internal_error("request cancelled", None));
                    }
                }
                Outcome::Result(echo(arguments, has_output_schema))
            }
            Behavior::Crash => {
                // The point is to die mid-request, like a real server that segfaults:
                // no answer, no cleanup, non-zero status.
                std::process::exit(1);
            }
            Behavior::Content { blocks } => {
                Outcome::Result(CallToolResult::success(blocks.clone()))
            }
            Behavior::Nested { depth } => {
                let mut value = Value::from(1);
                for _ in 0..*depth {
                    value = Value::Array(vec![value]);
                }
                let mut result = CallToolResult::success(vec![ContentBlock::text("nested")]);
                result.structured_content = Some(serde_json::json!({ "nested": value }));
                Outcome::Result(result)
            }
            Behavior::TouchResource => Outcome::Error(ErrorData::internal_error(
                "touch_resource is answered by the resources surface",
                None,
            )),
            Behavior::LongCall(tool) => Outcome::Error(ErrorData::internal_error(
                format!("{} is answered by the long-call tools", tool.name()),
                None,
            )),
            Behavior::Structured { value, text } => {
                let text = text.clone().unwrap_or_else(|| value.to_string());
                let mut result = CallToolResult::success(vec![ContentBlock::text(text)]);
                result.structured_content = Some(value.clone());
                Outcome::Result(result)
            }
        }
    }
}

/// The echo result: exactly the arguments the server received.
fn echo(arguments: JsonObject, has_output_schema: bool) -> CallToolResult {
    let arguments = Value::Object(arguments);
    let mut result = CallToolResult::success(vec![ContentBlock::text(arguments.to_string())]);
    if has_output_schema {
        result.structured_content = Some(arguments);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(value: Value) -> Result<Behavior, serde_json::Error> {
        serde_json::from_value(value)
    }

    #[test]
    fn parses_every_kind() {
        for value in [
            json!({"kind": "echo"}),
            json!({"kind": "error", "message": "nope"}),
            json!({"kind": "error"}),
            json!({"kind": "jsonrpc_error", "code": -32602, "message": "bad"}),
            json!({"kind": "jsonrpc_error", "code": -32000, "message": "bad", "data": {"x": 1}}),
            json!({"kind": "sleep", "ms": 10}),
            json!({"kind": "crash"}),
            json!({"kind": "content", "blocks": [{"type": "text", "text": "hi"}]}),
            json!({"kind": "structured", "value": {"a": 1}}),
            json!({"kind": "structured", "value": [1, 2], "text": "two numbers"}),
        ] {
            assert!(parse(value.clone()).is_ok(), "should parse: {value}");
        }
    }

    #[test]
    fn rejects_typos_and_unknown_kinds() {
        assert!(parse(json!({"kind": "sleep", "millis": 10})).is_err());
        assert!(parse(json!({"kind": "explode"})).is_err());
        assert!(parse(json!({"kind": "content", "blocks": [{"type": "hologram"}]})).is_err());
        // Only `--resources` adds a touch_resource tool, only
        // `--tasks-extension` the long-call tools.
        assert!(parse(json!({"kind": "touch_resource"})).is_err());
        assert!(parse(json!({"kind": "long_call"})).is_err());
    }

    #[tokio::test]
    async fn echo_returns_arguments_and_structured_content_only_with_output_schema() {
        let arguments: JsonObject = serde_json::from_value(json!({"b": [1, 2], "a": "x"})).unwrap();
        let Outcome::Result(plain) = Behavior::Echo
            .run(arguments.clone(), false, std::future::pending())
            .await
        else {
            panic!("echo must not fail");
        };
        assert_eq!(plain.structured_content, None);
        let text = plain.content[0].as_text().map(|text| text.text.clone());
        let echoed: Value = serde_json::from_str(&text.unwrap()).unwrap();
        assert_eq!(echoed, Value::Object(arguments.clone()));

        let Outcome::Result(typed) = Behavior::Echo
            .run(arguments.clone(), true, std::future::pending())
            .await
        else {
            panic!("echo must not fail");
        };
        assert_eq!(typed.structured_content, Some(Value::Object(arguments)));
    }

    #[tokio::test]
    async fn sleep_stops_when_cancelled() {
        let started = std::time::Instant::now();
        let outcome = Behavior::Sleep { ms: 60_000 }
            .run(JsonObject::new(), false, std::future::ready(()))
            .await;
        assert!(matches!(outcome, Outcome::Error(_)));
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
