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

mod cancel;
mod decode;
mod env_names;
mod events;
mod headers;
mod http_client;
mod identity_headers;
pub mod oauth;
mod process;
mod process_group;
mod raw_wire;
mod reach;
mod reply_guard;
mod sse;
mod stdio;
mod surface_lists;
mod target;

pub use surface_lists::ListKind;

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use rmcp::model::{
    ClientCapabilities, ClientConfig, Implementation, ProtocolVersion, ServerPeerInfo,
};
use rmcp::service::{Peer, RoleClient, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{ClientLifecycleMode, ClientServiceExt as _};
use serde_json::{Map, Value};

pub use cancel::CancelOnDrop;
pub use env_names::header_env_var;
use events::UpstreamClient;
pub(crate) use events::ask_form;
pub use events::{
    CallRelays, ElicitationAsk, ElicitationRoute, ElicitationSink, FORM_WAIT, ProgressRoute,
    ProgressSink, RELATED_TASK, UpstreamEvents,
};
use headers::header_map;
pub use headers::{HeaderError, parse_headers};
pub use oauth::{OAuthSettings, OAuthTarget};
pub use process::{ServerProcess, StderrTail};
pub use sse::{SseTransport, SseTransportError};
pub use target::{OAUTH_CLIENT_SECRET_ENV, OAUTH_TOKEN_FILE_ENV, Target, expand_template};

use crate::lock::{Upstream, ValueSources};
use http_client::RecordingHttpClient;
use identity_headers::IdentityHeaders;
use raw_wire::RawWire;

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
    /// Where the session's unasked messages go (tools changed, progress).
    pub events: UpstreamEvents,
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
    /// `tools/list` (or another list: `what`) failed.
    #[error("{upstream} failed to list its {what}: {reason}")]
    ListItems {
        /// [`Target::describe`].
        upstream: String,
        /// What was listed: `tools`, `resources`, `resource templates`, `prompts`.
        what: &'static str,
        /// rmcp's error.
        reason: String,
    },
    /// The server repeated a `nextCursor`.
    #[error("{upstream} repeated a {method} cursor ({cursor:?}); its pagination is broken")]
    CursorLoop {
        /// [`Target::describe`].
        upstream: String,
        /// The list method, e.g. `tools/list`.
        method: &'static str,
        /// The repeated cursor.
        cursor: String,
    },
    /// The server kept sending cursors.
    #[error("{upstream} sent more than {MAX_PAGES} {method} pages")]
    TooManyPages {
        /// [`Target::describe`].
        upstream: String,
        /// The list method, e.g. `tools/list`.
        method: &'static str,
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
            ConnectError::ListItems { upstream, what, .. } => {
                format!("`{upstream}` failed to list its {what}")
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
    client: RunningService<RoleClient, UpstreamClient>,
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
        let peer = self.peer();
        self.page_through(ListKind::TOOLS, |params| async move {
            let page = peer.list_tools(params).await?;
            let items = page
                .tools
                .iter()
                .map(|tool| (tool.name.to_string(), serde_json::to_value(tool)))
                .collect();
            Ok((items, page.next_cursor))
        })
        .await
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
    let client_config = UpstreamClient {
        config: ClientConfig::new(
            // Form elicitation: a REST caller of a task answers it
            // (tasks/rest.rs), as does an MCP client of the gateway; any
            // other request is declined. Tasks the upstream makes of a call
            // (the tasks extension) are waited for (tasks/mod.rs).
            ClientCapabilities::builder()
                .enable_elicitation_with(
                    rmcp::model::ElicitationCapability::new()
                        .with_form(rmcp::model::FormElicitationCapability::default()),
                )
                .enable_tasks()
                .build(),
            Implementation::new(&options.client_name, &options.client_version),
        )
        .with_protocol_version(lifecycle.offer()),
        events: options.events.clone(),
    };
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
                    let transport = StreamableHttpClientTransport::with_client(
                        IdentityHeaders(http_client::rmcp_like_reqwest_client()),
                        config,
                    );
                    client_config.serve_with_lifecycle(transport, mode).await
                }
                (false, Some(access)) => {
                    let transport = StreamableHttpClientTransport::with_client(
                        access.into_auth_client(IdentityHeaders(
                            http_client::rmcp_like_reqwest_client(),
                        )),
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
