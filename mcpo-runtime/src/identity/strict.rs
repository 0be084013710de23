//! `--strict-auth`: a caller is needed on every route, not only the tool
//! routes.

use axum::{
    extract::{Request, State},
    http::Method,
    middleware::Next,
    response::{IntoResponse as _, Response},
};

/// `--strict-auth`: the key guards every route, the proxy's own documents
/// and unknown paths included (a 404 would tell an anonymous client which
/// tools exist), except the liveness check that container health checks
/// call without credentials. Without a valid key, every other path answers
/// the same 401, known or not, so neither tool nor server names can be
/// probed.
#[derive(Clone, Debug)]
pub struct StrictAuth {
    pub auth: super::Authenticator,
    /// `GET`/`HEAD` of these paths stays open: `{root_path}/healthz` only
    /// (a multi-server proxy's `{root_path}/{name}/healthz` would tell which
    /// names are servers).
    pub open_paths: Vec<String>,
}

/// Middleware for [`StrictAuth`]: the same 401s as tool routes.
pub async fn require_key(
    State(strict): State<std::sync::Arc<StrictAuth>>,
    request: Request,
    next: Next,
) -> Response {
    let liveness = matches!(*request.method(), Method::GET | Method::HEAD)
        && strict
            .open_paths
            .iter()
            .any(|open| request.uri().path() == open);
    if !liveness && let Err(error) = strict.auth.authenticate(request.headers()).await {
        return error.into_response();
    }
    next.run(request).await
}
