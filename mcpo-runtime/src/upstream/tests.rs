use super::*;
use serde_json::json;

/// The first request a client sends: its method and the revision it
/// offers (`params.protocolVersion` for `initialize`, `_meta`'s for a
/// stateless request), seen by a "server" that prints the request on
/// stderr and exits (the handshake then fails with that text).
async fn first_request(offer_protocol: Option<&str>) -> (String, String) {
    let target = Target::Stdio {
        command: "sh".into(),
        args: vec!["-c".into(), "read request; echo \"$request\" >&2".into()],
        env: BTreeMap::new(),
    };
    let options = ConnectOptions {
        client_name: "test".into(),
        client_version: "0".into(),
        echo_stderr: false,
        record_raw: false,
        offer_protocol: offer_protocol.map(str::to_string),
        events: Default::default(),
    };
    let mut started = None;
    let error = match connect(&target, &options, &mut started).await {
        Ok(_) => panic!("sh is not an MCP server"),
        Err(error) => attach_stderr(error, &started, Duration::from_secs(5)).await,
    };
    let text = error.to_string();
    let request = text
        .lines()
        .find(|line| line.contains("\"jsonrpc\""))
        .unwrap_or_else(|| panic!("no request in: {text}"));
    let request: Value = serde_json::from_str(request).expect("the request is JSON");
    let method = request["method"].as_str().unwrap_or_default().to_string();
    let params = &request["params"];
    let version = params["protocolVersion"]
        .as_str()
        .or_else(|| params["_meta"]["io.modelcontextprotocol/protocolVersion"].as_str())
        .unwrap_or_default()
        .to_string();
    (method, version)
}

#[tokio::test]
async fn the_handshake_keeps_to_the_locked_revision() {
    let initialize = |version: &str| ("initialize".to_string(), version.to_string());
    assert_eq!(first_request(None).await, initialize("2025-11-25"));
    assert_eq!(
        first_request(Some("2025-06-18")).await,
        initialize("2025-06-18")
    );
    assert_eq!(
        first_request(Some("2024-11-05")).await,
        initialize("2024-11-05")
    );
    // Unknown: the newest revision with a handshake.
    assert_eq!(
        first_request(Some("1999-01-01")).await,
        initialize("2025-11-25")
    );
    // Stateless: no handshake; server/discover asks for it.
    assert_eq!(
        first_request(Some("2026-07-28")).await,
        ("server/discover".to_string(), "2026-07-28".to_string())
    );
}

#[test]
fn only_a_snapshot_falls_back_to_the_stateless_revision() {
    assert_eq!(
        Lifecycle::for_offer(None),
        Lifecycle::Initialize {
            offer: ProtocolVersion::V_2025_11_25,
            stateless_fallback: true
        }
    );
    assert_eq!(
        Lifecycle::for_offer(Some("2025-03-26")),
        Lifecycle::Initialize {
            offer: ProtocolVersion::V_2025_03_26,
            stateless_fallback: false
        }
    );
    assert_eq!(
        Lifecycle::for_offer(Some("2026-07-28")),
        Lifecycle::Discover(ProtocolVersion::V_2026_07_28)
    );
    assert_eq!(newest_stateless(), ProtocolVersion::V_2026_07_28);
}

#[test]
fn headers_parse_both_forms_and_never_echo_values() {
    let headers = parse_headers(&[
        "Authorization: Bearer t".into(),
        r#"{"X-Trace": "abc: def"}"#.into(),
    ])
    .unwrap();
    assert_eq!(headers["Authorization"], "Bearer t");
    assert_eq!(headers["X-Trace"], "abc: def");
    assert!(parse_headers(&["no colon".into()]).is_err());
    assert!(parse_headers(&[r#"{"A": 1}"#.into()]).is_err());
    let error = parse_headers(&["X-Key: sec\nret".into()])
        .unwrap_err()
        .to_string();
    assert!(error.contains("X-Key"), "{error}");
    assert!(!error.contains("sec"), "{error}");
    let error = parse_headers(&[r#"{"X-Key": "sec\nret"}"#.into()])
        .unwrap_err()
        .to_string();
    assert!(!error.contains("sec"), "{error}");
}

#[test]
fn target_debug_and_lock_keep_names_not_values() {
    let target = Target::StreamableHttp {
        url: "http://127.0.0.1:9/mcp".into(),
        headers: BTreeMap::from([("Authorization".into(), "Bearer secret".into())]),
        oauth: None,
    };
    for shown in [format!("{target:?}"), format!("{:?}", target.upstream())] {
        assert!(shown.contains("Authorization"), "{shown}");
        assert!(!shown.contains("secret"), "{shown}");
    }
}

/// A streamable-HTTP server that speaks only 2026-07-28, as its spec
/// words it (rmcp's own server answers `initialize` with 200): `400` and
/// an `UnsupportedProtocolVersionError` for `initialize`, `server/discover`
/// and `tools/list` answered as plain JSON, no session ids. Returns its
/// URL and the `(method, carried a session id)` of every POST.
async fn stateless_only_server() -> (
    String,
    std::sync::Arc<std::sync::Mutex<Vec<(String, bool)>>>,
) {
    use tokio::io::AsyncWriteExt as _;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let record = record.clone();
            tokio::spawn(async move {
                let Some((head, body)) = test_http::read_request(&mut stream).await else {
                    return;
                };
                let message: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                let id = message["id"].clone();
                let method = message["method"].as_str().unwrap_or_default().to_string();
                if head.starts_with("post") {
                    record
                        .lock()
                        .unwrap()
                        .push((method.clone(), head.contains("mcp-session-id:")));
                }
                let modern = head.contains("mcp-protocol-version: 2026-07-28")
                    && message["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"]
                        == "2026-07-28";
                let (status, body) = match method.as_str() {
                    _ if !head.starts_with("post") => (405, Value::Null),
                    "server/discover" | "tools/list" if !modern => (
                        400,
                        json!({"jsonrpc": "2.0", "id": id, "error": {
                                "code": -32020, "message": "Header mismatch"}}),
                    ),
                    "server/discover" => (
                        200,
                        json!({"jsonrpc": "2.0", "id": id, "result": {
                                "resultType": "complete",
                                "supportedVersions": ["2026-07-28"],
                                "capabilities": {"tools": {}, "x-later": {}},
                                "ttlMs": 0, "cacheScope": "private",
                                "_meta": {"io.modelcontextprotocol/serverInfo":
                                    {"name": "modern", "version": "9"}}}}),
                    ),
                    "tools/list" => (
                        200,
                        json!({"jsonrpc": "2.0", "id": id, "result": {
                                "resultType": "complete",
                                "tools": [{"name": "t", "inputSchema": {"type": "object",
                                    "properties": {"region": {"type": "string",
                                        "x-mcp-header": "Region"}}},
                                           "x-new": 1}]}}),
                    ),
                    // The spec's check of an `x-mcp-header` parameter.
                    "tools/call" if !head.contains("mcp-param-region: eu") => (
                        400,
                        json!({"jsonrpc": "2.0", "id": id, "error": {
                                "code": -32020, "message": "Header mismatch: Mcp-Param-Region"}}),
                    ),
                    "tools/call" => (
                        200,
                        json!({"jsonrpc": "2.0", "id": id, "result": {
                                "resultType": "complete",
                                "content": [{"type": "text", "text": "ok"}]}}),
                    ),
                    _ => (
                        400,
                        json!({"jsonrpc": "2.0", "id": id, "error": {
                                "code": -32022, "message": "Unsupported protocol version",
                                "data": {"supported": ["2026-07-28"], "requested": "2025-11-25"}}}),
                    ),
                };
                let body = if body.is_null() {
                    String::new()
                } else {
                    body.to_string()
                };
                let response = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\n\
                         content-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    (url, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_initialize_falls_back_to_server_discover_without_a_session() {
    for record_raw in [false, true] {
        let (url, seen) = stateless_only_server().await;
        let target = Target::StreamableHttp {
            url,
            headers: BTreeMap::new(),
            oauth: None,
        };
        let options = ConnectOptions {
            client_name: "test".into(),
            client_version: "0".into(),
            echo_stderr: false,
            record_raw,
            offer_protocol: None,
            events: Default::default(),
        };
        let session = connect(&target, &options, &mut None)
            .await
            .expect("server/discover succeeds");
        let info = session.server_info().expect("discover result");
        assert_eq!(info.protocol_version, ProtocolVersion::V_2026_07_28);
        assert_eq!(
            info.server_info.as_ref().map(|s| s.name.as_str()),
            Some("modern")
        );
        let tools = session.list_all_tools().await.expect("tools/list");
        assert_eq!(tools.len(), 1);
        if record_raw {
            // Verbatim, fields rmcp does not model included.
            assert_eq!(tools[0]["x-new"], 1);
            let raw = session.raw_initialize_result().expect("recorded");
            assert_eq!(raw["serverInfo"], json!({"name": "modern", "version": "9"}));
            assert_eq!(raw["capabilities"], json!({"tools": {}, "x-later": {}}));
        }
        session.close(Duration::from_secs(1)).await;
        let seen = seen.lock().unwrap().clone();
        let methods: Vec<&str> = seen.iter().map(|(method, _)| method.as_str()).collect();
        // The recording client leaves a refused request to rmcp's, which
        // sends it again (see http_client.rs); without recording (a
        // proxy), the tools are listed once more for the Mcp-Param-*
        // headers.
        let expected: &[&str] = if record_raw {
            &["initialize", "initialize", "server/discover", "tools/list"]
        } else {
            &["initialize", "server/discover", "tools/list", "tools/list"]
        };
        assert_eq!(methods, expected, "{seen:?}");
        assert!(seen.iter().all(|(_, session)| !session), "{seen:?}");
    }
}

/// A proxy calls tools from its lock without listing them first (with
/// `--on-drift ignore` it never lists): the `Mcp-Param-*` headers a
/// 2026-07-28 server requires for `x-mcp-header` parameters must be sent
/// all the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stateless_session_sends_x_mcp_header_parameters_as_headers() {
    let (url, _) = stateless_only_server().await;
    let target = Target::StreamableHttp {
        url,
        headers: BTreeMap::new(),
        oauth: None,
    };
    let options = ConnectOptions {
        client_name: "test".into(),
        client_version: "0".into(),
        echo_stderr: false,
        record_raw: false,
        offer_protocol: Some("2026-07-28".into()),
        events: Default::default(),
    };
    let session = connect(&target, &options, &mut None)
        .await
        .expect("server/discover succeeds");
    let arguments = json!({"region": "eu"}).as_object().cloned().unwrap();
    let result = session
        .peer()
        .call_tool(rmcp::model::CallToolRequestParams::new("t").with_arguments(arguments))
        .await;
    assert!(result.is_ok(), "{result:?}");
    session.close(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_handshake_revision_does_not_fall_back() {
    let (url, seen) = stateless_only_server().await;
    let target = Target::StreamableHttp {
        url,
        headers: BTreeMap::new(),
        oauth: None,
    };
    let options = ConnectOptions {
        client_name: "test".into(),
        client_version: "0".into(),
        echo_stderr: false,
        record_raw: false,
        offer_protocol: Some("2025-11-25".into()),
        events: Default::default(),
    };
    let error = connect(&target, &options, &mut None)
        .await
        .err()
        .expect("the server speaks only 2026-07-28");
    let text = error.to_string();
    assert!(text.contains("Unsupported protocol version"), "{text}");
    let methods: Vec<String> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|(m, _)| m.clone())
        .collect();
    assert_eq!(methods, ["initialize"]);
}

/// A URL nothing listens on: connecting is refused.
fn refused_url(path: &str) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}{path}")
}

#[tokio::test]
async fn an_unreachable_http_upstream_is_told_in_words() {
    let options = ConnectOptions {
        client_name: "test".into(),
        client_version: "0".into(),
        echo_stderr: false,
        record_raw: false,
        offer_protocol: None,
        events: Default::default(),
    };
    let (http_url, sse_url) = (refused_url("/mcp"), refused_url("/sse"));
    let targets = [
        Target::StreamableHttp {
            url: http_url,
            headers: BTreeMap::new(),
            oauth: None,
        },
        Target::Sse {
            url: sse_url,
            headers: BTreeMap::new(),
            oauth: None,
        },
    ];
    for target in targets {
        let url = target.describe();
        for record_raw in [false, true] {
            let options = ConnectOptions {
                record_raw,
                ..options.clone()
            };
            let error = connect(&target, &options, &mut None)
                .await
                .err()
                .expect("nothing listens there");
            assert!(
                matches!(error, ConnectError::Unreachable { .. }),
                "{error:?}"
            );
            let expected =
                format!("connection refused at {url}: is the server running and the URL right?");
            assert_eq!(error.to_string(), expected);
            assert_eq!(error.public_reason(), expected);
        }
    }
}

#[test]
fn secrets_for_a_lock_come_from_their_env_vars() {
    let upstream = Upstream::StreamableHttp {
        url: "http://127.0.0.1:9/mcp".into(),
        headers: crate::lock::ValueSources::from_names(["X-Api-Key".to_string()]),
        oauth: None,
    };
    let error = Target::from_upstream(&upstream, &|_| None).unwrap_err();
    assert!(
        error.to_string().contains("MCPO_HEADER_X_API_KEY"),
        "{error}"
    );
    let target = Target::from_upstream(&upstream, &|var| {
        (var == "MCPO_HEADER_X_API_KEY").then(|| "k".to_string())
    })
    .unwrap();
    assert_eq!(
        target,
        Target::StreamableHttp {
            url: "http://127.0.0.1:9/mcp".into(),
            headers: BTreeMap::from([("X-Api-Key".into(), "k".into())]),
            oauth: None,
        }
    );
}
