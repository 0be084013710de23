//! The non-interactive steps of an authorization, which `mcpo-gen login`
//! runs around its prompts: [`Authorizer`] (the store checked, the challenge
//! probed; then discovery, the endpoint checks, the client and the
//! authorization URL) and [`Authorization::finish`] (the code exchanged,
//! the tokens stored). Nothing here prompts, reads stdin, listens for a
//! redirect or opens a browser.

use std::time::Duration;

use rmcp::transport::auth::{AuthorizationRequest, AuthorizationSession, WWWAuthenticateParams};

use super::scopes::{challenge_scopes, scopes_to_request};
use super::store::{TokenFile, TokenStore};
use super::{
    OAuthTarget, access_token_of, auth_error_text, check_endpoint, check_metadata, manager,
    redirect_uri,
};

/// The first step of an authorization, the same whoever runs it: the token
/// folder or file made private or refused, the stored tokens read (their
/// granted and pending scopes are asked for again) and the upstream's
/// `WWW-Authenticate` challenge probed. Nothing here prompts, reads stdin,
/// listens for the redirect or opens anything: `mcpo-gen login` does that
/// around [`Authorizer::start`] and [`Authorization::finish`].
pub struct Authorizer {
    upstream: String,
    oauth: OAuthTarget,
    stored: Option<TokenFile>,
    challenge: Option<String>,
}

impl std::fmt::Debug for Authorizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authorizer")
            .field("upstream", &self.upstream)
            .field("oauth", &self.oauth)
            .finish_non_exhaustive()
    }
}

impl Authorizer {
    /// Prepares authorizing this client for the upstream at `upstream_url`.
    /// `sse`: the upstream is an HTTP+SSE one (how its challenge is probed:
    /// a GET of the stream rather than a POST of `initialize`). With stored
    /// tokens, the challenge is that of a request with the current token
    /// (step-up). The error says why, with no token or secret in it.
    pub async fn new(upstream_url: &str, sse: bool, oauth: &OAuthTarget) -> Result<Self, String> {
        let store = oauth.store(upstream_url);
        // A token folder or file open to others is made private or refused
        // before anything else.
        store.secure().map_err(|error| error.to_string())?;
        let stored = store.read().ok().flatten();
        let current_token = stored
            .as_ref()
            .and_then(|file| file.credentials.token_response.as_ref())
            .and_then(access_token_of);
        let challenge = probe_challenge(upstream_url, sse, current_token.as_deref()).await;
        Ok(Authorizer {
            upstream: upstream_url.to_string(),
            oauth: oauth.clone(),
            stored,
            challenge,
        })
    }

    /// The redirect URI for a callback listener on `port`:
    /// `client_metadata.redirect_uris[0]` when configured, else
    /// `http://127.0.0.1:PORT/callback` ([`CALLBACK_PATH`](super::CALLBACK_PATH)).
    pub fn redirect_uri(&self, port: u16) -> String {
        redirect_uri(&self.oauth.settings, port)
    }

    /// Discovery, the checks of every endpoint it yields
    /// ([`check_endpoint`], before anything is sent to them), the client
    /// (pre-registered, Client ID Metadata Document or registered now) and
    /// the authorization URL (PKCE S256, `resource`, `state`) for
    /// `redirect`, itself checked. Scopes asked for: the configured ones,
    /// those already granted or pending, and those the challenge names
    /// (incremental authorization); none at all lets rmcp pick from the
    /// server's metadata.
    pub async fn start(self, redirect: String) -> Result<Authorization, String> {
        let (session, url, state) = start(
            &self.upstream,
            &self.oauth,
            self.challenge,
            self.stored.as_ref(),
            redirect,
        )
        .await?;
        Ok(Authorization {
            session,
            url,
            state,
            store: self.oauth.store(&self.upstream),
            client_secret: self.oauth.client_secret.clone(),
            pending_scopes: self
                .stored
                .map(|file| file.pending_scopes)
                .unwrap_or_default(),
        })
    }
}

/// An authorization under way: its URL, checked, to be opened by the person
/// authorizing, and the exchange of the code the redirect brings back.
pub struct Authorization {
    pub(super) session: AuthorizationSession,
    pub(super) url: String,
    pub(super) state: String,
    pub(super) store: TokenStore,
    pub(super) client_secret: Option<String>,
    pub(super) pending_scopes: Vec<String>,
}

impl std::fmt::Debug for Authorization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authorization")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl Authorization {
    /// The authorization URL (checked by [`check_endpoint`]).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The `state` of this flow: a redirect with another one is not its.
    pub fn state(&self) -> &str {
        &self.state
    }

    /// The scopes a call needed (a 403 `insufficient_scope` recorded them)
    /// that this authorization asks for too.
    pub fn pending_scopes(&self) -> &[String] {
        &self.pending_scopes
    }

    /// Exchanges the code of `redirect_url` (the full redirect, with this
    /// flow's `state`) for tokens and stores them, a configured client
    /// secret with them (a service refreshes with it). Returns the scopes
    /// a call needed that the authorization server still did not grant.
    pub async fn finish(&self, redirect_url: &str) -> Result<Vec<String>, String> {
        self.session
            .handle_callback_url(redirect_url)
            .await
            .map_err(|error| auth_error_text(&error))?;
        // The secret goes into the file too, for a service's refreshes.
        if self.client_secret.is_some()
            && let Ok(Some(mut file)) = self.store.read()
        {
            file.client_secret = self.client_secret.clone();
            self.store.write(&file).map_err(|error| error.to_string())?;
        }
        Ok(self
            .store
            .read()
            .ok()
            .flatten()
            .map(|file| file.pending_scopes)
            .unwrap_or_default())
    }
}

/// Discovery, the client (pre-registered, CIMD or registered now) and the
/// authorization URL (PKCE S256, `resource`, `state`) for `redirect`.
pub(super) async fn start(
    upstream_url: &str,
    oauth: &OAuthTarget,
    challenge: Option<String>,
    stored: Option<&TokenFile>,
    redirect: String,
) -> Result<(AuthorizationSession, String, String), String> {
    let server_url = oauth.server_url(upstream_url).to_string();
    let mut manager = manager(upstream_url, oauth)
        .await
        .map_err(|error| error.to_string())?;
    // The metadata location a challenge names is checked before rmcp
    // fetches it; the endpoints of the metadata before anything is sent.
    if let (Some(challenge), Ok(base)) = (&challenge, reqwest::Url::parse(&server_url))
        && let Some(location) = WWWAuthenticateParams::parse(challenge, &base).resource_metadata_url
    {
        check_endpoint(
            "the WWW-Authenticate challenge's resource_metadata",
            location.as_str(),
        )?;
    }
    let resolution = manager
        .resolve_metadata_from_challenge(challenge.as_deref())
        .await
        .map_err(|error| format!("discovery: {}", auth_error_text(&error)))?;
    check_metadata(&resolution.metadata)?;
    manager.set_metadata(resolution.metadata);

    let scopes = scopes_to_request(
        oauth.settings.scopes(),
        challenge_scopes(challenge.as_deref(), &server_url),
        stored,
        challenge.is_some(),
    );
    let mut request = AuthorizationRequest::new(redirect.clone())
        .with_client_name(
            oauth
                .settings
                .metadata_text("client_name")
                .unwrap_or_else(|| "mcpo-gen".to_string()),
        )
        .with_initial_scope_selection();
    if !scopes.is_empty() {
        request = request.with_scopes(scopes);
    }
    if let Some(challenge) = &challenge {
        request = request.with_challenge(challenge.clone());
    }
    if let Some(client_id) = &oauth.settings.client_id {
        request = request.with_preregistered_client(client_id.clone());
        if let Some(secret) = &oauth.client_secret {
            request = request.with_client_secret(secret.clone());
        }
    }
    if let Some(url) = oauth
        .settings
        .metadata_text("client_id_metadata_url")
        .or_else(|| oauth.settings.metadata_text("client_metadata_url"))
    {
        request = request.with_client_metadata_url(url);
    }
    let session = AuthorizationSession::new(manager, request)
        .await
        .map_err(|(_, error)| auth_error_text(&error))?;
    let url = session.get_authorization_url().to_string();
    check_endpoint("the authorization URL", &url)?;
    let state = reqwest::Url::parse(&url)
        .ok()
        .and_then(|url| {
            url.query_pairs()
                .find(|(key, _)| key == "state")
                .map(|(_, value)| value.into_owned())
        })
        .ok_or_else(|| "the authorization URL has no state".to_string())?;

    Ok((session, url, state))
}

/// The `WWW-Authenticate` challenge of an unauthenticated (or, with
/// `token`, an under-scoped) request: a POST of `initialize` for streamable
/// HTTP, a GET of the stream for SSE.
pub(super) async fn probe_challenge(url: &str, sse: bool, token: Option<&str>) -> Option<String> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .ok()?;
    let mut request = if sse {
        client
            .get(url)
            .header(http::header::ACCEPT, "text/event-stream")
    } else {
        client
            .post(url)
            .header(http::header::ACCEPT, "application/json, text/event-stream")
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(
                serde_json::json!({"jsonrpc": "2.0", "id": 0, "method": "initialize",
                    "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                               "clientInfo": {"name": "mcpo-gen", "version": env!("CARGO_PKG_VERSION")}}})
                .to_string(),
            )
    };
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.ok()?;
    let status = response.status();
    if status != reqwest::StatusCode::UNAUTHORIZED && status != reqwest::StatusCode::FORBIDDEN {
        return None;
    }
    response
        .headers()
        .get(http::header::WWW_AUTHENTICATE)
        .and_then(|value| value.to_str().ok())
        .map(str::to_string)
}
