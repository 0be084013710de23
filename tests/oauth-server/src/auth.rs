//! The authorization server: metadata (RFC 8414), dynamic client
//! registration (RFC 7591), `/authorize` (auto-approved, PKCE S256 and
//! `resource` required), `/token` (authorization_code and refresh_token
//! grants, refresh tokens rotated), and the admin endpoints tests drive it
//! with. Everything lives in memory and dies with the process.

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{
    Form, Json,
    extract::{Query, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
};
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::Digest as _;

use crate::event;

/// What the server is, fixed at startup.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `http://127.0.0.1:PORT`: issuer, and base of every endpoint.
    pub issuer: String,
    /// The protected resource, `{issuer}/mcp`: the only audience `/mcp` takes.
    pub resource: String,
    pub token_lifetime: Duration,
    pub subject: String,
    pub scopes: Vec<String>,
    pub registration: bool,
    /// A scope granted only when asked for (neither in the 401's `scope`
    /// nor granted by default), which the `write` tool needs: calling it
    /// without answers 403 `insufficient_scope` (step-up).
    pub step_up_scope: Option<String>,
    /// Fields of the authorization server metadata advertised as given
    /// (`authorization_endpoint` = `javascript:...`, say), for clients'
    /// endpoint checks; the real endpoints keep working.
    pub advertise: Vec<(String, String)>,
    /// A `padding` field of this many bytes in the authorization server
    /// metadata (an oversized document).
    pub metadata_padding: usize,
}

#[derive(Debug, Clone)]
struct Client {
    secret: Option<String>,
    /// Empty for a pre-registered client: any loopback redirect is taken.
    redirect_uris: Vec<String>,
}

#[derive(Debug, Clone)]
struct CodeGrant {
    client_id: String,
    redirect_uri: String,
    challenge: String,
    resource: String,
    scope: String,
    expires: Instant,
}

/// What a valid access token stands for; `/mcp` hands it to the tools.
#[derive(Debug, Clone)]
pub struct Claims {
    pub subject: String,
    pub client_id: String,
    pub scope: String,
    /// The audience: the resource the token was issued for.
    pub resource: String,
    pub expires: Instant,
}

#[derive(Debug, Clone)]
struct RefreshGrant {
    client_id: String,
    scope: String,
    resource: String,
}

#[derive(Default)]
struct Store {
    clients: HashMap<String, Client>,
    codes: HashMap<String, CodeGrant>,
    access: HashMap<String, Claims>,
    refresh: HashMap<String, RefreshGrant>,
    /// Every token ever issued, access and refresh: `GET /admin/tokens`, so a
    /// test can check none of them leaked into its outputs.
    issued: Vec<String>,
    /// Counts per grant type, for `GET /admin/tokens`.
    grants: HashMap<String, u64>,
    revoked: HashSet<String>,
}

pub struct Authority {
    pub settings: Settings,
    store: Mutex<Store>,
}

/// An OAuth error answer: `{"error", "error_description"}` with a status.
#[derive(Debug, PartialEq)]
pub struct OAuthError {
    pub status: StatusCode,
    pub error: &'static str,
    pub description: String,
}

impl OAuthError {
    fn new(status: StatusCode, error: &'static str, description: impl Into<String>) -> Self {
        Self {
            status,
            error,
            description: description.into(),
        }
    }

    fn bad(error: &'static str, description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, error, description)
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        event(&format!("refused: {} ({})", self.error, self.description));
        (
            self.status,
            [(header::CACHE_CONTROL, "no-store")],
            Json(json!({"error": self.error, "error_description": self.description})),
        )
            .into_response()
    }
}

fn random_token(prefix: &str) -> String {
    let bytes: [u8; 24] = rand::random();
    format!(
        "{prefix}_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// PKCE S256: BASE64URL(SHA256(verifier)) == challenge.
pub fn pkce_matches(verifier: &str, challenge: &str) -> bool {
    let digest = sha2::Sha256::digest(verifier.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest) == challenge
}

/// Whether `uri` is a loopback `http` URI (RFC 8252 7.3).
fn is_loopback(uri: &str) -> bool {
    let Some(rest) = uri.strip_prefix("http://") else {
        return false;
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = match host.rsplit_once(':') {
        Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) => host,
        _ => host,
    };
    matches!(host, "127.0.0.1" | "localhost" | "[::1]")
}

/// `uri` without the port of its authority, for the loopback comparison.
fn without_port(uri: &str) -> String {
    let Some(rest) = uri.strip_prefix("http://") else {
        return uri.to_string();
    };
    let split = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(split);
    let host = match authority.rsplit_once(':') {
        Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) => host,
        _ => authority,
    };
    format!("http://{host}{path}")
}

/// A redirect URI matches a registered one exactly, or, for loopback URIs,
/// on everything but the port (RFC 8252 7.3: the port is picked at run time).
/// A pre-registered client (no registered URIs) takes any loopback URI.
fn redirect_allowed(registered: &[String], uri: &str) -> bool {
    if registered.is_empty() {
        return is_loopback(uri);
    }
    registered.iter().any(|allowed| {
        allowed == uri || (is_loopback(uri) && without_port(allowed) == without_port(uri))
    })
}

fn scope_text(scopes: &[String]) -> String {
    scopes.join(" ")
}

#[derive(Debug, Deserialize)]
pub struct AuthorizeParams {
    pub response_type: Option<String>,
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub state: Option<String>,
    pub resource: Option<String>,
    pub scope: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct TokenParams {
    pub grant_type: Option<String>,
    pub code: Option<String>,
    pub redirect_uri: Option<String>,
    pub code_verifier: Option<String>,
    pub refresh_token: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub resource: Option<String>,
}

impl Authority {
    pub fn new(settings: Settings) -> Self {
        Self {
            settings,
            store: Mutex::default(),
        }
    }

    fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        self.store
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    pub fn preregister(&self, id: &str, secret: Option<&str>) {
        self.store().clients.insert(
            id.to_string(),
            Client {
                secret: secret.map(str::to_string),
                redirect_uris: Vec::new(),
            },
        );
    }

    pub fn metadata(&self) -> Value {
        let issuer = &self.settings.issuer;
        let mut metadata = json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{issuer}/authorize"),
            "token_endpoint": format!("{issuer}/token"),
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["none", "client_secret_post", "client_secret_basic"],
            "scopes_supported": self.settings.scopes,
        });
        if self.settings.registration {
            metadata["registration_endpoint"] = json!(format!("{issuer}/register"));
        }
        for (field, value) in &self.settings.advertise {
            metadata[field] = json!(value);
        }
        if self.settings.metadata_padding > 0 {
            metadata["padding"] = json!("x".repeat(self.settings.metadata_padding));
        }
        metadata
    }

    /// RFC 9728 metadata of `/mcp`.
    pub fn resource_metadata(&self) -> Value {
        json!({
            "resource": self.settings.resource,
            "authorization_servers": [self.settings.issuer],
            "scopes_supported": self.settings.scopes,
            "bearer_methods_supported": ["header"],
        })
    }

    /// RFC 7591: registers a client; confidential when it asks for a
    /// `client_secret_*` token endpoint auth method.
    pub fn register(&self, request: &Value) -> Result<Value, OAuthError> {
        let redirect_uris: Vec<String> = request
            .get("redirect_uris")
            .and_then(Value::as_array)
            .map(|uris| {
                uris.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        if redirect_uris.is_empty() {
            return Err(OAuthError::bad(
                "invalid_redirect_uri",
                "redirect_uris is required",
            ));
        }
        let method = request
            .get("token_endpoint_auth_method")
            .and_then(Value::as_str)
            .unwrap_or("client_secret_basic")
            .to_string();
        let secret = match method.as_str() {
            "none" => None,
            "client_secret_basic" | "client_secret_post" => Some(random_token("secret")),
            other => {
                return Err(OAuthError::bad(
                    "invalid_client_metadata",
                    format!("unsupported token_endpoint_auth_method {other}"),
                ));
            }
        };
        let id = random_token("client");
        let mut answer = request.clone();
        answer["client_id"] = json!(id);
        answer["client_id_issued_at"] = json!(0);
        answer["redirect_uris"] = json!(redirect_uris);
        answer["token_endpoint_auth_method"] = json!(method);
        answer["grant_types"] = json!(["authorization_code", "refresh_token"]);
        answer["response_types"] = json!(["code"]);
        if let Some(secret) = &secret {
            answer["client_secret"] = json!(secret);
            answer["client_secret_expires_at"] = json!(0);
            self.store().issued.push(secret.clone());
        }
        self.store().clients.insert(
            id.clone(),
            Client {
                secret,
                redirect_uris,
            },
        );
        event(&format!("registered client {id} ({method})"));
        Ok(answer)
    }

    /// Auto-approves a valid request: the URL to redirect to, with code+state.
    pub fn authorize(&self, params: &AuthorizeParams) -> Result<String, OAuthError> {
        let client_id = params
            .client_id
            .as_deref()
            .ok_or_else(|| OAuthError::bad("invalid_request", "client_id is required"))?;
        let client = self
            .store()
            .clients
            .get(client_id)
            .cloned()
            .ok_or_else(|| OAuthError::bad("invalid_client", "unknown client_id"))?;
        let redirect_uri = params
            .redirect_uri
            .as_deref()
            .ok_or_else(|| OAuthError::bad("invalid_request", "redirect_uri is required"))?;
        if !redirect_allowed(&client.redirect_uris, redirect_uri) {
            return Err(OAuthError::bad(
                "invalid_request",
                "redirect_uri is not registered",
            ));
        }
        if params.response_type.as_deref() != Some("code") {
            return Err(OAuthError::bad(
                "unsupported_response_type",
                "response_type must be code",
            ));
        }
        let challenge = params
            .code_challenge
            .as_deref()
            .filter(|challenge| !challenge.is_empty())
            .ok_or_else(|| OAuthError::bad("invalid_request", "code_challenge is required"))?;
        if params.code_challenge_method.as_deref() != Some("S256") {
            return Err(OAuthError::bad(
                "invalid_request",
                "code_challenge_method must be S256",
            ));
        }
        let resource = params
            .resource
            .as_deref()
            .ok_or_else(|| OAuthError::bad("invalid_target", "resource is required"))?;
        if !resource.starts_with("http://") && !resource.starts_with("https://") {
            return Err(OAuthError::bad(
                "invalid_target",
                "resource must be an absolute URI",
            ));
        }
        let scope = self.granted_scope(params.scope.as_deref())?;
        let code = random_token("code");
        self.store().codes.insert(
            code.clone(),
            CodeGrant {
                client_id: client_id.to_string(),
                redirect_uri: redirect_uri.to_string(),
                challenge: challenge.to_string(),
                resource: resource.to_string(),
                scope,
                expires: Instant::now() + Duration::from_secs(60),
            },
        );
        let mut location = redirect_uri.to_string();
        location.push(if location.contains('?') { '&' } else { '?' });
        location.push_str(&format!("code={}", encode(&code)));
        if let Some(state) = &params.state {
            location.push_str(&format!("&state={}", encode(state)));
        }
        event(&format!("authorized client {client_id}"));
        Ok(location)
    }

    /// The requested scopes, each of which must be supported; all supported
    /// scopes when none is requested.
    fn granted_scope(&self, requested: Option<&str>) -> Result<String, OAuthError> {
        let Some(requested) = requested.filter(|scope| !scope.trim().is_empty()) else {
            return Ok(scope_text(&self.settings.scopes));
        };
        for scope in requested.split_whitespace() {
            if !self.settings.scopes.iter().any(|known| known == scope)
                && self.settings.step_up_scope.as_deref() != Some(scope)
            {
                return Err(OAuthError::bad(
                    "invalid_scope",
                    format!("unknown scope {scope}"),
                ));
            }
        }
        Ok(requested.split_whitespace().collect::<Vec<_>>().join(" "))
    }

    /// Client authentication at `/token`: HTTP Basic, or `client_id` (+
    /// `client_secret`) in the form. Returns the client id.
    fn authenticate(
        &self,
        headers: &HeaderMap,
        params: &TokenParams,
    ) -> Result<String, OAuthError> {
        let basic = headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Basic "))
            .and_then(|encoded| {
                base64::engine::general_purpose::STANDARD
                    .decode(encoded.trim())
                    .ok()
            })
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .and_then(|pair| {
                pair.split_once(':')
                    .map(|(id, secret)| (decode(id), Some(decode(secret))))
            });
        let (id, secret) = match basic {
            Some(pair) => pair,
            None => (
                params
                    .client_id
                    .clone()
                    .ok_or_else(|| OAuthError::bad("invalid_client", "no client authentication"))?,
                params.client_secret.clone(),
            ),
        };
        let unauthorized = || {
            OAuthError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "client authentication failed",
            )
        };
        let client = self
            .store()
            .clients
            .get(&id)
            .cloned()
            .ok_or_else(unauthorized)?;
        match (&client.secret, &secret) {
            (None, _) => Ok(id),
            (Some(expected), Some(given)) if expected == given => Ok(id),
            _ => Err(unauthorized()),
        }
    }

    /// `/token`: the token response (with a rotated refresh token).
    pub fn token(&self, headers: &HeaderMap, params: &TokenParams) -> Result<Value, OAuthError> {
        let client_id = self.authenticate(headers, params)?;
        let grant_type = params.grant_type.as_deref().unwrap_or("");
        let (scope, resource) = match grant_type {
            "authorization_code" => {
                let code = params
                    .code
                    .as_deref()
                    .ok_or_else(|| OAuthError::bad("invalid_request", "code is required"))?;
                // Single use: removed whether or not the rest checks out.
                let grant = self
                    .store()
                    .codes
                    .remove(code)
                    .filter(|grant| grant.expires > Instant::now())
                    .ok_or_else(|| OAuthError::bad("invalid_grant", "unknown or expired code"))?;
                if grant.client_id != client_id {
                    return Err(OAuthError::bad("invalid_grant", "code of another client"));
                }
                if params.redirect_uri.as_deref() != Some(grant.redirect_uri.as_str()) {
                    return Err(OAuthError::bad("invalid_grant", "redirect_uri mismatch"));
                }
                let verifier = params.code_verifier.as_deref().ok_or_else(|| {
                    OAuthError::bad("invalid_request", "code_verifier is required")
                })?;
                if !pkce_matches(verifier, &grant.challenge) {
                    return Err(OAuthError::bad("invalid_grant", "PKCE verification failed"));
                }
                same_resource(params, &grant.resource, "the authorization request")?;
                (grant.scope, grant.resource)
            }
            "refresh_token" => {
                let token = params.refresh_token.as_deref().ok_or_else(|| {
                    OAuthError::bad("invalid_request", "refresh_token is required")
                })?;
                let mut store = self.store();
                if store.revoked.contains(token) {
                    drop(store);
                    return Err(OAuthError::bad("invalid_grant", "refresh token revoked"));
                }
                let grant = store
                    .refresh
                    .remove(token)
                    .ok_or_else(|| OAuthError::bad("invalid_grant", "unknown refresh token"))?;
                drop(store);
                if grant.client_id != client_id {
                    return Err(OAuthError::bad(
                        "invalid_grant",
                        "refresh token of another client",
                    ));
                }
                same_resource(params, &grant.resource, "the original grant")?;
                (grant.scope, grant.resource)
            }
            other => {
                return Err(OAuthError::bad(
                    "unsupported_grant_type",
                    format!("grant_type {other:?}"),
                ));
            }
        };
        let access = random_token("at");
        let refresh = random_token("rt");
        let lifetime = self.settings.token_lifetime;
        let mut store = self.store();
        store.access.insert(
            access.clone(),
            self.claims(&client_id, scope.clone(), resource.clone()),
        );
        store.refresh.insert(
            refresh.clone(),
            RefreshGrant {
                client_id: client_id.clone(),
                scope: scope.clone(),
                resource,
            },
        );
        store.issued.push(access.clone());
        store.issued.push(refresh.clone());
        *store.grants.entry(grant_type.to_string()).or_default() += 1;
        drop(store);
        event(&format!("token issued ({grant_type}) to {client_id}"));
        Ok(json!({
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": lifetime.as_secs(),
            "refresh_token": refresh,
            "scope": scope,
        }))
    }

    /// What an access token issued now to `client_id` stands for.
    fn claims(&self, client_id: &str, scope: String, resource: String) -> Claims {
        Claims {
            subject: self.settings.subject.clone(),
            client_id: client_id.to_string(),
            scope,
            resource,
            expires: Instant::now() + self.settings.token_lifetime,
        }
    }

    /// What `/mcp` checks: the token is known, unexpired, and for this resource.
    pub fn verify(&self, token: &str) -> Result<Claims, &'static str> {
        let claims = self
            .store()
            .access
            .get(token)
            .cloned()
            .ok_or("unknown or revoked token")?;
        if claims.expires <= Instant::now() {
            return Err("token expired");
        }
        if claims.resource != self.settings.resource {
            return Err("token issued for another resource");
        }
        Ok(claims)
    }

    /// `POST /admin/revoke`: every refresh token and every access token
    /// issued so far stops working (the next call gets 401, the refresh that
    /// follows `invalid_grant`); new authorizations work again.
    pub fn revoke_all(&self) -> usize {
        let mut store = self.store();
        let refresh: Vec<String> = store.refresh.drain().map(|(token, _)| token).collect();
        let count = refresh.len() + store.access.len();
        store.revoked.extend(refresh);
        store.access.clear();
        drop(store);
        event(&format!("revoked {count} token(s)"));
        count
    }

    /// `GET /admin/tokens`: every secret issued (tokens, client secrets) and
    /// the grant counts.
    pub fn issued(&self) -> Value {
        let store = self.store();
        json!({"issued": store.issued, "grants": store.grants})
    }

    /// `POST /admin/mint?resource=URI`: an access token for any audience,
    /// for tests that present a token meant for another resource.
    pub fn mint(&self, resource: &str) -> String {
        let token = random_token("at");
        let mut store = self.store();
        store.access.insert(
            token.clone(),
            self.claims(
                "admin",
                scope_text(&self.settings.scopes),
                resource.to_string(),
            ),
        );
        store.issued.push(token.clone());
        token
    }
}

/// A `resource` sent at `/token` must be the one granted (RFC 8707), which
/// `granted_by` names in the refusal.
fn same_resource(params: &TokenParams, granted: &str, granted_by: &str) -> Result<(), OAuthError> {
    match &params.resource {
        Some(resource) if resource != granted => Err(OAuthError::bad(
            "invalid_target",
            format!("resource differs from {granted_by}"),
        )),
        _ => Ok(()),
    }
}

/// Percent-encodes a query value (unreserved characters kept).
fn encode(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Decodes `%XX` and `+` (form encoding of Basic credentials, RFC 6749 2.3.1).
fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'+' => out.push(b' '),
            b'%' if index + 2 < bytes.len() => {
                match std::str::from_utf8(&bytes[index + 1..index + 3])
                    .ok()
                    .and_then(|hex| u8::from_str_radix(hex, 16).ok())
                {
                    Some(byte) => {
                        out.push(byte);
                        index += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            byte => out.push(byte),
        }
        index += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

// --- HTTP handlers -------------------------------------------------------

pub type Shared = Arc<Authority>;

pub async fn metadata_handler(State(authority): State<Shared>) -> Json<Value> {
    Json(authority.metadata())
}

pub async fn resource_metadata_handler(State(authority): State<Shared>) -> Json<Value> {
    Json(authority.resource_metadata())
}

pub async fn register_handler(
    State(authority): State<Shared>,
    Json(request): Json<Value>,
) -> Response {
    if !authority.settings.registration {
        return StatusCode::NOT_FOUND.into_response();
    }
    match authority.register(&request) {
        Ok(answer) => (StatusCode::CREATED, Json(answer)).into_response(),
        Err(error) => error.into_response(),
    }
}

pub async fn authorize_handler(
    State(authority): State<Shared>,
    Query(params): Query<AuthorizeParams>,
) -> Response {
    match authority.authorize(&params) {
        Ok(location) => Redirect::to(&location).into_response(),
        Err(error) => error.into_response(),
    }
}

pub async fn token_handler(
    State(authority): State<Shared>,
    headers: HeaderMap,
    Form(params): Form<TokenParams>,
) -> Response {
    match authority.token(&headers, &params) {
        Ok(answer) => (
            [
                (header::CACHE_CONTROL, "no-store"),
                (header::PRAGMA, "no-cache"),
            ],
            Json(answer),
        )
            .into_response(),
        Err(error) => error.into_response(),
    }
}

pub async fn revoke_handler(State(authority): State<Shared>) -> Json<Value> {
    Json(json!({"revoked": authority.revoke_all()}))
}

pub async fn issued_handler(State(authority): State<Shared>) -> Json<Value> {
    Json(authority.issued())
}

#[derive(Deserialize)]
pub struct MintParams {
    resource: String,
}

pub async fn mint_handler(
    State(authority): State<Shared>,
    Query(params): Query<MintParams>,
) -> Json<Value> {
    Json(json!({"access_token": authority.mint(&params.resource)}))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn authority() -> Authority {
        Authority::new(Settings {
            issuer: "http://127.0.0.1:9".into(),
            resource: "http://127.0.0.1:9/mcp".into(),
            token_lifetime: Duration::from_secs(60),
            subject: "alice".into(),
            scopes: vec!["mcp:tools".into(), "mcp:admin".into()],
            registration: true,
            step_up_scope: None,
            advertise: Vec::new(),
            metadata_padding: 0,
        })
    }

    /// RFC 7636 appendix B.
    #[test]
    fn pkce_s256_matches_the_rfc_example() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(pkce_matches(verifier, challenge));
        assert!(!pkce_matches("another verifier", challenge));
    }

    #[test]
    fn loopback_redirects_match_on_any_port() {
        let registered = vec!["http://127.0.0.1:3030/callback".to_string()];
        assert!(redirect_allowed(
            &registered,
            "http://127.0.0.1:3030/callback"
        ));
        assert!(redirect_allowed(
            &registered,
            "http://127.0.0.1:41234/callback"
        ));
        assert!(!redirect_allowed(
            &registered,
            "http://127.0.0.1:3030/other"
        ));
        assert!(!redirect_allowed(
            &registered,
            "http://evil.example/callback"
        ));
        assert!(redirect_allowed(&[], "http://localhost:1/cb"));
        assert!(!redirect_allowed(&[], "https://example.com/cb"));
    }

    #[test]
    fn decodes_form_credentials() {
        assert_eq!(decode("a%3Ab+c"), "a:b c");
        assert_eq!(decode("100%"), "100%");
        assert_eq!(encode("a b&c"), "a%20b%26c");
    }

    fn params(client_id: &str, challenge: &str, resource: Option<&str>) -> AuthorizeParams {
        AuthorizeParams {
            response_type: Some("code".into()),
            client_id: Some(client_id.into()),
            redirect_uri: Some("http://127.0.0.1:5555/callback".into()),
            code_challenge: Some(challenge.into()),
            code_challenge_method: Some("S256".into()),
            state: Some("st ate".into()),
            resource: resource.map(str::to_string),
            scope: None,
        }
    }

    fn code_of(location: &str) -> String {
        let query = location.split_once('?').unwrap().1;
        let code = query
            .split('&')
            .find_map(|pair| pair.strip_prefix("code="))
            .unwrap();
        decode(code)
    }

    #[test]
    fn full_flow_refresh_rotation_and_revocation() {
        let authority = authority();
        let client = authority
            .register(&json!({"redirect_uris": ["http://127.0.0.1/callback"], "token_endpoint_auth_method": "none"}))
            .unwrap();
        let client_id = client["client_id"].as_str().unwrap().to_string();
        assert!(client.get("client_secret").is_none());
        let verifier = "a-verifier-of-enough-length-0123456789-abcdefghijk";
        let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(sha2::Sha256::digest(verifier.as_bytes()));

        // PKCE and resource are required.
        let error = authority
            .authorize(&AuthorizeParams {
                code_challenge: None,
                ..params(&client_id, &challenge, Some("http://127.0.0.1:9/mcp"))
            })
            .unwrap_err();
        assert_eq!(error.error, "invalid_request");
        let error = authority
            .authorize(&params(&client_id, &challenge, None))
            .unwrap_err();
        assert_eq!(error.error, "invalid_target");

        // An authorization for /mcp; its redirect location.
        let authorize = || {
            authority
                .authorize(&params(
                    &client_id,
                    &challenge,
                    Some("http://127.0.0.1:9/mcp"),
                ))
                .unwrap()
        };
        let location = authorize();
        assert!(location.starts_with("http://127.0.0.1:5555/callback?code="));
        assert!(location.ends_with("&state=st%20ate"));
        let headers = HeaderMap::new();
        let exchange = |verifier: &str, code: String| TokenParams {
            grant_type: Some("authorization_code".into()),
            code: Some(code),
            redirect_uri: Some("http://127.0.0.1:5555/callback".into()),
            code_verifier: Some(verifier.into()),
            client_id: Some(client_id.clone()),
            ..TokenParams::default()
        };
        // A wrong verifier fails, and burns the code.
        let code = code_of(&location);
        let error = authority
            .token(&headers, &exchange("wrong", code.clone()))
            .unwrap_err();
        assert_eq!(error.error, "invalid_grant");
        assert!(
            authority
                .token(&headers, &exchange(verifier, code))
                .is_err()
        );

        let location = authorize();
        let tokens = authority
            .token(&headers, &exchange(verifier, code_of(&location)))
            .unwrap();
        let access = tokens["access_token"].as_str().unwrap();
        let refresh = tokens["refresh_token"].as_str().unwrap().to_string();
        let claims = authority.verify(access).unwrap();
        assert_eq!(claims.subject, "alice");
        assert_eq!(claims.scope, "mcp:tools mcp:admin");

        let refresh_with = |token: &str| TokenParams {
            grant_type: Some("refresh_token".into()),
            refresh_token: Some(token.into()),
            client_id: Some(client_id.clone()),
            ..TokenParams::default()
        };
        let renewed = authority.token(&headers, &refresh_with(&refresh)).unwrap();
        assert_ne!(renewed["refresh_token"], json!(refresh));
        // Rotated: the old refresh token is spent.
        assert!(authority.token(&headers, &refresh_with(&refresh)).is_err());
        let renewed_refresh = renewed["refresh_token"].as_str().unwrap();
        assert!(
            authority
                .verify(renewed["access_token"].as_str().unwrap())
                .is_ok()
        );

        authority.revoke_all();
        assert!(
            authority
                .verify(renewed["access_token"].as_str().unwrap())
                .is_err()
        );
        let error = authority
            .token(&headers, &refresh_with(renewed_refresh))
            .unwrap_err();
        assert_eq!(error.description, "refresh token revoked");
        let issued = authority.issued();
        assert_eq!(issued["grants"]["authorization_code"], 1);
        assert_eq!(issued["grants"]["refresh_token"], 1);
    }

    #[test]
    fn tokens_for_another_audience_are_refused() {
        let authority = authority();
        let other = authority.mint("http://127.0.0.1:9/other");
        assert_eq!(
            authority.verify(&other).unwrap_err(),
            "token issued for another resource"
        );
        let mine = authority.mint("http://127.0.0.1:9/mcp");
        assert!(authority.verify(&mine).is_ok());
        assert!(authority.verify("at_made_up").is_err());
    }

    #[test]
    fn confidential_clients_must_authenticate() {
        let authority = authority();
        authority.preregister("pre", Some("s3cret"));
        let mut params = TokenParams {
            grant_type: Some("refresh_token".into()),
            refresh_token: Some("x".into()),
            client_id: Some("pre".into()),
            ..TokenParams::default()
        };
        let error = authority.token(&HeaderMap::new(), &params).unwrap_err();
        assert_eq!(error.error, "invalid_client");
        params.client_secret = Some("s3cret".into());
        // Authenticated; the refresh token itself is unknown.
        let error = authority.token(&HeaderMap::new(), &params).unwrap_err();
        assert_eq!(error.error, "invalid_grant");
        let mut headers = HeaderMap::new();
        let basic = base64::engine::general_purpose::STANDARD.encode("pre:s3cret");
        headers.insert(
            header::AUTHORIZATION,
            format!("Basic {basic}").parse().unwrap(),
        );
        let error = authority
            .token(
                &headers,
                &TokenParams {
                    client_id: None,
                    client_secret: None,
                    ..params
                },
            )
            .unwrap_err();
        assert_eq!(error.error, "invalid_grant");
    }
}
