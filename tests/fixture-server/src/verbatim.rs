//! Put tool definitions back the way the file wrote them, on the wire.
//!
//! rmcp's `Tool` model has no catch-all for fields it does not know (e.g. a newer
//! spec's `execution`, or a future annotation hint), so a `tools/list` result built
//! from it silently drops them. Real servers do send such fields, and mcpo-gen must
//! keep them in its lock, so the fixture has to serve them. The fix is applied to the
//! serialized JSON-RPC messages: every `result.tools[i]` whose name belongs to a tool
//! that rmcp would alter is replaced by the file's definition. Servers whose tools
//! round-trip through rmcp unchanged (the usual case) never go through this path.

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
};

use axum::{
    body::Body,
    extract::{Request, State},
    http::header::{CONTENT_LENGTH, CONTENT_TYPE},
    middleware::Next,
    response::{IntoResponse, Response},
};
use futures_util::StreamExt;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};

/// The file's definitions of the tools rmcp cannot serve faithfully, by name.
/// Replaced as a whole when the tool file is reloaded (`--reload-tools-every-ms`).
#[derive(Debug, Default)]
pub struct VerbatimTools {
    by_name: RwLock<HashMap<String, Value>>,
}

impl VerbatimTools {
    pub fn new(by_name: HashMap<String, Value>) -> Self {
        Self {
            by_name: RwLock::new(by_name),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.read().is_empty()
    }

    /// Serve these definitions from now on (a reloaded tool file's).
    pub fn replace(&self, other: &VerbatimTools) {
        let by_name = other.read().clone();
        *self
            .by_name
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = by_name;
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Value>> {
        self.by_name
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Restore the tools of a `tools/list` response in place; other messages are left
    /// alone. Returns whether anything changed.
    pub fn restore(&self, message: &mut Value) -> bool {
        let Some(tools) = message
            .get_mut("result")
            .and_then(|result| result.get_mut("tools"))
            .and_then(Value::as_array_mut)
        else {
            return false;
        };
        let by_name = self.read();
        let mut changed = false;
        for tool in tools {
            let original = tool
                .get("name")
                .and_then(Value::as_str)
                .and_then(|name| by_name.get(name));
            if let Some(original) = original {
                *tool = original.clone();
                changed = true;
            }
        }
        changed
    }

    /// One serialized JSON-RPC message in, the message to send out.
    fn restore_text(&self, text: &str) -> Option<String> {
        let mut message: Value = serde_json::from_str(text).ok()?;
        self.restore(&mut message).then(|| message.to_string())
    }

    /// Copy newline-delimited JSON-RPC messages from `from` (what rmcp wrote) to `to`
    /// (stdout), restoring tool lists on the way. Ends when `from` closes.
    pub async fn pipe_lines(
        self: Arc<Self>,
        from: impl AsyncRead + Unpin,
        mut to: impl AsyncWrite + Unpin,
    ) -> std::io::Result<()> {
        let mut lines = BufReader::new(from).lines();
        while let Some(line) = lines.next_line().await? {
            let line = self.restore_text(&line).unwrap_or(line);
            to.write_all(line.as_bytes()).await?;
            to.write_all(b"\n").await?;
            to.flush().await?;
        }
        Ok(())
    }

    /// One Server-Sent Event (without its blank-line terminator): rewrite its `data:`
    /// payload if it is a tool list. rmcp writes each message as a single `data:` line.
    fn restore_sse_event(&self, event: &str) -> Option<String> {
        let mut changed = false;
        let lines: Vec<String> = event
            .split('\n')
            .map(|line| match line.strip_prefix("data:") {
                Some(data) => match self.restore_text(data.trim_start()) {
                    Some(restored) => {
                        changed = true;
                        format!("data: {restored}")
                    }
                    None => line.to_owned(),
                },
                None => line.to_owned(),
            })
            .collect();
        changed.then(|| lines.join("\n"))
    }
}

/// Axum middleware: restore tool lists in JSON and SSE responses of the MCP endpoint.
pub async fn restore_responses(
    State(verbatim): State<Arc<VerbatimTools>>,
    request: Request,
    next: Next,
) -> Response {
    let response = next.run(request).await;
    let content_type = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    if content_type.starts_with("text/event-stream") {
        restore_sse(verbatim, response)
    } else if content_type.starts_with("application/json") {
        restore_json(verbatim, response).await
    } else {
        response
    }
}

async fn restore_json(verbatim: Arc<VerbatimTools>, response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    // Tool lists of a test fixture are small; 64 MiB only guards against nonsense.
    let bytes = match axum::body::to_bytes(body, 64 << 20).await {
        Ok(bytes) => bytes,
        Err(error) => {
            let message = format!("cannot read response body: {error}");
            return (axum::http::StatusCode::INTERNAL_SERVER_ERROR, message).into_response();
        }
    };
    let text = String::from_utf8_lossy(&bytes);
    match verbatim.restore_text(&text) {
        Some(restored) => {
            parts.headers.remove(CONTENT_LENGTH);
            Response::from_parts(parts, Body::from(restored))
        }
        None => Response::from_parts(parts, Body::from(bytes)),
    }
}

/// Re-chunk an SSE body into whole events so each can be rewritten. The stream stays a
/// stream: events are forwarded as soon as they are complete.
fn restore_sse(verbatim: Arc<VerbatimTools>, response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    parts.headers.remove(CONTENT_LENGTH);
    let (sender, receiver) = tokio::sync::mpsc::channel::<Result<String, axum::Error>>(16);
    tokio::spawn(async move {
        let mut chunks = body.into_data_stream();
        let mut pending = String::new();
        while let Some(chunk) = chunks.next().await {
            let chunk = match chunk {
                Ok(chunk) => chunk,
                Err(error) => {
                    let _ = sender.send(Err(error)).await;
                    return;
                }
            };
            pending.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = pending.find("\n\n") {
                let event: String = pending.drain(..end + 2).collect();
                let body = &event[..end];
                let out = match verbatim.restore_sse_event(body) {
                    Some(restored) => format!("{restored}\n\n"),
                    None => event,
                };
                if sender.send(Ok(out)).await.is_err() {
                    return; // the client went away
                }
            }
        }
        if !pending.is_empty() {
            let _ = sender.send(Ok(pending)).await;
        }
    });
    let stream = futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|item| (item, receiver))
    });
    Response::from_parts(parts, Body::from_stream(stream))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn verbatim() -> VerbatimTools {
        VerbatimTools::new(HashMap::from([(
            "future".to_owned(),
            json!({"name": "future", "inputSchema": {}, "execution": {"taskSupport": "optional"}}),
        )]))
    }

    #[test]
    fn restores_only_known_tools_in_tool_lists() {
        let mut list = json!({"jsonrpc": "2.0", "id": 1, "result": {"tools": [
            {"name": "future", "inputSchema": {}},
            {"name": "plain", "inputSchema": {}}
        ]}});
        assert!(verbatim().restore(&mut list));
        assert_eq!(
            list["result"]["tools"][0]["execution"]["taskSupport"],
            "optional"
        );
        assert_eq!(
            list["result"]["tools"][1],
            json!({"name": "plain", "inputSchema": {}})
        );

        let mut call = json!({"jsonrpc": "2.0", "id": 2, "result": {"content": []}});
        assert!(!verbatim().restore(&mut call));
    }

    #[test]
    fn rewrites_sse_data_lines_and_keeps_the_rest() {
        let event = "id: 0\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"tools\":[{\"name\":\"future\",\"inputSchema\":{}}]}}";
        let restored = verbatim().restore_sse_event(event).expect("rewritten");
        assert!(restored.starts_with("id: 0\ndata: {"));
        assert!(restored.contains("taskSupport"));
        assert_eq!(verbatim().restore_sse_event("data: {\"id\":1}"), None);
        assert_eq!(verbatim().restore_sse_event(": keep-alive"), None);
    }

    #[tokio::test]
    async fn pipes_lines_with_restoration() {
        let input = concat!(
            "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"tools\":[{\"name\":\"future\",\"inputSchema\":{}}]}}\n",
            "{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{}}\n"
        );
        let mut output = Vec::new();
        Arc::new(verbatim())
            .pipe_lines(input.as_bytes(), &mut output)
            .await
            .unwrap();
        let output = String::from_utf8(output).unwrap();
        let lines: Vec<&str> = output.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].contains("taskSupport"));
        assert_eq!(lines[1], "{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{}}");
    }
}
