//! Streamable HTTP transport: `http://127.0.0.1:PORT/mcp`, optionally behind a
//! required header (tests that the proxy forwards custom headers upstream),
//! optionally expiring sessions (tests that clients re-initialize on 404).

use std::{
    collections::{HashMap, HashSet},
    net::Ipv4Addr,
    sync::{Arc, Mutex},
};

use anyhow::Context;
use axum::{
    Router,
    extract::{Request, State},
    http::{HeaderName, HeaderValue, StatusCode},
    middleware::{self, Next},
    response::{IntoResponse, Response},
};
use rmcp::transport::streamable_http_server::{
    StreamableHttpServerConfig, StreamableHttpService,
    session::{SessionId, SessionManager, local::LocalSessionManager},
};
use tokio::io::AsyncWriteExt;

use crate::{
    handler::FixtureServer,
    lifecycle,
    verbatim::{self, VerbatimTools},
};

/// A header every request must carry, parsed from `--require-header 'Name: value'`.
#[derive(Debug, Clone)]
pub struct RequiredHeader {
    pub name: HeaderName,
    pub value: HeaderValue,
}

impl std::str::FromStr for RequiredHeader {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (name, value) = text
            .split_once(':')
            .ok_or_else(|| format!("expected 'Name: value', got {text:?}"))?;
        let name = HeaderName::try_from(name.trim())
            .map_err(|error| format!("bad header name {name:?}: {error}"))?;
        let value = HeaderValue::try_from(value.trim())
            .map_err(|error| format!("bad header value: {error}"))?;
        Ok(Self { name, value })
    }
}

/// How the HTTP transport behaves (the HTTP-only flags).
#[derive(Debug, Clone, Default)]
pub struct HttpOptions {
    /// 0 picks a free port.
    pub port: u16,
    /// Requests without these get 401.
    pub required_headers: Vec<RequiredHeader>,
    /// A session serves this many POSTs, then is closed and answers 404.
    pub expire_sessions_after: Option<u64>,
    /// Put tool fields rmcp drops back into responses (see `verbatim`).
    pub restore_verbatim: bool,
}

/// Serve until SIGTERM / Ctrl-C. Port 0 picks a free port; either way the first stdout
/// line is `listening on http://127.0.0.1:PORT/mcp` so a test can read the address.
pub async fn serve(
    server: FixtureServer,
    verbatim: Arc<VerbatimTools>,
    options: HttpOptions,
) -> anyhow::Result<()> {
    let HttpOptions {
        port,
        required_headers,
        expire_sessions_after,
        restore_verbatim,
    } = options;
    let config = StreamableHttpServerConfig::default();
    // Cancelling this ends open SSE streams, without which graceful shutdown would
    // wait for clients that never hang up.
    let sessions_stop = config.cancellation_token.clone();
    let sessions = Arc::new(LocalSessionManager::default());
    // Each session gets its own handler state (its resource subscriptions).
    let mcp = StreamableHttpService::new(
        move || Ok(server.for_new_session()),
        sessions.clone(),
        config,
    );
    let mut router = Router::new().route_service("/mcp", mcp);
    if restore_verbatim {
        router = router.layer(middleware::from_fn_with_state(
            verbatim,
            verbatim::restore_responses,
        ));
    }
    if let Some(limit) = expire_sessions_after {
        let expiry = Arc::new(SessionExpiry {
            sessions,
            limit,
            seen: Mutex::default(),
        });
        router = router.layer(middleware::from_fn_with_state(expiry, expire_sessions));
    }
    // Added last so it runs first: a rejected request never reaches MCP.
    let router = router.layer(middleware::from_fn_with_state(
        Arc::new(required_headers),
        require_headers,
    ));

    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, port))
        .await
        .with_context(|| format!("cannot bind 127.0.0.1:{port}"))?;
    let address = listener.local_addr()?;
    lifecycle::serve_until_signal(
        listener,
        router,
        &format!("http://{address}/mcp"),
        move || sessions_stop.cancel(),
    )
    .await
}

/// `--expire-sessions-after`: POSTs counted per session id, and the ids
/// already expired.
struct SessionExpiry {
    sessions: Arc<LocalSessionManager>,
    limit: u64,
    seen: Mutex<ExpiryState>,
}

#[derive(Default)]
struct ExpiryState {
    posts: HashMap<String, u64>,
    expired: HashSet<String>,
}

/// Like a server that forgets sessions (a restart, an idle timeout): once a
/// session has served its POSTs it is closed, and every request naming it
/// gets 404 Not Found, the spec's signal to start a new session. Each expiry
/// is logged on stdout (`expired session ID`) for tests to count.
async fn expire_sessions(
    State(expiry): State<Arc<SessionExpiry>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(id) = request
        .headers()
        .get("mcp-session-id")
        .and_then(|value| value.to_str().ok())
        .map(str::to_string)
    else {
        return next.run(request).await;
    };
    let expires_now = {
        let mut seen = expiry
            .seen
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        if seen.expired.contains(&id) {
            return (StatusCode::NOT_FOUND, "session expired").into_response();
        }
        if request.method() != axum::http::Method::POST {
            false
        } else {
            let posts = seen.posts.entry(id.clone()).or_default();
            *posts += 1;
            if *posts > expiry.limit {
                seen.posts.remove(&id);
                seen.expired.insert(id.clone());
                true
            } else {
                false
            }
        }
    };
    if !expires_now {
        return next.run(request).await;
    }
    let _ = expiry
        .sessions
        .close_session(&SessionId::from(id.as_str()))
        .await;
    let mut stdout = tokio::io::stdout();
    let _ = stdout
        .write_all(format!("expired session {id}\n").as_bytes())
        .await;
    let _ = stdout.flush().await;
    (StatusCode::NOT_FOUND, "session expired").into_response()
}

async fn require_headers(
    State(required): State<Arc<Vec<RequiredHeader>>>,
    request: Request,
    next: Next,
) -> Response {
    for header in required.iter() {
        if request.headers().get(&header.name) != Some(&header.value) {
            let message = format!("missing or wrong header {}", header.name);
            return (StatusCode::UNAUTHORIZED, message).into_response();
        }
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_required_header() {
        let header: RequiredHeader = "X-Api-Key:  s3cret ".parse().unwrap();
        assert_eq!(header.name, "x-api-key");
        assert_eq!(header.value, "s3cret");
        let with_colon: RequiredHeader = "Authorization: Bearer a:b".parse().unwrap();
        assert_eq!(with_colon.value, "Bearer a:b");
        assert!("no colon".parse::<RequiredHeader>().is_err());
        assert!("bad name: x".parse::<RequiredHeader>().is_err());
    }
}
