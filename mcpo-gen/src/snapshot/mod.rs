//! Snapshot: connect once to an MCP server (stdio, streamable HTTP or the
//! legacy HTTP+SSE transport), `initialize`, page through all of
//! `tools/list`, disconnect cleanly, and return the [`Lock`].
//!
//! The connection itself is `mcpo_runtime::upstream`, the layer the
//! generated proxies use too; it records the raw results, so each tool lands
//! in the lock exactly as the server sent it, fields rmcp does not model
//! included.

use std::future::Future;
use std::time::Duration;

use rmcp::model::ServerPeerInfo;
use serde_json::{Map, Value};

use crate::lock::{Lock, LockError, LockedSurface, ResourceList, ServerFacts, SurfaceKind};
use mcpo_runtime::upstream::{self, ConnectOptions, attach_stderr};
pub use mcpo_runtime::upstream::{ConnectError, Target, header_env_var, parse_headers};

#[derive(Debug, Clone)]
pub struct Options {
    /// Limit for the whole snapshot: start, handshake and every page.
    pub connect_timeout: Duration,
    /// Show the server's stderr live (it is always kept for error messages).
    pub echo_server_stderr: bool,
    /// Whether the server's resource list is pinned or live data (then
    /// only its templates are locked).
    pub resource_list: ResourceList,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            connect_timeout: Duration::from_secs(60),
            echo_server_stderr: false,
            resource_list: ResourceList::Pinned,
        }
    }
}

/// Time a failed stdio server gets to say why on stderr before it is killed.
const LAST_WORDS: Duration = Duration::from_secs(2);
/// Time a server gets to exit on its own after the session ends.
const CLOSE_GRACE: Duration = Duration::from_millis(1500);

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error(transparent)]
    Connect(#[from] ConnectError),
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
    #[error("{upstream} did not complete the MCP handshake: no initialize result was recorded")]
    NoInitializeResult { upstream: String },
    #[error("{error}{}", stderr_note(.stderr))]
    ListItems { error: ConnectError, stderr: String },
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error(transparent)]
    Authorize(#[from] crate::login::AuthorizeError),
}

fn stderr_note(stderr: &str) -> String {
    if stderr.is_empty() {
        String::new()
    } else {
        format!("\nserver stderr (last lines):\n{stderr}")
    }
}

/// Connects to `target`, lists every tool and returns the canonical lock.
/// The server process group is gone when this returns, success or not.
///
/// An OAuth upstream without a usable stored token is authorized first
/// ([`crate::login`], interactively: `Authorize: URL`, opened in a browser only after Enter
/// on a terminal, and the redirect taken on loopback or pasted),
/// then connected to again; the wait for the person is not part of
/// `connect_timeout`.
pub async fn snapshot(target: &Target, options: &Options) -> Result<Lock, SnapshotError> {
    match snapshot_once(target, options).await {
        Err(SnapshotError::Connect(ConnectError::NeedsAuthorization { upstream, .. }))
            if target.oauth().is_some() =>
        {
            eprintln!("{upstream} requires OAuth authorization.");
            crate::login::authorize_target(target).await?;
            snapshot_once(target, options).await
        }
        other => other,
    }
}

async fn snapshot_once(target: &Target, options: &Options) -> Result<Lock, SnapshotError> {
    let upstream_name = target.describe();
    let deadline = tokio::time::Instant::now() + options.connect_timeout;
    let connect_options = ConnectOptions {
        client_name: env!("CARGO_PKG_NAME").to_string(),
        client_version: env!("CARGO_PKG_VERSION").to_string(),
        echo_stderr: options.echo_server_stderr,
        record_raw: true,
        offer_protocol: None,
        events: Default::default(),
    };
    // Filled by `connect` as soon as a stdio server runs, and kept here if
    // the handshake fails, so that its group is killed only after its stderr
    // has been read.
    let mut started = None;
    let timeout_error = |stage, stderr: String| SnapshotError::Timeout {
        upstream: upstream_name.clone(),
        seconds: options.connect_timeout.as_secs(),
        stage,
        stderr,
    };

    let connecting = upstream::connect(target, &connect_options, &mut started);
    let session = match tokio::time::timeout_at(deadline, connecting).await {
        Ok(Ok(session)) => session,
        // The server's last words are read outside the connect deadline, so a
        // failure near the deadline is still told as what it is.
        Ok(Err(error)) => return Err(attach_stderr(error, &started, LAST_WORDS).await.into()),
        Err(_) => {
            let stderr = started
                .as_ref()
                .map(|process| process.stderr.text())
                .unwrap_or_default();
            return Err(timeout_error("starting and initializing", stderr));
        }
    };

    let Some(info) = session.server_info() else {
        return Err(SnapshotError::NoInitializeResult {
            upstream: upstream_name,
        });
    };
    let facts = server_facts(&info, session.raw_initialize_result());

    let tools = match tokio::time::timeout_at(deadline, session.list_all_tools()).await {
        Ok(Ok(tools)) => tools,
        Ok(Err(error)) => {
            let stderr = session.stderr();
            return Err(SnapshotError::ListItems { error, stderr });
        }
        Err(_) => return Err(timeout_error("listing tools", session.stderr())),
    };

    let mut surface = LockedSurface {
        resource_list: options.resource_list,
        ..LockedSurface::default()
    };
    for kind in surface_to_list(&facts, options.resource_list) {
        let listed = match tokio::time::timeout_at(deadline, session.list_all_of(kind)).await {
            Ok(Ok(items)) => items,
            Ok(Err(error)) => {
                let stderr = session.stderr();
                return Err(SnapshotError::ListItems { error, stderr });
            }
            Err(_) => return Err(timeout_error(listing_stage(kind), session.stderr())),
        };
        let items = crate::lock::lock_items(kind, listed).map_err(LockError::from)?;
        match kind {
            SurfaceKind::Resource => surface.resources = items,
            SurfaceKind::ResourceTemplate => surface.resource_templates = items,
            SurfaceKind::Prompt => surface.prompts = items,
        }
    }

    session.close(CLOSE_GRACE).await;
    let mut lock = Lock::new(facts, target.upstream(), tools)?;
    lock.surface = surface;
    Ok(lock)
}

/// The lists a server's declared capabilities offer: resources (unless
/// `resource_list` is live) and their templates with `resources`, prompts
/// with `prompts`.
fn surface_to_list(facts: &ServerFacts, resource_list: ResourceList) -> Vec<SurfaceKind> {
    let mut kinds = Vec::new();
    if facts.declares("resources") {
        if resource_list == ResourceList::Pinned {
            kinds.push(SurfaceKind::Resource);
        }
        kinds.push(SurfaceKind::ResourceTemplate);
    }
    if facts.declares("prompts") {
        kinds.push(SurfaceKind::Prompt);
    }
    kinds
}

fn listing_stage(kind: SurfaceKind) -> &'static str {
    match kind {
        SurfaceKind::Resource => "listing resources",
        SurfaceKind::ResourceTemplate => "listing resource templates",
        SurfaceKind::Prompt => "listing prompts",
    }
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
    use std::collections::BTreeMap;

    #[test]
    fn missing_command_is_a_clear_error() {
        let target = Target::Stdio {
            command: "mcpo-gen-no-such-command".into(),
            args: vec![],
            env: BTreeMap::new(),
        };
        let error = block_on(snapshot(&target, &Options::default())).unwrap_err();
        assert!(
            matches!(
                error,
                SnapshotError::Connect(ConnectError::CommandNotFound { .. })
            ),
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
        assert!(
            matches!(
                error,
                SnapshotError::Connect(ConnectError::Handshake { .. })
            ),
            "{text}"
        );
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
        assert!(
            matches!(
                error,
                SnapshotError::Connect(ConnectError::Handshake { .. })
            ),
            "{text}"
        );
        assert!(text.contains("boom: closing stdout"), "{text}");
    }

    /// rmcp's wording names its transport's Rust type and ends in "error
    /// sending request"; the snapshot says what is wrong instead.
    #[test]
    fn an_http_server_that_is_not_running_is_told_in_words() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        for target in [
            Target::StreamableHttp {
                url: format!("http://127.0.0.1:{port}/mcp"),
                headers: BTreeMap::new(),
                oauth: None,
            },
            Target::Sse {
                url: format!("http://127.0.0.1:{port}/sse"),
                headers: BTreeMap::new(),
                oauth: None,
            },
        ] {
            let error = block_on(snapshot(&target, &Options::default())).unwrap_err();
            assert_eq!(
                error.to_string(),
                format!(
                    "connection refused at {}: is the server running and the URL right?",
                    target.describe()
                )
            );
        }
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
}
