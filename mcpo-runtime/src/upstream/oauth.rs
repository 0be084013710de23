//! OAuth 2.1 for protected HTTP upstreams (streamable HTTP and HTTP+SSE),
//! the one implementation the snapshot, `mcpo-gen login` and every proxy use.
//!
//! rmcp's `auth` feature does the protocol: Protected Resource Metadata
//! (RFC 9728) from the 401's `WWW-Authenticate`, authorization server
//! metadata (RFC 8414 or OIDC discovery), the client (pre-registered id,
//! Client ID Metadata Document where advertised, else dynamic registration,
//! RFC 7591), the authorization code with PKCE S256 and the `resource`
//! indicator (RFC 8707), the token exchange, refresh before expiry and after
//! a 401. This module adds what an unattended proxy needs around it:
//!
//! - `store.rs`: where tokens live ([`token_path`]):
//!   `~/.mcpo/tokens/<key>.json` (`$MCPO_TOKEN_DIR` overrides the folder;
//!   folder 0700, file 0600, written atomically), or a per-process memory
//!   store, or a file a service is pointed at (`--oauth-token-file`); token
//!   folders and files open to others are made private or refused;
//! - `scopes.rs`: the scopes an authorization asks for, and those a 403
//!   `insufficient_scope` asks for, recorded as pending ([`ScopeWatch`]);
//! - `bearer.rs`: [`Access`], a token for each request, refreshed before
//!   expiry and once after a 401; a proxy never authorizes, it reports
//!   [`ConnectError::NeedsAuthorization`](super::ConnectError::NeedsAuthorization)
//!   (`/readyz` says what to run);
//! - `authorize.rs`: the non-interactive steps of an authorization:
//!   [`Authorizer`] (store checked, challenge probed; then discovery, the
//!   endpoint checks, the client and the authorization URL) and
//!   [`Authorization::finish`] (the code exchanged, tokens stored). The
//!   interactive part (printing the URL, opening a browser after Enter, the
//!   loopback listener, the pasted redirect) is mcpo-gen's
//!   (`mcpo_gen::login`): nothing here prompts, reads stdin, listens for a
//!   redirect or starts a browser, and a proxy does not link that part;
//! - here: every endpoint taken from the server's metadata or challenge is
//!   checked before anything is sent to it or opened ([`check_endpoint`]:
//!   https, or http on a loopback host); documents and token files are
//!   capped at 1 MiB ([`MAX_DOCUMENT_BYTES`]).
//!
//! Tokens, codes, verifiers and client secrets are never logged, never in
//! `Debug`/`Display` output, error messages, the lock or any document.

use std::path::PathBuf;

use rmcp::transport::auth::{AuthError, AuthorizationManager};
use serde_json::Value;

pub use crate::lock::{DEFAULT_CALLBACK_PORT, OAuthSettings, StorageType};

mod authorize;
mod bearer;
mod scopes;
mod store;

pub use authorize::{Authorization, Authorizer};
pub use bearer::Access;
pub(crate) use bearer::Prepared;
pub use scopes::ScopeWatch;
use store::{Store, TokenStore};
pub use store::{token_dir, token_key, token_path};

/// Overrides the folder of the token files.
pub const TOKEN_DIR_ENV: &str = "MCPO_TOKEN_DIR";
/// The path of the default redirect URI (`http://127.0.0.1:PORT/callback`),
/// on which `mcpo-gen login` listens.
pub const CALLBACK_PATH: &str = "/callback";
/// The most a token file, or a metadata document or response read during
/// discovery, registration and the token exchange, may hold.
pub const MAX_DOCUMENT_BYTES: u64 = 1024 * 1024;
/// [`MAX_DOCUMENT_BYTES`] as people read it.
const MAX_DOCUMENT_TEXT: &str = "1 MiB";

/// How an upstream is authorized, secrets included; part of a
/// [`super::Target`]. `Debug` shows no secret.
#[derive(Clone, PartialEq, Eq)]
pub struct OAuthTarget {
    /// The non-secret settings (what the lock keeps).
    pub settings: OAuthSettings,
    /// The pre-registered client's secret.
    pub client_secret: Option<String>,
    /// Read and write tokens in this file instead of the token folder.
    pub token_file: Option<PathBuf>,
    /// The server's name in its config, for the `mcpo-gen login` hint.
    pub name: Option<String>,
}

impl std::fmt::Debug for OAuthTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthTarget")
            .field("settings", &self.settings)
            .field("client_secret", &self.client_secret.as_ref().map(|_| "***"))
            .field("token_file", &self.token_file)
            .field("name", &self.name)
            .finish()
    }
}

impl OAuthTarget {
    /// A target with these settings and nothing else.
    pub fn new(settings: OAuthSettings) -> Self {
        OAuthTarget {
            settings,
            client_secret: None,
            token_file: None,
            name: None,
        }
    }

    /// The URL discovery starts from and tokens are kept for.
    pub fn server_url<'a>(&'a self, upstream_url: &'a str) -> &'a str {
        self.settings.server_url.as_deref().unwrap_or(upstream_url)
    }

    /// The command that authorizes this server ahead of time.
    pub fn login_hint(&self, upstream_url: &str) -> String {
        match &self.name {
            Some(name) if !name.is_empty() => format!("mcpo-gen login {name}"),
            _ => format!("mcpo-gen login --url {}", self.server_url(upstream_url)),
        }
    }

    /// Where this server's tokens are kept (`None`: memory).
    pub fn token_location(&self, upstream_url: &str) -> Option<PathBuf> {
        match (&self.token_file, self.settings.storage_type) {
            (Some(file), _) => Some(file.clone()),
            (None, StorageType::File) => Some(token_path(self.server_url(upstream_url))),
            (None, StorageType::Memory) => None,
        }
    }

    fn store(&self, upstream_url: &str) -> TokenStore {
        match self.token_location(upstream_url) {
            Some(path) => TokenStore::File(path),
            None => TokenStore::Memory(token_key(self.server_url(upstream_url))),
        }
    }
}

/// The access token of a token response (oauth2's accessor is a trait
/// method; its serialized form is the RFC 6749 one).
fn access_token_of(response: &rmcp::transport::auth::OAuthTokenResponse) -> Option<String> {
    serde_json::to_value(response)
        .ok()?
        .get("access_token")?
        .as_str()
        .map(str::to_string)
}

/// A manager for `server_url` whose credentials are in `oauth`'s store.
async fn manager(
    upstream_url: &str,
    oauth: &OAuthTarget,
) -> Result<AuthorizationManager, AuthError> {
    let server_url = oauth.server_url(upstream_url);
    // Private addresses allowed: an authorization server inside a company
    // network is common for internal MCP servers.
    let mut manager = AuthorizationManager::new_allowing_private_addresses(server_url).await?;
    manager.set_credential_store(Store {
        store: oauth.store(upstream_url),
        server_url: server_url.to_string(),
        client_secret: oauth.client_secret.clone(),
    });
    Ok(manager)
}

/// Whether `host` is a loopback one: 127.0.0.0/8, ::1 or `localhost`.
/// (`host` as `Url::host_str` gives it: IPv6 in brackets.)
fn is_loopback_host(host: &str) -> bool {
    let bare = host
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .unwrap_or(host);
    match bare.parse::<std::net::IpAddr>() {
        Ok(address) => address.is_loopback(),
        Err(_) => host.trim_end_matches('.').eq_ignore_ascii_case("localhost"),
    }
}

/// `value` as it may be shown: control characters escaped, at most 200
/// characters.
fn shown(value: &str) -> String {
    let escaped: String = value.chars().flat_map(char::escape_debug).collect();
    match escaped.char_indices().nth(200) {
        Some((cut, _)) => format!("\"{}...\"", &escaped[..cut]),
        None => format!("\"{escaped}\""),
    }
}

/// Checks a URL taken from the server's metadata (or its challenge) before
/// anything is sent to it or it is opened: `https`, or `http` on a loopback
/// host (OAuth 2.1 requires TLS elsewhere). The error names `field` and says
/// why.
pub fn check_endpoint(field: &str, value: &str) -> Result<(), String> {
    let refused = |why: String| Err(format!("{field} {} is refused: {why}", shown(value)));
    let url = match reqwest::Url::parse(value.trim()) {
        Ok(url) => url,
        Err(error) => return refused(format!("it is not an absolute URL ({error})")),
    };
    match (url.scheme(), url.host_str().filter(|host| !host.is_empty())) {
        ("https", Some(_)) => Ok(()),
        ("http", Some(host)) if is_loopback_host(host) => Ok(()),
        ("http", Some(_)) => refused(
            "it is plain http on a host that is not a loopback one; OAuth 2.1 requires \
             https (http only on 127.0.0.0/8, ::1 or localhost)"
                .to_string(),
        ),
        ("https" | "http", None) => refused("it names no host".to_string()),
        (scheme, _) => refused(format!(
            "its scheme is {scheme}:, not https (or http on a loopback host)"
        )),
    }
}

/// Checks every endpoint of `metadata` the client sends something to (or
/// opens): the authorization, token and registration endpoints, and the
/// issuer the metadata was fetched from (rmcp checks that the issuer is
/// where the document came from).
fn check_metadata(metadata: &rmcp::transport::auth::AuthorizationMetadata) -> Result<(), String> {
    let field = |name: &str| format!("the authorization server metadata's {name}");
    if let Some(issuer) = &metadata.issuer {
        check_endpoint(&field("issuer"), issuer)?;
    }
    check_endpoint(
        &field("authorization_endpoint"),
        &metadata.authorization_endpoint,
    )?;
    check_endpoint(&field("token_endpoint"), &metadata.token_endpoint)?;
    if let Some(registration) = &metadata.registration_endpoint {
        check_endpoint(&field("registration_endpoint"), registration)?;
    }
    Ok(())
}

/// An rmcp error as it is shown: with its causes, a response over rmcp's
/// body cap (the same [`MAX_DOCUMENT_BYTES`]) said plainly, control
/// characters escaped and at most 1000 characters (a registration error
/// quotes the server's answer).
fn auth_error_text(error: &AuthError) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text = format!("{text}: {cause_text}");
        }
        source = cause.source();
    }
    let text = text.replace(
        &format!("OAuth HTTP response body exceeds {MAX_DOCUMENT_BYTES} bytes"),
        &format!("the response is larger than {MAX_DOCUMENT_TEXT}"),
    );
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            escaped.extend(c.escape_debug());
        } else {
            escaped.push(c);
        }
    }
    match escaped.char_indices().nth(1000) {
        Some((cut, _)) => format!("{}...", &escaped[..cut]),
        None => escaped,
    }
}

/// The redirect URI: `client_metadata.redirect_uris[0]` when given, else
/// `http://127.0.0.1:PORT/callback`.
fn redirect_uri(settings: &OAuthSettings, port: u16) -> String {
    settings
        .client_metadata
        .get("redirect_uris")
        .and_then(Value::as_array)
        .and_then(|uris| uris.first())
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| format!("http://127.0.0.1:{port}{CALLBACK_PATH}"))
}

#[cfg(test)]
mod tests;
