//! The fixture over streamable HTTP: address discovery from stdout, the same tools
//! and calls as stdio, the required-header guard, and SIGTERM.

mod common;

use std::{
    collections::HashMap,
    io::{Read, Write},
    net::TcpStream,
    process::Stdio,
    time::Duration,
};

use axum::http::{HeaderName, HeaderValue};
use common::{call_ok, client_config, file_tools, first_text, tools_file};
use rmcp::{
    ServiceExt,
    transport::{
        StreamableHttpClientTransport, streamable_http_client::StreamableHttpClientTransportConfig,
    },
};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

/// A fixture serving HTTP on a free port; killed when dropped.
struct HttpFixture {
    child: tokio::process::Child,
    url: String,
}

impl HttpFixture {
    async fn start(extra_args: &[&str]) -> Self {
        let mut child = tokio::process::Command::new(common::BIN)
            .args(["--transport", "http", "--port", "0"])
            .args(extra_args)
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("fixture binary starts");
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut lines = BufReader::new(stdout).lines();
        let first = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
            .await
            .expect("fixture prints its address in time")
            .expect("stdout readable")
            .expect("fixture prints a first line");
        let url = first
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
            .to_owned();
        assert!(
            url.starts_with("http://127.0.0.1:") && url.ends_with("/mcp"),
            "{url}"
        );
        Self { child, url }
    }

    /// `host:port` of the server, for raw HTTP requests.
    fn authority(&self) -> &str {
        self.url
            .trim_start_matches("http://")
            .trim_end_matches("/mcp")
    }

    async fn client(
        &self,
        headers: &[(&'static str, &'static str)],
    ) -> Result<common::Client, String> {
        let headers: HashMap<HeaderName, HeaderValue> = headers
            .iter()
            .map(|(name, value)| {
                (
                    HeaderName::from_static(name),
                    HeaderValue::from_static(value),
                )
            })
            .collect();
        let config =
            StreamableHttpClientTransportConfig::with_uri(self.url.clone()).custom_headers(headers);
        let transport = StreamableHttpClientTransport::from_config(config);
        client_config()
            .serve(transport)
            .await
            .map_err(|error| error.to_string())
    }
}

/// Status code of a bare `POST /mcp` (no MCP headers, empty object body).
fn raw_post_status(authority: &str, extra_header: Option<&str>) -> u16 {
    let mut stream = TcpStream::connect(authority).expect("connect to fixture");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("set timeout");
    let extra = extra_header.map(|h| format!("{h}\r\n")).unwrap_or_default();
    let request = format!(
        "POST /mcp HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/json\r\n\
         Accept: application/json, text/event-stream\r\n{extra}Content-Length: 2\r\n\
         Connection: close\r\n\r\n{{}}"
    );
    stream.write_all(request.as_bytes()).expect("send request");
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    let status_line = response.lines().next().unwrap_or_default().to_owned();
    status_line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("bad HTTP response {response:?}"))
}

#[tokio::test]
async fn http_serves_the_same_tools_and_calls() {
    let fixture = HttpFixture::start(&[
        "--tools",
        &tools_file("errors.json"),
        "--name",
        "http-fixture",
        "--server-version",
        "7.0.0",
    ])
    .await;
    let client = fixture.client(&[]).await.expect("handshake over HTTP");
    assert_eq!(
        client
            .peer_info()
            .expect("initialize result")
            .server_info
            .as_ref()
            .map(|server| server.version.as_str()),
        Some("7.0.0")
    );

    let tools = client.list_all_tools().await.expect("tools/list");
    assert_eq!(
        serde_json::to_value(&tools).unwrap(),
        Value::Array(file_tools("errors.json"))
    );

    let arguments = json!({"message": "over http", "count": 2});
    let result = call_ok(&client, "echo", arguments.clone()).await;
    let text = first_text(&result);
    assert_eq!(serde_json::from_str::<Value>(text).unwrap(), arguments);
    client.cancel().await.expect("clean client shutdown");
}

/// One JSON-RPC exchange over raw HTTP/1.0 (no chunking: the body ends when the
/// connection closes). Returns the response headers and the JSON-RPC messages found
/// in the body, whether it was JSON or an SSE stream.
fn raw_jsonrpc(authority: &str, session: Option<&str>, message: &Value) -> (String, Vec<Value>) {
    let mut stream = TcpStream::connect(authority).expect("connect to fixture");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("set timeout");
    let body = message.to_string();
    let session = session
        .map(|id| format!("Mcp-Session-Id: {id}\r\nMcp-Protocol-Version: 2025-06-18\r\n"))
        .unwrap_or_default();
    let request = format!(
        "POST /mcp HTTP/1.0\r\nHost: {authority}\r\nContent-Type: application/json\r\n\
         Accept: application/json, text/event-stream\r\n{session}Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).expect("send request");
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let messages = body
        .lines()
        .map(|line| line.strip_prefix("data:").unwrap_or(line).trim())
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .collect();
    (head.to_owned(), messages)
}

#[tokio::test]
async fn http_restores_fields_outside_rmcps_model() {
    let fixture = HttpFixture::start(&["--tools", &tools_file("future-fields.json")]).await;
    let authority = fixture.authority().to_owned();
    let tools = tokio::task::spawn_blocking(move || {
        let initialize = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "raw", "version": "0"}}});
        let (head, _) = raw_jsonrpc(&authority, None, &initialize);
        let session = head
            .lines()
            .find_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.eq_ignore_ascii_case("mcp-session-id")
                    .then(|| value.trim().to_owned())
            })
            .expect("a session id");
        let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
        raw_jsonrpc(&authority, Some(&session), &initialized);
        let list = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"});
        let (_, messages) = raw_jsonrpc(&authority, Some(&session), &list);
        messages
            .into_iter()
            .find(|message| message["id"] == json!(2))
            .expect("a tools/list answer")["result"]["tools"]
            .clone()
    })
    .await
    .expect("raw exchange runs");
    assert_eq!(tools, Value::Array(file_tools("future-fields.json")));

    // The rewritten stream still works for a real client.
    let client = fixture.client(&[]).await.expect("handshake over HTTP");
    assert_eq!(client.list_all_tools().await.expect("tools/list").len(), 2);
    let result = call_ok(&client, "long_job", json!({"job": "y"})).await;
    assert_eq!(first_text(&result), r#"{"job":"y"}"#);
    client.cancel().await.expect("clean client shutdown");
}

#[tokio::test]
async fn http_pages_too() {
    let fixture = HttpFixture::start(&["--generate-tools", "1000", "--page-size", "100"]).await;
    let client = fixture.client(&[]).await.expect("handshake over HTTP");
    let tools = client.list_all_tools().await.expect("tools/list");
    assert_eq!(tools.len(), 1000);
    client.cancel().await.expect("clean client shutdown");
}

#[tokio::test]
async fn required_header_guards_every_request() {
    let fixture = HttpFixture::start(&[
        "--tools",
        &tools_file("errors.json"),
        "--require-header",
        "X-Fixture-Key: s3cret",
    ])
    .await;
    let authority = fixture.authority().to_owned();

    let statuses = tokio::task::spawn_blocking(move || {
        (
            raw_post_status(&authority, None),
            raw_post_status(&authority, Some("X-Fixture-Key: wrong")),
            raw_post_status(&authority, Some("X-Fixture-Key: s3cret")),
        )
    })
    .await
    .expect("raw requests run");
    assert_eq!(statuses.0, 401, "no header");
    assert_eq!(statuses.1, 401, "wrong value");
    assert_ne!(statuses.2, 401, "right header passes the guard to MCP");

    assert!(
        fixture.client(&[]).await.is_err(),
        "a client without the header must not get through"
    );
    let client = fixture
        .client(&[("x-fixture-key", "s3cret")])
        .await
        .expect("a client with the header connects");
    let result = call_ok(&client, "echo", json!({"message": "with header"})).await;
    assert_ne!(result.is_error, Some(true));
    client.cancel().await.expect("clean client shutdown");
}

#[tokio::test]
async fn sigterm_stops_http_even_with_an_open_session() {
    let mut fixture = HttpFixture::start(&["--generate-tools", "2"]).await;
    let client = fixture.client(&[]).await.expect("handshake over HTTP");
    let pid = fixture.child.id().expect("fixture is running");
    common::sigterm(pid);
    let status = tokio::time::timeout(Duration::from_secs(10), fixture.child.wait())
        .await
        .expect("fixture exits within 10 s of SIGTERM")
        .expect("wait for fixture");
    assert_eq!(status.code(), Some(0));
    drop(client);
}

fn initialize_request(version: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": version, "capabilities": {},
        "clientInfo": {"name": "raw", "version": "0"}}})
}

/// The session id a response head names.
fn session_of(head: &str) -> String {
    head.lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("mcp-session-id")
                .then(|| value.trim().to_owned())
        })
        .unwrap_or_else(|| panic!("no session id in {head:?}"))
}

#[tokio::test]
async fn expired_sessions_answer_404_and_new_ones_work() {
    let fixture =
        HttpFixture::start(&["--generate-tools", "1", "--expire-sessions-after", "2"]).await;
    let authority = fixture.authority().to_owned();
    let list = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"});
    let (head, _) = raw_jsonrpc(&authority, None, &initialize_request("2025-06-18"));
    let session = session_of(&head);
    // Two requests are served, the third finds the session gone, and so
    // does every later one.
    for _ in 0..2 {
        let (head, messages) = raw_jsonrpc(&authority, Some(&session), &list);
        assert!(head.contains(" 200 "), "{head}");
        assert_eq!(messages[0]["result"]["tools"][0]["name"], "tool_0000");
    }
    for _ in 0..2 {
        let (head, _) = raw_jsonrpc(&authority, Some(&session), &list);
        assert!(
            head.starts_with("HTTP/1.1 404") || head.contains(" 404 "),
            "{head}"
        );
    }
    // A new session is served again.
    let (head, _) = raw_jsonrpc(&authority, None, &initialize_request("2025-06-18"));
    let fresh = session_of(&head);
    assert_ne!(fresh, session);
    let (head, _) = raw_jsonrpc(&authority, Some(&fresh), &list);
    assert!(head.contains(" 200 "), "{head}");
}

#[tokio::test]
async fn protocol_versions_bound_what_initialize_agrees_to() {
    let fixture = HttpFixture::start(&["--protocol-versions", "2025-03-26"]).await;
    let (_, messages) = raw_jsonrpc(fixture.authority(), None, &initialize_request("2025-11-25"));
    assert_eq!(
        messages[0]["result"]["protocolVersion"], "2025-03-26",
        "{messages:?}"
    );

    // Stateless only: initialize is refused, naming what is spoken.
    let fixture = HttpFixture::start(&["--protocol-versions", "2026-07-28"]).await;
    let (_, messages) = raw_jsonrpc(fixture.authority(), None, &initialize_request("2025-11-25"));
    assert_eq!(messages[0]["error"]["code"], -32022, "{messages:?}");
    assert_eq!(
        messages[0]["error"]["data"]["supported"],
        json!(["2026-07-28"])
    );
}

/// A client that reports the `notifications/resources/updated` it receives.
struct UpdateListener {
    updates: tokio::sync::mpsc::UnboundedSender<String>,
}

impl rmcp::ClientHandler for UpdateListener {
    async fn on_resource_updated(
        &self,
        params: rmcp::model::ResourceUpdatedNotificationParam,
        _context: rmcp::service::NotificationContext<rmcp::RoleClient>,
    ) {
        let _ = self.updates.send(params.uri);
    }

    fn get_info(&self) -> rmcp::model::ClientConfig {
        client_config()
    }
}

/// `--resources` over HTTP: the surface as over stdio (see `resources.rs`), a
/// 10 MiB blob through SSE, and subscriptions per session: a touch reaches the
/// sessions subscribed to that URI, on their GET stream, and no other.
#[tokio::test]
#[allow(deprecated)] // resources/subscribe is legacy-only in rmcp, and what we test
async fn http_serves_resources_with_subscriptions_per_session() {
    use rmcp::model::{
        GetPromptRequestParams, ReadResourceRequestParams, ResourceContents,
        SubscribeRequestParams, UnsubscribeRequestParams,
    };

    let fixture = HttpFixture::start(&["--resources", "--page-size", "2"]).await;
    let listener = |sender| UpdateListener { updates: sender };
    let connect = |handler: UpdateListener| {
        let transport = StreamableHttpClientTransport::from_uri(fixture.url.clone());
        handler.serve(transport)
    };
    let (sender, mut subscriber_updates) = tokio::sync::mpsc::unbounded_channel();
    let subscriber = connect(listener(sender)).await.expect("first session");
    let (sender, mut toucher_updates) = tokio::sync::mpsc::unbounded_channel();
    let toucher = connect(listener(sender)).await.expect("second session");

    let capabilities = &subscriber
        .peer_info()
        .expect("initialize result")
        .capabilities;
    assert_eq!(
        capabilities.resources.as_ref().and_then(|r| r.subscribe),
        Some(true)
    );
    let resources = subscriber
        .list_all_resources()
        .await
        .expect("resources/list");
    assert_eq!(resources.len(), 6);
    assert_eq!(
        subscriber
            .list_all_resource_templates()
            .await
            .expect("templates")
            .len(),
        2
    );
    assert_eq!(
        subscriber.list_all_prompts().await.expect("prompts").len(),
        3
    );

    let big = subscriber
        .read_resource(ReadResourceRequestParams::new("blob://big"))
        .await
        .expect("blob://big over HTTP");
    let ResourceContents::BlobResourceContents { blob, .. } = &big.contents[0] else {
        panic!("blob://big is a blob");
    };
    assert_eq!(blob.len(), (10 * 1024 * 1024_usize).div_ceil(3) * 4);
    let greet = subscriber
        .get_prompt(
            GetPromptRequestParams::new("greet")
                .with_arguments(serde_json::from_value(json!({"name": "Ada"})).unwrap()),
        )
        .await
        .expect("prompts/get");
    assert_eq!(
        greet.messages[0].content.as_text().unwrap().text,
        "Hello Ada"
    );

    subscriber
        .subscribe(SubscribeRequestParams::new("text://hello"))
        .await
        .expect("resources/subscribe");
    let touched = call_ok(&toucher, "touch_resource", json!({"uri": "text://hello"})).await;
    assert_eq!(first_text(&touched), "touched");
    let update = tokio::time::timeout(Duration::from_secs(10), subscriber_updates.recv())
        .await
        .expect("the subscribed session is told in time");
    assert_eq!(update.as_deref(), Some("text://hello"));

    // Not subscribed to that one, and the toucher never subscribed at all.
    call_ok(&toucher, "touch_resource", json!({"uri": "text://notes/1"})).await;
    subscriber
        .unsubscribe(UnsubscribeRequestParams::new("text://hello"))
        .await
        .expect("resources/unsubscribe");
    call_ok(&toucher, "touch_resource", json!({"uri": "text://hello"})).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(subscriber_updates.try_recv().is_err());
    assert!(toucher_updates.try_recv().is_err());

    subscriber.cancel().await.expect("clean client shutdown");
    toucher.cancel().await.expect("clean client shutdown");
}
