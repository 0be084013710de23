//! Snapshot: connect once to an MCP server, `initialize`, page through all of
//! `tools/list`, disconnect cleanly, and return the [`Lock`].
//!
//! rmcp runs the handshake, the session and the paging; the transports also
//! record the raw `tools/list` results so each tool lands in the lock exactly
//! as the server sent it, fields rmcp does not model included (`raw_wire`).

mod http_client;
mod process;
mod raw_wire;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::time::Duration;

use rmcp::model::{ClientCapabilities, ClientConfig, Implementation, PaginatedRequestParams};
use rmcp::service::{RoleClient, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{ServiceExt, model::ServerPeerInfo};
use serde_json::{Map, Value};

use crate::lock::{Lock, LockError, ServerFacts, Upstream};
use http_client::RecordingHttpClient;
use raw_wire::RawWire;

use process::ServerProcess;

/// Where the server is and the secrets needed to reach it. Secrets live only
/// here: [`Target::upstream`] keeps their names for the lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Stdio {
        command: String,
        args: Vec<String>,
        env: BTreeMap<String, String>,
    },
    StreamableHttp {
        url: String,
        headers: BTreeMap<String, String>,
    },
    Sse {
        url: String,
        headers: BTreeMap<String, String>,
    },
}

impl Target {
    /// The launch spec recorded in the lock: env and header names, no values.
    pub fn upstream(&self) -> Upstream {
        match self {
            Target::Stdio { command, args, env } => Upstream::Stdio {
                command: command.clone(),
                args: args.clone(),
                env: env.keys().cloned().collect(),
            },
            Target::StreamableHttp { url, headers } => Upstream::StreamableHttp {
                url: url.clone(),
                headers: headers.keys().cloned().collect(),
            },
            Target::Sse { url, headers } => Upstream::Sse {
                url: url.clone(),
                headers: headers.keys().cloned().collect(),
            },
        }
    }

    /// The target a lock's launch spec describes, with secret values read
    /// from the environment: env var `NAME` for a stdio env name, and
    /// `MCPO_HEADER_<NAME>` (upper case, `-` as `_`) for a header.
    pub fn from_upstream(upstream: &Upstream) -> Result<Self, SnapshotError> {
        let from_env = |names: &[String], env_name: fn(&str) -> String| {
            names
                .iter()
                .map(|name| {
                    let var = env_name(name);
                    std::env::var(&var)
                        .map(|value| (name.clone(), value))
                        .map_err(|_| SnapshotError::MissingSecret {
                            name: name.clone(),
                            var,
                        })
                })
                .collect::<Result<BTreeMap<_, _>, _>>()
        };
        Ok(match upstream {
            Upstream::Stdio { command, args, env } => Target::Stdio {
                command: command.clone(),
                args: args.clone(),
                env: from_env(env, |name| name.to_string())?,
            },
            Upstream::StreamableHttp { url, headers } => Target::StreamableHttp {
                url: url.clone(),
                headers: from_env(headers, header_env_var)?,
            },
            Upstream::Sse { url, headers } => Target::Sse {
                url: url.clone(),
                headers: from_env(headers, header_env_var)?,
            },
        })
    }
}

/// `MCPO_HEADER_<NAME>`: the same file the generated proxies carry, so both
/// read a header's value from the same variable.
#[path = "../../../templates/runtime/env_names.rs"]
mod env_names;
pub use env_names::header_env_var;

#[derive(Debug, Clone)]
pub struct Options {
    /// Limit for the whole snapshot: start, handshake and every page.
    pub connect_timeout: Duration,
    /// Show the server's stderr live (it is always kept for error messages).
    pub echo_server_stderr: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            connect_timeout: Duration::from_secs(60),
            echo_server_stderr: false,
        }
    }
}

/// A server that keeps sending cursors is broken; stop rather than loop.
const MAX_PAGES: usize = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error(
        "command `{command}` was not found: install it or put it on PATH (for `uvx`, run `pip install uv`)"
    )]
    CommandNotFound { command: String },
    #[error("could not start `{command}`: {source}")]
    Spawn {
        command: String,
        source: std::io::Error,
    },
    #[error("{upstream} did not complete the MCP handshake: {reason}{}", stderr_note(.stderr))]
    Handshake {
        upstream: String,
        reason: String,
        stderr: String,
    },
    #[error(
        "{upstream} did not answer within {seconds}s while {stage}; \
         raise --connect-timeout if the server is slow to start{}",
        stderr_note(.stderr)
    )]
    Timeout {
        upstream: String,
        seconds: u64,
        stage: &'static str,
        stderr: String,
    },
    #[error("{upstream} failed to list its tools: {reason}{}", stderr_note(.stderr))]
    ListTools {
        upstream: String,
        reason: String,
        stderr: String,
    },
    #[error("{upstream} repeated a tools/list cursor ({cursor:?}); its pagination is broken")]
    CursorLoop { upstream: String, cursor: String },
    #[error("{upstream} sent more than {MAX_PAGES} tools/list pages")]
    TooManyPages { upstream: String },
    #[error("invalid header {name:?}: {reason}")]
    InvalidHeader { name: String, reason: String },
    #[error(
        "SSE upstreams (the legacy 2024-11-05 transport) are not supported yet; \
         use --server-type streamable-http if the server offers it"
    )]
    SseUnsupported,
    #[error("the lock needs {name:?}: set env var {var}")]
    MissingSecret { name: String, var: String },
    #[error(transparent)]
    Lock(#[from] LockError),
}

fn stderr_note(stderr: &str) -> String {
    if stderr.is_empty() {
        String::new()
    } else {
        format!("\nserver stderr (last lines):\n{stderr}")
    }
}

fn stderr_of(stdio: &Option<ServerProcess>) -> String {
    stdio
        .as_ref()
        .map(|server| server.stderr.text())
        .unwrap_or_default()
}

/// What a connected session needs to be closed cleanly.
struct Session {
    client: RunningService<RoleClient, ClientConfig>,
    stdio: Option<ServerProcess>,
    /// Raw `tools/list` results, filled in by the transport.
    raw_wire: RawWire,
}

fn client_config() -> ClientConfig {
    ClientConfig::new(
        ClientCapabilities::default(),
        Implementation::new(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION")),
    )
}

/// Connects to `target`, lists every tool and returns the canonical lock.
/// The server process group is gone when this returns, success or not.
pub async fn snapshot(target: &Target, options: &Options) -> Result<Lock, SnapshotError> {
    let upstream_name = target.upstream().describe();
    let deadline = tokio::time::Instant::now() + options.connect_timeout;
    // Filled by `connect` as soon as a stdio server runs, and kept here if
    // the handshake fails, so that its group is killed only after its stderr
    // has been read.
    let mut stdio: Option<ServerProcess> = None;
    let timeout_error = |stage, stderr: String| SnapshotError::Timeout {
        upstream: upstream_name.clone(),
        seconds: options.connect_timeout.as_secs(),
        stage,
        stderr,
    };

    let session = match tokio::time::timeout_at(
        deadline,
        connect(target, options, &upstream_name, &mut stdio),
    )
    .await
    {
        Ok(Ok(session)) => session,
        Ok(Err(SnapshotError::Handshake {
            upstream, reason, ..
        })) => {
            // The transport (the server's stdin) is gone: the server normally
            // exits now. Its last words are read outside the connect deadline,
            // so a failure near the deadline is still told as what it is; the
            // group is killed when `stdio` drops, after that.
            let stderr = match &stdio {
                Some(server) => server.stderr.text_at_exit(Duration::from_secs(2)).await,
                None => String::new(),
            };
            return Err(SnapshotError::Handshake {
                upstream,
                reason,
                stderr,
            });
        }
        Ok(Err(other)) => return Err(other),
        Err(_) => {
            return Err(timeout_error(
                "starting and initializing",
                stderr_of(&stdio),
            ));
        }
    };

    let facts = match session.client.peer_info() {
        Some(info) => server_facts(&info, session.raw_wire.initialize_result()),
        None => {
            return Err(SnapshotError::Handshake {
                upstream: upstream_name.clone(),
                reason: "no initialize result was recorded".into(),
                stderr: stderr_of(&session.stdio),
            });
        }
    };

    let tools =
        match tokio::time::timeout_at(deadline, list_all_tools(&session, &upstream_name)).await {
            Ok(Ok(tools)) => tools,
            Ok(Err(SnapshotError::ListTools {
                upstream, reason, ..
            })) => {
                return Err(SnapshotError::ListTools {
                    upstream,
                    reason,
                    stderr: stderr_of(&session.stdio),
                });
            }
            Ok(Err(other)) => return Err(other),
            Err(_) => return Err(timeout_error("listing tools", stderr_of(&session.stdio))),
        };

    close(session).await;
    Ok(Lock::new(facts, target.upstream(), tools)?)
}

async fn connect(
    target: &Target,
    options: &Options,
    upstream_name: &str,
    stdio: &mut Option<ServerProcess>,
) -> Result<Session, SnapshotError> {
    // The stderr of a stdio server is added by the caller once it has ended.
    let handshake_error = |error: &dyn std::fmt::Display| SnapshotError::Handshake {
        upstream: upstream_name.to_string(),
        reason: error.to_string(),
        stderr: String::new(),
    };
    let raw_wire = RawWire::default();
    match target {
        Target::Stdio { command, args, env } => {
            let spawned = process::spawn(
                command,
                args,
                env,
                options.echo_server_stderr,
                raw_wire.clone(),
            )
            .map_err(|source| match source.kind() {
                std::io::ErrorKind::NotFound => SnapshotError::CommandNotFound {
                    command: command.clone(),
                },
                _ => SnapshotError::Spawn {
                    command: command.clone(),
                    source,
                },
            })?;
            *stdio = Some(spawned.process);
            // On failure the server stays in `stdio`, with the caller.
            let client = client_config()
                .serve(spawned.transport)
                .await
                .map_err(|error| handshake_error(&error))?;
            Ok(Session {
                client,
                stdio: stdio.take(),
                raw_wire,
            })
        }
        Target::StreamableHttp { url, headers } => {
            let config = StreamableHttpClientTransportConfig::with_uri(url.as_str())
                .custom_headers(header_map(headers)?);
            let transport = StreamableHttpClientTransport::with_client(
                RecordingHttpClient::new(raw_wire.clone()),
                config,
            );
            let client = client_config()
                .serve(transport)
                .await
                .map_err(|error| handshake_error(&error))?;
            Ok(Session {
                client,
                stdio: None,
                raw_wire,
            })
        }
        Target::Sse { .. } => Err(SnapshotError::SseUnsupported),
    }
}

fn header_map(
    headers: &BTreeMap<String, String>,
) -> Result<HashMap<http::HeaderName, http::HeaderValue>, SnapshotError> {
    headers
        .iter()
        .map(|(name, value)| {
            let header_name = http::HeaderName::try_from(name.as_str()).map_err(|error| {
                SnapshotError::InvalidHeader {
                    name: name.clone(),
                    reason: error.to_string(),
                }
            })?;
            // The value is a secret: say what is wrong without echoing it.
            let header_value = http::HeaderValue::try_from(value.as_str()).map_err(|_| {
                SnapshotError::InvalidHeader {
                    name: name.clone(),
                    reason: "the value has characters not allowed in an HTTP header".into(),
                }
            })?;
            Ok((header_name, header_value))
        })
        .collect()
}

/// The server's facts for the lock. `capabilities` and `serverInfo` come
/// from the raw `initialize` result when it was captured, so fields rmcp does
/// not model (e.g. the `tasks` capability) are kept; the negotiated protocol
/// version is rmcp's.
fn server_facts(info: &ServerPeerInfo, raw: Option<Map<String, Value>>) -> ServerFacts {
    let implementation = info.server_info.as_ref();
    let raw = raw.unwrap_or_default();
    let raw_server = raw.get("serverInfo");
    let raw_text = |field: &str| {
        raw_server
            .and_then(|server| server.get(field))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    ServerFacts {
        name: raw_text("name")
            .or_else(|| implementation.map(|server| server.name.clone()))
            .unwrap_or_default(),
        version: raw_text("version")
            .or_else(|| implementation.map(|server| server.version.clone()))
            .unwrap_or_default(),
        title: raw_text("title").or_else(|| implementation.and_then(|server| server.title.clone())),
        protocol_version: info.protocol_version.to_string(),
        capabilities: raw
            .get("capabilities")
            .filter(|capabilities| capabilities.is_object())
            .cloned()
            .unwrap_or_else(|| serde_json::to_value(&info.capabilities).unwrap_or(Value::Null)),
        instructions: info.instructions.clone(),
    }
}

/// Pages through `tools/list` explicitly (not rmcp's cached helper), guarding
/// against servers whose cursors never end.
async fn list_all_tools(session: &Session, upstream: &str) -> Result<Vec<Value>, SnapshotError> {
    let mut tools = Vec::new();
    let mut cursor: Option<String> = None;
    let mut seen_cursors = BTreeSet::new();
    for _ in 0..MAX_PAGES {
        let params = cursor
            .clone()
            .map(|cursor| PaginatedRequestParams::default().with_cursor(Some(cursor)));
        let page = session
            .client
            .peer()
            .list_tools(params)
            .await
            .map_err(|error| SnapshotError::ListTools {
                upstream: upstream.to_string(),
                reason: error.to_string(),
                stderr: String::new(),
            })?;
        let raw_page = session.raw_wire.take_page_for(&page.tools);
        tools.extend(raw_wire::merge_page(&page.tools, raw_page));
        match page.next_cursor {
            Some(next) if !next.is_empty() => {
                if !seen_cursors.insert(next.clone()) {
                    return Err(SnapshotError::CursorLoop {
                        upstream: upstream.to_string(),
                        cursor: next,
                    });
                }
                cursor = Some(next);
            }
            _ => return Ok(tools),
        }
    }
    Err(SnapshotError::TooManyPages {
        upstream: upstream.to_string(),
    })
}

/// Closes the MCP session (for stdio: closes the server's stdin), giving the
/// server a moment to exit on its own; the process group guard then kills
/// whatever is left.
async fn close(session: Session) {
    let Session { client, stdio, .. } = session;
    let _ = tokio::time::timeout(Duration::from_secs(3), client.cancel()).await;
    if let Some(ServerProcess { child, group, .. }) = stdio {
        child.shut_down(Duration::from_millis(1500)).await;
        drop(group);
    }
}

/// Runs a snapshot future on a fresh runtime: the CLI is synchronous.
pub fn block_on<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime can be built")
        .block_on(future)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_keeps_names_not_values() {
        let target = Target::StreamableHttp {
            url: "http://127.0.0.1:9/mcp".into(),
            headers: BTreeMap::from([("Authorization".into(), "Bearer secret".into())]),
        };
        let recorded = format!("{:?}", target.upstream());
        assert!(recorded.contains("Authorization"));
        assert!(!recorded.contains("secret"));
    }

    #[test]
    fn missing_command_is_a_clear_error() {
        let target = Target::Stdio {
            command: "mcpo-gen-no-such-command".into(),
            args: vec![],
            env: BTreeMap::new(),
        };
        let error = block_on(snapshot(&target, &Options::default())).unwrap_err();
        assert!(
            matches!(error, SnapshotError::CommandNotFound { .. }),
            "{error}"
        );
        assert!(error.to_string().contains("was not found"));
    }

    #[test]
    fn a_process_that_is_not_mcp_fails_the_handshake_with_its_stderr() {
        let target = Target::Stdio {
            command: "sh".into(),
            args: vec![
                "-c".into(),
                "echo 'boom: not an MCP server' >&2; exit 3".into(),
            ],
            env: BTreeMap::new(),
        };
        let error = block_on(snapshot(&target, &Options::default())).unwrap_err();
        let text = error.to_string();
        assert!(matches!(error, SnapshotError::Handshake { .. }), "{text}");
        assert!(text.contains("boom: not an MCP server"), "{text}");
    }

    /// The wait for a failed server's stderr is not charged to the connect
    /// deadline: a server that closes stdout but lingers is a handshake
    /// failure with its stderr, not a timeout.
    #[test]
    fn a_handshake_failure_near_the_deadline_is_not_a_timeout() {
        let target = Target::Stdio {
            command: "sh".into(),
            args: vec![
                "-c".into(),
                "echo 'boom: closing stdout' >&2; exec >&-; sleep 30".into(),
            ],
            env: BTreeMap::new(),
        };
        let options = Options {
            connect_timeout: Duration::from_millis(1500),
            ..Options::default()
        };
        let error = block_on(snapshot(&target, &options)).unwrap_err();
        let text = error.to_string();
        assert!(matches!(error, SnapshotError::Handshake { .. }), "{text}");
        assert!(text.contains("boom: closing stdout"), "{text}");
    }

    #[test]
    fn a_silent_server_times_out() {
        let target = Target::Stdio {
            command: "sleep".into(),
            args: vec!["30".into()],
            env: BTreeMap::new(),
        };
        let options = Options {
            connect_timeout: Duration::from_millis(500),
            ..Options::default()
        };
        let started = std::time::Instant::now();
        let error = block_on(snapshot(&target, &options)).unwrap_err();
        assert!(matches!(error, SnapshotError::Timeout { .. }), "{error}");
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn header_values_are_not_echoed_in_errors() {
        let headers = BTreeMap::from([("X-Key".to_string(), "sec\nret".to_string())]);
        let error = header_map(&headers).unwrap_err().to_string();
        assert!(error.contains("X-Key"));
        assert!(!error.contains("sec"));
    }

    #[test]
    fn secrets_for_a_resnapshot_come_from_env() {
        let upstream = Upstream::StreamableHttp {
            url: "http://127.0.0.1:9/mcp".into(),
            headers: vec!["X-Mcpo-Test-Only-Header".into()],
        };
        let error = Target::from_upstream(&upstream).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("MCPO_HEADER_X_MCPO_TEST_ONLY_HEADER")
        );
    }
}
