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
//! - where tokens live ([`token_path`]): `~/.mcpo/tokens/<key>.json`
//!   (`$MCPO_TOKEN_DIR` overrides the folder; folder 0700, file 0600,
//!   written atomically), or a per-process memory store, or a file a service
//!   is pointed at (`--oauth-token-file`);
//! - the non-interactive steps of an authorization: [`Authorizer`] (store
//!   checked, challenge probed; then discovery, the endpoint checks, the
//!   client and the authorization URL) and [`Authorization::finish`] (the
//!   code exchanged, tokens stored). The interactive part (printing the URL,
//!   opening a browser after Enter, the loopback listener, the pasted
//!   redirect) is `mcpo-gen`'s (`mcpo_gen::login`): nothing here prompts,
//!   reads stdin, listens for a redirect or starts a browser;
//! - every endpoint taken from the server's metadata or challenge is
//!   checked before anything is sent to it or opened ([`check_endpoint`]:
//!   https, or http on a loopback host); token folders and files open to
//!   others are made private or refused; documents and token files are
//!   capped at 1 MiB ([`MAX_DOCUMENT_BYTES`]);
//! - [`Access`]: a token for each request, refreshed before expiry and once
//!   after a 401; a proxy never authorizes, it reports
//!   [`ConnectError::NeedsAuthorization`] (`/readyz` says what to run).
//!
//! Tokens, codes, verifiers and client secrets are never logged, never in
//! `Debug`/`Display` output, error messages, the lock or any document.

use std::collections::{BTreeSet, HashMap};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex as StdMutex, PoisonError};
use std::time::Duration;

use futures::stream::BoxStream;
use http::{HeaderName, HeaderValue};
use rmcp::model::ClientJsonRpcMessage;
use rmcp::transport::AuthClient;
use rmcp::transport::auth::{
    AuthError, AuthorizationManager, AuthorizationRequest, AuthorizationSession, CredentialStore,
    OAuthClientConfig, StoredCredentials, WWWAuthenticateParams,
};
use rmcp::transport::streamable_http_client::{
    StreamableHttpClient, StreamableHttpError, StreamableHttpPostResponse,
    StreamableHttpResponseLimits,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use sse_stream::{Error as SseError, Sse};
use tokio::sync::Mutex;

use super::ConnectError;
pub use crate::lock::{DEFAULT_CALLBACK_PORT, OAuthSettings, StorageType};

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

/// The token folder: `$MCPO_TOKEN_DIR`, else `~/.mcpo/tokens`.
pub fn token_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os(TOKEN_DIR_ENV).filter(|dir| !dir.is_empty()) {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
    home.join(".mcpo").join("tokens")
}

/// The file name (without `.json`) of a server's tokens: its host and port
/// (characters other than letters, digits, `.` and `-` as `_`), a `-`, and
/// the first 16 hex digits of the sha256 of the server URL exactly as
/// configured, e.g. `mcp.example.com-3f2a...` or `127.0.0.1_8080-...`.
pub fn token_key(server_url: &str) -> String {
    let authority = server_url
        .split_once("://")
        .map(|(_, rest)| rest.split(['/', '?', '#']).next().unwrap_or(""))
        .unwrap_or("");
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    let mut slug: String = authority
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    if slug.is_empty() {
        slug.push_str("server");
    }
    let digest = hex::encode(Sha256::digest(server_url.as_bytes()));
    format!("{slug}-{}", &digest[..16])
}

/// `<token folder>/<key>.json` for a server URL.
pub fn token_path(server_url: &str) -> PathBuf {
    token_dir().join(format!("{}.json", token_key(server_url)))
}

/// What a token file holds. `Debug` shows no secret.
#[derive(Clone, Serialize, Deserialize)]
struct TokenFile {
    /// The server the tokens are for.
    server_url: String,
    /// The pre-registered client's secret, for refreshes by a service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    client_secret: Option<String>,
    /// rmcp's credentials: client id, token response, granted scopes.
    credentials: StoredCredentials,
    /// Scopes the server asked for in a 403 `insufficient_scope` (step-up)
    /// and not granted yet: the next authorization asks for them too.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pending_scopes: Vec<String>,
}

impl std::fmt::Debug for TokenFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenFile")
            .field("server_url", &self.server_url)
            .field("client_secret", &self.client_secret.as_ref().map(|_| "***"))
            .field("credentials", &self.credentials)
            .field("pending_scopes", &self.pending_scopes)
            .finish()
    }
}

/// Tokens of this process's memory stores, by token key.
static MEMORY: LazyLock<StdMutex<HashMap<String, TokenFile>>> =
    LazyLock::new(|| StdMutex::new(HashMap::new()));

/// A credential store for rmcp: a token file or this process's memory.
#[derive(Debug, Clone)]
enum TokenStore {
    File(PathBuf),
    Memory(String),
}

impl TokenStore {
    fn read(&self) -> Result<Option<TokenFile>, AuthError> {
        match self {
            TokenStore::Memory(key) => Ok(MEMORY
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get(key)
                .cloned()),
            TokenStore::File(path) => match self.secure().and_then(|()| read_capped(path)) {
                Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|error| {
                    AuthError::CredentialStoreError(format!(
                        "{} is not a token file: {error}",
                        path.display()
                    ))
                }),
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(error) if error.kind() == std::io::ErrorKind::PermissionDenied => {
                    Err(AuthError::CredentialStoreError(error.to_string()))
                }
                Err(error) => Err(AuthError::CredentialStoreError(format!(
                    "cannot read {}: {error}",
                    path.display()
                ))),
            },
        }
    }

    /// For a token file: its folder (when it is the token folder) and the
    /// file, when they exist, private: open to others and ours, they are
    /// made 0700 / 0600 (and a warning says so); open to others and someone
    /// else's, they are refused (like ssh's StrictModes).
    fn secure(&self) -> std::io::Result<()> {
        let TokenStore::File(path) = self else {
            return Ok(());
        };
        if let Some(dir) = path.parent()
            && dir == token_dir()
        {
            make_private(dir, 0o700)?;
        }
        make_private(path, 0o600)
    }

    fn write(&self, file: &TokenFile) -> Result<(), AuthError> {
        match self {
            TokenStore::Memory(key) => {
                MEMORY
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(key.clone(), file.clone());
                Ok(())
            }
            TokenStore::File(path) => self
                .secure()
                .and_then(|()| write_private(path, file))
                .map_err(|error| {
                    if error.kind() == std::io::ErrorKind::PermissionDenied {
                        AuthError::CredentialStoreError(error.to_string())
                    } else {
                        AuthError::CredentialStoreError(format!(
                            "cannot write {}: {error}",
                            path.display()
                        ))
                    }
                }),
        }
    }

    fn remove(&self) -> Result<(), AuthError> {
        match self {
            TokenStore::Memory(key) => {
                MEMORY
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .remove(key);
                Ok(())
            }
            TokenStore::File(path) => match std::fs::remove_file(path) {
                Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                    Err(AuthError::CredentialStoreError(format!(
                        "cannot remove {}: {error}",
                        path.display()
                    )))
                }
                _ => Ok(()),
            },
        }
    }
}

/// The bytes of a token file, at most [`MAX_DOCUMENT_BYTES`].
fn read_capped(path: &Path) -> std::io::Result<Vec<u8>> {
    crate::files::read_capped(path, MAX_DOCUMENT_BYTES).map_err(|error| {
        if error.kind() == std::io::ErrorKind::InvalidData {
            std::io::Error::other(format!("the token file is larger than {MAX_DOCUMENT_TEXT}"))
        } else {
            error
        }
    })
}

/// Says `text` on stderr, and in the log when there is one (a proxy's).
fn warn(text: &str) {
    if tracing::dispatcher::has_been_set() {
        tracing::warn!("{text}");
    } else {
        eprintln!("warning: {text}");
    }
}

/// `path` (when it exists) not open to group or others: made `mode` when
/// it is the user's own, refused (a `PermissionDenied` error saying why)
/// when it is someone else's.
#[cfg(unix)]
fn make_private(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
    let metadata = match std::fs::metadata(path) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(error),
    };
    let current = metadata.mode() & 0o7777;
    if current & 0o077 == 0 {
        return Ok(());
    }
    let (what, remedy) = if metadata.is_dir() {
        (
            "token folder",
            format!("make it yours and 0700, or set {TOKEN_DIR_ENV} to another folder"),
        )
    } else {
        ("token file", "make it yours and 0600".to_string())
    };
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    if metadata.uid() != me {
        return Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            format!(
                "refusing the {what} {}: it is open to other users (mode {current:04o}) and \
                 owned by uid {}, not by you (uid {me}); {remedy}",
                path.display(),
                metadata.uid()
            ),
        ));
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    warn(&format!(
        "the {what} {} was open to other users (mode {current:04o}); made it {mode:04o}",
        path.display()
    ));
    Ok(())
}

#[cfg(not(unix))]
fn make_private(_path: &Path, _mode: u32) -> std::io::Result<()> {
    Ok(())
}

/// Writes `file` as JSON to `path`, atomically (a temporary file renamed
/// over it), the folder created 0700 and the file 0600.
fn write_private(path: &Path, file: &TokenFile) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !dir.exists() {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(dir)?;
        #[cfg(unix)]
        std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o700))?;
    }
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| "token".into());
    let temporary = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = (|| {
        let mut out = options.open(&temporary)?;
        #[cfg(unix)]
        out.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
        let body = serde_json::to_vec_pretty(file).map_err(std::io::Error::other)?;
        out.write_all(&body)?;
        out.write_all(b"\n")?;
        out.sync_all()?;
        std::fs::rename(&temporary, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written
}

/// rmcp's view of a [`TokenStore`] for one server.
struct Store {
    store: TokenStore,
    server_url: String,
    client_secret: Option<String>,
}

type StoreFuture<'a, T> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, AuthError>> + Send + 'a>>;

// rmcp declares the trait with `async_trait`; these are its desugared forms.
impl CredentialStore for Store {
    fn load<'a, 'b>(&'a self) -> StoreFuture<'b, Option<StoredCredentials>>
    where
        'a: 'b,
    {
        Box::pin(async move { Ok(self.store.read()?.map(|file| file.credentials)) })
    }

    fn save<'a, 'b>(&'a self, credentials: StoredCredentials) -> StoreFuture<'b, ()>
    where
        'a: 'b,
    {
        Box::pin(async move {
            let previous = self.store.read().ok().flatten();
            // A refresh keeps the secret the file was written with.
            let client_secret = self.client_secret.clone().or_else(|| {
                previous
                    .as_ref()
                    .and_then(|file| file.client_secret.clone())
            });
            // Pending scopes last until a grant includes them.
            let pending_scopes = previous
                .map(|file| still_pending(file.pending_scopes, &credentials.granted_scopes))
                .unwrap_or_default();
            self.store.write(&TokenFile {
                server_url: self.server_url.clone(),
                client_secret,
                credentials,
                pending_scopes,
            })
        })
    }

    fn clear<'a, 'b>(&'a self) -> StoreFuture<'b, ()>
    where
        'a: 'b,
    {
        Box::pin(async move { self.store.remove() })
    }
}

/// `pending` without the scopes `granted` now holds.
fn still_pending(pending: Vec<String>, granted: &[String]) -> Vec<String> {
    pending
        .into_iter()
        .filter(|scope| !granted.contains(scope))
        .collect()
}

/// Records `wanted` (the scopes a 403 `insufficient_scope` named) as
/// pending in `store`, for the next authorization (`mcpo-gen login`). Those
/// already granted or already pending are not added again. `Ok(true)` when
/// the store changed; nothing is recorded without stored tokens.
fn record_pending_scopes(store: &TokenStore, wanted: &[String]) -> Result<bool, AuthError> {
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
fn scopes_to_request(
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

/// The streamable-HTTP client under rmcp's [`AuthClient`]: passes every
/// request through, and when the server answers 403 `insufficient_scope`
/// (step-up: this call needs more scope than the token has), records the
/// scopes its challenge names as pending in the token store, so that the
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
    inner: C,
    store: TokenStore,
    server_url: String,
    /// The manager of the [`AuthClient`] above (none for the SSE transport).
    manager: Option<Arc<Mutex<AuthorizationManager>>>,
    /// The redirect URI and a confidential client's secret, for a client
    /// switched to.
    redirect: String,
    client_secret: Option<String>,
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
    async fn follow_new_client(&self) -> Option<String> {
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

    fn note<T, E>(
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

    fn record(&self, challenge: &str, required: Option<&str>) {
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

/// A stored client secret, else the configured one.
fn client_secret(oauth: &OAuthTarget, upstream_url: &str) -> Option<String> {
    oauth.client_secret.clone().or_else(|| {
        oauth
            .store(upstream_url)
            .read()
            .ok()
            .flatten()
            .and_then(|file| file.client_secret)
    })
}

/// Tokens for one upstream, shared by its requests: each gets a current
/// token (refreshed when it is about to expire), and a 401 gets one refresh.
#[derive(Clone)]
pub struct Access {
    manager: Arc<Mutex<AuthorizationManager>>,
    upstream: String,
    hint: String,
    /// Where a 403 `insufficient_scope`'s scopes are recorded.
    scopes: ScopeWatch<()>,
}

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Access")
            .field("upstream", &self.upstream)
            .finish_non_exhaustive()
    }
}

/// A manager loaded with an upstream's stored credentials, before it is
/// handed to a transport.
pub(crate) struct Prepared {
    manager: AuthorizationManager,
    upstream: String,
    hint: String,
    store: TokenStore,
    server_url: String,
    redirect: String,
    client_secret: Option<String>,
}

impl Prepared {
    /// Loads the stored token for `upstream_url`: an error saying which
    /// `mcpo-gen login` to run when there is none (this never authorizes).
    pub(crate) async fn open(
        upstream_url: &str,
        oauth: &OAuthTarget,
    ) -> Result<Prepared, ConnectError> {
        let hint = oauth.login_hint(upstream_url);
        let failed = |reason: String| ConnectError::OAuth {
            upstream: upstream_url.to_string(),
            reason,
        };
        let needs = || ConnectError::NeedsAuthorization {
            upstream: upstream_url.to_string(),
            hint: hint.clone(),
        };
        let mut manager = manager(upstream_url, oauth)
            .await
            .map_err(|error| failed(auth_error_text(&error)))?;
        let store = oauth.store(upstream_url);
        let has_token = store
            .read()
            .map_err(|error| failed(auth_error_text(&error)))?
            .is_some_and(|file| file.credentials.token_response.is_some());
        if !has_token {
            return Err(needs());
        }
        // Discovered here rather than by rmcp's `initialize_from_store`, to
        // check the endpoints a refresh token would go to first.
        let resolution = manager
            .resolve_metadata()
            .await
            .map_err(|error| failed(format!("discovery: {}", auth_error_text(&error))))?;
        check_metadata(&resolution.metadata).map_err(failed)?;
        manager.set_metadata(resolution.metadata);
        match manager.initialize_from_store().await {
            Ok(true) => {}
            Ok(false) => return Err(needs()),
            Err(AuthError::AuthorizationRequired) => return Err(needs()),
            Err(error) => return Err(failed(auth_error_text(&error))),
        }
        // A confidential pre-registered client refreshes with its secret.
        let secret = client_secret(oauth, upstream_url);
        let redirect = redirect_uri(&oauth.settings, oauth.settings.callback_port);
        if let Some(secret) = secret.clone()
            && let Ok((client_id, _)) = manager.get_credentials().await
        {
            let redirect = redirect.clone();
            manager
                .configure_client(
                    OAuthClientConfig::new(client_id, redirect).with_client_secret(secret),
                )
                .map_err(|error| failed(error.to_string()))?;
        }
        Ok(Prepared {
            manager,
            upstream: upstream_url.to_string(),
            hint,
            store: oauth.store(upstream_url),
            server_url: oauth.server_url(upstream_url).to_string(),
            redirect,
            client_secret: secret,
        })
    }
}

impl Prepared {
    /// rmcp's streamable-HTTP client with OAuth: a token on every request,
    /// refreshed before expiry and once after a 401; the scopes of a 403
    /// `insufficient_scope` recorded as pending ([`ScopeWatch`]).
    pub(crate) fn into_auth_client<C>(self, http_client: C) -> AuthClient<ScopeWatch<C>> {
        let watched = ScopeWatch {
            inner: http_client,
            store: self.store,
            server_url: self.server_url,
            manager: None,
            redirect: self.redirect,
            client_secret: self.client_secret,
        };
        let mut client = AuthClient::new(watched, self.manager);
        client.http_client.manager = Some(client.auth_manager.clone());
        client
    }

    /// Tokens for requests made here (the SSE transport).
    pub(crate) fn into_access(self) -> Access {
        Access {
            manager: Arc::new(Mutex::new(self.manager)),
            upstream: self.upstream,
            hint: self.hint,
            scopes: ScopeWatch {
                inner: (),
                store: self.store,
                server_url: self.server_url,
                manager: None,
                redirect: self.redirect,
                client_secret: None,
            },
        }
    }
}

impl Access {
    pub(crate) fn needs(&self) -> ConnectError {
        ConnectError::NeedsAuthorization {
            upstream: self.upstream.clone(),
            hint: self.hint.clone(),
        }
    }

    fn map_error(&self, error: AuthError) -> ConnectError {
        match error {
            AuthError::AuthorizationRequired | AuthError::TokenRefreshRejected(_) => self.needs(),
            other => ConnectError::OAuth {
                upstream: self.upstream.clone(),
                reason: other.to_string(),
            },
        }
    }

    /// After a 403 whose challenge is `insufficient_scope` (step-up): its
    /// scopes recorded as pending for the next `mcpo-gen login`.
    pub(crate) fn note_forbidden(&self, challenge: &str) {
        self.scopes.record(challenge, None);
    }

    /// A current access token, refreshed first when it is about to expire.
    pub async fn token(&self) -> Result<String, ConnectError> {
        let manager = self.manager.lock().await;
        manager
            .get_access_token()
            .await
            .map_err(|error| self.map_error(error))
    }

    /// After a 401 for `rejected`: a refreshed token, or an error when
    /// refreshing cannot help (re-authorization is needed).
    pub async fn refresh(&self, rejected: &str) -> Result<String, ConnectError> {
        let manager = self.manager.lock().await;
        // Another request may have refreshed already.
        if let Ok(current) = manager.get_access_token().await
            && current != rejected
        {
            return Ok(current);
        }
        match manager.refresh_token().await {
            Ok(response) => {
                let fresh = access_token_of(&response).unwrap_or_default();
                if fresh.is_empty() || fresh == rejected {
                    Err(self.needs())
                } else {
                    Ok(fresh)
                }
            }
            Err(error) => {
                tracing::warn!(upstream = %self.upstream, %error, "the OAuth token could not be refreshed");
                Err(self.map_error(error))
            }
        }
    }
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

/// The `WWW-Authenticate` challenge of an unauthenticated (or, with
/// `token`, an under-scoped) request: a POST of `initialize` for streamable
/// HTTP, a GET of the stream for SSE.
async fn probe_challenge(url: &str, sse: bool, token: Option<&str>) -> Option<String> {
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

/// Scopes a challenge asks for (its `scope` parameter).
fn challenge_scopes(challenge: Option<&str>, base: &str) -> Vec<String> {
    let (Some(challenge), Ok(base)) = (challenge, reqwest::Url::parse(base)) else {
        return Vec::new();
    };
    WWWAuthenticateParams::parse(challenge, &base)
        .scope
        .map(|scope| scope.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default()
}

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
    /// `http://127.0.0.1:PORT/callback` ([`CALLBACK_PATH`]).
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
    session: AuthorizationSession,
    url: String,
    state: String,
    store: TokenStore,
    client_secret: Option<String>,
    pending_scopes: Vec<String>,
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
async fn start(
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

#[cfg(test)]
mod tests;
