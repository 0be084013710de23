//! The legacy (2024-11-05) HTTP+SSE transport, client side; rmcp 3.11 has
//! none any more.
//!
//! [`SseTransport::open`] GETs the event stream, waits for its `endpoint`
//! event and resolves that URI against the stream's URL (same origin only:
//! the headers, usually secrets, go nowhere else). Every message is then a
//! POST to the endpoint, and every server message an event on the stream.
//! The configured headers go with the GET and with every POST.
//!
//! There is no resuming: when the stream ends or breaks, or the endpoint
//! says the session is gone (404/410) or cannot be reached, the transport
//! closes (rmcp's `peer().is_transport_closed()` turns true) and whoever
//! owns the session connects again, `initialize` included: the proxy's
//! supervisor does so. A server's session lives exactly as long as its
//! stream, so reopening the stream alone could never keep it.
//!
//! Each message event's data is fed to [`RawWire`] before rmcp parses it,
//! for the snapshot's verbatim `initialize` and `tools/list` results.

use std::borrow::Cow;
use std::sync::Arc;

use futures::StreamExt;
use futures::stream::BoxStream;
use http::{HeaderMap, HeaderName, HeaderValue};
use rmcp::model::{ClientJsonRpcMessage, ServerJsonRpcMessage};
use rmcp::service::{RoleClient, RxJsonRpcMessage, TxJsonRpcMessage};
use rmcp::transport::Transport;
use sse_stream::{Sse, SseStream};
use tokio::sync::watch;

use super::ConnectError;
use super::decode::MessageDecoder;
use super::oauth::Access;
use super::raw_wire::{MAX_MESSAGE_BYTES, RawWire};
use super::reach::unreachable;

type Events = BoxStream<'static, Result<Sse, sse_stream::Error>>;

const EVENT_STREAM_MIME_TYPE: &str = "text/event-stream";

/// Why a message could not be sent. The transport is closed after any of
/// these but [`SseTransportError::Status`].
#[derive(Debug, thiserror::Error)]
pub enum SseTransportError {
    /// The POST did not get through (refused, reset, ...).
    #[error("posting to the SSE endpoint failed: {0}")]
    Http(#[from] reqwest::Error),
    /// The endpoint answered with an HTTP error.
    #[error("the SSE endpoint answered HTTP {0}")]
    Status(reqwest::StatusCode),
    /// OAuth: no token, or the server refused it and refreshing failed.
    #[error("{0}")]
    Authorization(String),
    /// OAuth: the server refused the call for lack of scope (403 with a
    /// challenge; step-up). Its challenge is the source, as rmcp's
    /// streamable HTTP client reports it.
    #[error("the SSE endpoint answered HTTP 403 (insufficient scope)")]
    InsufficientScope(#[source] rmcp::transport::streamable_http_client::InsufficientScopeError),
    /// The endpoint no longer knows the session.
    #[error("the SSE session is gone (HTTP {0}); reconnecting")]
    SessionGone(reqwest::StatusCode),
    /// A message that cannot be serialized (never for rmcp's own types).
    #[error("a message could not be serialized: {0}")]
    Serialize(#[from] serde_json::Error),
}

/// Sends POSTs; shared by every send future.
struct Poster {
    client: reqwest::Client,
    endpoint: reqwest::Url,
    headers: HeaderMap,
    /// OAuth tokens, for a protected server.
    access: Option<Access>,
    /// Set to true to close the transport (its `receive` then ends).
    gone: watch::Sender<bool>,
}

impl Poster {
    async fn send_once(
        &self,
        body: Vec<u8>,
        token: Option<&str>,
        call_headers: &HeaderMap,
    ) -> Result<reqwest::Response, SseTransportError> {
        let mut request = self
            .client
            .post(self.endpoint.clone())
            .headers(self.headers.clone())
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(body);
        if let Some(token) = token {
            request = request.header(http::header::AUTHORIZATION, bearer(token));
        }
        // A forwarded caller's (`forwardIdentity`), for this POST only.
        request = request.headers(call_headers.clone());
        Ok(request.send().await.inspect_err(|error| {
            if error.is_connect() {
                // The server is gone; its stream is (or soon will be).
                self.gone.send_replace(true);
            }
        })?)
    }

    async fn post(&self, body: Vec<u8>, call_headers: HeaderMap) -> Result<(), SseTransportError> {
        let authorization =
            |error: ConnectError| SseTransportError::Authorization(error.to_string());
        let token = match &self.access {
            Some(access) => Some(access.token().await.map_err(authorization)?),
            None => None,
        };
        let mut response = self
            .send_once(body.clone(), token.as_deref(), &call_headers)
            .await?;
        // A refused token gets one refresh and one retry.
        if response.status() == reqwest::StatusCode::UNAUTHORIZED
            && let (Some(access), Some(sent)) = (&self.access, &token)
        {
            let fresh = access.refresh(sent).await.map_err(authorization)?;
            response = self.send_once(body, Some(&fresh), &call_headers).await?;
        }
        let status = response.status();
        if status == reqwest::StatusCode::FORBIDDEN
            && let Some(access) = &self.access
            && let Some(challenge) = response
                .headers()
                .get(http::header::WWW_AUTHENTICATE)
                .and_then(|value| value.to_str().ok())
        {
            access.note_forbidden(challenge);
            return Err(SseTransportError::InsufficientScope(
                rmcp::transport::streamable_http_client::InsufficientScopeError::new(
                    challenge.to_string(),
                    None,
                ),
            ));
        }
        if status == reqwest::StatusCode::NOT_FOUND || status == reqwest::StatusCode::GONE {
            tracing::warn!(%status, "the SSE endpoint no longer knows the session");
            self.gone.send_replace(true);
            return Err(SseTransportError::SessionGone(status));
        }
        if !status.is_success() {
            return Err(SseTransportError::Status(status));
        }
        // The answer comes on the stream; the body ("Accepted") is nothing.
        Ok(())
    }
}

/// An rmcp client transport over one HTTP+SSE session.
pub struct SseTransport {
    events: Events,
    poster: Arc<Poster>,
    gone: watch::Receiver<bool>,
    raw_wire: RawWire,
    decoder: MessageDecoder,
    closed: bool,
}

impl SseTransport {
    /// GETs the stream at `url` and waits for its `endpoint` event. The
    /// caller bounds the wait (a server may accept and say nothing).
    pub async fn open(
        url: &str,
        headers: HeaderMap,
        client: reqwest::Client,
        raw_wire: RawWire,
        access: Option<Access>,
    ) -> Result<Self, ConnectError> {
        let handshake = |reason: String, authorization_required: bool| ConnectError::Handshake {
            upstream: url.to_string(),
            reason,
            stderr: String::new(),
            authorization_required,
        };
        let stream_url = reqwest::Url::parse(url)
            .map_err(|error| handshake(format!("{url:?} is not a URL: {error}"), false))?;
        let get = |token: Option<String>| {
            let mut request = client
                .get(stream_url.clone())
                .headers(headers.clone())
                .header(http::header::ACCEPT, EVENT_STREAM_MIME_TYPE)
                .header(http::header::CACHE_CONTROL, "no-cache");
            if let Some(token) = token {
                request = request.header(http::header::AUTHORIZATION, bearer(&token));
            }
            async move {
                request.send().await.map_err(|error| {
                    unreachable(url, &error)
                        .unwrap_or_else(|| handshake(format!("GET failed: {error}"), false))
                })
            }
        };
        let token = match &access {
            Some(access) => Some(access.token().await?),
            None => None,
        };
        let mut response = get(token.clone()).await?;
        // A refused token gets one refresh and one retry.
        if response.status() == reqwest::StatusCode::UNAUTHORIZED
            && let (Some(access), Some(sent)) = (&access, &token)
        {
            let fresh = access.refresh(sent).await?;
            response = get(Some(fresh)).await?;
        }
        let status = response.status();
        if status == reqwest::StatusCode::UNAUTHORIZED
            && let Some(access) = &access
        {
            return Err(access.needs());
        }
        if !status.is_success() {
            return Err(handshake(
                format!(
                    "GET answered HTTP {status}{}",
                    if status == reqwest::StatusCode::UNAUTHORIZED {
                        ""
                    } else {
                        ": is this the server's SSE URL (often ending in /sse)? \
                         A streamable-HTTP server needs --server-type streamable-http"
                    }
                ),
                status == reqwest::StatusCode::UNAUTHORIZED,
            ));
        }
        let content_type = response
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_string();
        if !content_type
            .to_ascii_lowercase()
            .starts_with(EVENT_STREAM_MIME_TYPE)
        {
            return Err(handshake(
                format!(
                    "GET answered {content_type:?}, not an event stream: is this the \
                     server's SSE URL (often ending in /sse)?"
                ),
                false,
            ));
        }
        let mut events = SseStream::from_bytes_stream(capped(response.bytes_stream())).boxed();
        let endpoint = loop {
            match events.next().await {
                Some(Ok(Sse {
                    event: Some(kind),
                    data: Some(data),
                    ..
                })) if kind == "endpoint" => break data,
                Some(Ok(_)) => continue,
                Some(Err(error)) => {
                    return Err(handshake(
                        format!("the event stream broke before its `endpoint` event: {error}"),
                        false,
                    ));
                }
                None => {
                    return Err(handshake(
                        "the event stream ended before its `endpoint` event".into(),
                        false,
                    ));
                }
            }
        };
        let endpoint =
            resolve_endpoint(&stream_url, &endpoint).map_err(|why| handshake(why, false))?;
        tracing::debug!(%endpoint, "SSE session opened");
        let (gone_sender, gone) = watch::channel(false);
        Ok(SseTransport {
            events,
            poster: Arc::new(Poster {
                client,
                endpoint,
                headers,
                access,
                gone: gone_sender,
            }),
            gone,
            raw_wire,
            decoder: MessageDecoder::default(),
            closed: false,
        })
    }

    /// The next server message; `None` once the stream is over.
    async fn next_message(&mut self) -> Option<ServerJsonRpcMessage> {
        loop {
            let event = tokio::select! {
                event = self.events.next() => event,
                _ = self.gone.wait_for(|gone| *gone) => return None,
            };
            let data = match event {
                Some(Ok(Sse { data: None, .. })) => continue,
                Some(Ok(Sse {
                    event: Some(kind),
                    data: Some(_),
                    ..
                })) if kind != "message" => {
                    tracing::debug!(event = %kind, "ignored an SSE event that is not a message");
                    continue;
                }
                Some(Ok(Sse {
                    data: Some(data), ..
                })) => data,
                Some(Err(error)) => {
                    tracing::warn!(%error, "the SSE stream from the MCP server broke");
                    return None;
                }
                None => {
                    tracing::info!("the MCP server ended its SSE stream");
                    return None;
                }
            };
            self.raw_wire.observe_bytes(data.as_bytes());
            if let Some(message) = self.decoder.decode(data.as_bytes()) {
                return Some(message);
            }
        }
    }
}

impl Transport<RoleClient> for SseTransport {
    type Error = SseTransportError;

    fn name() -> Cow<'static, str> {
        "SSE".into()
    }

    fn send(
        &mut self,
        mut item: TxJsonRpcMessage<RoleClient>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        self.decoder.sent(&item);
        let poster = Arc::clone(&self.poster);
        let call_headers: HeaderMap = crate::identity::forward::take_request_headers(&mut item)
            .into_iter()
            .filter_map(|(name, value)| {
                Some((
                    HeaderName::try_from(name).ok()?,
                    HeaderValue::try_from(value).ok()?,
                ))
            })
            .collect();
        let body = serde_json::to_vec::<ClientJsonRpcMessage>(&item);
        async move { poster.post(body?, call_headers).await }
    }

    async fn receive(&mut self) -> Option<RxJsonRpcMessage<RoleClient>> {
        if self.closed {
            return None;
        }
        let message = self.next_message().await;
        if message.is_none() {
            self.closed = true;
            self.events = futures::stream::empty().boxed();
            self.poster.gone.send_replace(true);
        }
        message
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        self.closed = true;
        // Dropping the response body closes the stream: the server ends the session.
        self.events = futures::stream::empty().boxed();
        self.poster.gone.send_replace(true);
        Ok(())
    }
}

/// An `Authorization: Bearer` value, marked sensitive.
fn bearer(token: &str) -> HeaderValue {
    let mut value = HeaderValue::try_from(format!("Bearer {token}"))
        .unwrap_or_else(|_| HeaderValue::from_static("Bearer"));
    value.set_sensitive(true);
    value
}

/// The endpoint event's URI against the stream's URL; it must stay on the
/// same origin.
fn resolve_endpoint(stream_url: &reqwest::Url, data: &str) -> Result<reqwest::Url, String> {
    let endpoint = stream_url
        .join(data.trim())
        .map_err(|error| format!("its `endpoint` event {data:?} is not a URI: {error}"))?;
    if endpoint.origin() != stream_url.origin() {
        return Err(format!(
            "its `endpoint` event points to another origin ({}); refused, so that the \
             headers go only where they were meant to",
            endpoint.origin().ascii_serialization()
        ));
    }
    Ok(endpoint)
}

/// The response body, failing once one event grows past
/// [`MAX_MESSAGE_BYTES`] (a blank line ends an event), so a server cannot
/// make the parser buffer without end.
fn capped<S, B>(body: S) -> impl futures::Stream<Item = Result<B, CapError>> + Send + 'static
where
    S: futures::Stream<Item = reqwest::Result<B>> + Send + 'static,
    B: AsRef<[u8]> + Send + 'static,
{
    body.scan(EventSize::default(), |size, chunk| {
        let item = match chunk {
            _ if size.failed => None,
            Err(error) => {
                size.failed = true;
                Some(Err(CapError::Read(error)))
            }
            Ok(bytes) => {
                size.count(bytes.as_ref());
                Some(if size.failed {
                    Err(CapError::TooLarge)
                } else {
                    Ok(bytes)
                })
            }
        };
        futures::future::ready(item)
    })
}

/// Counts the bytes of the event being received (lines end with CR, LF or
/// CRLF; an empty line ends the event).
#[derive(Debug, Default)]
struct EventSize {
    event: usize,
    line: usize,
    after_cr: bool,
    failed: bool,
}

impl EventSize {
    fn count(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            let crlf = byte == b'\n' && self.after_cr;
            self.after_cr = byte == b'\r';
            match byte {
                _ if crlf => {}
                b'\n' | b'\r' => {
                    if self.line == 0 {
                        self.event = 0;
                    }
                    self.line = 0;
                }
                _ => {
                    self.line += 1;
                    self.event += 1;
                }
            }
        }
        self.failed |= self.event > MAX_MESSAGE_BYTES;
    }
}

#[derive(Debug, thiserror::Error)]
enum CapError {
    #[error(transparent)]
    Read(#[from] reqwest::Error),
    #[error("an SSE event is larger than 16 MiB")]
    TooLarge,
}

/// Headers as a [`HeaderMap`].
pub fn header_map(headers: std::collections::HashMap<HeaderName, HeaderValue>) -> HeaderMap {
    headers.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    use serde_json::{Value, json};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};
    use tokio::sync::mpsc;

    use super::*;
    use crate::upstream::{ConnectOptions, Session, Target, connect};

    fn future_tool() -> Value {
        json!({
            "name": "long_job",
            "inputSchema": {"type": "object"},
            "execution": {"taskSupport": "required"},
            "x-vendor": {"tags": ["a"]}
        })
    }

    /// A minimal 2024-11-05 SSE MCP server: `GET /sse` opens the session's
    /// stream, `POST /message?sessionId=1` takes messages and answers them
    /// on the stream. It keeps every request head it got.
    #[derive(Clone)]
    struct SseServer {
        url: String,
        heads: Arc<Mutex<Vec<String>>>,
        stream: Arc<Mutex<Option<mpsc::UnboundedSender<String>>>>,
        /// Answer POSTs with 404, as a server that forgot the session.
        forget: Arc<AtomicBool>,
    }

    impl SseServer {
        async fn start() -> Self {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let server = SseServer {
                url: format!("http://{}/sse", listener.local_addr().unwrap()),
                heads: Default::default(),
                stream: Default::default(),
                forget: Default::default(),
            };
            let serving = server.clone();
            tokio::spawn(async move {
                while let Ok((connection, _)) = listener.accept().await {
                    tokio::spawn(serving.clone().answer(connection));
                }
            });
            server
        }

        /// Ends the open event stream, as a server restart or an idle
        /// timeout of something in between would.
        fn end_stream(&self) {
            self.stream.lock().unwrap().take();
        }

        fn heads(&self) -> Vec<String> {
            self.heads.lock().unwrap().clone()
        }

        async fn answer(self, mut connection: TcpStream) {
            let Some((head, body)) =
                crate::upstream::test_http::read_request(&mut connection).await
            else {
                return;
            };
            self.heads.lock().unwrap().push(head.clone());
            if head.starts_with("get /sse ") {
                let (sender, mut messages) = mpsc::unbounded_channel();
                *self.stream.lock().unwrap() = Some(sender);
                let opening = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\
                               cache-control: no-cache\r\n\r\n\
                               : a comment\n\nevent: endpoint\ndata: /message?sessionId=1\n\n";
                if connection.write_all(opening.as_bytes()).await.is_err() {
                    return;
                }
                while let Some(message) = messages.recv().await {
                    let event = format!("event: message\ndata: {message}\n\n");
                    if connection.write_all(event.as_bytes()).await.is_err() {
                        return;
                    }
                }
                let _ = connection.shutdown().await;
                return;
            }
            let known = head.starts_with("post /message?sessionid=1 ")
                && !self.forget.load(Ordering::SeqCst);
            let status = if known {
                "202 Accepted"
            } else {
                "404 Not Found"
            };
            let response = format!(
                "HTTP/1.1 {status}\r\ncontent-length: 8\r\nconnection: close\r\n\r\nAccepted"
            );
            let _ = connection.write_all(response.as_bytes()).await;
            let _ = connection.shutdown().await;
            if !known {
                return;
            }
            let message: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let id = message.get("id").cloned().unwrap_or(Value::Null);
            let reply = match message.get("method").and_then(Value::as_str) {
                _ if id.is_null() => return,
                Some("initialize") => json!({"jsonrpc": "2.0", "id": id, "result": {
                    "protocolVersion": "2024-11-05",
                    "capabilities": {"tools": {}, "tasks": {"requests": {"tools": {"call": {}}}}},
                    "serverInfo": {"name": "sse-server", "version": "1.0.0"}
                }}),
                Some("tools/list") => {
                    json!({"jsonrpc": "2.0", "id": id, "result": {"tools": [future_tool()]}})
                }
                _ => json!({"jsonrpc": "2.0", "id": id,
                    "error": {"code": -32601, "message": "method not found"}}),
            };
            if let Some(stream) = self.stream.lock().unwrap().as_ref() {
                let _ = stream.send(reply.to_string());
            }
        }
    }

    async fn session(server: &SseServer, headers: &[(&str, &str)]) -> Session {
        let target = Target::Sse {
            url: server.url.clone(),
            headers: headers
                .iter()
                .map(|(name, value)| (name.to_string(), value.to_string()))
                .collect::<BTreeMap<_, _>>(),
            oauth: None,
        };
        let options = ConnectOptions {
            client_name: "test".into(),
            client_version: "0".into(),
            echo_stderr: false,
            record_raw: true,
            offer_protocol: None,
            events: Default::default(),
        };
        tokio::time::timeout(
            Duration::from_secs(10),
            connect(&target, &options, &mut None),
        )
        .await
        .expect("the handshake is quick")
        .expect("the handshake succeeds")
    }

    async fn wait_closed(session: &Session) -> bool {
        for _ in 0..100 {
            if session.peer().is_transport_closed() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn headers_go_with_the_stream_and_every_post_and_results_are_kept_verbatim() {
        let server = SseServer::start().await;
        let session = session(&server, &[("X-Api-Key", "k-123")]).await;
        let tools = session.list_all_tools().await.expect("tools/list succeeds");
        assert_eq!(tools, vec![future_tool()]);
        assert_eq!(
            session
                .raw_initialize_result()
                .and_then(|result| result.get("capabilities").cloned()),
            Some(json!({"tools": {}, "tasks": {"requests": {"tools": {"call": {}}}}}))
        );
        let heads = server.heads();
        let gets: Vec<_> = heads.iter().filter(|h| h.starts_with("get ")).collect();
        let posts: Vec<_> = heads.iter().filter(|h| h.starts_with("post ")).collect();
        assert_eq!(gets.len(), 1, "{heads:?}");
        assert!(gets[0].contains("accept: text/event-stream"), "{heads:?}");
        // initialize, notifications/initialized, tools/list
        assert!(posts.len() >= 3, "{heads:?}");
        for head in gets.iter().chain(&posts) {
            assert!(head.contains("\r\nx-api-key: k-123\r\n"), "{head}");
        }
        for head in &posts {
            assert!(head.contains("content-type: application/json"), "{head}");
        }
        session.close(Duration::from_secs(1)).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_transport_closes_when_the_stream_ends() {
        let server = SseServer::start().await;
        let session = session(&server, &[]).await;
        assert!(!session.peer().is_transport_closed());
        server.end_stream();
        assert!(wait_closed(&session).await, "the transport stayed open");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_transport_closes_when_the_server_forgets_the_session() {
        let server = SseServer::start().await;
        let session = session(&server, &[]).await;
        server.forget.store(true, Ordering::SeqCst);
        assert!(session.list_all_tools().await.is_err());
        assert!(wait_closed(&session).await, "the transport stayed open");
    }

    #[tokio::test]
    async fn a_server_that_is_not_sse_is_told_so() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/mcp", listener.local_addr().unwrap());
        tokio::spawn(async move {
            while let Ok((mut connection, _)) = listener.accept().await {
                let mut buffer = [0u8; 4096];
                let _ = connection.read(&mut buffer).await;
                let _ = connection
                    .write_all(b"HTTP/1.1 405 Method Not Allowed\r\ncontent-length: 0\r\n\r\n")
                    .await;
            }
        });
        let error = SseTransport::open(
            &url,
            HeaderMap::new(),
            reqwest::Client::new(),
            RawWire::new(false),
            None,
        )
        .await
        .err()
        .expect("a 405 is no SSE stream")
        .to_string();
        assert!(error.contains("405"), "{error}");
        assert!(error.contains("--server-type streamable-http"), "{error}");
    }

    /// A 403 with a challenge is reported as rmcp's streamable HTTP client
    /// reports it: the proxy answers 503 naming the scope and the login.
    #[test]
    fn a_403_for_lack_of_scope_is_the_503_naming_the_login() {
        let error = SseTransportError::InsufficientScope(
            rmcp::transport::streamable_http_client::InsufficientScopeError::new(
                r#"Bearer error="insufficient_scope", scope="files:write""#.into(),
                None,
            ),
        );
        let error =
            rmcp::ServiceError::TransportSend(rmcp::transport::DynamicTransportError::new::<
                SseTransport,
                rmcp::service::RoleClient,
            >(error));
        let answer = crate::result::insufficient_scope(&error, "docs").expect("a scope refusal");
        let response = axum::response::IntoResponse::into_response(answer);
        assert_eq!(response.status(), http::StatusCode::SERVICE_UNAVAILABLE);
    }

    #[test]
    fn the_endpoint_is_resolved_on_the_same_origin_only() {
        let stream = reqwest::Url::parse("http://127.0.0.1:3001/base/sse").unwrap();
        assert_eq!(
            resolve_endpoint(&stream, "/message?sessionId=a b")
                .unwrap()
                .as_str(),
            "http://127.0.0.1:3001/message?sessionId=a%20b"
        );
        assert_eq!(
            resolve_endpoint(&stream, "messages?s=1").unwrap().as_str(),
            "http://127.0.0.1:3001/base/messages?s=1"
        );
        let error = resolve_endpoint(&stream, "http://elsewhere.example/message").unwrap_err();
        assert!(error.contains("another origin"), "{error}");
    }

    #[test]
    fn an_event_over_the_cap_fails_whatever_its_line_ends() {
        for separator in ["\n", "\r\n", "\r"] {
            let mut size = EventSize::default();
            let line = format!("data: {}{separator}", "x".repeat(1024 * 1024));
            for _ in 0..15 {
                size.count(line.as_bytes());
            }
            assert!(!size.failed, "{separator:?}");
            // A blank line ends the event: the next one starts from zero.
            size.count(separator.as_bytes());
            for _ in 0..15 {
                size.count(line.as_bytes());
            }
            assert!(!size.failed, "{separator:?}");
            size.count(line.as_bytes());
            size.count(line.as_bytes());
            assert!(size.failed, "{separator:?}");
        }
    }

    #[test]
    fn an_undecodable_reply_becomes_an_error_for_its_request() {
        let data = r#"{"jsonrpc":"2.0","id":7,"result":{"content":"not a list"},"extra":"#;
        let reply = MessageDecoder::default()
            .decode(data.as_bytes())
            .expect("the id is found");
        let reply = serde_json::to_value(reply).unwrap();
        assert_eq!(reply["id"], 7);
        assert_eq!(reply["error"]["code"], -32603);
    }
}
