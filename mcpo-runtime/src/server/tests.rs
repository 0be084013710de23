use super::*;
use crate::gateway::McpEndpoints;

#[test]
fn servers_follow_the_root_path() {
    let patched = patch_openapi(
        r#"{"openapi":"3.1.0","servers":[{"url":"http://x"}]}"#,
        "/time",
    );
    assert_eq!(
        patched.ok().map(|doc| doc["servers"].clone()),
        Some(json!([{"url": "/time"}]))
    );
    let root = patch_openapi(r#"{"openapi":"3.1.0"}"#, "");
    assert_eq!(
        root.ok().map(|doc| doc["servers"].clone()),
        Some(json!([{"url": "/"}]))
    );
    assert!(patch_openapi("[]", "").is_err());
    assert!(patch_openapi("not json", "").is_err());
}

use axum::{extract::Request, routing::post};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::{
    app::AppState, auth::ApiKeys, cli::DriftPolicy, identity::Authenticator, limits::Limiter,
    lock::LockedTool, pool::PoolSlot, served::ServedParts, supervisor::Settings,
    validate::InputValidators,
};

struct Reply {
    status: u16,
    head: String,
    body: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

/// A proxy whose upstream can never start, with one `echo` tool.
async fn serve(root_path: &str, keys: &[&str]) -> std::net::SocketAddr {
    serve_with(root_path, keys, false).await
}

/// The test proxy's tool routes: `echo`, and `docs`, named like Swagger
/// UI's route on purpose.
fn test_tool_routes() -> Router<App> {
    Router::new()
        .route(
            "/echo",
            post(|State(app): State<App>, request: Request| async move {
                app.call_tool::<Value, Value>("echo", request).await
            }),
        )
        .route(
            "/docs",
            post(|State(app): State<App>, request: Request| async move {
                app.call_tool::<Value, Value>("docs", request).await
            }),
        )
}

/// [`serve`], under `--strict-auth` when `strict`.
async fn serve_with(root_path: &str, keys: &[&str], strict: bool) -> std::net::SocketAddr {
    serve_servers(root_path, keys, strict, &[""]).await
}

/// [`serve_with`] of a proxy serving these servers (`""`: the one
/// server, at the root; names: a multi-server proxy).
async fn serve_servers(
    root_path: &str,
    keys: &[&str],
    strict: bool,
    names: &[&str],
) -> std::net::SocketAddr {
    let mut registry = MetricsRegistry::default();
    let api_keys = ApiKeys::new(keys.iter().map(|key| key.to_string()));
    let auth = Authenticator::keys_only(api_keys.clone());
    let mut servers = Vec::new();
    let mut per_server = Vec::new();
    for name in names {
        let (served, lock) = test_served(&mut registry, name, api_keys.clone());
        per_server.push(crate::gateway::Gateway::single(&served, &lock));
        servers.push(served);
    }
    let combined_document = (names.len() > 1).then(|| json!({"openapi": "3.1.0", "paths": {}}));
    let router = build_router(RouterParts {
        servers: Arc::new(servers),
        combined_document,
        metrics: MetricsPage {
            registry: Arc::new(registry),
            auth: auth.clone(),
        },
        root_path: root_path.to_string(),
        cors_allow_origins: Vec::new(),
        auth: auth.clone(),
        strict_auth: strict,
        mcp: McpParts {
            per_server,
            aggregated: None,
            endpoints: McpEndpoints {
                auth,
                cors_allow_origins: Vec::new(),
                allowed_hosts: Arc::new(crate::host_check::AllowedHosts::Any),
                max_sessions: 2,
                session_idle: Duration::from_secs(5),
                max_body_bytes: 64,
                shutdown: Default::default(),
            },
        },
    });
    let Ok(router) = router else {
        panic!("router should build");
    };
    let Ok(listener) = tokio::net::TcpListener::bind("127.0.0.1:0").await else {
        panic!("cannot bind a test port");
    };
    let Ok(address) = listener.local_addr() else {
        panic!("no local address");
    };
    tokio::spawn(async move { axum::serve(listener, router).await });
    address
}

/// One served server named `name`, whose upstream can never start.
fn test_served(
    registry: &mut MetricsRegistry,
    name: &str,
    api_keys: ApiKeys,
) -> (Arc<Served>, crate::lock::Lock) {
    let metrics = registry.server(name, &["echo", "docs"], 1);
    let settings = Settings::never_connecting(
        Duration::from_secs(1),
        DriftPolicy::Ignore,
        Arc::clone(&metrics),
    );
    let schema = json!({
            "type": "object", "properties": {"m": {"type": "string"}}, "required": ["m"]});
    let echo = LockedTool::new(json!({"name": "echo", "inputSchema": schema}));
    let docs = LockedTool::new(json!({"name": "docs", "inputSchema": schema}));
    let validators = InputValidators::compile(&[echo, docs]);
    let lock = crate::lock::Lock::new(
        serde_json::from_value(
            json!({"name": "test", "version": "0", "protocolVersion": "2025-11-25"}),
        )
        .expect("server facts"),
        crate::lock::Upstream::Stdio {
            command: "/nonexistent".into(),
            args: Vec::new(),
            env: crate::lock::ValueSources::default(),
        },
        Vec::new(),
    )
    .expect("a lock");
    let parts = ServedParts {
        name: name.to_string(),
        lock: lock.clone(),
        document: json!({"openapi": "3.1.0", "paths": {}}),
        tool_routes: test_tool_routes(),
        settings,
        pool_size: 1,
        disabled: Default::default(),
    };
    let (served, _supervisors) = Served::start(parts, |pool, disabled| {
        App::new(AppState {
            server_name: name.to_string(),
            access: crate::access::Access {
                auth: Authenticator::keys_only(api_keys),
                ..Default::default()
            },
            max_body_bytes: 64,
            call_timeout: Duration::from_secs(2),
            connect_wait: Duration::from_millis(500),
            validators,
            lax_types: true,
            upstream: PoolSlot::new(pool),
            disabled_tools: std::sync::RwLock::new(disabled),
            launch_spec_drift: std::sync::RwLock::new(Vec::new()),
            limiter: Limiter::new(None, 0),
            metrics,
            tool_timeouts: Default::default(),
            on_drift: DriftPolicy::Ignore,
            drifted: Default::default(),
            surface: Default::default(),
            live_list: Default::default(),
            completions: false,
            task_support: Default::default(),
            jobs: Default::default(),
        })
    });
    (served, lock)
}

/// A minimal HTTP/1.1 exchange (`Connection: close`), enough for these checks.
async fn send(
    address: std::net::SocketAddr,
    method: &str,
    path: &str,
    headers: &[&str],
    body: &str,
) -> Reply {
    let Ok(mut stream) = tokio::net::TcpStream::connect(address).await else {
        panic!("cannot connect to the test server");
    };
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for header in headers {
        request.push_str(header);
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    request.push_str(body);
    let mut raw = Vec::new();
    let written = stream.write_all(request.as_bytes()).await;
    let read = stream.read_to_end(&mut raw).await;
    assert!(written.is_ok() && read.is_ok(), "HTTP exchange failed");
    let text = String::from_utf8_lossy(&raw).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    Reply {
        status,
        head: head.to_ascii_lowercase(),
        body: body.to_string(),
    }
}

#[tokio::test]
async fn unknown_routes_and_wrong_methods_answer_json() {
    let address = serve("", &[]).await;
    let missing = send(address, "GET", "/nope", &[], "").await;
    assert_eq!(
        (missing.status, missing.json()),
        (404, json!({"detail": "Not Found"}))
    );
    let wrong = send(address, "GET", "/echo", &[], "").await;
    assert_eq!(
        (wrong.status, wrong.json()),
        (405, json!({"detail": "Method Not Allowed"}))
    );
    let health = send(address, "GET", "/healthz", &[], "").await;
    assert_eq!(
        (health.status, health.json()),
        (200, json!({"status": "ok"}))
    );
    let ready = send(address, "GET", "/readyz", &[], "").await;
    assert_eq!(ready.status, 503);
}

#[tokio::test]
async fn pipeline_checks_key_then_size_then_schema_then_upstream() {
    let address = serve("", &["sekrit-key"]).await;
    let anonymous = send(address, "POST", "/echo", &[], "{}").await;
    assert_eq!(anonymous.status, 401);
    assert!(anonymous.head.contains("www-authenticate: bearer"));
    let wrong = send(address, "POST", "/echo", &["Authorization: Bearer x"], "{}").await;
    assert_eq!(
        (wrong.status, wrong.json()),
        (401, json!({"detail": "Invalid API key"}))
    );
    let auth = "Authorization: Bearer sekrit-key";
    let huge = send(address, "POST", "/echo", &[auth], &"x".repeat(65)).await;
    assert_eq!(huge.status, 413);
    let empty = send(address, "POST", "/echo", &[auth], "").await;
    assert_eq!(empty.status, 422);
    assert_eq!(empty.json()["detail"][0]["loc"], json!(["body", "m"]));
    let not_object = send(address, "POST", "/echo", &[auth], "[1]").await;
    assert_eq!(not_object.status, 422);
    let valid = send(address, "POST", "/echo", &[auth], r#"{"m": "hi"}"#).await;
    assert_eq!(valid.status, 503, "{}", valid.body);
    assert!(valid.head.contains("retry-after:"));
    assert!(!valid.body.contains("sekrit-key"));
    let closed = send(address, "GET", "/metrics", &[], "").await;
    assert_eq!(closed.status, 401);
    let metrics = send(address, "GET", "/metrics", &[auth], "").await;
    assert_eq!(metrics.status, 200);
    assert!(
        metrics
            .head
            .contains("content-type: text/plain; version=0.0.4")
    );
    assert!(
        metrics
            .body
            .contains("mcpo_tool_calls_total{tool=\"echo\",status=\"503\"} 1\n"),
        "{}",
        metrics.body
    );
    assert!(
        metrics
            .body
            .contains("mcpo_tool_calls_total{tool=\"echo\",status=\"401\"} 2\n")
    );
    assert!(!metrics.body.contains("sekrit") && !metrics.body.contains("\"hi\""));
}

#[tokio::test]
async fn a_body_that_stops_arriving_is_408_after_the_call_timeout() {
    let address = serve("", &[]).await;
    let Ok(mut stream) = tokio::net::TcpStream::connect(address).await else {
        panic!("cannot connect to the test server");
    };
    // 40 bytes promised, 8 sent, then silence (the connection stays open).
    let request = "POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 40\r\n\r\n{\"m\": \"";
    assert!(stream.write_all(request.as_bytes()).await.is_ok());
    let started = std::time::Instant::now();
    let mut answer = vec![0u8; 4096];
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut answer)).await;
    let Ok(Ok(count)) = read else {
        panic!("no answer to a stalled body: {read:?}");
    };
    let text = String::from_utf8_lossy(&answer[..count]);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("did not arrive within 2s"), "{text}");
    // The test app's call timeout is 2 s.
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(1900) && waited < Duration::from_secs(8),
        "{waited:?}"
    );
}

#[tokio::test]
async fn root_path_routes_answer_with_and_without_the_prefix() {
    let address = serve("/api", &[]).await;
    for prefix in ["/api", ""] {
        let tool = send(address, "POST", &format!("{prefix}/echo?x=1"), &[], "{}").await;
        assert_eq!(tool.status, 422, "{prefix}: {}", tool.body);
        assert_eq!(tool.json()["detail"][0]["loc"], json!(["body", "m"]));
        let openapi = send(address, "GET", &format!("{prefix}/openapi.json"), &[], "").await;
        assert_eq!(openapi.json()["openapi"], json!("3.1.0"), "{prefix}");
        let health = send(address, "GET", &format!("{prefix}/healthz"), &[], "").await;
        assert_eq!(health.status, 200, "{prefix}");
        // The redirect names the public (prefixed) URL either way.
        let docs = send(address, "GET", &format!("{prefix}/docs"), &[], "").await;
        assert_eq!(docs.status, 303, "{prefix}");
        assert!(docs.head.contains("location: /api/docs/"), "{}", docs.head);
        let page = send(address, "GET", &format!("{prefix}/docs/"), &[], "").await;
        assert_eq!(page.status, 200, "{prefix}");
        assert!(page.body.contains("swagger"));
        let initializer = send(
            address,
            "GET",
            &format!("{prefix}/docs/swagger-initializer.js"),
            &[],
            "",
        )
        .await;
        assert!(initializer.body.contains("\"/api/openapi.json\""));
    }
    // The prefix is taken once, and only as a whole segment.
    for path in ["/api/api/echo", "/apix/echo", "/api"] {
        let missing = send(address, "POST", path, &[], "{}").await;
        assert_eq!(
            (missing.status, missing.json()),
            (404, json!({"detail": "Not Found"})),
            "{path}"
        );
    }
}

#[tokio::test]
async fn a_tool_named_like_the_prefix_answers_at_both_paths() {
    // The test app's `docs` tool, under --root-path /docs: `/docs` has
    // no `/docs/` after it, so it is unprefixed and gets the prefix.
    let address = serve("/docs", &[]).await;
    for path in ["/docs", "/docs/docs"] {
        let tool = send(address, "POST", path, &[], "{}").await;
        assert_eq!(tool.status, 422, "{path}: {}", tool.body);
        assert_eq!(tool.json()["detail"][0]["loc"], json!(["body", "m"]));
    }
    // The prefixed reading wins: `/docs/` is the prefix's root here.
    let page = send(address, "GET", "/docs/docs/", &[], "").await;
    assert_eq!(page.status, 200);
    assert_eq!(send(address, "GET", "/docs/", &[], "").await.status, 404);
}

#[test]
fn the_root_path_is_added_only_where_missing() {
    let rewrite = |uri: &str| {
        let uri: axum::http::Uri = uri.parse().unwrap_or_default();
        with_root_path(&uri, "/api", false).map(|uri| uri.to_string())
    };
    assert_eq!(rewrite("/echo"), Some("/api/echo".into()));
    assert_eq!(rewrite("/echo?a=1&b"), Some("/api/echo?a=1&b".into()));
    assert_eq!(rewrite("/api"), Some("/api/api".into()));
    assert_eq!(rewrite("/apiary"), Some("/api/apiary".into()));
    assert_eq!(rewrite("/api/echo"), None);
    assert_eq!(rewrite("/api/"), None);
    assert_eq!(rewrite("*"), None);
    assert_eq!(
        rewrite("http://host:1/echo?q"),
        Some("http://host:1/api/echo?q".into())
    );
    // A multi-server proxy's index is the root itself.
    let index = |uri: &str| {
        let uri: axum::http::Uri = uri.parse().unwrap_or_default();
        with_root_path(&uri, "/api", true).map(|uri| uri.to_string())
    };
    assert_eq!(index("/"), Some("/api".into()));
    assert_eq!(index("/api"), None);
    assert_eq!(index("/api/"), Some("/api".into()));
    assert_eq!(index("/time/now"), Some("/api/time/now".into()));
    assert_eq!(index("/api/time/now"), None);
}

#[tokio::test]
async fn strict_auth_guards_every_route_but_liveness() {
    for root in ["", "/api"] {
        let address = serve_with(root, &["sekrit-key"], true).await;
        let url = |path: &str| format!("{root}{path}");
        let auth = "Authorization: Bearer sekrit-key";
        for (method, path) in [
            ("GET", "/docs"),
            ("GET", "/docs/"),
            ("GET", "/docs/swagger-ui.css"),
            ("GET", "/openapi.json"),
            ("GET", "/readyz"),
            ("GET", "/metrics"),
            ("GET", "/no-such-route"),
            ("POST", "/echo"),
            ("POST", "/no-such-tool"),
            ("POST", "/healthz"),
        ] {
            let anonymous = send(address, method, &url(path), &[], "{}").await;
            assert_eq!(
                (anonymous.status, anonymous.json()),
                (401, json!({"detail": "Not authenticated"})),
                "{root} {method} {path}"
            );
            assert!(anonymous.head.contains("www-authenticate: bearer"));
            let wrong = ["Authorization: Bearer nope"];
            let wrong = send(address, method, &url(path), &wrong, "{}").await;
            assert_eq!(
                (wrong.status, wrong.json()),
                (401, json!({"detail": "Invalid API key"})),
                "{root} {method} {path}"
            );
        }
        // No `Allow` either: a tool's path answers as any other.
        let head = |reply: Reply| {
            let lines = reply.head.lines().filter(|line| !line.starts_with("date:"));
            lines.map(String::from).collect::<Vec<_>>()
        };
        let tool = head(send(address, "GET", &url("/echo"), &[], "").await);
        let nothing = head(send(address, "GET", &url("/no-such-tool"), &[], "").await);
        assert_eq!(tool, nothing, "{root}");
        let page = send(address, "GET", &url("/docs/"), &[auth], "").await;
        assert_eq!(page.status, 200, "{root}");
        assert!(page.body.contains("swagger"));
        let openapi = send(address, "GET", &url("/openapi.json"), &[auth], "").await;
        assert_eq!(openapi.json()["openapi"], json!("3.1.0"));
        let missing = send(address, "GET", &url("/no-such-route"), &[auth], "").await;
        assert_eq!(missing.status, 404);
        let tool = send(address, "POST", &url("/echo"), &[auth], "{}").await;
        assert_eq!(tool.status, 422, "{root}: {}", tool.body);
        for method in ["GET", "HEAD"] {
            let health = send(address, method, &url("/healthz"), &[], "").await;
            assert_eq!(health.status, 200, "{root} {method}");
        }
    }
}

/// Without a valid key, a multi-server proxy answers every path alike,
/// its servers' liveness routes included: names cannot be probed.
#[tokio::test]
async fn strict_auth_does_not_tell_server_names() {
    for root in ["", "/api"] {
        let address = serve_servers(root, &["sekrit-key"], true, &["time", "memory"]).await;
        let url = |path: &str| format!("{root}{path}");
        // Status, headers (an `Allow` would tell the path exists) and body.
        let answer = |reply: Reply| {
            let head: Vec<String> = reply
                .head
                .lines()
                .filter(|line| !line.starts_with("date:"))
                .map(String::from)
                .collect();
            (reply.status, head, reply.body)
        };
        for route in [
            "/healthz",
            "/readyz",
            "/openapi.json",
            "/docs/",
            "/echo",
            "",
        ] {
            for method in ["GET", "HEAD", "POST", "PUT"] {
                for headers in [&[][..], &["Authorization: Bearer nope"][..]] {
                    let (known, unknown) =
                        (url(&format!("/time{route}")), url(&format!("/nope{route}")));
                    let known = answer(send(address, method, &known, headers, "{}").await);
                    let unknown = answer(send(address, method, &unknown, headers, "{}").await);
                    assert_eq!(known.0, 401, "{root} {method} /time{route}");
                    assert_eq!(known, unknown, "{root} {method} {route} {headers:?}");
                }
            }
        }
        // The proxy's own liveness stays open; with the key, all is told.
        let health = send(address, "GET", &url("/healthz"), &[], "").await;
        assert_eq!(health.status, 200, "{root}");
        let auth = ["Authorization: Bearer sekrit-key"];
        let known = send(address, "GET", &url("/time/healthz"), &auth, "").await;
        assert_eq!(known.status, 200, "{root}");
        let unknown = send(address, "GET", &url("/nope/healthz"), &auth, "").await;
        assert_eq!(unknown.status, 404, "{root}");
    }
}

#[test]
fn strict_auth_documents_readyz_as_keyed() {
    let mut document = json!({"paths": {
        "/readyz": {"get": {"security": [], "responses": {"200": {}, "503": {}}}},
        "/healthz": {"get": {"security": [], "responses": {"200": {}}}}
    }});
    let mut one_of_several = document.clone();
    document_strict_auth(&mut document, false);
    let readyz = &document["paths"]["/readyz"]["get"];
    assert_eq!(readyz["security"], json!([{"bearerAuth": []}]));
    assert_eq!(
        readyz["responses"]["401"],
        json!({"$ref": "#/components/responses/Unauthorized"})
    );
    assert_eq!(document["paths"]["/healthz"]["get"]["security"], json!([]));
    // A server's `/{name}/healthz` in a multi-server proxy is keyed too.
    document_strict_auth(&mut one_of_several, true);
    for path in ["/readyz", "/healthz"] {
        let operation = &one_of_several["paths"][path]["get"];
        assert_eq!(operation["security"], json!([{"bearerAuth": []}]), "{path}");
        assert!(operation["responses"]["401"].is_object(), "{path}");
    }
    let mut odd = json!([1]);
    document_strict_auth(&mut odd, true);
    assert_eq!(odd, json!([1]));
}

#[tokio::test]
async fn a_tool_named_docs_shares_the_path_with_swagger_ui() {
    for root in ["", "/api"] {
        let address = serve(root, &[]).await;
        let url = |path: &str| format!("{root}{path}");
        let tool = send(address, "POST", &url("/docs"), &[], "{}").await;
        assert_eq!(tool.status, 422, "{root}: {}", tool.body);
        assert_eq!(tool.json()["detail"][0]["loc"], json!(["body", "m"]));
        let redirect = send(address, "GET", &url("/docs"), &[], "").await;
        assert_eq!(redirect.status, 303, "{root}");
        let page = send(address, "GET", &url("/docs/"), &[], "").await;
        assert_eq!(page.status, 200, "{root}");
        assert!(page.body.contains("swagger"));
        let wrong = send(address, "PUT", &url("/docs"), &[], "").await;
        assert_eq!(
            (wrong.status, wrong.json()),
            (405, json!({"detail": "Method Not Allowed"})),
            "{root}"
        );
    }
}

#[tokio::test]
async fn errors_under_docs_are_json() {
    let address = serve("", &[]).await;
    let missing = send(address, "GET", "/docs/no-such-file.js", &[], "").await;
    assert_eq!(
        (missing.status, missing.json()),
        (404, json!({"detail": "Not Found"}))
    );
    assert!(missing.head.contains("content-type: application/json"));
    let not_utf8 = send(address, "GET", "/docs/%FF", &[], "").await;
    assert!(not_utf8.status >= 400, "{}", not_utf8.status);
    assert!(not_utf8.json()["detail"].is_string(), "{}", not_utf8.body);
    let wrong = send(address, "POST", "/docs/index.html", &[], "").await;
    assert_eq!(
        (wrong.status, wrong.json()),
        (405, json!({"detail": "Method Not Allowed"}))
    );
    let asset = send(address, "GET", "/docs/swagger-ui.css", &[], "").await;
    assert_eq!(asset.status, 200);
}

fn frozen_document() -> Value {
    json!({
        "openapi": "3.1.0",
        "paths": {
            "/t": {"post": {
                "security": [{"bearerAuth": []}, {}],
                "responses": {
                    "200": {"description": "ok"},
                    "401": {"$ref": "#/components/responses/Unauthorized"}
                }
            }},
            "/healthz": {"get": {"security": [], "responses": {"200": {"description": "ok"}}}}
        },
        "components": {
            "responses": {
                "Unauthorized": {"description": "no"},
                "ToolError": {"description": "tool"}
            },
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}}
        }
    })
}

#[test]
fn the_document_requires_a_key_exactly_when_one_is_configured() {
    let mut keyed = frozen_document();
    document_api_keys(&mut keyed, true);
    assert_eq!(
        keyed["paths"]["/t"]["post"]["security"],
        json!([{"bearerAuth": []}])
    );
    assert!(keyed["paths"]["/t"]["post"]["responses"]["401"].is_object());
    assert_eq!(keyed["paths"]["/healthz"]["get"]["security"], json!([]));
    assert!(keyed["components"]["securitySchemes"]["bearerAuth"].is_object());

    let mut open = frozen_document();
    document_api_keys(&mut open, false);
    let operation = &open["paths"]["/t"]["post"];
    assert!(operation.get("security").is_none(), "{operation}");
    assert!(operation["responses"].get("401").is_none(), "{operation}");
    assert!(operation["responses"]["200"].is_object());
    assert_eq!(open["paths"]["/healthz"]["get"]["security"], json!([]));
    assert!(open["components"].get("securitySchemes").is_none());
    assert!(
        open["components"]["responses"]
            .get("Unauthorized")
            .is_none()
    );
    assert!(open["components"]["responses"]["ToolError"].is_object());
    // Not a document: left alone.
    let mut odd = json!([1]);
    document_api_keys(&mut odd, false);
    assert_eq!(odd, json!([1]));
}

#[test]
fn cors_is_off_unless_origins_are_given() {
    assert!(matches!(cors_layer(&[]), Ok(None)));
    assert!(matches!(cors_layer(&["*".into()]), Ok(Some(_))));
    assert!(matches!(
        cors_layer(&["http://a.example".into()]),
        Ok(Some(_))
    ));
    assert!(cors_layer(&["bad\norigin".into()]).is_err());
}
