//! `/mcp` over streamable HTTP, with rmcp's server transport: sessions
//! (`Mcp-Session-Id`, the GET stream, DELETE) for the revisions that have
//! them, and the stateless 2026-07-28 revision on the same path.
//!
//! In front of rmcp, what the transport spec asks of a server and what
//! every proxy route does: the `Host` check (the proxy's own layer, around
//! every route), the `Origin` check (DNS rebinding: a foreign origin is
//! 403), the API key as a Bearer token (401), and a cap on open sessions
//! (an `initialize` beyond it is 503). Session ids are rmcp's random UUIDs;
//! an idle session closes after `--mcp-session-idle`, and a client presenting
//! an unknown one (expired, or made by another replica) gets 404 and
//! initializes again, as the spec says.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::{
    Router,
    extract::{Request, State},
    http::{HeaderValue, Method, StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
};
use rmcp::transport::streamable_http_server::{
    StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager,
};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::Gateway;
use crate::host_check::AllowedHosts;
use crate::identity::Authenticator;

/// How every `/mcp` endpoint of a proxy is guarded.
#[derive(Clone)]
pub(crate) struct McpEndpoints {
    /// Who may connect; the caller it finds rides in each request's
    /// extensions to the gateway's handlers.
    pub(crate) auth: Authenticator,
    /// `--cors-allow-origins`: origins a browser client may call from.
    pub(crate) cors_allow_origins: Vec<String>,
    pub(crate) allowed_hosts: Arc<AllowedHosts>,
    pub(crate) max_sessions: usize,
    pub(crate) session_idle: Duration,
    pub(crate) max_body_bytes: usize,
    /// Cancelled when the proxy starts shutting down.
    pub(crate) shutdown: CancellationToken,
}

/// The `/mcp` route of one surface, to mount at its path.
pub(crate) fn mcp_routes<S: Clone + Send + Sync + 'static>(
    gateway: Gateway,
    endpoints: &McpEndpoints,
) -> Router<S> {
    let mut sessions = LocalSessionManager::default();
    sessions.session_config.keep_alive = Some(endpoints.session_idle);
    let sessions = Arc::new(sessions);
    let config = StreamableHttpServerConfig::default()
        // The proxy's own `Host` check runs on every route already.
        .disable_allowed_hosts()
        // Open streams (a client's GET) end when the proxy starts draining.
        .with_cancellation_token(endpoints.shutdown.clone())
        .with_max_request_body_bytes(endpoints.max_body_bytes);
    // Each session (and each stateless request) its own subscriptions.
    let service = StreamableHttpService::new(
        move || Ok(gateway.for_session()),
        Arc::clone(&sessions),
        config,
    );
    let guard = Arc::new(Guard {
        endpoints: endpoints.clone(),
        sessions,
        opening: AtomicUsize::new(0),
        owners: Default::default(),
    });
    Router::new()
        .route_service("/mcp", service)
        .route_layer(middleware::from_fn_with_state(guard, guard_request))
}

struct Guard {
    endpoints: McpEndpoints,
    sessions: Arc<LocalSessionManager>,
    /// `initialize` requests let through whose session rmcp has not made
    /// yet: counted with the open sessions, so concurrent ones cannot
    /// overrun the cap.
    opening: AtomicUsize,
    /// Who opened each session (its caller's [`crate::identity::Caller::owner`]):
    /// another caller that presents its id is told it does not exist, as
    /// the MCP spec advises (a session id is not a credential).
    owners: std::sync::Mutex<std::collections::HashMap<String, Option<crate::auth::KeyDigest>>>,
}

impl Guard {
    /// Whether `session` is unknown to the owners' table or `owner`'s.
    fn owned_by(&self, session: &str, owner: &Option<crate::auth::KeyDigest>) -> bool {
        let owners = self
            .owners
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        owners.get(session).is_none_or(|opener| opener == owner)
    }

    /// Records who opened `session`, forgetting sessions rmcp has closed.
    async fn opened(&self, session: String, owner: Option<crate::auth::KeyDigest>) {
        let open: std::collections::HashSet<String> = self
            .sessions
            .sessions
            .read()
            .await
            .keys()
            .map(|id| id.to_string())
            .collect();
        let mut owners = self
            .owners
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        owners.retain(|id, _| open.contains(id));
        owners.insert(session, owner);
    }
}

/// Gives back an `opening` place when the `initialize` is answered.
struct Opening<'a>(&'a AtomicUsize);

impl Drop for Opening<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn guard_request(
    State(guard): State<Arc<Guard>>,
    mut request: Request,
    next: Next,
) -> Response {
    let headers = request.headers();
    if let Some(origin) = headers.get(header::ORIGIN) {
        let host = headers
            .get(header::HOST)
            .and_then(|value| value.to_str().ok());
        if !origin_allowed(origin, host, &guard.endpoints) {
            return refuse(
                StatusCode::FORBIDDEN,
                INVALID_REQUEST,
                "Forbidden: this Origin may not call the MCP endpoint (add it to --cors-allow-origins)",
            );
        }
    }
    let caller = match guard.endpoints.auth.authenticate(request.headers()).await {
        Ok(caller) => caller,
        Err(error) => {
            let message = match &error.detail {
                serde_json::Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            let challenge = error.challenge.clone();
            let mut response = refuse(error.status, INVALID_REQUEST, &message);
            let challenge = challenge
                .and_then(|challenge| HeaderValue::try_from(challenge.as_ref()).ok())
                .unwrap_or(HeaderValue::from_static("Bearer"));
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, challenge);
            return response;
        }
    };
    let owner = caller.owner();
    request.extensions_mut().insert(caller);
    let headers = request.headers();
    if let Some(session) = headers
        .get("mcp-session-id")
        .and_then(|value| value.to_str().ok())
        && !guard.owned_by(session, &owner)
    {
        return refuse(StatusCode::NOT_FOUND, INVALID_REQUEST, "Session not found");
    }
    // A POST without a session may open one (rmcp decides from the body),
    // unless it declares the stateless revision (2026-07-28 or later), which
    // has no sessions.
    let opens_session = request.method() == Method::POST
        && !headers.contains_key("mcp-session-id")
        && headers
            .get("mcp-protocol-version")
            .and_then(|version| version.to_str().ok())
            .is_none_or(|version| version < FIRST_STATELESS_REVISION);
    let _opening = if opens_session {
        let opening = guard.opening.fetch_add(1, Ordering::SeqCst);
        let place = Opening(&guard.opening);
        let open = guard.sessions.sessions.read().await.len();
        if open + opening >= guard.endpoints.max_sessions {
            let mut response = refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                INVALID_REQUEST,
                "Too many open MCP sessions (--mcp-max-sessions); try again later",
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(5u64));
            return response;
        }
        Some(place)
    } else {
        None
    };
    let deletes = request.method() == Method::DELETE;
    let sent_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"));
    let mut response = next.run(request).await;
    if opens_session
        && let Some(session) = response
            .headers()
            .get("mcp-session-id")
            .and_then(|value| value.to_str().ok())
    {
        guard.opened(session.to_string(), owner).await;
    }
    // rmcp answers a body that is not one JSON-RPC message with 415 and
    // plain text, even when it was JSON; answer as JSON-RPC says instead.
    if sent_json && response.status() == StatusCode::UNSUPPORTED_MEDIA_TYPE {
        return refuse(
            StatusCode::BAD_REQUEST,
            PARSE_ERROR,
            "Parse error: the body is not one JSON-RPC message (batches are not accepted)",
        );
    }
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            INVALID_REQUEST,
            &format!(
                "Payload too large: the body is over {} bytes (--max-body-bytes)",
                guard.endpoints.max_body_bytes
            ),
        );
    }
    // rmcp answers a session's DELETE with 202; the Python SDK, like most
    // clients, expects 200 or 204 and warns otherwise.
    if deletes && response.status() == StatusCode::ACCEPTED {
        *response.status_mut() = StatusCode::NO_CONTENT;
    }
    response
}

/// Whether a browser at `origin` may call: an origin `--cors-allow-origins`
/// names (or `*`); else one whose host the proxy answers when it answers
/// only some hosts (`--allowed-hosts`, or loopback by default); else, when
/// it answers any host, only the proxy's own origin (the `Host` the request
/// was sent to).
fn origin_allowed(origin: &HeaderValue, host: Option<&str>, endpoints: &McpEndpoints) -> bool {
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    if endpoints
        .cors_allow_origins
        .iter()
        .any(|allowed| allowed == "*" || allowed.eq_ignore_ascii_case(origin))
    {
        return true;
    }
    let Some((_scheme, authority)) = origin.split_once("://") else {
        // `Origin: null` (a sandboxed page, a file) is nobody's origin.
        return false;
    };
    match endpoints.allowed_hosts.as_ref() {
        AllowedHosts::Only(_) => endpoints.allowed_hosts.allows(Some(authority)),
        AllowedHosts::Any => host.is_some_and(|host| host.eq_ignore_ascii_case(authority)),
    }
}

/// The first MCP revision without sessions.
const FIRST_STATELESS_REVISION: &str = "2026-07-28";

/// JSON-RPC's codes for a message that is not valid JSON-RPC, and for one
/// that cannot be parsed.
const INVALID_REQUEST: i32 = -32600;
const PARSE_ERROR: i32 = -32700;

/// A JSON-RPC error with no id, as the transport answers a request it does
/// not let through.
fn refuse(status: StatusCode, code: i32, message: &str) -> Response {
    let body = json!({
        "jsonrpc": "2.0",
        "id": null,
        "error": {"code": code, "message": message},
    });
    (status, axum::Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoints(cors: &[&str], hosts: AllowedHosts) -> McpEndpoints {
        McpEndpoints {
            auth: Authenticator::default(),
            cors_allow_origins: cors.iter().map(ToString::to_string).collect(),
            allowed_hosts: Arc::new(hosts),
            max_sessions: 1,
            session_idle: Duration::from_secs(1),
            max_body_bytes: 1,
            shutdown: CancellationToken::new(),
        }
    }

    fn allowed(origin: &str, host: Option<&str>, endpoints: &McpEndpoints) -> bool {
        origin_allowed(&HeaderValue::from_str(origin).unwrap(), host, endpoints)
    }

    #[test]
    fn a_loopback_proxy_takes_loopback_origins_only() {
        let loopback = endpoints(&[], AllowedHosts::new(&[], "127.0.0.1"));
        assert!(allowed(
            "http://localhost:3000",
            Some("127.0.0.1:8000"),
            &loopback
        ));
        assert!(allowed(
            "http://127.0.0.1:8000",
            Some("127.0.0.1:8000"),
            &loopback
        ));
        assert!(!allowed(
            "http://evil.example",
            Some("127.0.0.1:8000"),
            &loopback
        ));
        assert!(!allowed("null", Some("127.0.0.1:8000"), &loopback));
    }

    #[test]
    fn a_proxy_answering_any_host_takes_its_own_origin_and_listed_ones() {
        let open = endpoints(&["https://app.example"], AllowedHosts::Any);
        assert!(allowed(
            "http://proxy.internal:8000",
            Some("proxy.internal:8000"),
            &open
        ));
        assert!(allowed(
            "https://app.example",
            Some("proxy.internal:8000"),
            &open
        ));
        assert!(!allowed(
            "https://evil.example",
            Some("proxy.internal:8000"),
            &open
        ));
        let any = endpoints(&["*"], AllowedHosts::Any);
        assert!(allowed(
            "https://evil.example",
            Some("proxy.internal:8000"),
            &any
        ));
    }
}
