//! The scopes of an upstream's tokens: what an authorization asks for
//! (incremental authorization), and the step-up a 403 `insufficient_scope`
//! asks for, recorded as pending for the next `mcpo-gen login`
//! ([`ScopeWatch`], which also follows the client of a later login).

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use futures::stream::BoxStream;
use http::{HeaderName, HeaderValue};
use rmcp::model::ClientJsonRpcMessage;
use rmcp::transport::auth::{
    AuthError, AuthorizationManager, OAuthClientConfig, WWWAuthenticateParams,
};
use rmcp::transport::streamable_http_client::{
    StreamableHttpClient, StreamableHttpError, StreamableHttpPostResponse,
    StreamableHttpResponseLimits,
};
use sse_stream::{Error as SseError, Sse};
use tokio::sync::Mutex;

use super::store::{TokenFile, TokenStore};

/// Records `wanted` (the scopes a 403 `insufficient_scope` named) as
/// pending in `store`, for the next authorization (`mcpo-gen login`). Those
/// already granted or already pending are not added again. `Ok(true)` when
/// the store changed; nothing is recorded without stored tokens.
pub(super) fn record_pending_scopes(
    store: &TokenStore,
    wanted: &[String],
) -> Result<bool, AuthError> {
    let Some(mut file) = store.read()? else {
        return Ok(false);
    };
    let mut changed = false;
    for scope in wanted {
        if !file.credentials.granted_scopes.contains(scope) && !file.pending_scopes.contains(scope)
        {
            file.pending_scopes.push(scope.clone());
            changed = true;
        }
    }
    if changed {
        store.write(&file)?;
    }
    Ok(changed)
}

/// The scopes an authorization asks for (incremental authorization): the
/// configured ones, those a challenge names, and, once either of those or a
/// pending step-up says which scopes matter, those already granted and those
/// pending. Empty: let rmcp pick from the server's metadata.
pub(super) fn scopes_to_request(
    configured: Vec<String>,
    challenge: Vec<String>,
    stored: Option<&TokenFile>,
    challenged: bool,
) -> BTreeSet<String> {
    let mut scopes: BTreeSet<String> = configured.into_iter().collect();
    let pending = stored.map_or(&[][..], |file| &file.pending_scopes[..]);
    if !scopes.is_empty() || challenged || !pending.is_empty() {
        scopes.extend(challenge);
        scopes.extend(pending.iter().cloned());
        if let Some(file) = stored {
            scopes.extend(file.credentials.granted_scopes.iter().cloned());
        }
    }
    scopes
}

/// The streamable-HTTP client under rmcp's
/// [`AuthClient`](rmcp::transport::AuthClient): passes every request
/// through, and when the server answers 403 `insufficient_scope` (step-up:
/// this call needs more scope than the token has), records the scopes its
/// challenge names as pending in the token store, so that the
/// `mcpo-gen login` the 503 names asks for them. The proxy never
/// authorizes itself.
///
/// It also follows a new authorization's client: when `mcpo-gen login`
/// registered another client than the one this proxy started with, the
/// stored refresh token is that client's, so the request goes out without a
/// token and gets a 401; then the manager is switched to the stored client
/// and the request is sent once more with its token.
#[derive(Clone)]
pub struct ScopeWatch<C> {
    pub(super) inner: C,
    pub(super) store: TokenStore,
    pub(super) server_url: String,
    /// The manager of the [`AuthClient`](rmcp::transport::AuthClient) above
    /// (none for the SSE transport).
    pub(super) manager: Option<Arc<Mutex<AuthorizationManager>>>,
    /// The redirect URI and a confidential client's secret, for a client
    /// switched to.
    pub(super) redirect: String,
    pub(super) client_secret: Option<String>,
}

impl<C> ScopeWatch<C> {
    /// Runs `call` with `auth_header`; see the type's description.
    async fn call<T, E, F, Fut>(
        &self,
        auth_header: Option<String>,
        call: F,
    ) -> Result<T, StreamableHttpError<E>>
    where
        E: std::error::Error + Send + Sync + 'static,
        F: Fn(Option<String>) -> Fut,
        Fut: std::future::Future<Output = Result<T, StreamableHttpError<E>>>,
    {
        let unauthenticated = auth_header.is_none();
        let result = call(auth_header).await;
        if unauthenticated
            && matches!(result, Err(StreamableHttpError::AuthRequired(_)))
            && let Some(token) = self.follow_new_client().await
        {
            return self.note(call(Some(token)).await);
        }
        self.note(result)
    }

    /// When the stored tokens belong to another client than the manager's
    /// (a login registered a new one): the manager switched to it, and a
    /// token of it.
    pub(super) async fn follow_new_client(&self) -> Option<String> {
        let manager = self.manager.as_ref()?;
        let mut manager = manager.lock().await;
        let (configured, _) = manager.get_credentials().await.ok()?;
        let stored = self.store.read().ok()??;
        let client_id = stored.credentials.client_id;
        if client_id == configured || stored.credentials.token_response.is_none() {
            return None;
        }
        let mut config = OAuthClientConfig::new(client_id, self.redirect.clone());
        if let Some(secret) = stored.client_secret.or_else(|| self.client_secret.clone()) {
            config = config.with_client_secret(secret);
        }
        if let Err(error) = manager.configure_client(config) {
            tracing::warn!(upstream = %self.server_url, %error, "could not switch to the OAuth client of the last authorization");
            return None;
        }
        tracing::info!(upstream = %self.server_url, "using the OAuth client of the last authorization (mcpo-gen login)");
        manager.get_access_token().await.ok()
    }

    pub(super) fn note<T, E>(
        &self,
        result: Result<T, StreamableHttpError<E>>,
    ) -> Result<T, StreamableHttpError<E>>
    where
        E: std::error::Error + Send + Sync + 'static,
    {
        if let Err(StreamableHttpError::InsufficientScope(error)) = &result {
            self.record(
                &error.www_authenticate_header,
                error.required_scope.as_deref(),
            );
        }
        result
    }

    pub(super) fn record(&self, challenge: &str, required: Option<&str>) {
        // rmcp reports any 403 with a challenge this way; only
        // `insufficient_scope` is a step-up.
        let insufficient = reqwest::Url::parse(&self.server_url).is_ok_and(|base| {
            WWWAuthenticateParams::parse(challenge, &base).is_insufficient_scope()
        });
        if !insufficient {
            return;
        }
        let mut wanted = challenge_scopes(Some(challenge), &self.server_url);
        if wanted.is_empty()
            && let Some(required) = required
        {
            wanted = required.split_whitespace().map(str::to_string).collect();
        }
        if wanted.is_empty() {
            tracing::warn!(upstream = %self.server_url, "the upstream refused a call for lack of OAuth scope without naming the scope");
            return;
        }
        match record_pending_scopes(&self.store, &wanted) {
            Ok(true) => tracing::warn!(
                upstream = %self.server_url,
                scopes = %wanted.join(" "),
                "the upstream wants more OAuth scope; recorded for the next `mcpo-gen login`"
            ),
            Ok(false) => {}
            Err(error) => tracing::warn!(
                upstream = %self.server_url,
                %error,
                "could not record the OAuth scopes the upstream wants"
            ),
        }
    }
}

impl<C: std::fmt::Debug> std::fmt::Debug for ScopeWatch<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScopeWatch")
            .field("inner", &self.inner)
            .field("server_url", &self.server_url)
            .finish_non_exhaustive()
    }
}

impl<C> StreamableHttpClient for ScopeWatch<C>
where
    C: StreamableHttpClient + Send + Sync,
{
    type Error = C::Error;

    async fn post_message(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<StreamableHttpPostResponse, StreamableHttpError<Self::Error>> {
        self.call(auth_header, |token| {
            self.inner.post_message(
                uri.clone(),
                message.clone(),
                session_id.clone(),
                token,
                custom_headers.clone(),
            )
        })
        .await
    }

    async fn post_message_with_max_sse_event_size(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        max_sse_event_size: usize,
    ) -> Result<StreamableHttpPostResponse, StreamableHttpError<Self::Error>> {
        self.call(auth_header, |token| {
            self.inner.post_message_with_max_sse_event_size(
                uri.clone(),
                message.clone(),
                session_id.clone(),
                token,
                custom_headers.clone(),
                max_sse_event_size,
            )
        })
        .await
    }

    async fn post_message_with_response_limits(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        limits: StreamableHttpResponseLimits,
    ) -> Result<StreamableHttpPostResponse, StreamableHttpError<Self::Error>> {
        self.call(auth_header, |token| {
            self.inner.post_message_with_response_limits(
                uri.clone(),
                message.clone(),
                session_id.clone(),
                token,
                custom_headers.clone(),
                limits,
            )
        })
        .await
    }

    async fn delete_session(
        &self,
        uri: Arc<str>,
        session_id: Arc<str>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<(), StreamableHttpError<Self::Error>> {
        self.call(auth_header, |token| {
            self.inner.delete_session(
                uri.clone(),
                session_id.clone(),
                token,
                custom_headers.clone(),
            )
        })
        .await
    }

    async fn get_stream(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<BoxStream<'static, Result<Sse, SseError>>, StreamableHttpError<Self::Error>> {
        self.call(auth_header, |token| {
            self.inner.get_stream(
                uri.clone(),
                session_id.clone(),
                last_event_id.clone(),
                token,
                custom_headers.clone(),
            )
        })
        .await
    }

    async fn get_stream_with_max_sse_event_size(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        max_sse_event_size: usize,
    ) -> Result<BoxStream<'static, Result<Sse, SseError>>, StreamableHttpError<Self::Error>> {
        self.call(auth_header, |token| {
            self.inner.get_stream_with_max_sse_event_size(
                uri.clone(),
                session_id.clone(),
                last_event_id.clone(),
                token,
                custom_headers.clone(),
                max_sse_event_size,
            )
        })
        .await
    }
}

/// Scopes a challenge asks for (its `scope` parameter).
pub(super) fn challenge_scopes(challenge: Option<&str>, base: &str) -> Vec<String> {
    let (Some(challenge), Ok(base)) = (challenge, reqwest::Url::parse(base)) else {
        return Vec::new();
    };
    WWWAuthenticateParams::parse(challenge, &base)
        .scope
        .map(|scope| scope.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default()
}
