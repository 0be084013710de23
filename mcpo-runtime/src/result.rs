//! Tool results and upstream errors as HTTP answers, mcpo-compatible.

use axum::http::StatusCode;
use rmcp::{
    ServiceError,
    model::{CallToolResult, ContentBlock, ErrorCode},
};
use serde_json::Value;

use crate::error::{ApiError, ValidationIssue};

/// What the client gets for a completed `tools/call`.
#[derive(Debug, Clone, PartialEq)]
pub enum ToolAnswer {
    /// The tool's `structuredContent`, verbatim.
    Structured(Value),
    /// The content blocks mapped the way mcpo maps them.
    Content(Value),
    /// The tool reported `isError: true`; the text of its blocks.
    ToolError(String),
}

pub fn answer_for(mut result: CallToolResult) -> ToolAnswer {
    // The common answer, one text block and nothing structured: its text is
    // mapped as it is, without first writing the block out as a `Value`.
    if result.is_error != Some(true)
        && result.structured_content.is_none()
        && let [ContentBlock::Text(_)] = result.content.as_slice()
        && let Some(ContentBlock::Text(block)) = result.content.pop()
    {
        return ToolAnswer::Content(text_value(block.text));
    }
    let blocks: Vec<Value> = result
        .content
        .iter()
        .map(|block| serde_json::to_value(block).unwrap_or(Value::Null))
        .collect();
    if result.is_error == Some(true) {
        return ToolAnswer::ToolError(error_text(&blocks));
    }
    if let Some(structured) = result.structured_content {
        return ToolAnswer::Structured(structured);
    }
    ToolAnswer::Content(map_blocks(&blocks))
}

/// The one binary block of a successful result without structured content
/// (an image, audio, or an embedded `blob` resource with its type): its
/// MIME type and base64 data, for a caller that asks for the bytes.
pub fn single_binary(result: &CallToolResult) -> Option<(&str, &str)> {
    if result.is_error == Some(true) || result.structured_content.is_some() {
        return None;
    }
    match result.content.as_slice() {
        [ContentBlock::Image(image)] => Some((&image.mime_type, &image.data)),
        [ContentBlock::Audio(audio)] => Some((&audio.mime_type, &audio.data)),
        [ContentBlock::Resource(embedded)] => match &embedded.resource {
            rmcp::model::ResourceContents::BlobResourceContents {
                mime_type: Some(mime_type),
                blob,
                ..
            } => Some((mime_type, blob)),
            _ => None,
        },
        _ => None,
    }
}

/// A text block's text: the JSON it holds, or else the text itself.
fn text_value(text: String) -> Value {
    serde_json::from_str(&text).unwrap_or(Value::String(text))
}

/// One block -> its mapping; several -> a list; none -> null.
fn map_blocks(blocks: &[Value]) -> Value {
    match blocks {
        // mcpo's list of mapped blocks, unwrapped only when it holds one.
        [] => Value::Array(Vec::new()),
        [only] => map_block(only),
        many => Value::Array(many.iter().map(map_block).collect()),
    }
}

/// mcpo's mapping of one content block (serialized as on the wire).
fn map_block(block: &Value) -> Value {
    let field = |name: &str| block.get(name).and_then(Value::as_str);
    match field("type") {
        Some("text") => {
            let text = field("text").unwrap_or_default();
            serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string()))
        }
        Some("image" | "audio") => {
            let mime = field("mimeType").unwrap_or("application/octet-stream");
            let data = field("data").unwrap_or_default();
            Value::String(format!("data:{mime};base64,{data}"))
        }
        Some("resource") => block.get("resource").cloned().unwrap_or(Value::Null),
        // resource_link and anything newer: the object itself, nothing dropped.
        _ => block.clone(),
    }
}

/// The text of an error result's text blocks, one per line.
fn error_text(blocks: &[Value]) -> String {
    let texts: Vec<&str> = blocks
        .iter()
        .filter(|block| block.get("type").and_then(Value::as_str) == Some("text"))
        .filter_map(|block| block.get("text").and_then(Value::as_str))
        .collect();
    if texts.is_empty() {
        "The tool reported an error without a text message".to_string()
    } else {
        texts.join("\n")
    }
}

/// A call the OAuth-protected upstream refused for lack of scope (403
/// `insufficient_scope`): the connection is fine, the proxy's token is not
/// enough for this tool, and only a new authorization helps, so 503 saying
/// so, not a reconnection. `server` names the server in the hint.
pub fn insufficient_scope(error: &ServiceError, server: &str) -> Option<ApiError> {
    let challenge = error.auth_challenge()?;
    if !challenge.contains("insufficient_scope") {
        return None;
    }
    let scope = challenge
        .split_once("scope=\"")
        .and_then(|(_, rest)| rest.split_once('"'))
        .map(|(scope, _)| format!(" ({scope})"))
        .unwrap_or_default();
    let login = if server.is_empty() {
        "mcpo-gen login --url URL` (this proxy's upstream URL)".to_string()
    } else {
        format!("mcpo-gen login {server} --config FILE` (the config it came from)")
    };
    Some(ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        format!(
            "The upstream MCP server needs authorization with more scope for this tool{scope}: \
             run `{login} to authorize again; the proxy uses the new token at once"
        ),
    ))
}

/// Whether an upstream failure means the connection is gone (so the
/// supervisor should reconnect).
pub fn is_connection_failure(error: &ServiceError) -> bool {
    matches!(
        error,
        ServiceError::TransportClosed | ServiceError::TransportSend(_)
    )
}

/// The HTTP answer for a failed `tools/call`. Transport details stay in the
/// log: they can name hosts, paths or tokens in URLs.
pub fn error_for(error: &ServiceError) -> ApiError {
    match error {
        ServiceError::McpError(data) if data.code == ErrorCode::INVALID_PARAMS => {
            ApiError::validation(vec![ValidationIssue::body(
                data.message.to_string(),
                "invalid_params",
            )])
        }
        ServiceError::McpError(data) if data.code == ErrorCode::METHOD_NOT_FOUND => ApiError::new(
            StatusCode::NOT_FOUND,
            format!(
                "The upstream MCP server does not know this method: {}",
                data.message
            ),
        ),
        ServiceError::McpError(data) => ApiError::bad_gateway(format!(
            "The upstream MCP server returned error {}: {}",
            data.code.0, data.message
        )),
        ServiceError::TransportClosed | ServiceError::TransportSend(_) => ApiError::upstream_lost(),
        ServiceError::Timeout { timeout } => ApiError::gateway_timeout(timeout.as_secs_f64()),
        ServiceError::UnexpectedResponse => {
            ApiError::bad_gateway("The upstream MCP server sent an unexpected response")
        }
        ServiceError::Cancelled {
            reason: Some(reason),
        } => ApiError::bad_gateway(format!("The upstream MCP server's call ended: {reason}")),
        _ => ApiError::bad_gateway("The upstream MCP server call failed"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn insufficient_scope_is_a_503_naming_the_scope_not_a_lost_connection() {
        use rmcp::transport::StreamableHttpClientTransport;
        use rmcp::transport::streamable_http_client::{
            InsufficientScopeError, StreamableHttpError,
        };
        let refused = |header: &str| {
            let error: StreamableHttpError<reqwest::Error> = StreamableHttpError::InsufficientScope(
                InsufficientScopeError::new(header.to_string(), Some("files:write".into())),
            );
            ServiceError::TransportSend(rmcp::transport::DynamicTransportError::new::<
                StreamableHttpClientTransport<reqwest::Client>,
                rmcp::service::RoleClient,
            >(error))
        };
        let error = refused(r#"Bearer error="insufficient_scope", scope="files:write""#);
        let answer = insufficient_scope(&error, "docs").expect("a scope refusal");
        let response = axum::response::IntoResponse::into_response(answer);
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        // An expired or revoked token is not a scope problem.
        let expired = refused(r#"Bearer error="invalid_token""#);
        assert!(insufficient_scope(&expired, "docs").is_none());
        assert!(insufficient_scope(&ServiceError::TransportClosed, "").is_none());
    }

    use super::*;
    use rmcp::model::{ContentBlock, ErrorData};
    use serde_json::json;

    fn result(
        content: Vec<ContentBlock>,
        structured: Option<Value>,
        is_error: bool,
    ) -> CallToolResult {
        let mut result = if is_error {
            CallToolResult::error(content)
        } else {
            CallToolResult::success(content)
        };
        result.structured_content = structured;
        result
    }

    #[test]
    fn one_text_block_is_parsed_as_json_when_possible() {
        let json_text = result(vec![ContentBlock::text(r#"{"a": 1}"#)], None, false);
        assert_eq!(answer_for(json_text), ToolAnswer::Content(json!({"a": 1})));
        let plain = result(vec![ContentBlock::text("hello")], None, false);
        assert_eq!(answer_for(plain), ToolAnswer::Content(json!("hello")));
    }

    #[test]
    fn several_blocks_become_a_list_and_none_an_empty_one() {
        let two = result(
            vec![
                ContentBlock::text("1"),
                ContentBlock::image("QUJD", "image/png"),
            ],
            None,
            false,
        );
        assert_eq!(
            answer_for(two),
            ToolAnswer::Content(json!([1, "data:image/png;base64,QUJD"]))
        );
        assert_eq!(
            answer_for(result(Vec::new(), None, false)),
            ToolAnswer::Content(json!([]))
        );
    }

    #[test]
    fn structured_content_wins_over_blocks() {
        let both = result(
            vec![ContentBlock::text("x")],
            Some(json!({"k": true})),
            false,
        );
        assert_eq!(answer_for(both), ToolAnswer::Structured(json!({"k": true})));
    }

    #[test]
    fn error_results_join_their_text() {
        let failed = result(
            vec![
                ContentBlock::text("bad zone"),
                ContentBlock::text("try again"),
            ],
            Some(json!({"ignored": 1})),
            true,
        );
        assert_eq!(
            answer_for(failed),
            ToolAnswer::ToolError("bad zone\ntry again".into())
        );
    }

    #[test]
    fn resources_and_links_map_to_objects() {
        let embedded = json!({"type": "resource", "resource": {"uri": "file:///a", "text": "hi"}});
        assert_eq!(
            map_block(&embedded),
            json!({"uri": "file:///a", "text": "hi"})
        );
        let link = json!({"type": "resource_link", "uri": "file:///b", "name": "b"});
        assert_eq!(map_block(&link), link);
        let audio = json!({"type": "audio", "mimeType": "audio/wav", "data": "AAA="});
        assert_eq!(map_block(&audio), json!("data:audio/wav;base64,AAA="));
    }

    #[test]
    fn json_rpc_errors_map_to_status_codes() {
        let invalid = ServiceError::McpError(ErrorData::invalid_params("timezone is wrong", None));
        let answer = error_for(&invalid);
        assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            answer.detail,
            json!([{"loc": ["body"], "msg": "timezone is wrong", "type": "invalid_params"}])
        );
        let unknown = ServiceError::McpError(ErrorData::method_not_found::<
            rmcp::model::CallToolRequestMethod,
        >());
        assert_eq!(error_for(&unknown).status, StatusCode::NOT_FOUND);
        let internal = ServiceError::McpError(ErrorData::internal_error("boom", None));
        assert_eq!(error_for(&internal).status, StatusCode::BAD_GATEWAY);
        let lost = error_for(&ServiceError::TransportClosed);
        assert_eq!(
            (lost.status, lost.retry_after),
            (StatusCode::BAD_GATEWAY, Some(1))
        );
        assert!(is_connection_failure(&ServiceError::TransportClosed));
        assert!(!is_connection_failure(&internal));
    }
}
