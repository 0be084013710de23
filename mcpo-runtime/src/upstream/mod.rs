//! The one upstream layer, shared by mcpo-gen's snapshot and the proxies:
//! where an MCP server is ([`Target`]: the lock's launch spec plus secret
//! values), how `--header` values and secret env names are read, and
//! [`connect`]: a stdio server started in its own process group (killed as a
//! group, with its stderr kept for error messages), a streamable-HTTP
//! session or a legacy HTTP+SSE session, handshake included, with the raw
//! `initialize` and `tools/list` results optionally recorded verbatim.
//!
//! Every protocol revision rmcp knows: 2024-11-05 (over stdio or HTTP+SSE)
//! to 2025-11-25 with the `initialize` handshake, and the stateless
//! 2026-07-28 (`server/discover`, per-request `_meta`, no session) over stdio
//! or streamable HTTP; [`Lifecycle`] picks the handshake. An expired
//! streamable-HTTP session (404) is re-initialized by rmcp's transport and
//! the request retried once.
//!
//! A new transport is a new [`Target`] variant and a new arm in
//! [`connect_with`]; both the snapshot and the runtime get it from here.
//! OAuth is not a transport but a setting of the HTTP ones ([`oauth`]).

mod decode;
mod env_names;
mod http_client;
pub mod oauth;
mod process;
mod process_group;
mod raw_wire;
mod reach;
mod reply_guard;
mod sse;
mod stdio;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use rmcp::model::{
    ClientCapabilities, ClientConfig, Implementation, PaginatedRequestParams, ProtocolVersion,
    ServerPeerInfo,
};
use rmcp::service::{Peer, RoleClient, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{ClientLifecycleMode, ClientServiceExt as _};
use serde_json::{Map, Value};

pub use env_names::header_env_var;
pub use oauth::{OAuthSettings, OAuthTarget};
pub use process::{ServerProcess, StderrTail};
pub use sse::{SseTransport, SseTransportError};

use crate::lock::{Upstream, ValueSources};
use http_client::RecordingHttpClient;
use raw_wire::RawWire;

/// Where the server is and the secrets needed to reach it. Secrets live only
/// here: [`Target::upstream`] keeps their names for the lock, and `Debug`
/// shows names only.
#[derive(Clone, PartialEq, Eq)]
pub enum Target {
    /// A command that speaks MCP over its stdin and stdout.
    Stdio {
        /// The program to start.
        command: String,
        /// Its arguments.
        args: Vec<String>,
        /// Env vars added to the inherited environment (values are secrets).
        env: BTreeMap<String, String>,
    },
    /// A streamable-HTTP endpoint.
    StreamableHttp {
        /// The endpoint URL.
        url: String,
        /// Headers sent with every request (values are secrets).
        headers: BTreeMap<String, String>,
        /// OAuth 2.1, when the server is protected by it.
        oauth: Option<Box<OAuthTarget>>,
    },
    /// A legacy (2024-11-05) HTTP+SSE endpoint: a GET stream for server
    /// messages, POSTs to the endpoint it names for client messages.
    Sse {
        /// The SSE endpoint URL.
        url: String,
        /// Headers sent with every request (values are secrets).
        headers: BTreeMap<String, String>,
        /// OAuth 2.1, when the server is protected by it.
        oauth: Option<Box<OAuthTarget>>,
    },
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The lock's launch spec is exactly the target without its values.
        std::fmt::Debug::fmt(&self.upstream(), f)
    }
}

impl Target {
    /// The launch spec recorded in the lock: env and header names, no values.
    pub fn upstream(&self) -> Upstream {
        match self {
            Target::Stdio { command, args, env } => Upstream::Stdio {
                command: command.clone(),
                args: args.clone(),
                env: ValueSources::from_names(env.keys().cloned()),
            },
            Target::StreamableHttp {
                url,
                headers,
                oauth,
            } => Upstream::StreamableHttp {
                url: url.clone(),
                headers: ValueSources::from_names(headers.keys().cloned()),
                oauth: oauth.as_ref().map(|oauth| oauth.settings.clone()),
            },
            Target::Sse {
                url,
                headers,
                oauth,
            } => Upstream::Sse {
                url: url.clone(),
                headers: ValueSources::from_names(headers.keys().cloned()),
                oauth: oauth.as_ref().map(|oauth| oauth.settings.clone()),
            },
        }
    }

    /// A short human description, e.g. `uvx mcp-server-time` or the URL.
    /// Secrets are not shown: values registered with [`crate::redact`]
    /// appear as the `${VAR}` they came from, URL query values as
    /// `[redacted]`.
    pub fn describe(&self) -> String {
        let shown = match self {
            Target::Stdio { .. } => self.upstream().describe(),
            Target::StreamableHttp { url, .. } | Target::Sse { url, .. } => url.clone(),
        };
        let shown = crate::redact::redact(&shown);
        match self {
            Target::Stdio { .. } => shown.into_owned(),
            _ => crate::redact::url_for_display(&shown),
        }
    }

    /// Registers every secret value of this target with [`crate::redact`]:
    /// env and header values, URL query values.
    pub fn register_secrets(&self) {
        use crate::redact::{REDACTED, register, register_url_query};
        match self {
            Target::Stdio { env, .. } => env.values().for_each(|value| register(value, REDACTED)),
            Target::StreamableHttp {
                url,
                headers,
                oauth,
            }
            | Target::Sse {
                url,
                headers,
                oauth,
            } => {
                register_url_query(url);
                for value in headers.values() {
                    register(value, REDACTED);
                    // `Bearer TOKEN`: the token alone shows up too.
                    if let Some((_, token)) = value.split_once(' ') {
                        register(token, REDACTED);
                    }
                }
                if let Some(secret) = oauth
                    .as_ref()
                    .and_then(|oauth| oauth.client_secret.as_ref())
                {
                    register(secret, REDACTED);
                }
            }
        }
    }

    /// The URL and OAuth settings of an upstream protected by OAuth.
    pub fn oauth(&self) -> Option<(&str, &OAuthTarget)> {
        match self {
            Target::StreamableHttp {
                url,
                oauth: Some(oauth),
                ..
            }
            | Target::Sse {
                url,
                oauth: Some(oauth),
                ..
            } => Some((url, oauth)),
            _ => None,
        }
    }

    /// The OAuth settings to change, of an upstream protected by OAuth.
    pub fn oauth_mut(&mut self) -> Option<&mut OAuthTarget> {
        match self {
            Target::StreamableHttp {
                oauth: Some(oauth), ..
            }
            | Target::Sse {
                oauth: Some(oauth), ..
            } => Some(oauth),
            _ => None,
        }
    }

    /// The target a lock's launch spec describes, with secret values read
    /// through `env`: env var `NAME` for a stdio env name, and
    /// `MCPO_HEADER_<NAME>` ([`header_env_var`]) for a header. A name whose
    /// variable is unset is an error. An OAuth upstream's token file is
    /// `MCPO_OAUTH_TOKEN_FILE` when set, and a pre-registered client's
    /// secret `MCPO_OAUTH_CLIENT_SECRET`.
    pub fn from_upstream(
        upstream: &Upstream,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, ConnectError> {
        let from_env = |sources: &ValueSources, env_name: fn(&str) -> String| {
            sources
                .iter()
                .map(|(name, template)| {
                    let value = match template {
                        Some(template) => expand_template(template, env),
                        None => {
                            let var = env_name(name);
                            env(&var).ok_or(var)
                        }
                    };
                    value.map(|value| (name.clone(), value)).map_err(|var| {
                        ConnectError::MissingSecret {
                            name: name.clone(),
                            var,
                        }
                    })
                })
                .collect::<Result<BTreeMap<_, _>, _>>()
        };
        Ok(match upstream {
            Upstream::Stdio { command, args, env } => Target::Stdio {
                command: command.clone(),
                args: args.clone(),
                env: from_env(env, str::to_string)?,
            },
            Upstream::StreamableHttp {
                url,
                headers,
                oauth,
            } => Target::StreamableHttp {
                url: url.clone(),
                headers: from_env(headers, header_env_var)?,
                oauth: oauth_from_env(oauth.as_ref(), env),
            },
            Upstream::Sse {
                url,
                headers,
                oauth,
            } => Target::Sse {
                url: url.clone(),
                headers: from_env(headers, header_env_var)?,
                oauth: oauth_from_env(oauth.as_ref(), env),
            },
        })
    }
}

/// `text` with every `${NAME}` replaced by `env(NAME)`, each value
/// registered as a secret shown as `${NAME}` ([`crate::redact`]); `$`
/// elsewhere stays as written. An unset variable is returned as the error.
pub fn expand_template(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut expanded = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else { break };
        let var = &after[..end];
        expanded.push_str(&rest[..start]);
        if crate::lock::is_variable_name(var) {
            let value = env(var).ok_or_else(|| var.to_string())?;
            crate::redact::register(&value, &format!("${{{var}}}"));
            expanded.push_str(&value);
        } else {
            expanded.push_str(&rest[start..start + 3 + end]);
        }
        rest = &after[end + 1..];
    }
    expanded.push_str(rest);
    Ok(expanded)
}

/// Env var: the token file of an OAuth upstream (a service's).
pub const OAUTH_TOKEN_FILE_ENV: &str = "MCPO_OAUTH_TOKEN_FILE";
/// Env var: a pre-registered OAuth client's secret.
pub const OAUTH_CLIENT_SECRET_ENV: &str = "MCPO_OAUTH_CLIENT_SECRET";

fn oauth_from_env(
    settings: Option<&OAuthSettings>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Option<Box<OAuthTarget>> {
    let mut oauth = OAuthTarget::new(settings?.clone());
    oauth.token_file = env(OAUTH_TOKEN_FILE_ENV)
        .filter(|file| !file.is_empty())
        .map(std::path::PathBuf::from);
    oauth.client_secret = env(OAUTH_CLIENT_SECRET_ENV).filter(|secret| !secret.is_empty());
    Some(Box::new(oauth))
}

/// A `--header` value that could not be used. Messages name the header but
/// never repeat its value (it is usually a secret).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// Neither `Name: value` nor a JSON object of strings.
    #[error(
        "--header #{position}: expected `Name: value` or a JSON object of header names to string values"
    )]
    Malformed {
        /// 1-based position among the `--header` values.
        position: usize,
    },
    /// A JSON object entry whose value is not a string.
    #[error("--header #{position}: the value of {name:?} must be a string")]
    NotAString {
        /// 1-based position among the `--header` values.
        position: usize,
        /// The header name.
        name: String,
    },
    /// Not a valid HTTP header name.
    #[error("{name:?} is not a valid HTTP header name")]
    InvalidName {
        /// The header name as given.
        name: String,
    },
    /// A value with characters HTTP does not allow.
    #[error("the value of header {name:?} has characters not allowed in an HTTP header")]
    InvalidValue {
        /// The header name.
        name: String,
    },
}

/// Parses `--header` values: `Name: value` (split at the first `:`) or a JSON
/// object of several (`{"Authorization":"Bearer t"}`). Names and values are
/// checked as HTTP allows them; later entries win.
pub fn parse_headers(raw: &[String]) -> Result<BTreeMap<String, String>, HeaderError> {
    let mut parsed = BTreeMap::new();
    for (index, entry) in raw.iter().enumerate() {
        let position = index + 1;
        let entry = entry.trim();
        if entry.starts_with('{') {
            let object: Map<String, Value> =
                serde_json::from_str(entry).map_err(|_| HeaderError::Malformed { position })?;
            for (name, value) in object {
                let Value::String(value) = value else {
                    return Err(HeaderError::NotAString { position, name });
                };
                check_header(&name, &value)?;
                parsed.insert(name, value);
            }
        } else {
            let Some((name, value)) = entry.split_once(':') else {
                return Err(HeaderError::Malformed { position });
            };
            let (name, value) = (name.trim(), value.trim());
            check_header(name, value)?;
            parsed.insert(name.to_string(), value.to_string());
        }
    }
    Ok(parsed)
}

fn check_header(name: &str, value: &str) -> Result<(), HeaderError> {
    header_pair(name, value).map(drop)
}

fn header_pair(
    name: &str,
    value: &str,
) -> Result<(http::HeaderName, http::HeaderValue), HeaderError> {
    let header_name = http::HeaderName::try_from(name).map_err(|_| HeaderError::InvalidName {
        name: name.to_string(),
    })?;
    let mut header_value =
        http::HeaderValue::try_from(value).map_err(|_| HeaderError::InvalidValue {
            name: name.to_string(),
        })?;
    header_value.set_sensitive(true);
    Ok((header_name, header_value))
}

fn header_map(
    headers: &BTreeMap<String, String>,
) -> Result<HashMap<http::HeaderName, http::HeaderValue>, HeaderError> {
    headers
        .iter()
        .map(|(name, value)| header_pair(name, value))
        .collect()
}

/// How [`connect`] behaves.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// `clientInfo` sent in `initialize`.
    pub client_name: String,
    /// `clientInfo.version` sent in `initialize`.
    pub client_version: String,
    /// Copy a stdio server's stderr to ours as it comes (it is always kept
    /// for error messages).
    pub echo_stderr: bool,
    /// Record the raw `initialize` and `tools/list` results (for the lock).
    pub record_raw: bool,
    /// The protocol revision to speak (a proxy keeps to the one its lock
    /// recorded): one with a handshake is offered in `initialize`, the
    /// stateless 2026-07-28 is asked for with `server/discover`. `None` (a
    /// snapshot) or an unknown one: `initialize` with the newest revision that
    /// has a handshake, then `server/discover` if the server refuses it.
    pub offer_protocol: Option<String>,
}

/// How a session starts: the classic `initialize` handshake offering a
/// revision, or (revision 2026-07-28 and later, stateless) `server/discover`
/// and per-request `_meta`, with no handshake and no session.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Lifecycle {
    /// `initialize` offering this revision. `stateless_fallback`: when the
    /// server refuses it, try [`Lifecycle::Discover`] with the newest
    /// stateless revision (a server that speaks only that one refuses
    /// `initialize`).
    Initialize {
        offer: ProtocolVersion,
        stateless_fallback: bool,
    },
    /// `server/discover` asking for exactly this revision.
    Discover(ProtocolVersion),
}

impl Lifecycle {
    /// A locked revision is kept to: one with a handshake is offered in
    /// `initialize`, a stateless one is asked for in `server/discover`. With
    /// none (a snapshot) or an unknown one, `initialize` offers the newest
    /// revision with a handshake and falls back to the stateless one.
    ///
    /// Why `initialize` first, although the 2026-07-28 spec suggests a
    /// dual-era client probe with a modern request: almost every server
    /// today is legacy, some of them never answer an unknown method (the
    /// probe then costs a timeout, 10 s in rmcp), and the conformance
    /// suite's legacy scenarios expect `initialize` to be the first request.
    /// A modern-only server refuses `initialize` (a JSON-RPC error, on HTTP
    /// often with a 400), which costs one round trip.
    fn for_offer(wanted: Option<&str>) -> Lifecycle {
        let known = ProtocolVersion::KNOWN_VERSIONS
            .iter()
            .find(|known| Some(known.as_str()) == wanted);
        match known {
            Some(version) if version.has_initialize() => Lifecycle::Initialize {
                offer: version.clone(),
                stateless_fallback: false,
            },
            Some(version) => Lifecycle::Discover(version.clone()),
            None => Lifecycle::Initialize {
                offer: ProtocolVersion::LATEST_WITH_INITIALIZE,
                stateless_fallback: true,
            },
        }
    }

    fn mode(&self) -> ClientLifecycleMode {
        match self {
            Lifecycle::Initialize { .. } => ClientLifecycleMode::Initialize,
            Lifecycle::Discover(version) => ClientLifecycleMode::Discover {
                preferred_versions: vec![version.clone()],
            },
        }
    }

    /// The revision put in the client's `initialize` params (unused by
    /// `server/discover`, which sends its revision in `_meta`).
    fn offer(&self) -> ProtocolVersion {
        match self {
            Lifecycle::Initialize { offer, .. } => offer.clone(),
            Lifecycle::Discover(_) => ProtocolVersion::LATEST_WITH_INITIALIZE,
        }
    }
}

/// The newest revision without a handshake that rmcp speaks.
fn newest_stateless() -> ProtocolVersion {
    ProtocolVersion::KNOWN_VERSIONS
        .iter()
        .filter(|version| !version.has_initialize())
        .max_by(|a, b| a.as_str().cmp(b.as_str()))
        .cloned()
        .unwrap_or(ProtocolVersion::NO_INITIALIZE)
}

/// Why [`connect`] or [`Session::list_all_tools`] failed. `Display` is for
/// the person running the command or reading the log; for an HTTP error
/// body, use [`ConnectError::public_reason`].
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The stdio command does not exist.
    #[error(
        "command `{command}` was not found: install it or put it on PATH (for `uvx`, run `pip install uv`)"
    )]
    CommandNotFound {
        /// The command as given.
        command: String,
    },
    /// The stdio command exists but could not be started.
    #[error("could not start `{command}`: {source}")]
    Spawn {
        /// The command as given.
        command: String,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The server did not complete `initialize`.
    #[error("{upstream} did not complete the MCP handshake: {reason}{}", stderr_note(.stderr))]
    Handshake {
        /// [`Target::describe`].
        upstream: String,
        /// rmcp's error.
        reason: String,
        /// The last lines of a stdio server's stderr, when known.
        stderr: String,
        /// The server answered that it needs authorization.
        authorization_required: bool,
    },
    /// `tools/list` failed.
    #[error("{upstream} failed to list its tools: {reason}")]
    ListTools {
        /// [`Target::describe`].
        upstream: String,
        /// rmcp's error.
        reason: String,
    },
    /// The server repeated a `nextCursor`.
    #[error("{upstream} repeated a tools/list cursor ({cursor:?}); its pagination is broken")]
    CursorLoop {
        /// [`Target::describe`].
        upstream: String,
        /// The repeated cursor.
        cursor: String,
    },
    /// The server kept sending cursors.
    #[error("{upstream} sent more than {MAX_PAGES} tools/list pages")]
    TooManyPages {
        /// [`Target::describe`].
        upstream: String,
    },
    /// A header name or value HTTP does not allow.
    #[error(transparent)]
    InvalidHeader(#[from] HeaderError),
    /// An HTTP upstream could not be reached at all.
    #[error("{problem} at {url}: is the server running and the URL right?")]
    Unreachable {
        /// The URL connected to.
        url: String,
        /// What failed, e.g. `connection refused`.
        problem: String,
    },
    /// An OAuth upstream without a usable token (none stored, or refreshing
    /// it failed): someone has to authorize again.
    #[error("{upstream} needs authorization: run `{hint}`")]
    NeedsAuthorization {
        /// The upstream URL.
        upstream: String,
        /// The command that authorizes it (`mcpo-gen login NAME`).
        hint: String,
    },
    /// OAuth failed for another reason (discovery, the token store, the
    /// authorization server); never holds a token.
    #[error("OAuth for {upstream} failed: {reason}")]
    OAuth {
        /// The upstream URL.
        upstream: String,
        /// What went wrong.
        reason: String,
    },
    /// A secret the lock names is not in the environment.
    #[error("the lock needs {name:?}: set env var {var}")]
    MissingSecret {
        /// The env or header name from the lock.
        name: String,
        /// The variable that carries its value.
        var: String,
    },
}

impl ConnectError {
    /// A reason safe to put in an HTTP error body: no stderr, no rmcp
    /// internals, never a secret.
    pub fn public_reason(&self) -> String {
        match self {
            ConnectError::CommandNotFound { command } => {
                format!("command `{command}` was not found")
            }
            ConnectError::Spawn { command, source } => {
                format!("could not start `{command}`: {source}")
            }
            ConnectError::NeedsAuthorization { hint, .. } => {
                format!("needs authorization: run `{hint}`")
            }
            ConnectError::OAuth { upstream, .. } => format!("OAuth for `{upstream}` failed"),
            ConnectError::Handshake {
                authorization_required: true,
                ..
            } => "it requires authorization; pass --header 'Authorization: Bearer ...'".into(),
            ConnectError::Handshake { upstream, .. } => {
                format!("`{upstream}` did not complete the MCP handshake")
            }
            ConnectError::ListTools { upstream, .. } => {
                format!("`{upstream}` failed to list its tools")
            }
            other => other.to_string(),
        }
    }

    /// The same handshake error with `note` added to its reason.
    fn with_note(self, note: String) -> Self {
        match self {
            ConnectError::Handshake {
                upstream,
                reason,
                stderr,
                authorization_required,
            } => ConnectError::Handshake {
                upstream,
                reason: format!("{reason} ({note})"),
                stderr,
                authorization_required,
            },
            other => other,
        }
    }

    /// The same error with a stdio server's last stderr lines attached.
    fn with_stderr(self, text: String) -> Self {
        match self {
            ConnectError::Handshake {
                upstream,
                reason,
                authorization_required,
                ..
            } => ConnectError::Handshake {
                upstream,
                reason,
                stderr: text,
                authorization_required,
            },
            other => other,
        }
    }
}

fn stderr_note(stderr: &str) -> String {
    if stderr.is_empty() {
        String::new()
    } else {
        format!("\nserver stderr (last lines):\n{stderr}")
    }
}

/// A server that keeps sending cursors is broken; stop rather than loop.
pub const MAX_PAGES: usize = 10_000;

/// A connected MCP session: the rmcp client, a stdio server's process (its
/// group is killed when this drops) and, when asked for, the raw results.
pub struct Session {
    client: RunningService<RoleClient, ClientConfig>,
    process: Option<ServerProcess>,
    raw_wire: RawWire,
    upstream: String,
}

impl Session {
    /// The peer to send requests to.
    pub fn peer(&self) -> &Peer<RoleClient> {
        self.client.peer()
    }

    /// What the server said in its `initialize` result, typed by rmcp.
    pub fn server_info(&self) -> Option<std::sync::Arc<ServerPeerInfo>> {
        self.client.peer_info()
    }

    /// The `initialize` result exactly as the server sent it, when recorded
    /// (fields rmcp does not model, such as the `tasks` capability, kept).
    pub fn raw_initialize_result(&self) -> Option<Map<String, Value>> {
        self.raw_wire.initialize_result()
    }

    /// The last lines a stdio server wrote to stderr (empty for HTTP).
    pub fn stderr(&self) -> String {
        self.process
            .as_ref()
            .map(|process| process.stderr.text())
            .unwrap_or_default()
    }

    /// Pages through all of `tools/list` explicitly (not rmcp's cached
    /// helper), guarding against cursors that never end. Each tool is the
    /// raw object the server sent when recorded, else rmcp's typed one.
    pub async fn list_all_tools(&self) -> Result<Vec<Value>, ConnectError> {
        let mut tools = Vec::new();
        let mut cursor: Option<String> = None;
        let mut seen_cursors = BTreeSet::new();
        for _ in 0..MAX_PAGES {
            let params = cursor
                .clone()
                .map(|cursor| PaginatedRequestParams::default().with_cursor(Some(cursor)));
            let page =
                self.peer()
                    .list_tools(params)
                    .await
                    .map_err(|error| ConnectError::ListTools {
                        upstream: self.upstream.clone(),
                        reason: error.to_string(),
                    })?;
            let raw_page = self.raw_wire.take_page_for(&page.tools);
            tools.extend(raw_wire::merge_page(&page.tools, raw_page));
            match page.next_cursor {
                Some(next) if !next.is_empty() => {
                    if !seen_cursors.insert(next.clone()) {
                        return Err(ConnectError::CursorLoop {
                            upstream: self.upstream.clone(),
                            cursor: next,
                        });
                    }
                    cursor = Some(next);
                }
                _ => return Ok(tools),
            }
        }
        Err(ConnectError::TooManyPages {
            upstream: self.upstream.clone(),
        })
    }

    /// Ends the session (a stdio server sees its stdin close), gives a stdio
    /// server `grace` to exit on its own, then kills whatever is left of its
    /// process group.
    pub async fn close(self, grace: Duration) {
        let Session {
            client, process, ..
        } = self;
        if tokio::time::timeout(grace, client.cancel()).await.is_err() {
            tracing::debug!("the MCP session did not close in time");
        }
        if let Some(ServerProcess { child, group, .. }) = process {
            child.shut_down(grace).await;
            drop(group);
        }
    }
}

/// Starts or reaches the server and completes the MCP handshake: the
/// classic `initialize`, or for a stateless revision (2026-07-28)
/// `server/discover` (see [`Lifecycle::for_offer`] for which, and when one
/// falls back to the other).
///
/// A started stdio server is put in `started` before the handshake, so that
/// when the handshake fails or the caller's deadline drops this future, the
/// caller still holds the process: it can read its last stderr lines (see
/// [`StderrTail::text_at_exit`]) before dropping it kills the group.
pub async fn connect(
    target: &Target,
    options: &ConnectOptions,
    started: &mut Option<ServerProcess>,
) -> Result<Session, ConnectError> {
    target.register_secrets();
    let lifecycle = Lifecycle::for_offer(options.offer_protocol.as_deref());
    let refused = match connect_with(target, options, &lifecycle, started).await {
        Ok(session) => return Ok(session),
        Err(failed) => failed,
    };
    let may_fall_back = matches!(
        lifecycle,
        Lifecycle::Initialize {
            stateless_fallback: true,
            ..
        }
    );
    // The legacy HTTP+SSE transport has no stateless revision.
    if !may_fall_back || !refused.refused || matches!(target, Target::Sse { .. }) {
        return Err(refused.error);
    }
    let stateless = newest_stateless();
    tracing::debug!(
        error = %refused.error,
        "the server refused initialize; trying server/discover for the stateless revision {stateless}"
    );
    // A stdio server is started afresh: the refused one's group is killed here.
    *started = None;
    match connect_with(
        target,
        options,
        &Lifecycle::Discover(stateless.clone()),
        started,
    )
    .await
    {
        Ok(session) => Ok(session),
        // Most servers are legacy and broken in a legacy way: tell what
        // `initialize` got, with the probe's outcome as a note.
        Err(discover) => Err(refused.error.with_note(format!(
            "server/discover ({stateless}) failed too: {}",
            discover.error
        ))),
    }
}

/// A failed handshake, and whether the server refused it in a way a
/// server speaking only a stateless revision would (a JSON-RPC error; over
/// streamable HTTP also an HTTP 4xx), as opposed to being unreachable,
/// asking for authorization, or dying.
struct Failed {
    error: ConnectError,
    refused: bool,
}

impl From<ConnectError> for Failed {
    fn from(error: ConnectError) -> Self {
        Failed {
            error,
            refused: false,
        }
    }
}

async fn connect_with(
    target: &Target,
    options: &ConnectOptions,
    lifecycle: &Lifecycle,
    started: &mut Option<ServerProcess>,
) -> Result<Session, Failed> {
    let upstream = target.describe();
    let client_config = ClientConfig::new(
        ClientCapabilities::default(),
        Implementation::new(&options.client_name, &options.client_version),
    )
    .with_protocol_version(lifecycle.offer());
    let mode = lifecycle.mode();
    let raw_wire = RawWire::new(options.record_raw);
    let handshake_error = |error: rmcp::service::ClientInitializeError| {
        if let Target::StreamableHttp { url, .. } | Target::Sse { url, .. } = target
            && let Some(unreachable) = reach::unreachable_in_handshake(url, &error)
        {
            return Failed::from(unreachable);
        }
        let authorization_required = error.is_authorization_required();
        if authorization_required && let Some((url, oauth)) = target.oauth() {
            return Failed::from(ConnectError::NeedsAuthorization {
                upstream: url.to_string(),
                hint: oauth.login_hint(url),
            });
        }
        let refused = !authorization_required
            && match target {
                Target::Stdio { .. } => {
                    matches!(error, rmcp::service::ClientInitializeError::JsonRpcError(_))
                }
                Target::StreamableHttp { .. } => matches!(
                    error,
                    rmcp::service::ClientInitializeError::JsonRpcError(_)
                        | rmcp::service::ClientInitializeError::TransportError { .. }
                ),
                Target::Sse { .. } => false,
            };
        Failed {
            error: ConnectError::Handshake {
                upstream: upstream.clone(),
                reason: reach::handshake_reason(&error),
                stderr: String::new(),
                authorization_required,
            },
            refused,
        }
    };
    match target {
        Target::Stdio { command, args, env } => {
            let spawned = process::spawn(command, args, env, options.echo_stderr, raw_wire.clone())
                .map_err(|source| match source.kind() {
                    std::io::ErrorKind::NotFound => ConnectError::CommandNotFound {
                        command: command.clone(),
                    },
                    _ => ConnectError::Spawn {
                        command: command.clone(),
                        source,
                    },
                })?;
            *started = Some(spawned.process);
            let client = client_config
                .serve_with_lifecycle(spawned.transport, mode)
                .await
                .map_err(handshake_error)?;
            Ok(Session {
                client,
                process: started.take(),
                raw_wire,
                upstream,
            })
        }
        Target::StreamableHttp {
            url,
            headers,
            oauth,
        } => {
            let config = StreamableHttpClientTransportConfig::with_uri(url.as_str())
                .custom_headers(header_map(headers).map_err(ConnectError::from)?);
            let access = match oauth {
                Some(oauth) => Some(oauth::Prepared::open(url, oauth).await?),
                None => None,
            };
            // With OAuth, rmcp's AuthClient puts the token on every request,
            // refreshes it before it expires, and once more after a 401.
            let client = match (options.record_raw, access) {
                (true, None) => {
                    let transport = StreamableHttpClientTransport::with_client(
                        RecordingHttpClient::new(raw_wire.clone()),
                        config,
                    );
                    client_config.serve_with_lifecycle(transport, mode).await
                }
                (true, Some(access)) => {
                    let transport = StreamableHttpClientTransport::with_client(
                        access.into_auth_client(RecordingHttpClient::new(raw_wire.clone())),
                        config,
                    );
                    client_config.serve_with_lifecycle(transport, mode).await
                }
                (false, None) => {
                    client_config
                        .serve_with_lifecycle(
                            StreamableHttpClientTransport::from_config(config),
                            mode,
                        )
                        .await
                }
                (false, Some(access)) => {
                    let transport = StreamableHttpClientTransport::with_client(
                        access.into_auth_client(http_client::rmcp_like_reqwest_client()),
                        config,
                    );
                    client_config.serve_with_lifecycle(transport, mode).await
                }
            }
            .map_err(handshake_error)?;
            if matches!(lifecycle, Lifecycle::Discover(_)) && !options.record_raw {
                // From 2026-07-28 a tool's `x-mcp-header` parameters go in
                // `Mcp-Param-*` headers, which rmcp's transport adds from the
                // schemas of the tools it has seen listed; a proxy calls from
                // its lock and may never list (`--on-drift ignore`). A snapshot
                // lists anyway.
                if let Err(error) = client.peer().list_all_tools().await {
                    tracing::debug!(%error, "tools/list for the Mcp-Param-* headers failed");
                }
            }
            Ok(Session {
                client,
                process: None,
                raw_wire,
                upstream,
            })
        }
        Target::Sse {
            url,
            headers,
            oauth,
        } => {
            let access = match oauth {
                Some(oauth) => Some(oauth::Prepared::open(url, oauth).await?),
                None => None,
            };
            let transport = SseTransport::open(
                url,
                sse::header_map(header_map(headers).map_err(ConnectError::from)?),
                http_client::rmcp_like_reqwest_client(),
                raw_wire.clone(),
                access.map(oauth::Prepared::into_access),
            )
            .await?;
            let client = client_config
                .serve_with_lifecycle(transport, mode)
                .await
                .map_err(handshake_error)?;
            Ok(Session {
                client,
                process: None,
                raw_wire,
                upstream,
            })
        }
    }
}

/// Reads a failed stdio server's last words: waits up to `limit` for it to
/// close stderr (it usually says why just before exiting) and attaches them
/// to a handshake error.
pub async fn attach_stderr(
    error: ConnectError,
    started: &Option<ServerProcess>,
    limit: Duration,
) -> ConnectError {
    match started {
        Some(process) if matches!(error, ConnectError::Handshake { .. }) => {
            let text = process.stderr.text_at_exit(limit).await;
            error.with_stderr(text)
        }
        _ => error,
    }
}

/// For the transports' tests: tiny HTTP servers read requests this way.
#[cfg(test)]
pub(crate) mod test_http {
    use tokio::io::AsyncReadExt as _;
    use tokio::net::TcpStream;

    /// One request: its head, lower-cased, and its body (by Content-Length);
    /// `None` when the client goes away first.
    pub(crate) async fn read_request(stream: &mut TcpStream) -> Option<(String, Vec<u8>)> {
        let mut request = Vec::new();
        let mut chunk = [0u8; 4096];
        let head_end = loop {
            if let Some(end) = request.windows(4).position(|window| window == b"\r\n\r\n") {
                break end + 4;
            }
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return None,
                Ok(read) => request.extend_from_slice(&chunk[..read]),
            }
        };
        let head = String::from_utf8_lossy(&request[..head_end]).to_ascii_lowercase();
        let content_length: usize = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length:"))
            .and_then(|value| value.trim().parse().ok())
            .unwrap_or(0);
        while request.len() < head_end + content_length {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return None,
                Ok(read) => request.extend_from_slice(&chunk[..read]),
            }
        }
        let body = request[head_end..head_end + content_length].to_vec();
        Some((head, body))
    }
}

#[cfg(test)]
mod tests;
