//! The streamable HTTP client the snapshot gives rmcp: reqwest, plus raw
//! capture of the `initialize` (or `server/discover`) and `tools/list` results.
//!
//! rmcp's reqwest client parses a JSON response into typed messages before
//! anything outside it can see the body, so unknown fields (a tool's
//! `execution`, the `tasks` capability) are gone by the time a transport
//! wrapper could look. This client sends those two requests itself, with
//! exactly the session id, auth and headers rmcp passes in, records the raw
//! body (a JSON document or SSE events) with [`RawWire`], and returns the same
//! typed response rmcp's client would. Every other message, and any recorded
//! request whose response is not a plain success (an HTTP error, an expired
//! session, an odd content type), goes through rmcp's own reqwest client,
//! which re-sends it: rmcp keeps its exact error handling, and the second
//! request is harmless (`tools/list` only reads; an `initialize` that failed
//! opened no session rmcp would use).

use std::collections::HashMap;
use std::sync::Arc;

use futures::StreamExt;
use futures::stream::BoxStream;
use http::{HeaderName, HeaderValue};
use rmcp::model::{ClientJsonRpcMessage, ClientRequest, ServerJsonRpcMessage};
use rmcp::transport::streamable_http_client::{
    SseError, StreamableHttpClient, StreamableHttpError, StreamableHttpPostResponse,
    StreamableHttpResponseLimits,
};
use serde_json::Value;
use sse_stream::{Sse, SseStream};

use super::raw_wire::RawWire;

const SESSION_ID_HEADER: &str = "mcp-session-id";
const EVENT_STREAM_MIME_TYPE: &str = "text/event-stream";
const JSON_MIME_TYPE: &str = "application/json";

type SseEvents = BoxStream<'static, Result<Sse, SseError>>;

#[derive(Debug, Clone)]
pub struct RecordingHttpClient {
    inner: reqwest::Client,
    raw_wire: RawWire,
}

impl RecordingHttpClient {
    pub fn new(raw_wire: RawWire) -> Self {
        RecordingHttpClient {
            inner: rmcp_like_reqwest_client(),
            raw_wire,
        }
    }

    /// Sends an `initialize` or `tools/list` request and records its raw
    /// result. `None` when the answer is not a plain success: the caller then
    /// lets rmcp's client send it again and report whatever is wrong in rmcp's
    /// own terms.
    async fn post_recorded(
        &self,
        uri: &str,
        message: &ClientJsonRpcMessage,
        session_id: Option<&str>,
        auth_token: Option<&str>,
        custom_headers: &HashMap<HeaderName, HeaderValue>,
        limits: &StreamableHttpResponseLimits,
    ) -> Option<StreamableHttpPostResponse> {
        let mut request = self
            .inner
            .post(uri)
            .header(
                http::header::ACCEPT,
                format!("{EVENT_STREAM_MIME_TYPE}, {JSON_MIME_TYPE}"),
            )
            .json(message);
        if let Some(token) = auth_token {
            request = request.bearer_auth(token);
        }
        for (name, value) in custom_headers {
            request = request.header(name, value);
        }
        if let Some(session_id) = session_id {
            request = request.header(SESSION_ID_HEADER, session_id);
        }
        let response = request.send().await.ok()?;
        // 202/204 carry no result; redirects and errors are rmcp's to explain.
        if response.status() != reqwest::StatusCode::OK {
            return None;
        }
        let session_id = response
            .headers()
            .get(SESSION_ID_HEADER)
            .and_then(|value| value.to_str().ok())
            .map(str::to_string);
        let content_type = response
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .map(media_type)
            .unwrap_or_default();
        match content_type.as_str() {
            JSON_MIME_TYPE => {
                let body = read_capped(response, limits.max_json_response_size).await?;
                let raw: Value = serde_json::from_slice(&body).ok()?;
                let typed: ServerJsonRpcMessage = serde_json::from_value(raw.clone()).ok()?;
                self.raw_wire.observe_message(raw);
                Some(StreamableHttpPostResponse::Json(typed, session_id))
            }
            EVENT_STREAM_MIME_TYPE => {
                // One event never legitimately exceeds the per-event limit, and
                // an initialize or tools/list answer is one event plus a few
                // notifications.
                let cap = limits.max_sse_event_size.max(limits.max_json_response_size);
                let body =
                    response
                        .bytes_stream()
                        .scan((0usize, false), move |(seen, failed), chunk| {
                            // After the first error the stream ends.
                            let item = match chunk {
                                _ if *failed => None,
                                Ok(bytes) => {
                                    *seen += bytes.len();
                                    *failed = *seen > cap;
                                    Some(if *failed {
                                        Err(BodyError::TooLarge(cap))
                                    } else {
                                        Ok(bytes)
                                    })
                                }
                                Err(error) => {
                                    *failed = true;
                                    Some(Err(BodyError::Read(error)))
                                }
                            };
                            futures::future::ready(item)
                        });
                let events = SseStream::from_bytes_stream(body);
                Some(StreamableHttpPostResponse::Sse(
                    self.recording(events.boxed()),
                    session_id,
                ))
            }
            _ => None,
        }
    }

    /// Passes SSE events through unchanged, recording each event's data.
    fn recording(&self, events: SseEvents) -> SseEvents {
        let raw_wire = self.raw_wire.clone();
        events
            .inspect(move |event| {
                if let Ok(Sse {
                    data: Some(data), ..
                }) = event
                {
                    raw_wire.observe_bytes(data.as_bytes());
                }
            })
            .boxed()
    }
}

/// Built like rmcp's own default client (`from_config`): no idle pooling
/// (avoids delayed-ACK stalls) and only same-origin 307/308 redirects, so the
/// body survives and headers never reach another host.
pub(super) fn rmcp_like_reqwest_client() -> reqwest::Client {
    const MAX_REDIRECTS: usize = 10;
    let policy = reqwest::redirect::Policy::custom(|attempt| {
        let keeps_body = matches!(
            attempt.status(),
            reqwest::StatusCode::TEMPORARY_REDIRECT | reqwest::StatusCode::PERMANENT_REDIRECT
        );
        let same_origin = attempt
            .previous()
            .first()
            .is_some_and(|original| original.origin() == attempt.url().origin());
        if !keeps_body || !same_origin {
            attempt.stop()
        } else if attempt.previous().len() > MAX_REDIRECTS {
            attempt.error(format!("more than {MAX_REDIRECTS} redirects"))
        } else {
            attempt.follow()
        }
    });
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .redirect(policy)
        .build()
        // Building only fails when the TLS backend cannot initialise; a plain
        // client still reaches http:// servers and rmcp reports https errors.
        .unwrap_or_default()
}

/// The requests whose raw results the lock needs (`server/discover` is a
/// stateless server's `initialize`).
fn is_recorded_request(message: &ClientJsonRpcMessage) -> bool {
    matches!(
        message,
        ClientJsonRpcMessage::Request(request)
            if matches!(
                request.request,
                ClientRequest::ListToolsRequest(_)
                    | ClientRequest::InitializeRequest(_)
                    | ClientRequest::DiscoverRequest(_)
            )
    )
}

/// `application/json; charset=utf-8` -> `application/json`.
fn media_type(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// The whole body, or `None` when it is larger than `cap` or breaks off.
async fn read_capped(mut response: reqwest::Response, cap: usize) -> Option<Vec<u8>> {
    if response
        .content_length()
        .is_some_and(|length| length > cap as u64)
    {
        return None;
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.ok()? {
        if body.len() + chunk.len() > cap {
            return None;
        }
        body.extend_from_slice(&chunk);
    }
    Some(body)
}

/// Why a recorded event stream stopped early.
#[derive(Debug, thiserror::Error)]
enum BodyError {
    #[error(transparent)]
    Read(#[from] reqwest::Error),
    #[error("the event stream is larger than {0} bytes")]
    TooLarge(usize),
}

impl StreamableHttpClient for RecordingHttpClient {
    type Error = reqwest::Error;

    async fn post_message(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth_token: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<StreamableHttpPostResponse, StreamableHttpError<Self::Error>> {
        self.post_message_with_response_limits(
            uri,
            message,
            session_id,
            auth_token,
            custom_headers,
            StreamableHttpResponseLimits::default(),
        )
        .await
    }

    async fn post_message_with_max_sse_event_size(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth_token: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        max_sse_event_size: usize,
    ) -> Result<StreamableHttpPostResponse, StreamableHttpError<Self::Error>> {
        let mut limits = StreamableHttpResponseLimits::default();
        limits.max_sse_event_size = max_sse_event_size;
        self.post_message_with_response_limits(
            uri,
            message,
            session_id,
            auth_token,
            custom_headers,
            limits,
        )
        .await
    }

    async fn post_message_with_response_limits(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth_token: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        limits: StreamableHttpResponseLimits,
    ) -> Result<StreamableHttpPostResponse, StreamableHttpError<Self::Error>> {
        if is_recorded_request(&message)
            && let Some(response) = self
                .post_recorded(
                    &uri,
                    &message,
                    session_id.as_deref(),
                    auth_token.as_deref(),
                    &custom_headers,
                    &limits,
                )
                .await
        {
            return Ok(response);
        }
        self.inner
            .post_message_with_response_limits(
                uri,
                message,
                session_id,
                auth_token,
                custom_headers,
                limits,
            )
            .await
    }

    async fn delete_session(
        &self,
        uri: Arc<str>,
        session_id: Arc<str>,
        auth_token: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<(), StreamableHttpError<Self::Error>> {
        self.inner
            .delete_session(uri, session_id, auth_token, custom_headers)
            .await
    }

    async fn get_stream(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        auth_token: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<SseEvents, StreamableHttpError<Self::Error>> {
        let events = self
            .inner
            .get_stream(uri, session_id, last_event_id, auth_token, custom_headers)
            .await?;
        Ok(self.recording(events))
    }

    async fn get_stream_with_max_sse_event_size(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        auth_token: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        max_sse_event_size: usize,
    ) -> Result<SseEvents, StreamableHttpError<Self::Error>> {
        // A resumed stream can carry a tools/list answer, so record it too.
        let events = self
            .inner
            .get_stream_with_max_sse_event_size(
                uri,
                session_id,
                last_event_id,
                auth_token,
                custom_headers,
                max_sse_event_size,
            )
            .await?;
        Ok(self.recording(events))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use serde_json::json;
    use tokio::io::AsyncWriteExt;
    use tokio::net::{TcpListener, TcpStream};

    use super::*;
    use crate::upstream::{ConnectError, ConnectOptions, Session, Target, connect};

    async fn recording_session(target: &Target) -> Session {
        let options = ConnectOptions {
            client_name: "test".into(),
            client_version: "0".into(),
            echo_stderr: false,
            record_raw: true,
            offer_protocol: None,
            events: Default::default(),
        };
        connect(target, &options, &mut None)
            .await
            .expect("the handshake succeeds")
    }

    fn future_tool() -> Value {
        json!({
            "name": "long_job",
            "inputSchema": {"type": "object"},
            "execution": {"taskSupport": "required"},
            "x-vendor": {"tags": ["a"]}
        })
    }

    /// A minimal streamable HTTP MCP server that answers with plain JSON
    /// bodies (the fixture server always answers with SSE), one request per
    /// connection. `tools_list_status` is the HTTP status of `tools/list`.
    struct JsonServer {
        url: String,
        tools_list_posts: Arc<AtomicUsize>,
    }

    impl JsonServer {
        async fn start(tools_list_status: u16) -> Self {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let url = format!("http://{}/mcp", listener.local_addr().unwrap());
            let tools_list_posts = Arc::new(AtomicUsize::new(0));
            let counter = tools_list_posts.clone();
            tokio::spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    let counter = counter.clone();
                    tokio::spawn(answer(stream, tools_list_status, counter));
                }
            });
            JsonServer {
                url,
                tools_list_posts,
            }
        }
    }

    async fn answer(mut stream: TcpStream, tools_list_status: u16, counter: Arc<AtomicUsize>) {
        let Some((head, body)) = crate::upstream::test_http::read_request(&mut stream).await else {
            return;
        };
        let message: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let id = message.get("id").cloned().unwrap_or(Value::Null);
        let (status, body) = if !head.starts_with("post") {
            (405, None)
        } else {
            match message.get("method").and_then(Value::as_str) {
                Some("initialize") => (
                    200,
                    Some(json!({"jsonrpc": "2.0", "id": id, "result": {
                        "protocolVersion": "2025-06-18",
                        "capabilities": {"tools": {}, "tasks": {"requests": {"tools": {"call": {}}}}},
                        "serverInfo": {"name": "json-server", "version": "1.0.0"}
                    }})),
                ),
                Some("tools/list") => {
                    counter.fetch_add(1, Ordering::SeqCst);
                    let body = json!({"jsonrpc": "2.0", "id": id, "result": {
                        "tools": [future_tool()]
                    }});
                    (tools_list_status, Some(body))
                }
                _ if id.is_null() => (202, None),
                _ => (
                    200,
                    Some(json!({"jsonrpc": "2.0", "id": id,
                        "error": {"code": -32601, "message": "method not found"}})),
                ),
            }
        };
        let body = body.map(|body| body.to_string()).unwrap_or_default();
        let response = format!(
            "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\n\
             mcp-session-id: session-1\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = stream.write_all(response.as_bytes()).await;
        let _ = stream.shutdown().await;
    }

    fn target(server: &JsonServer) -> Target {
        Target::StreamableHttp {
            url: server.url.clone(),
            headers: BTreeMap::new(),
            oauth: None,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_plain_json_tools_list_is_kept_verbatim_with_one_request() {
        let server = JsonServer::start(200).await;
        let session = recording_session(&target(&server)).await;
        let tools = session.list_all_tools().await.expect("tools/list succeeds");
        assert_eq!(tools, vec![future_tool()]);
        assert_eq!(server.tools_list_posts.load(Ordering::SeqCst), 1);
        // The initialize result is recorded too: rmcp's model has no `tasks`.
        assert_eq!(
            session
                .raw_initialize_result()
                .and_then(|result| result.get("capabilities").cloned()),
            Some(json!({"tools": {}, "tasks": {"requests": {"tools": {"call": {}}}}}))
        );
        session.close(std::time::Duration::from_secs(1)).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_tools_list_is_left_to_rmcp_to_report() {
        let server = JsonServer::start(500).await;
        let session = recording_session(&target(&server)).await;
        let error = session
            .list_all_tools()
            .await
            .expect_err("the server fails tools/list");
        assert!(
            matches!(error, ConnectError::ListItems { .. }),
            "unexpected error: {error}"
        );
        // Ours, then rmcp's own attempt (which reports the failure).
        assert_eq!(server.tools_list_posts.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn only_initialize_and_tools_list_requests_are_intercepted() {
        let list: ClientJsonRpcMessage = serde_json::from_value(
            json!({"jsonrpc": "2.0", "id": 4, "method": "tools/list", "params": {"cursor": "10"}}),
        )
        .unwrap();
        let call: ClientJsonRpcMessage = serde_json::from_value(json!({
            "jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {"name": "x"}
        }))
        .unwrap();
        let initialize: ClientJsonRpcMessage = serde_json::from_value(json!({
            "jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
                "protocolVersion": "2025-06-18", "capabilities": {},
                "clientInfo": {"name": "t", "version": "0"}}
        }))
        .unwrap();
        assert!(is_recorded_request(&list));
        assert!(is_recorded_request(&initialize));
        assert!(!is_recorded_request(&call));
    }

    #[test]
    fn media_types_ignore_parameters_and_case() {
        assert_eq!(
            media_type("Application/JSON; charset=utf-8"),
            JSON_MIME_TYPE
        );
        assert_eq!(media_type("text/event-stream"), EVENT_STREAM_MIME_TYPE);
        assert_eq!(media_type(""), "");
    }
}
