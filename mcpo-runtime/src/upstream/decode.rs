//! Server messages from their JSON text, for the transports of our own
//! (stdio and SSE).
//!
//! rmcp's `ServerResult` is an untagged union in which `CallToolResult` is
//! the 16th variant: parsing a tool call's reply as a `ServerJsonRpcMessage`
//! first tries 15 other result types, and each failure formats a serde
//! error. That was a third of the proxy's instructions per call. A transport
//! knows which of its requests were tool calls (it sent them), so
//! [`MessageDecoder`] parses their replies as `CallToolResult` directly and
//! everything else as rmcp does. rmcp's own `CallToolResult` parser decides,
//! so a reply it refuses (a `resultType` other than `complete`, no known
//! field) takes the general path and comes out as it did before.

use std::collections::HashSet;

use rmcp::model::{
    CallToolResult, ClientJsonRpcMessage, ClientNotification, ClientRequest, JsonRpcMessage,
    JsonRpcResponse, JsonRpcVersion2_0, RequestId, ServerJsonRpcMessage, ServerResult,
};
use serde::Deserialize;
use serde_json::Value;

/// Decodes server messages, knowing which replies answer tool calls.
#[derive(Debug, Default)]
pub struct MessageDecoder {
    /// Ids of the `tools/call` requests sent and not yet answered.
    tool_calls: HashSet<RequestId>,
}

/// A reply whose result is a `CallToolResult` and nothing else.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ToolCallReply {
    jsonrpc: JsonRpcVersion2_0,
    id: RequestId,
    result: CallToolResult,
}

impl MessageDecoder {
    /// Notes a message about to be sent: a tool call's id, or a
    /// cancellation (its reply may never come, so the id is forgotten).
    pub fn sent(&mut self, message: &ClientJsonRpcMessage) {
        match message {
            JsonRpcMessage::Request(request) => {
                if matches!(request.request, ClientRequest::CallToolRequest(_)) {
                    self.tool_calls.insert(request.id.clone());
                }
            }
            JsonRpcMessage::Notification(notification) => {
                if let ClientNotification::CancelledNotification(cancelled) =
                    &notification.notification
                    && let Some(id) = &cancelled.params.request_id
                {
                    self.tool_calls.remove(id);
                }
            }
            _ => {}
        }
    }

    /// The message in `text` (one JSON-RPC message, no framing).
    pub fn decode(&mut self, text: &[u8]) -> Result<ServerJsonRpcMessage, serde_json::Error> {
        if !self.tool_calls.is_empty()
            && let Ok(reply) = serde_json::from_slice::<ToolCallReply>(text)
            && self.tool_calls.remove(&reply.id)
        {
            return Ok(JsonRpcMessage::Response(JsonRpcResponse {
                jsonrpc: reply.jsonrpc,
                id: reply.id,
                result: ServerResult::CallToolResult(reply.result),
            }));
        }
        let message = serde_json::from_slice::<ServerJsonRpcMessage>(text)?;
        match &message {
            JsonRpcMessage::Response(response) => {
                self.tool_calls.remove(&response.id);
            }
            JsonRpcMessage::Error(error) => {
                if let Some(id) = &error.id {
                    self.tool_calls.remove(id);
                }
            }
            _ => {}
        }
        Ok(message)
    }

    /// Tool calls still waiting for their reply (for tests).
    #[cfg(test)]
    fn waiting(&self) -> usize {
        self.tool_calls.len()
    }
}

/// A JSON-RPC error for the request a message that cannot be decoded
/// answers, so the call fails now instead of at its timeout; `None` for a
/// message without an id.
pub fn undecodable_reply(text: &[u8], error: &serde_json::Error) -> Option<ServerJsonRpcMessage> {
    let id = super::reply_guard::top_level_id(text)?;
    let id: Value = serde_json::from_slice(id).ok()?;
    tracing::warn!(%id, %error, "the MCP server's reply cannot be decoded; the call fails");
    serde_json::from_value(serde_json::json!({
        "jsonrpc": "2.0",
        "id": id,
        "error": {
            "code": -32603,
            "message": format!("The MCP server's reply could not be decoded: {error}"),
        },
    }))
    .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmcp::model::{CallToolRequestParams, ClientRequest, JsonRpcRequest, Request};

    fn tool_call(id: i64) -> ClientJsonRpcMessage {
        let params = CallToolRequestParams::new("echo");
        JsonRpcMessage::Request(JsonRpcRequest::new(
            RequestId::Number(id),
            ClientRequest::CallToolRequest(Request::new(params)),
        ))
    }

    /// What rmcp's own parser makes of `text`, as Debug text: the messages
    /// have no `PartialEq`, and Debug shows every variant and field.
    fn general(text: &str) -> String {
        format!(
            "{:?}",
            serde_json::from_str::<ServerJsonRpcMessage>(text).unwrap()
        )
    }

    #[test]
    fn a_tool_calls_reply_decodes_as_rmcp_would_decode_it() {
        let mut decoder = MessageDecoder::default();
        decoder.sent(&tool_call(4));
        let text = r#"{"jsonrpc":"2.0","id":4,"result":{"content":[{"type":"text","text":"hi"}],"structuredContent":{"a":1},"isError":false,"_meta":{"k":1}}}"#;
        let decoded = decoder.decode(text.as_bytes()).unwrap();
        assert_eq!(format!("{decoded:?}"), general(text));
        assert!(matches!(
            decoded,
            JsonRpcMessage::Response(JsonRpcResponse {
                result: ServerResult::CallToolResult(_),
                ..
            })
        ));
        assert_eq!(decoder.waiting(), 0);
    }

    #[test]
    fn replies_that_are_not_plain_tool_results_take_the_general_path() {
        let mut decoder = MessageDecoder::default();
        for (id, text) in [
            // Another request's reply while a call waits.
            (1, r#"{"jsonrpc":"2.0","id":9,"result":{"tools":[]}}"#),
            // A result type rmcp's CallToolResult refuses.
            (
                2,
                r#"{"jsonrpc":"2.0","id":2,"result":{"resultType":"task","task":{"taskId":"t","status":"working","createdAt":"2026-01-01T00:00:00Z","lastUpdatedAt":"2026-01-01T00:00:00Z"}}}"#,
            ),
            // An error.
            (
                3,
                r#"{"jsonrpc":"2.0","id":3,"error":{"code":-32602,"message":"no"}}"#,
            ),
            // A field beyond CallToolResult's.
            (
                5,
                r#"{"jsonrpc":"2.0","id":5,"result":{"content":[],"extra":1}}"#,
            ),
        ] {
            decoder.sent(&tool_call(id));
            let decoded = decoder.decode(text.as_bytes()).unwrap();
            assert_eq!(format!("{decoded:?}"), general(text), "{text}");
        }
        // The calls answered (2, 3, 5) are forgotten; 1 still waits.
        assert_eq!(decoder.waiting(), 1);
    }

    #[test]
    fn a_cancelled_call_is_forgotten() {
        let mut decoder = MessageDecoder::default();
        decoder.sent(&tool_call(7));
        let cancelled: ClientJsonRpcMessage = serde_json::from_value(serde_json::json!({
            "jsonrpc": "2.0",
            "method": "notifications/cancelled",
            "params": {"requestId": 7, "reason": "timeout"},
        }))
        .unwrap();
        decoder.sent(&cancelled);
        assert_eq!(decoder.waiting(), 0);
    }

    #[test]
    fn an_undecodable_reply_becomes_an_error_for_its_id() {
        let text = br#"{"jsonrpc":"1.0","id":"x","result":{}}"#;
        let error = MessageDecoder::default().decode(text).unwrap_err();
        let reply = undecodable_reply(text, &error).unwrap();
        let JsonRpcMessage::Error(error) = reply else {
            panic!("not an error: {reply:?}")
        };
        assert_eq!(error.id, Some(RequestId::String("x".into())));
        assert!(error.error.message.contains("could not be decoded"));
    }
}
