//! The HTTP surface: tool routes under `--root-path`, the frozen
//! `openapi.json`, offline Swagger UI at `/docs`, health checks, JSON 404/405
//! and optional CORS.

use axum::{
    Json, Router,
    body::Bytes,
    extract::State,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use serde_json::{Value, json};
use tower_http::cors::{AllowHeaders, AllowMethods, AllowOrigin, CorsLayer};
use utoipa_swagger_ui::{Config, SwaggerUi};

use crate::app::App;
use crate::cli::ConfigError;
use crate::error::{self, ApiError};

pub struct RouterParts {
    pub app: App,
    pub tool_routes: Router<App>,
    /// "" or "/prefix".
    pub root_path: String,
    /// The embedded OpenAPI document, `servers` already patched.
    pub openapi: Value,
    pub cors_allow_origins: Vec<String>,
}

/// Points the document's `servers` at the root path, so "Try it out" in the
/// docs and generated clients call the right URLs.
pub fn patch_openapi(openapi_json: &str, root_path: &str) -> Result<Value, ConfigError> {
    let mut document: Value = serde_json::from_str(openapi_json).map_err(|error| {
        ConfigError(format!(
            "the embedded openapi.json is not valid JSON: {error}"
        ))
    })?;
    let Some(object) = document.as_object_mut() else {
        return Err(ConfigError(
            "the embedded openapi.json is not a JSON object".into(),
        ));
    };
    let url = if root_path.is_empty() { "/" } else { root_path };
    object.insert("servers".into(), json!([{ "url": url }]));
    Ok(document)
}

pub fn build_router(parts: RouterParts) -> Result<Router, ConfigError> {
    let RouterParts {
        app,
        tool_routes,
        root_path,
        openapi,
        cors_allow_origins,
    } = parts;

    // Serialized once: every request gets the same bytes.
    let openapi_bytes =
        Bytes::from(serde_json::to_vec(&openapi).map_err(|error| {
            ConfigError(format!("cannot serialize the OpenAPI document: {error}"))
        })?);
    let api: Router<App> = Router::new()
        .route(
            "/openapi.json",
            get(move || {
                let body = openapi_bytes.clone();
                async move { ([(header::CONTENT_TYPE, "application/json")], body) }
            }),
        )
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .merge(tool_routes);
    let api = if root_path.is_empty() {
        api
    } else {
        Router::new().nest(&root_path, api)
    };

    // Built at the full path rather than nested: its `/docs` -> `/docs/`
    // redirect is absolute and must include the root path.
    let docs = SwaggerUi::new(format!("{root_path}/docs"))
        .config(Config::new([format!("{root_path}/openapi.json")]));
    let mut router: Router = api
        .with_state(app)
        .merge(Router::from(docs))
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed);
    if let Some(cors) = cors_layer(&cors_allow_origins)? {
        router = router.layer(cors);
    }
    Ok(router)
}

/// `None` when no origins are given: no CORS headers at all.
fn cors_layer(origins: &[String]) -> Result<Option<CorsLayer>, ConfigError> {
    let origins: Vec<&str> = origins
        .iter()
        .map(|origin| origin.trim())
        .filter(|origin| !origin.is_empty())
        .collect();
    if origins.is_empty() {
        return Ok(None);
    }
    if origins.contains(&"*") {
        // Browsers refuse credentials with a wildcard, so none are allowed.
        // Headers and methods are mirrored rather than `*`: per the Fetch
        // standard `Access-Control-Allow-Headers: *` never covers
        // `Authorization`, so a preflight for a keyed call would fail (mcpo
        // mirrors too).
        return Ok(Some(
            CorsLayer::new()
                .allow_origin(AllowOrigin::any())
                .allow_methods(AllowMethods::mirror_request())
                .allow_headers(AllowHeaders::mirror_request()),
        ));
    }
    let allowed = origins
        .iter()
        .map(|origin| {
            HeaderValue::from_str(origin.trim_end_matches('/')).map_err(|_| {
                ConfigError(format!(
                    "--cors-allow-origins: {origin:?} is not a valid origin"
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(allowed))
            .allow_methods(AllowMethods::mirror_request())
            .allow_headers(AllowHeaders::mirror_request())
            .allow_credentials(true),
    ))
}

async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

async fn readyz(State(app): State<App>) -> Response {
    match app.upstream().readiness() {
        Ok(server) => (
            StatusCode::OK,
            Json(json!({ "status": "ready", "server": server })),
        )
            .into_response(),
        Err(reason) => {
            let mut response =
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, reason).into_response();
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(1u64));
            response
        }
    }
}

/// Listens for SIGINT and SIGTERM from the moment it is called, not from the
/// first poll: a signal that arrives right after startup still takes the
/// graceful path (which stops the upstream's process group) instead of the
/// default action, which would leave the upstream running.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{SignalKind, signal};
    let listen = |kind: SignalKind, name: &str| match signal(kind) {
        Ok(stream) => Some(stream),
        Err(error) => {
            tracing::warn!(%error, "cannot listen for {name}; it will stop the proxy abruptly");
            None
        }
    };
    let mut interrupt = listen(SignalKind::interrupt(), "SIGINT");
    let mut terminate = listen(SignalKind::terminate(), "SIGTERM");
    async move {
        tokio::select! {
            _ = next_signal(interrupt.as_mut()) => {}
            _ = next_signal(terminate.as_mut()) => {}
        }
        tracing::info!("shutting down");
    }
}

async fn next_signal(stream: Option<&mut tokio::signal::unix::Signal>) {
    match stream {
        Some(stream) => {
            stream.recv().await;
        }
        None => std::future::pending::<()>().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use crate::{
        app::AppState,
        auth::ApiKeys,
        cli::DriftPolicy,
        lock::LockedTool,
        supervisor::{Settings, Upstream},
        upstream::{ConnectOptions, Target},
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
        let (upstream, _supervisor) = Upstream::start(Settings {
            target: Target::Stdio {
                command: "/nonexistent/mcp-server-for-tests".into(),
                args: Vec::new(),
                env: Default::default(),
            },
            connect_options: ConnectOptions {
                client_name: "test-proxy".into(),
                client_version: "0.0.0".into(),
                echo_stderr: true,
                record_raw: false,
            },
            connect_timeout: Duration::from_secs(1),
            drift_policy: DriftPolicy::Ignore,
            locked_tools: Vec::new(),
        });
        let echo = LockedTool::new(json!({"name": "echo", "inputSchema": {
            "type": "object", "properties": {"m": {"type": "string"}}, "required": ["m"]}}));
        let app = App::new(AppState {
            api_keys: ApiKeys::new(keys.iter().map(|key| key.to_string())),
            max_body_bytes: 64,
            call_timeout: Duration::from_secs(2),
            connect_wait: Duration::from_millis(500),
            validators: InputValidators::compile(&[echo]),
            upstream,
        });
        let tool_routes = Router::new().route(
            "/echo",
            post(|State(app): State<App>, request: Request| async move {
                app.call_tool::<Value, Value>("echo", request).await
            }),
        );
        let router = build_router(RouterParts {
            app,
            tool_routes,
            root_path: root_path.to_string(),
            openapi: json!({"openapi": "3.1.0", "paths": {}}),
            cors_allow_origins: Vec::new(),
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
    async fn root_path_prefixes_every_route_and_the_docs() {
        let address = serve("/api", &[]).await;
        assert_eq!(send(address, "POST", "/echo", &[], "{}").await.status, 404);
        assert_eq!(
            send(address, "POST", "/api/echo", &[], "{}").await.status,
            422
        );
        let openapi = send(address, "GET", "/api/openapi.json", &[], "").await;
        assert_eq!(openapi.json()["openapi"], json!("3.1.0"));
        let docs = send(address, "GET", "/api/docs", &[], "").await;
        assert_eq!(docs.status, 303);
        assert!(docs.head.contains("location: /api/docs/"));
        let page = send(address, "GET", "/api/docs/", &[], "").await;
        assert_eq!(page.status, 200);
        assert!(page.body.contains("swagger"));
        let initializer = send(address, "GET", "/api/docs/swagger-initializer.js", &[], "").await;
        assert!(initializer.body.contains("/api/openapi.json"));
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
}
