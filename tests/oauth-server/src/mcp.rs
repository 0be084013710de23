//! The protected resource: an MCP server (streamable HTTP at `/mcp`) that
//! answers 401 with a `WWW-Authenticate` pointing at its RFC 9728 metadata
//! unless the request carries a valid bearer token issued for it, and the
//! routes of the whole server.

use std::sync::Arc;

use axum::{
    Router,
    extract::{Request, State},
    http::{HeaderValue, StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use rmcp::{
    ErrorData, RoleServer, ServerHandler,
    model::{
        CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
        ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
    },
    service::RequestContext,
    transport::streamable_http_server::{
        StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager,
    },
};
use serde_json::{Map, Value, json};

use crate::auth::{self, Authority, Claims, Shared};

/// Every route: the authorization server's, the resource metadata, `/mcp`
/// behind the bearer check. Also what ends open MCP streams (call it on
/// shutdown, or graceful shutdown waits for clients that never hang up).
pub fn router(authority: Shared) -> (Router, impl FnOnce() + Send + 'static) {
    let config = StreamableHttpServerConfig::default();
    let sessions_stop = config.cancellation_token.clone();
    let step_up = authority.settings.step_up_scope.is_some();
    let mcp = StreamableHttpService::new(
        move || Ok(ProtectedServer { step_up }),
        Arc::new(LocalSessionManager::default()),
        config,
    );
    let protected = Router::new()
        .route_service("/mcp", mcp)
        .layer(middleware::from_fn_with_state(
            authority.clone(),
            require_bearer,
        ));
    let router = Router::new()
        .route(
            "/.well-known/oauth-authorization-server",
            get(auth::metadata_handler),
        )
        .route(
            "/.well-known/oauth-protected-resource/mcp",
            get(auth::resource_metadata_handler),
        )
        .route(
            "/.well-known/oauth-protected-resource",
            get(auth::resource_metadata_handler),
        )
        .route("/register", post(auth::register_handler))
        .route("/authorize", get(auth::authorize_handler))
        .route("/token", post(auth::token_handler))
        .route("/admin/revoke", post(auth::revoke_handler))
        .route("/admin/tokens", get(auth::issued_handler))
        .route("/admin/mint", post(auth::mint_handler))
        .with_state(authority)
        .merge(protected);
    (router, move || sessions_stop.cancel())
}

/// The `WWW-Authenticate` value of a 401 from `/mcp` (RFC 6750 + RFC 9728).
pub fn challenge(authority: &Authority, error: Option<&str>) -> String {
    let metadata = format!(
        "{}/.well-known/oauth-protected-resource/mcp",
        authority.settings.issuer
    );
    let scope = authority.settings.scopes.join(" ");
    match error {
        None => format!(r#"Bearer resource_metadata="{metadata}", scope="{scope}""#),
        Some(description) => format!(
            r#"Bearer error="invalid_token", error_description="{description}", resource_metadata="{metadata}", scope="{scope}""#
        ),
    }
}

async fn require_bearer(State(authority): State<Shared>, request: Request, next: Next) -> Response {
    let token = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| {
            value
                .strip_prefix("Bearer ")
                .or_else(|| value.strip_prefix("bearer "))
        })
        .map(str::trim);
    let refused = match token {
        None => challenge(&authority, None),
        Some(token) => match authority.verify(token) {
            Ok(claims) => {
                let mut request = match step_up_refusal(&authority, &claims, request).await {
                    Ok(request) => request,
                    Err(refusal) => return refusal,
                };
                request.extensions_mut().insert(claims);
                return next.run(request).await;
            }
            Err(reason) => {
                crate::event(&format!("/mcp refused a token: {reason}"));
                challenge(&authority, Some(reason))
            }
        },
    };
    let mut response = (StatusCode::UNAUTHORIZED, "authorization required").into_response();
    if let Ok(value) = HeaderValue::try_from(refused) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

/// With `--step-up-scope`: a `tools/call` of `write` by a token without
/// that scope is refused, 403 `insufficient_scope` naming the scopes the
/// call needs (RFC 6750 §3.1); anything else goes on (the request rebuilt
/// from its read body).
async fn step_up_refusal(
    authority: &Authority,
    claims: &Claims,
    request: Request,
) -> Result<Request, Response> {
    let Some(needed) = authority.settings.step_up_scope.as_deref() else {
        return Ok(request);
    };
    if claims.scope.split_whitespace().any(|scope| scope == needed) {
        return Ok(request);
    }
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 1 << 20).await else {
        return Err((StatusCode::BAD_REQUEST, "unreadable body").into_response());
    };
    let message: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    if message["method"] == "tools/call" && message["params"]["name"] == "write" {
        crate::event(&format!(
            "refused a call of write: the token lacks {needed}"
        ));
        let mut scopes = authority.settings.scopes.clone();
        scopes.push(needed.to_string());
        let value = format!(
            r#"Bearer error="insufficient_scope", scope="{}", resource_metadata="{}/.well-known/oauth-protected-resource/mcp", error_description="write needs {needed}""#,
            scopes.join(" "),
            authority.settings.issuer
        );
        let mut response = (StatusCode::FORBIDDEN, "insufficient scope").into_response();
        if let Ok(value) = HeaderValue::try_from(value) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, value);
        }
        return Err(response);
    }
    Ok(Request::from_parts(parts, axum::body::Body::from(bytes)))
}

/// Two tools: `whoami` (the token's subject, client and scopes) and `echo`;
/// with `--step-up-scope`, `write` too (which needs that scope).
#[derive(Debug, Clone)]
struct ProtectedServer {
    step_up: bool,
}

fn tool(name: &'static str, description: &'static str, schema: Value) -> Tool {
    let Value::Object(schema) = schema else {
        unreachable!("a literal object")
    };
    Tool::new(name, description, Arc::new(schema))
}

fn tools(step_up: bool) -> Vec<Tool> {
    let mut tools = vec![
        tool(
            "whoami",
            "Who the bearer token was issued to: subject, client and scopes.",
            json!({"type": "object", "properties": {}}),
        ),
        tool(
            "echo",
            "Returns the message.",
            json!({
                "type": "object",
                "properties": {"message": {"type": "string"}},
                "required": ["message"],
            }),
        ),
    ];
    if step_up {
        tools.push(tool(
            "write",
            "Needs the step-up scope (--step-up-scope); answers `written`.",
            json!({"type": "object", "properties": {}}),
        ));
    }
    tools
}

impl ServerHandler for ProtectedServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build()).with_server_info(
            Implementation::new("mcp-oauth-server", env!("CARGO_PKG_VERSION")),
        )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(tools(self.step_up)))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let arguments = request.arguments.unwrap_or_default();
        let result = match request.name.as_ref() {
            "whoami" => {
                let claims = context
                    .extensions
                    .get::<axum::http::request::Parts>()
                    .and_then(|parts| parts.extensions.get::<Claims>())
                    .ok_or_else(|| ErrorData::internal_error("no token claims", None))?;
                let mut who = Map::new();
                who.insert("subject".into(), json!(claims.subject));
                who.insert("client_id".into(), json!(claims.client_id));
                who.insert(
                    "scopes".into(),
                    json!(claims.scope.split_whitespace().collect::<Vec<_>>()),
                );
                who.insert("audience".into(), json!(claims.resource));
                CallToolResult::success(vec![ContentBlock::text(Value::Object(who).to_string())])
            }
            "echo" => {
                let message = arguments
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                CallToolResult::success(vec![ContentBlock::text(message)])
            }
            "write" if self.step_up => CallToolResult::success(vec![ContentBlock::text("written")]),
            other => {
                return Err(ErrorData::invalid_params(
                    format!("Unknown tool: {other}"),
                    None,
                ));
            }
        };
        Ok(result.into())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::auth::Settings;

    /// The router on a free port; its base URL.
    async fn serve() -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let authority = Arc::new(Authority::new(Settings {
            issuer: base.clone(),
            resource: format!("{base}/mcp"),
            token_lifetime: Duration::from_secs(60),
            subject: "alice".into(),
            scopes: vec!["mcp:tools".into()],
            registration: true,
            step_up_scope: None,
            advertise: Vec::new(),
            metadata_padding: 0,
        }));
        let (router, _stop) = router(authority);
        tokio::spawn(async move { axum::serve(listener, router).await });
        base
    }

    /// Sends `request`, which must answer JSON.
    async fn json_answer(request: reqwest::RequestBuilder) -> Value {
        request.send().await.unwrap().json().await.unwrap()
    }

    async fn initialize(base: &str, token: Option<&str>) -> reqwest::Response {
        let mut request = reqwest::Client::new()
            .post(format!("{base}/mcp"))
            .header("accept", "application/json, text/event-stream")
            .json(
                &json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                "protocolVersion": "2025-06-18", "capabilities": {},
                "clientInfo": {"name": "t", "version": "1"}}}),
            );
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap()
    }

    #[tokio::test]
    async fn the_whole_flow_over_http() {
        let base = serve().await;
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();

        // Unauthenticated: 401 pointing at the resource metadata.
        let refused = initialize(&base, None).await;
        assert_eq!(refused.status(), 401);
        let challenge = refused.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_string();
        let metadata_url = format!("{base}/.well-known/oauth-protected-resource/mcp");
        assert!(
            challenge.contains(&format!(r#"resource_metadata="{metadata_url}""#)),
            "{challenge}"
        );
        let resource = json_answer(http.get(&metadata_url)).await;
        assert_eq!(resource["resource"], json!(format!("{base}/mcp")));
        assert_eq!(resource["authorization_servers"], json!([base]));
        let metadata =
            json_answer(http.get(format!("{base}/.well-known/oauth-authorization-server"))).await;
        assert_eq!(
            metadata["code_challenge_methods_supported"],
            json!(["S256"])
        );

        // Register, authorize (auto-approved: a redirect), exchange.
        let client = json_answer(
            http.post(metadata["registration_endpoint"].as_str().unwrap())
                .json(&json!({"redirect_uris": ["http://127.0.0.1:1/callback"], "token_endpoint_auth_method": "none"})),
        )
        .await;
        let client_id = client["client_id"].as_str().unwrap();
        let verifier = "0123456789-0123456789-0123456789-0123456789-xyz";
        use base64::Engine as _;
        use sha2::Digest as _;
        let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(sha2::Sha256::digest(verifier.as_bytes()));
        let redirect = http
            .get(metadata["authorization_endpoint"].as_str().unwrap())
            .query(&[
                ("response_type", "code"),
                ("client_id", client_id),
                ("redirect_uri", "http://127.0.0.1:1/callback"),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
                ("state", "xyz"),
                ("resource", &format!("{base}/mcp")),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(redirect.status(), 303);
        let location = redirect.headers()["location"].to_str().unwrap();
        let code = location
            .split("code=")
            .nth(1)
            .unwrap()
            .split('&')
            .next()
            .unwrap();
        assert!(location.ends_with("&state=xyz"));
        let tokens = json_answer(
            http.post(metadata["token_endpoint"].as_str().unwrap())
                .form(&[
                    ("grant_type", "authorization_code"),
                    ("code", code),
                    ("redirect_uri", "http://127.0.0.1:1/callback"),
                    ("code_verifier", verifier),
                    ("client_id", client_id),
                ]),
        )
        .await;
        let access = tokens["access_token"].as_str().unwrap();
        assert_eq!(initialize(&base, Some(access)).await.status(), 200);

        // A token for another audience is refused.
        let other = json_answer(
            http.post(format!("{base}/admin/mint"))
                .query(&[("resource", "http://127.0.0.1:1/mcp")]),
        )
        .await;
        let refused = initialize(&base, other["access_token"].as_str()).await;
        assert_eq!(refused.status(), 401);
        assert!(
            refused.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .contains("invalid_token")
        );

        // Revoked: the access token stops working too.
        http.post(format!("{base}/admin/revoke"))
            .send()
            .await
            .unwrap();
        assert_eq!(initialize(&base, Some(access)).await.status(), 401);
        let issued = json_answer(http.get(format!("{base}/admin/tokens"))).await;
        assert!(
            issued["issued"]
                .as_array()
                .unwrap()
                .iter()
                .any(|token| token == access)
        );
    }
}
