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

use super::app::App;
use super::cli::ConfigError;
use super::error::{self, ApiError};

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
        return Ok(Some(
            CorsLayer::new()
                .allow_origin(AllowOrigin::any())
                .allow_methods(AllowMethods::any())
                .allow_headers(AllowHeaders::any()),
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

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM; only Ctrl-C stops the proxy");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = interrupt => {}
        _ = terminate => {}
    }
    tracing::info!("shutting down");
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
