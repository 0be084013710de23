//! The HTTP surface: tool routes under `--root-path`, the frozen
//! `openapi.json`, offline Swagger UI at `/docs`, health checks, JSON 404/405
//! and optional CORS.
//!
//! Tool routes are `POST /{tool}` and the proxy's own routes (`/docs` and
//! the files under it, `/openapi.json`, `/healthz`, `/readyz`, `/metrics`) are `GET`
//! only, so they never take each other's place: a tool named `docs` is
//! `POST /docs` beside Swagger UI's `GET /docs`, one path with two methods
//! (axum merges them; any other method is a JSON 405).
//!
//! `--root-path` works as FastAPI's `root_path` does for mcpo: a reverse
//! proxy in front may strip the prefix or pass it on, so every route answers
//! at `/prefix/route` and at `/route`. The routes live under the prefix, and a
//! request whose path does not start with `/prefix/` gets it prepended before
//! routing. So the prefixed reading always wins: with `--root-path /api`,
//! `/api/echo` is the tool `echo`, and a tool named `api` is `POST /api` or
//! `POST /api/api` (never ambiguous: tool routes are one segment).

use axum::{
    Json, Router,
    body::Bytes,
    extract::State,
    http::{HeaderValue, StatusCode, header},
    middleware,
    response::{IntoResponse, Response},
    routing::get,
};
use serde_json::{Value, json};
use tower_http::cors::{AllowHeaders, AllowMethods, AllowOrigin, CorsLayer};
use utoipa_swagger_ui::{Config, SwaggerUi};

use std::sync::Arc;

use crate::app::App;
use crate::cli::ConfigError;
use crate::error::{self, ApiError};
use crate::gateway::{Gateway, McpEndpoints, mcp_routes};
use crate::identity::Authenticator;
use crate::identity::strict::{self, StrictAuth};
use crate::metrics::MetricsRegistry;
use crate::served::Served;

pub struct RouterParts {
    /// The served servers: one at the root, or each under `/{name}`.
    pub servers: Arc<Vec<Arc<Served>>>,
    /// A multi-server crate's whole document, `servers` patched, served at
    /// `/openapi.json` and `/docs` beside the index `/`.
    pub combined_document: Option<Value>,
    pub metrics: MetricsPage,
    /// "" or "/prefix".
    pub root_path: String,
    pub cors_allow_origins: Vec<String>,
    /// Who may call; serves RFC 9728 metadata when it takes JWTs.
    pub auth: Authenticator,
    /// `--strict-auth`: credentials are needed on every route but `GET
    /// /healthz` and the protected-resource metadata.
    pub strict_auth: bool,
    /// The MCP gateway: each server's surface (in `servers` order, at
    /// `/mcp` under its prefix), a multi-server proxy's aggregated one (at
    /// `/mcp`), and how they are guarded.
    pub mcp: McpParts,
}

pub struct McpParts {
    pub per_server: Vec<Gateway>,
    pub aggregated: Option<Gateway>,
    pub endpoints: McpEndpoints,
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

/// The security scheme the generated document's tool operations name
/// (`mcpo-gen/src/openapi/mod.rs`, `BEARER_SCHEME`).
const BEARER_SCHEME: &str = "bearerAuth";

/// Makes the document say whether tool routes need a key, which only the
/// flags tell: the frozen document lets each tool operation be called with
/// the bearer key *or* without (`[{"bearerAuth": []}, {}]`). With keys
/// (`--api-key`), the key is required; without, the operations lose their
/// security requirement, their 401 response and the scheme itself, since
/// the proxy never asks for a key then.
pub fn document_api_keys(document: &mut Value, keys_required: bool) {
    let names_bearer = |requirement: &Value| {
        requirement
            .as_object()
            .is_some_and(|requirement| requirement.contains_key(BEARER_SCHEME))
    };
    let Some(paths) = document.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for operation in paths
        .values_mut()
        .filter_map(Value::as_object_mut)
        .flat_map(|item| item.values_mut())
        .filter_map(Value::as_object_mut)
    {
        let keyed = operation
            .get("security")
            .and_then(Value::as_array)
            .is_some_and(|requirements| requirements.iter().any(names_bearer));
        if !keyed {
            continue;
        }
        if keys_required {
            operation.insert("security".into(), json!([{ BEARER_SCHEME: [] }]));
        } else {
            operation.remove("security");
            if let Some(responses) = operation
                .get_mut("responses")
                .and_then(Value::as_object_mut)
            {
                responses.remove("401");
            }
        }
    }
    if !keys_required && let Some(components) = document.get_mut("components") {
        for (section, name) in [
            ("securitySchemes", BEARER_SCHEME),
            ("responses", "Unauthorized"),
        ] {
            let emptied = components
                .get_mut(section)
                .and_then(Value::as_object_mut)
                .map(|entries| {
                    entries.remove(name);
                    entries.is_empty()
                });
            if emptied == Some(true)
                && let Some(components) = components.as_object_mut()
            {
                components.remove(section);
            }
        }
    }
}

/// `--strict-auth` in the document: `/readyz` needs the key too. `/healthz`
/// stays open, except in the document of one server of a multi-server proxy
/// (`under_prefix`), whose `/{name}/healthz` needs the key (see
/// [`build_router`]). `/docs` and `/openapi.json` are not operations of it.
pub fn document_strict_auth(document: &mut Value, under_prefix: bool) {
    let keyed: &[&str] = if under_prefix {
        &["/paths/~1readyz/get", "/paths/~1healthz/get"]
    } else {
        &["/paths/~1readyz/get"]
    };
    for pointer in keyed {
        let Some(operation) = document.pointer_mut(pointer).and_then(Value::as_object_mut) else {
            continue;
        };
        operation.insert("security".into(), json!([{ BEARER_SCHEME: [] }]));
        if let Some(responses) = operation
            .get_mut("responses")
            .and_then(Value::as_object_mut)
        {
            responses.insert(
                "401".into(),
                json!({ "$ref": "#/components/responses/Unauthorized" }),
            );
        }
    }
}

/// `GET /metrics`: every server's metrics, behind the API key when one is
/// configured.
#[derive(Clone)]
pub struct MetricsPage {
    pub registry: Arc<MetricsRegistry>,
    pub auth: Authenticator,
}

/// A document's bytes, as JSON.
fn json_bytes(body: Bytes) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// Swagger UI at `{at}/docs` for the document at `{at}/openapi.json`; `at`
/// is the full path, root path included (its `/docs` -> `/docs/` redirect is
/// absolute).
fn swagger_ui(at: &str) -> Router {
    let docs = SwaggerUi::new(format!("{at}/docs"))
        // No validator badge: Swagger UI would send the document's URL to
        // validator.swagger.io from any host name but localhost.
        .config(Config::new([format!("{at}/openapi.json")]).validator_url("none"));
    Router::from(docs).layer(middleware::map_response(errors_as_json))
}

pub fn build_router(parts: RouterParts) -> Result<Router, ConfigError> {
    let RouterParts {
        servers,
        combined_document,
        metrics,
        root_path,
        cors_allow_origins,
        auth,
        strict_auth,
        mcp,
    } = parts;

    let mut api: Router = Router::new()
        .route("/healthz", get(healthz))
        // Not in the OpenAPI document: an operation there would become a
        // tool of Open WebUI and the like.
        .route("/metrics", get(metrics_page).with_state(metrics))
        .route(
            crate::identity::protected_resource::PATH,
            get(crate::identity::protected_resource::serve).with_state(auth.clone()),
        );
    let mut docs: Router = Router::new();
    for (served, gateway) in servers.iter().zip(mcp.per_server) {
        let reader = Arc::clone(served);
        let mut server_api: Router<App> = Router::new()
            .route(
                "/openapi.json",
                get(move |headers: axum::http::HeaderMap| {
                    let served = Arc::clone(&reader);
                    async move { json_bytes(served.document_for(&headers).await) }
                }),
            )
            .route("/readyz", get(readyz))
            .merge(served.tool_routes.clone())
            .merge(crate::tasks::rest::routes(&served.app.state().task_support))
            .merge(crate::surface::rest::routes(
                &served.app.state().surface,
                served.app.state().completions,
            ));
        if served.has_tool("mcp") {
            tracing::warn!(
                "{}: a tool is named `mcp`, so POST {}/mcp is that tool and the MCP endpoint is not served over HTTP (use --stdio)",
                served.label(),
                served.prefix()
            );
        } else {
            server_api = server_api.merge(mcp_routes(gateway, &mcp.endpoints));
        }
        let server_api = server_api.with_state(served.app.clone());
        let prefix = served.prefix();
        api = if prefix.is_empty() {
            api.merge(server_api)
        } else {
            // Each server's document states its own liveness route.
            api.nest(&prefix, server_api.route("/healthz", get(healthz)))
        };
        docs = docs.merge(swagger_ui(&format!("{root_path}{prefix}")));
    }
    if let Some(aggregated) = mcp.aggregated {
        if servers.iter().any(|served| served.name == "mcp") {
            tracing::warn!(
                "a server is named `mcp`: its routes are /mcp/..., so the aggregated MCP endpoint is not served (each server's /{{name}}/mcp is)"
            );
        } else {
            api = api.merge(mcp_routes(aggregated, &mcp.endpoints));
        }
    }
    let has_index = combined_document.is_some();
    if let Some(document) = combined_document {
        // Built per request: a hot reload may switch tools off (the
        // document is for client generators, not a hot path).
        let document_servers = Arc::clone(&servers);
        let index_servers = Arc::clone(&servers);
        let ready_servers = Arc::clone(&servers);
        let index_root = root_path.clone();
        api = api
            .route(
                "/openapi.json",
                get(move |headers: axum::http::HeaderMap| {
                    let document = document.clone();
                    let servers = Arc::clone(&document_servers);
                    async move {
                        json_bytes(
                            crate::served::combined_bytes(&document, &servers, &headers).await,
                        )
                    }
                }),
            )
            .route(
                "/",
                get(move || {
                    let servers = Arc::clone(&index_servers);
                    let root = index_root.clone();
                    async move { index(&servers, &root) }
                }),
            )
            .route(
                "/readyz",
                get(move || {
                    let servers = Arc::clone(&ready_servers);
                    async move { readyz_all(&servers) }
                }),
            );
        docs = docs.merge(swagger_ui(&root_path));
    }
    let api = if root_path.is_empty() {
        api
    } else {
        Router::new().nest(&root_path, api)
    };
    let mut router: Router = api
        .merge(docs)
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed);
    if strict_auth {
        // Only the proxy's own liveness route: each server's `/{name}/healthz`
        // of a multi-server proxy says nothing more (the process is up), and
        // open, it would tell an anonymous client which names are servers
        // (200) and which are not (401).
        let strict = std::sync::Arc::new(StrictAuth {
            auth,
            // And the metadata that tells a client where to get a token.
            open_paths: vec![
                format!("{root_path}/healthz"),
                crate::identity::protected_resource::PATH.to_string(),
                format!("{root_path}{}", crate::identity::protected_resource::PATH),
            ],
        });
        // Around the whole router, not on its routes: a route's method
        // router adds `Allow` to whatever answers a method it lacks, the 401
        // included, which would tell that the path exists.
        router = Router::new()
            .fallback_service(router)
            .layer(middleware::from_fn_with_state(strict, strict::require_key));
    }
    // Outside the key check: a CORS preflight carries no credentials.
    if let Some(cors) = cors_layer(&cors_allow_origins)? {
        router = router.layer(cors);
    }
    if root_path.is_empty() {
        return Ok(router);
    }
    // A layer on a router runs after its routing: the rewrite wraps the
    // routes as a fallback, so it runs before they are matched.
    let root = Arc::new(RootPath {
        root: root_path,
        has_index,
    });
    Ok(Router::new()
        .fallback_service(router)
        .layer(middleware::map_request_with_state(root, add_root_path)))
}

/// Where `--root-path` goes, and whether the root itself is a route (a
/// multi-server proxy's index).
struct RootPath {
    root: String,
    has_index: bool,
}

async fn add_root_path(
    State(root): State<std::sync::Arc<RootPath>>,
    mut request: axum::extract::Request,
) -> axum::extract::Request {
    if let Some(uri) = with_root_path(request.uri(), &root.root, root.has_index) {
        *request.uri_mut() = uri;
    }
    request
}

/// The request's URI with `root` prepended, unless its path is already
/// under `root/`. With `has_index`, `{root}` itself is the index route
/// (reached as `/`, `{root}` and `{root}/`); without, `{root}` is a tool of
/// that name (`/api` is the tool `api` under `/api`).
fn with_root_path(uri: &axum::http::Uri, root: &str, has_index: bool) -> Option<axum::http::Uri> {
    let path = uri.path();
    let prefixed = path
        .strip_prefix(root)
        .is_some_and(|rest| rest.starts_with('/') || (has_index && rest.is_empty()));
    // `*` (OPTIONS *) and the like are not paths to prefix.
    if !path.starts_with('/') {
        return None;
    }
    // The root itself (a multi-server proxy's index) is `{root}`, reached as
    // `/`, `{root}` or `{root}/`.
    let path = if prefixed {
        if !has_index || path != format!("{root}/") {
            return None;
        }
        root.to_string()
    } else if has_index && path == "/" {
        root.to_string()
    } else {
        format!("{root}{path}")
    };
    let path_and_query = match uri.query() {
        Some(query) => format!("{path}?{query}"),
        None => path,
    };
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = path_and_query.parse().ok();
    axum::http::Uri::from_parts(parts).ok()
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
                .allow_headers(AllowHeaders::mirror_request())
                .expose_headers(EXPOSED_HEADERS),
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
            .expose_headers(EXPOSED_HEADERS)
            .allow_credentials(true),
    ))
}

/// Response headers a browser client must read: the MCP session id (an
/// MCP client in a page sends it back with every request), and why and
/// when to retry.
const EXPOSED_HEADERS: [header::HeaderName; 3] = [
    header::HeaderName::from_static("mcp-session-id"),
    header::WWW_AUTHENTICATE,
    header::RETRY_AFTER,
];

/// Swagger UI answers an unknown file under `/docs/` with an empty 404 and
/// its own failures in plain text; every error of the proxy is
/// `{"detail": ...}`.
async fn errors_as_json(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes().starts_with(b"application/json"));
    if is_json || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    ApiError::new(status, status.canonical_reason().unwrap_or("Error")).into_response()
}

async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

async fn metrics_page(State(page): State<MetricsPage>, headers: axum::http::HeaderMap) -> Response {
    if let Err(error) = page.auth.authenticate(&headers).await {
        return error.into_response();
    }
    (
        [(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)],
        page.registry.render(),
    )
        .into_response()
}

async fn readyz(State(app): State<App>) -> Response {
    match app.state().upstream.current().readiness() {
        Ok(server) => {
            let mut body = json!({ "status": "ready", "server": server });
            let drift = app
                .state()
                .launch_spec_drift
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone();
            // Ready, but not launched as reviewed (`--on-drift warn`).
            if !drift.is_empty() {
                body["launch_spec_drift"] = json!(drift);
            }
            // Ready: the other tools serve. Each drifted one is refused
            // (`--on-drift refuse`) or called anyway (`warn`).
            let drifted_tools = app.state().drifted.describe();
            if !drifted_tools.is_empty() {
                body["tool_drift"] = json!(drifted_tools);
            }
            (StatusCode::OK, Json(body)).into_response()
        }
        Err(reason) => unready(reason),
    }
}

/// 503 with `Retry-After`: the upstream may come back any moment.
fn unready(reason: String) -> Response {
    let mut response = ApiError::new(StatusCode::SERVICE_UNAVAILABLE, reason).into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(1u64));
    response
}

/// Each server's readiness: `Ok(server)` or why not.
fn server_states(servers: &[Arc<Served>]) -> Vec<(&str, Result<String, String>)> {
    servers
        .iter()
        .map(|served| {
            let state = served.app.state().upstream.current().readiness();
            (served.name.as_str(), state)
        })
        .collect()
}

/// `GET /readyz` of a multi-server proxy: ready when every server is; each
/// server's `GET /{name}/readyz` tells one.
fn readyz_all(servers: &[Arc<Served>]) -> Response {
    let states = server_states(servers);
    let waiting: Vec<String> = states
        .iter()
        .filter_map(|(name, state)| {
            state
                .as_ref()
                .err()
                .map(|reason| format!("{name}: {reason}"))
        })
        .collect();
    if waiting.is_empty() {
        let servers: serde_json::Map<String, Value> = states
            .into_iter()
            .map(|(name, state)| (name.to_string(), json!(state.unwrap_or_default())))
            .collect();
        return (
            StatusCode::OK,
            Json(json!({ "status": "ready", "servers": servers })),
        )
            .into_response();
    }
    unready(format!(
        "{} of {} servers not ready: {}",
        waiting.len(),
        servers.len(),
        waiting.join("; ")
    ))
}

/// `GET /` of a multi-server proxy: each server with its URLs and state.
fn index(servers: &[Arc<Served>], root_path: &str) -> Json<Value> {
    let listed: Vec<Value> = server_states(servers)
        .into_iter()
        .zip(servers)
        .map(|((name, state), served)| {
            let prefix = format!("{root_path}{}", served.prefix());
            let tools = served.document.value()["paths"]
                .as_object()
                .map_or(0, |paths| {
                    paths
                        .values()
                        .filter(|item| item.pointer("/post/x-mcp-tool").is_some())
                        .count()
                });
            json!({
                "name": name,
                "url": prefix,
                "docs": format!("{prefix}/docs"),
                "openapi": format!("{prefix}/openapi.json"),
                "tools": tools,
                "ready": state.is_ok(),
                "state": match state { Ok(server) => server, Err(reason) => reason },
            })
        })
        .collect();
    Json(json!({
        "servers": listed,
        "openapi": format!("{root_path}/openapi.json"),
        "docs": format!("{root_path}/docs"),
    }))
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
mod tests;
