//! Server messages from their JSON text, for the transports of our own
//! (stdio and SSE).
//!
//! rmcp's `ServerResult` is an untagged union in which `CallToolResult` is
//! the 16th variant: parsing a tool call's reply as a `ServerJsonRpcMessage`
//! first tries 15 other result types, and each failure formats a serde
//! error. That was a third of the proxy's instructions per call. A transport
//! knows which of its requests were tool calls (it sent them), so
//! [`MessageDecoder`] parses their replies with rmcp's own `CallToolResult`
//! parser and everything else as rmcp does. A reply that parser refuses (a
//! `resultType` other than `complete`, no known field) takes the general path
//! and comes out as before. One difference, on purpose: a tool result with a
//! key of another result type beside its own (`{"content": [..], "tools":
//! []}`) is a tool result here, where rmcp's union made it a `ListToolsResult`
//! and failed the call as an unexpected response.

use std::collections::HashSet;

use rmcp::model::{
    CallToolResult, ClientJsonRpcMessage, ClientNotification, ClientRequest, JsonRpcError,
    JsonRpcMessage, JsonRpcResponse, JsonRpcVersion2_0, RequestId, ServerJsonRpcMessage,
    ServerResult,
};
use serde::Deserialize;
use serde_json::Value;

/// Decodes server messages, knowing which replies answer tool calls.
#[derive(Debug, Default)]
pub struct MessageDecoder {
    /// Ids of the `tools/call` requests sent and not yet answered.
    tool_calls: HashSet<RequestId>,
}

/// Tool calls remembered at most. Replies that never come (a call whose
/// POST failed, a cancellation rmcp could not queue) would otherwise stay
/// for the session's life; forgetting them all costs only the fast path
/// for the calls then in flight.
const MAX_REMEMBERED_CALLS: usize = 4096;

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
                    if self.tool_calls.len() >= MAX_REMEMBERED_CALLS {
                        self.tool_calls.clear();
                    }
                    self.tool_calls.insert(request.id.clone());
                }
            }
            JsonRpcMessage::Notification(notification) => {
                if let ClientNotification::CancelledNotification(cancelled) =
                    &notification.notification
                    && let Some(id) = &cancelled.params.request_id
                {
                    self.forget(id);
                }
            }
            _ => {}
        }
    }

    /// Forgets the call `id` answers. rmcp matches a reply whose id is a
    /// numeric string (`"4"`) to the request it sent as a number (`4`).
    fn forget(&mut self, id: &RequestId) -> bool {
        self.tool_calls.remove(id)
            || matches!(id, RequestId::String(text)
                if text.parse().is_ok_and(|number| self.tool_calls.remove(&RequestId::Number(number))))
    }

    /// The message in `text` (one JSON-RPC message, no framing); for a
    /// reply that cannot be decoded, an error for the call it answers (so
    /// the call fails now, not at its timeout); `None` for anything else
    /// that cannot be decoded (dropped, as rmcp drops it).
    pub fn decode(&mut self, text: &[u8]) -> Option<ServerJsonRpcMessage> {
        match self.parse(text) {
            Ok(message) => Some(message),
            Err(error) => {
                let reply = undecodable_reply(text, &error);
                match &reply {
                    Some(JsonRpcMessage::Error(JsonRpcError { id: Some(id), .. })) => {
                        self.forget(id);
                    }
                    _ => {
                        tracing::warn!(%error, "dropped a message from the MCP server that is not JSON-RPC")
                    }
                }
                reply
            }
        }
    }

    fn parse(&mut self, text: &[u8]) -> Result<ServerJsonRpcMessage, serde_json::Error> {
        if !self.tool_calls.is_empty()
            && let Ok(reply) = serde_json::from_slice::<ToolCallReply>(text)
            && self.forget(&reply.id)
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
                self.forget(&response.id);
            }
            JsonRpcMessage::Error(error) => {
                if let Some(id) = &error.id {
                    self.forget(id);
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
/// answers; `None` for a message without an id, and for a request of the
/// server's (its ids are not ours: an error would fail another call).
fn undecodable_reply(text: &[u8], error: &serde_json::Error) -> Option<ServerJsonRpcMessage> {
    let id = super::reply_guard::top_level_id(text)?;
    if serde_json::from_slice::<Value>(text).is_ok_and(|message| message.get("method").is_some()) {
        return None;
    }
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

    fn is_tool_result(message: &ServerJsonRpcMessage) -> bool {
        matches!(
            message,
            JsonRpcMessage::Response(JsonRpcResponse {
                result: ServerResult::CallToolResult(_),
                ..
            })
        )
    }

    #[test]
    fn a_tool_calls_reply_decodes_as_rmcp_would_decode_it() {
        let mut decoder = MessageDecoder::default();
        decoder.sent(&tool_call(4));
        let text = r#"{"jsonrpc":"2.0","id":4,"result":{"content":[{"type":"text","text":"hi"}],"structuredContent":{"a":1},"isError":false,"_meta":{"k":1}}}"#;
        let decoded = decoder.decode(text.as_bytes()).unwrap();
        assert_eq!(format!("{decoded:?}"), general(text));
        assert!(is_tool_result(&decoded));
        assert_eq!(decoder.waiting(), 0);
    }

    #[test]
    fn replies_rmcps_tool_result_parser_refuses_take_the_general_path() {
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
            // A member beside the envelope's.
            (
                5,
                r#"{"jsonrpc":"2.0","id":5,"result":{"content":[]},"x-trace":1}"#,
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
    fn a_tool_result_with_another_types_key_stays_a_tool_result() {
        // rmcp's union makes this a ListToolsResult and fails the call.
        let text = r#"{"jsonrpc":"2.0","id":1,"result":{"content":[],"tools":[]}}"#;
        let mut decoder = MessageDecoder::default();
        decoder.sent(&tool_call(1));
        assert!(is_tool_result(&decoder.decode(text.as_bytes()).unwrap()));
        assert!(general(text).contains("ListToolsResult"));
    }

    #[test]
    fn a_reply_with_the_id_as_a_numeric_string_answers_the_call() {
        let mut decoder = MessageDecoder::default();
        decoder.sent(&tool_call(6));
        let text = r#"{"jsonrpc":"2.0","id":"6","result":{"content":[]}}"#;
        assert!(is_tool_result(&decoder.decode(text.as_bytes()).unwrap()));
        assert_eq!(decoder.waiting(), 0);
    }

    #[test]
    fn calls_never_answered_are_forgotten_in_the_end() {
        let mut decoder = MessageDecoder::default();
        let cancelled: ClientJsonRpcMessage = serde_json::from_value(serde_json::json!({
            "jsonrpc": "2.0",
            "method": "notifications/cancelled",
            "params": {"requestId": 7, "reason": "timeout"},
        }))
        .unwrap();
        decoder.sent(&tool_call(7));
        decoder.sent(&cancelled);
        assert_eq!(decoder.waiting(), 0);
        for id in 0..=MAX_REMEMBERED_CALLS as i64 {
            decoder.sent(&tool_call(id));
        }
        assert!(decoder.waiting() <= MAX_REMEMBERED_CALLS);
    }

    #[test]
    fn an_undecodable_reply_fails_its_call_and_a_bad_server_request_is_dropped() {
        let mut decoder = MessageDecoder::default();
        decoder.sent(&tool_call(8));
        let reply = decoder
            .decode(br#"{"jsonrpc":"1.0","id":8,"result":{}}"#)
            .unwrap();
        let JsonRpcMessage::Error(error) = reply else {
            panic!("not an error: {reply:?}")
        };
        assert_eq!(error.id, Some(RequestId::Number(8)));
        assert!(error.error.message.contains("could not be decoded"));
        assert_eq!(decoder.waiting(), 0);
        // A request of the server's: its id 8 is not our call's.
        let request = br#"{"jsonrpc":"1.0","id":8,"method":"sampling/createMessage"}"#;
        assert!(decoder.decode(request).is_none());
    }
}
