//! The connection to the upstream MCP server, kept alive by a supervisor task.
//!
//! The supervisor connects in the background (the HTTP server starts even
//! when the upstream is down), checks drift, watches the connection and
//! reconnects with backoff when it dies: rmcp never reconnects a stdio peer
//! by itself. Tool calls borrow the current [`Connection`]; while there is
//! none they get 503 with `Retry-After`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rmcp::{
    model::{ClientRequest, PingRequest},
    service::{Peer, RoleClient},
};
use tokio::sync::{Notify, watch};
use tokio::time::Instant;

use crate::cli::DriftPolicy;
use crate::drift::{self, DriftFinding, DriftedTools};
use crate::error::ApiError;
use crate::lock::LockedTool;
use crate::metrics::Metrics;
use crate::upstream::{self, ConnectOptions, Session, Target, UpstreamEvents};

/// A connection that lived this long was healthy: after its loss the
/// supervisor reconnects at once. One that died sooner counts as a failure
/// (a crash loop must not spin).
const HEALTHY_CONNECTION: Duration = Duration::from_secs(5);
const FIRST_RETRY_DELAY: Duration = Duration::from_millis(500);
const MAX_RETRY_DELAY: Duration = Duration::from_secs(10);
/// How often the supervisor looks at the transport when no call reported a loss.
const LIVENESS_POLL: Duration = Duration::from_millis(250);
/// Time given to a stdio server to exit after its stdin closes, before the
/// process group is killed.
const GRACEFUL_CLOSE: Duration = Duration::from_secs(2);
/// How long a health ping after a timed-out call may take.
const PING_TIMEOUT: Duration = Duration::from_secs(5);
/// `Retry-After` while drift blocks calls: it needs a human, not a retry loop.
const DRIFT_RETRY_AFTER_SECS: u64 = 60;

#[derive(Clone)]
pub struct Settings {
    pub target: Target,
    pub connect_options: ConnectOptions,
    pub connect_timeout: Duration,
    pub drift_policy: DriftPolicy,
    /// Time between drift checks while connected (`None`: only on connect
    /// and when the upstream says its tools changed).
    pub drift_interval: Option<Duration>,
    /// The tools found drifted, shared with the server's app and pool.
    pub drifted: Arc<DriftedTools>,
    pub locked_tools: Vec<LockedTool>,
    /// The locked prompts, resource templates and resources, checked for
    /// drift with the tools.
    pub locked_surface: Arc<crate::lock::LockedSurface>,
    /// Tools the lock records as left out by a config: the server offers
    /// them on purpose, so they are not drift.
    pub left_out_tools: Vec<String>,
    pub metrics: Arc<Metrics>,
    /// This upstream's number in its pool (0-based), and the pool's size.
    pub member: usize,
    pub pool_size: usize,
}

#[cfg(test)]
impl Settings {
    /// For tests: an upstream whose command does not exist, so it never
    /// connects (503 with Retry-After, /readyz unready).
    pub(crate) fn never_connecting(
        connect_timeout: Duration,
        drift_policy: DriftPolicy,
        metrics: Arc<Metrics>,
    ) -> Settings {
        Settings {
            target: Target::Stdio {
                command: "/nonexistent/mcp-server-for-tests".into(),
                args: Vec::new(),
                env: Default::default(),
            },
            connect_options: ConnectOptions {
                client_name: "test-proxy".into(),
                client_version: "0.0.0".into(),
                echo_stderr: true,
                record_raw: false,
                offer_protocol: None,
                events: Default::default(),
            },
            connect_timeout,
            drift_policy,
            drift_interval: None,
            drifted: Arc::default(),
            locked_tools: Vec::new(),
            locked_surface: Arc::default(),
            left_out_tools: Vec::new(),
            metrics,
            member: 0,
            pool_size: 1,
        }
    }
}

/// A live MCP session that calls can use.
pub struct Connection {
    pub peer: Peer<RoleClient>,
    /// Counts connections, so a loss reported for an old one is ignored.
    generation: u64,
    /// `name version` from the server's initialize result.
    pub server: String,
    /// Set when `--on-drift fail` found blocking drift: why calls are refused.
    pub blocked_by_drift: Option<String>,
    /// The session's progress routes.
    pub events: UpstreamEvents,
}

#[derive(Clone)]
enum Status {
    Connecting,
    Connected(Arc<Connection>),
    Down { reason: String, retry_at: Instant },
    Stopped,
}

pub struct Upstream {
    status: watch::Sender<Status>,
    connection_lost: Notify,
    /// Generation of the connection a call last saw fail at the transport.
    lost_generation: AtomicU64,
    /// Generation of the connection a call last saw time out.
    suspect_generation: AtomicU64,
    shutdown: watch::Sender<bool>,
}

impl Upstream {
    /// Starts the supervisor; it runs until [`Upstream::shutdown`].
    pub fn start(settings: Settings) -> (Arc<Upstream>, tokio::task::JoinHandle<()>) {
        let upstream = Arc::new(Upstream {
            status: watch::Sender::new(Status::Connecting),
            connection_lost: Notify::new(),
            lost_generation: AtomicU64::new(0),
            suspect_generation: AtomicU64::new(0),
            shutdown: watch::Sender::new(false),
        });
        let task = tokio::spawn(Arc::clone(&upstream).supervise(settings));
        (upstream, task)
    }

    /// The current connection, waiting up to `wait` while a connection
    /// attempt is in progress; otherwise the 503 to answer with.
    pub async fn connection(&self, wait: Duration) -> Result<Arc<Connection>, ApiError> {
        let mut receiver = self.status.subscribe();
        let settled = tokio::time::timeout(wait, async {
            // Clone inside: the watch guard must not live across an await.
            receiver
                .wait_for(|status| match status {
                    Status::Connecting => false,
                    // A call just saw this one fail: its replacement is
                    // moments away, and the dead one would only give 502.
                    Status::Connected(connection) => !self.is_lost(connection),
                    Status::Down { .. } | Status::Stopped => true,
                })
                .await
                .map(|status| status.clone())
        })
        .await;
        let status = match settled {
            Ok(Ok(status)) => status,
            _ => self.status.borrow().clone(),
        };
        match status {
            Status::Connected(connection) => match &connection.blocked_by_drift {
                Some(reason) => Err(ApiError::unavailable(
                    reason.clone(),
                    DRIFT_RETRY_AFTER_SECS,
                )),
                None => Ok(connection),
            },
            Status::Connecting => Err(ApiError::unavailable(
                "The upstream MCP server is still starting",
                1,
            )),
            Status::Down { reason, retry_at } => Err(ApiError::unavailable(
                format!("The upstream MCP server is not connected: {reason}"),
                // At least 1: `Retry-After: 0` just as the retry starts
                // would invite a busy loop.
                (retry_at
                    .saturating_duration_since(Instant::now())
                    .as_secs_f64()
                    .ceil() as u64)
                    .max(1),
            )),
            Status::Stopped => Err(ApiError::unavailable("The proxy is shutting down", 1)),
        }
    }

    /// The connection when it can take a call right now (connected, not
    /// known to be lost, not blocked by drift), without waiting.
    pub fn usable_now(&self) -> Option<Arc<Connection>> {
        match &*self.status.borrow() {
            Status::Connected(connection)
                if connection.blocked_by_drift.is_none() && !self.is_lost(connection) =>
            {
                Some(Arc::clone(connection))
            }
            _ => None,
        }
    }

    /// Whether `connection` is known to be dead while the supervisor has not
    /// replaced it yet.
    fn is_lost(&self, connection: &Connection) -> bool {
        connection.peer.is_transport_closed()
            || self.lost_generation.load(Ordering::SeqCst) >= connection.generation
    }

    /// A call on `connection` failed at the transport. The supervisor then
    /// replaces the session even if rmcp still thinks it is open: a stdio
    /// pipe is broken, and an HTTP upstream that refused a request may have
    /// restarted and forgotten the session.
    pub fn report_connection_lost(&self, connection: &Connection) {
        self.lost_generation
            .fetch_max(connection.generation, Ordering::SeqCst);
        self.connection_lost.notify_one();
    }

    /// A call on `connection` timed out. The supervisor pings the server and
    /// replaces the session if the ping is not answered either (the proxy is
    /// unready meanwhile): a stdio server that froze (SIGSTOP, a deadlock)
    /// would otherwise time out every later call, and some HTTP servers answer
    /// requests for a session they forgot (after a restart) with an error rmcp
    /// cannot match to the request. A server busy with one long call but
    /// still reading its input answers the ping and is kept.
    pub fn report_timeout(&self, connection: &Connection) {
        self.suspect_generation
            .fetch_max(connection.generation, Ordering::SeqCst);
        self.connection_lost.notify_one();
    }

    /// `Ok(server)` when calls can be served, else why not (for `/readyz`).
    pub fn readiness(&self) -> Result<String, String> {
        match &*self.status.borrow() {
            Status::Connected(connection) => match &connection.blocked_by_drift {
                Some(reason) => Err(reason.clone()),
                None => Ok(connection.server.clone()),
            },
            Status::Connecting => Err("the upstream MCP server is still starting".into()),
            Status::Down { reason, .. } => Err(format!(
                "the upstream MCP server is not connected: {reason}"
            )),
            Status::Stopped => Err("the proxy is shutting down".into()),
        }
    }

    /// Asks the supervisor to close the session and kill a stdio server's
    /// process group; await its task to know it is done.
    pub fn shutdown(&self) {
        self.shutdown.send_replace(true);
    }

    async fn supervise(self: Arc<Self>, settings: Settings) {
        let mut shutdown = self.shutdown.subscribe();
        let description = if settings.pool_size > 1 {
            format!(
                "{} (pool member {} of {})",
                settings.target.describe(),
                settings.member + 1,
                settings.pool_size
            )
        } else {
            settings.target.describe()
        };
        let metrics = Arc::clone(&settings.metrics);
        let member = settings.member;
        let mut consecutive_failures: u32 = 0;
        let mut generation: u64 = 0;
        // Set after the first loss of a connection: reconnect without delay.
        let mut reconnect_now = false;
        loop {
            if consecutive_failures > 0 && !std::mem::take(&mut reconnect_now) {
                // The status is already `Down` with this retry time.
                tokio::select! {
                    _ = tokio::time::sleep(retry_delay(consecutive_failures)) => {}
                    _ = stop_requested(&mut shutdown) => break,
                }
            }
            if *shutdown.borrow() {
                break;
            }
            self.status.send_replace(Status::Connecting);
            tracing::debug!(upstream = %description, "connecting to the upstream MCP server");
            // Each session its own events: rmcp numbers progress tokens per
            // session, so routes must not be shared between pool members.
            let events = UpstreamEvents::default();
            let options = ConnectOptions {
                events: events.clone(),
                ..settings.connect_options.clone()
            };
            let attempt = tokio::time::timeout(
                settings.connect_timeout,
                connect(&settings.target, &options),
            );
            let outcome = tokio::select! {
                outcome = attempt => outcome,
                _ = stop_requested(&mut shutdown) => break,
            };
            let session = match outcome {
                Ok(Ok(session)) => session,
                Ok(Err(failure)) => {
                    consecutive_failures = consecutive_failures.saturating_add(1);
                    if worth_a_warning(consecutive_failures) {
                        tracing::warn!(upstream = %description, error = %failure.log_detail, attempts = consecutive_failures, "could not connect to the upstream MCP server; retrying");
                    } else {
                        tracing::debug!(upstream = %description, error = %failure.log_detail, attempts = consecutive_failures, "could not connect to the upstream MCP server; retrying");
                    }
                    self.mark_down(failure.public_reason, consecutive_failures);
                    continue;
                }
                Err(_) => {
                    consecutive_failures = consecutive_failures.saturating_add(1);
                    let reason = format!(
                        "it did not complete the MCP handshake within {}s",
                        settings.connect_timeout.as_secs_f64()
                    );
                    if worth_a_warning(consecutive_failures) {
                        tracing::warn!(upstream = %description, attempts = consecutive_failures, "{reason}; retrying (raise --connect-timeout if it is slow to start)");
                    }
                    self.mark_down(reason, consecutive_failures);
                    continue;
                }
            };

            generation += 1;
            let connection = tokio::select! {
                connection = describe_connection(&session, &settings, generation, events.clone()) => connection,
                _ = stop_requested(&mut shutdown) => {
                    session.close(GRACEFUL_CLOSE).await;
                    break;
                }
            };
            tracing::info!(upstream = %description, server = %connection.server, "upstream MCP server connected");
            self.status
                .send_replace(Status::Connected(Arc::new(connection)));
            metrics.upstream_state(member, true);
            if generation > 1 {
                metrics.upstream_restarted(member);
            }
            let connected_at = Instant::now();

            let stopping = self
                .watch(&session, generation, &settings, &events, &mut shutdown)
                .await;
            metrics.upstream_state(member, false);
            if stopping {
                self.status.send_replace(Status::Stopped);
                session.close(GRACEFUL_CLOSE).await;
                break;
            }
            tracing::warn!(upstream = %description, "the upstream MCP server connection was lost; reconnecting");
            consecutive_failures = if connected_at.elapsed() >= HEALTHY_CONNECTION {
                0
            } else {
                // It keeps dying soon after starting: back off.
                consecutive_failures.saturating_add(1)
            };
            // One quick death (a crash on a bad request) is answered by an
            // immediate respawn, and calls wait for it (`Connecting`) instead
            // of getting 503s; only repeated quick deaths back off.
            reconnect_now = consecutive_failures <= 1;
            if reconnect_now {
                self.status.send_replace(Status::Connecting);
            } else {
                self.mark_down(
                    "the connection to it was lost; reconnecting".into(),
                    consecutive_failures,
                );
            }
            session.close(GRACEFUL_CLOSE).await;
        }
        self.status.send_replace(Status::Stopped);
    }

    fn mark_down(&self, reason: String, consecutive_failures: u32) {
        self.status.send_replace(Status::Down {
            reason,
            retry_at: Instant::now() + retry_delay(consecutive_failures),
        });
    }

    /// Waits until the session's transport closes (`false`) or shutdown is
    /// requested (`true`).
    /// Drift is checked again when the upstream says its tools changed and
    /// every `drift_interval`.
    async fn watch(
        &self,
        session: &Session,
        generation: u64,
        settings: &Settings,
        events: &UpstreamEvents,
        shutdown: &mut watch::Receiver<bool>,
    ) -> bool {
        let mut next_drift_check = settings
            .drift_interval
            .map(|interval| Instant::now() + interval);
        loop {
            let check_due = next_drift_check.is_some_and(|due| Instant::now() >= due);
            if check_due && settings.drift_policy != DriftPolicy::Ignore {
                self.recheck_drift(session, settings).await;
            }
            if check_due {
                next_drift_check = settings
                    .drift_interval
                    .map(|interval| Instant::now() + interval);
            }
            if session.peer().is_transport_closed()
                || self.lost_generation.load(Ordering::SeqCst) >= generation
            {
                return false;
            }
            if self.suspect_generation.load(Ordering::SeqCst) >= generation {
                let ping = session
                    .peer()
                    .send_request(ClientRequest::PingRequest(PingRequest::default()));
                // Any answer shows it alive, an error included: the stateless
                // revision (2026-07-28) has no `ping`, and a server speaking
                // it answers -32601.
                let answered = tokio::select! {
                    answer = tokio::time::timeout(PING_TIMEOUT, ping) => matches!(
                        answer,
                        Ok(Ok(_) | Err(rmcp::service::ServiceError::McpError(_)))
                    ),
                    _ = stop_requested(shutdown) => return true,
                };
                if !answered {
                    tracing::warn!(
                        "the upstream MCP server does not answer a ping after a tool call timed out"
                    );
                    return false;
                }
                // Healthy: only this generation's reports were handled.
                self.suspect_generation
                    .fetch_min(generation.saturating_sub(1), Ordering::SeqCst);
            }
            tokio::select! {
                _ = tokio::time::sleep(LIVENESS_POLL) => {}
                _ = self.connection_lost.notified() => {}
                _ = events.tools_changed() => {
                    if settings.drift_policy != DriftPolicy::Ignore {
                        self.recheck_drift(session, settings).await;
                    }
                }
                _ = stop_requested(shutdown) => return true,
            }
        }
    }

    /// Checks drift on the live connection again; with `--on-drift fail`
    /// the connection's refusal follows the new outcome.
    async fn recheck_drift(&self, session: &Session, settings: &Settings) {
        let blocked_by_drift = check_drift(session.peer(), settings, settings.drift_policy).await;
        self.status.send_if_modified(|status| match status {
            Status::Connected(connection) if connection.blocked_by_drift != blocked_by_drift => {
                *connection = Arc::new(Connection {
                    peer: connection.peer.clone(),
                    generation: connection.generation,
                    server: connection.server.clone(),
                    blocked_by_drift,
                    events: connection.events.clone(),
                });
                true
            }
            _ => false,
        });
    }
}

/// Resolves once shutdown is requested (or its sender is gone).
async fn stop_requested(shutdown: &mut watch::Receiver<bool>) {
    // The guard `wait_for` returns is not Send: drop it before returning.
    let _ = shutdown.wait_for(|stop| *stop).await.is_ok();
}

/// A long outage should not fill the log: the first failures, then one in 30
/// (about every 5 minutes at the longest retry delay).
fn worth_a_warning(consecutive_failures: u32) -> bool {
    consecutive_failures <= 3 || consecutive_failures.is_multiple_of(30)
}

/// 0.5 s, 1 s, 2 s, ... up to 10 s.
fn retry_delay(consecutive_failures: u32) -> Duration {
    let doublings = consecutive_failures.saturating_sub(1).min(16);
    FIRST_RETRY_DELAY
        .saturating_mul(1u32 << doublings)
        .min(MAX_RETRY_DELAY)
}

/// Server identity, a warning when it is not the locked one, and drift.
async fn describe_connection(
    session: &Session,
    settings: &Settings,
    generation: u64,
    events: UpstreamEvents,
) -> Connection {
    let peer = session.peer().clone();
    let server = peer
        .peer_info()
        .and_then(|info| info.server_info.clone())
        .map(|implementation| format!("{} {}", implementation.name, implementation.version))
        .unwrap_or_else(|| "(server did not say its name)".to_string());
    let blocked_by_drift = match settings.drift_policy {
        DriftPolicy::Ignore => None,
        policy => check_drift(&peer, settings, policy).await,
    };
    Connection {
        peer,
        generation,
        server,
        blocked_by_drift,
        events,
    }
}

/// Lists the live tools and logs every difference from the lock. Returns
/// the 503 reason when `--on-drift fail` must block calls.
async fn check_drift(
    peer: &Peer<RoleClient>,
    settings: &Settings,
    policy: DriftPolicy,
) -> Option<String> {
    // rmcp caches `tools/list` (for up to the server's `ttlMs`): a drift
    // check must see what the server says now.
    peer.clear_response_cache().await;
    let listed = tokio::time::timeout(settings.connect_timeout, peer.list_all_tools()).await;
    let live = match listed {
        Ok(Ok(tools)) => tools,
        failure => {
            let why = match failure {
                Ok(Err(error)) => error.to_string(),
                _ => "tools/list timed out".to_string(),
            };
            tracing::warn!(error = %why, "could not list the upstream's tools to check for drift");
            return (policy == DriftPolicy::Fail).then(|| {
                "Refusing tool calls (--on-drift fail): the upstream's tools could not be listed to compare them with the lock".to_string()
            });
        }
    };
    let mut findings: Vec<DriftFinding> = drift::compare(&settings.locked_tools, &live)
        .into_iter()
        .filter(|finding| {
            !matches!(finding, DriftFinding::Added { tool } if settings.left_out_tools.contains(tool))
        })
        .collect();
    let live_surface = live_surface(peer, &settings.locked_surface, settings.connect_timeout).await;
    findings.extend(drift::compare_surface(
        &settings.locked_surface,
        &live_surface,
    ));
    // A list that could not be read keeps the refusals it had.
    for kind in live_surface.unread(&settings.locked_surface) {
        findings.extend(settings.drifted.item_findings(settings.member, kind));
    }
    settings.drifted.record(settings.member, &findings);
    let blocks = findings.iter().any(DriftFinding::blocks);
    settings.metrics.drift(
        findings.len(),
        blocks && matches!(policy, DriftPolicy::Fail | DriftPolicy::Refuse),
    );
    for finding in &findings {
        match finding {
            DriftFinding::Added { .. } => tracing::info!(drift = %finding, "drift"),
            _ => tracing::warn!(drift = %finding, "drift: the upstream differs from mcp.lock.json"),
        }
    }
    let blocking: Vec<String> = findings
        .iter()
        .filter(|finding| finding.blocks())
        .map(ToString::to_string)
        .collect();
    if blocking.is_empty() {
        if findings.is_empty() {
            tracing::info!("no drift: the upstream's tools match mcp.lock.json");
        }
        return None;
    }
    (policy == DriftPolicy::Fail).then(|| {
        format!(
            "Refusing tool calls (--on-drift fail): the upstream's tools differ from mcp.lock.json: {}. Regenerate the proxy after reviewing the change.",
            blocking.join("; ")
        )
    })
}

/// The lists the lock pins something of, as the server lists them now; a
/// list that cannot be read is left unread (logged), not counted as drift.
async fn live_surface(
    peer: &Peer<RoleClient>,
    locked: &crate::lock::LockedSurface,
    timeout: Duration,
) -> drift::LiveSurface {
    async fn read<T>(
        what: &str,
        listing: impl Future<Output = Result<Vec<T>, rmcp::ServiceError>>,
        timeout: Duration,
    ) -> Option<Vec<T>> {
        match tokio::time::timeout(timeout, listing).await {
            Ok(Ok(items)) => Some(items),
            Ok(Err(error)) => {
                tracing::warn!(%error, "could not list the upstream's {what} to check for drift");
                None
            }
            Err(_) => {
                tracing::warn!("listing the upstream's {what} to check for drift timed out");
                None
            }
        }
    }
    let pinned_resources =
        locked.resource_list == crate::lock::ResourceList::Pinned && !locked.resources.is_empty();
    drift::LiveSurface {
        resources: match pinned_resources {
            true => read("resources", peer.list_all_resources(), timeout).await,
            false => None,
        },
        resource_templates: match locked.resource_templates.is_empty() {
            false => {
                read(
                    "resource templates",
                    peer.list_all_resource_templates(),
                    timeout,
                )
                .await
            }
            true => None,
        },
        prompts: match locked.prompts.is_empty() {
            false => read("prompts", peer.list_all_prompts(), timeout).await,
            true => None,
        },
    }
}

/// Connects with the shared upstream layer; a failure keeps its public
/// reason (for 503 bodies) apart from the full story (for the log).
async fn connect(target: &Target, options: &ConnectOptions) -> Result<Session, ConnectFailure> {
    // A stdio server's stderr is echoed to ours as it comes, so the log
    // already holds its last words.
    let mut started = None;
    upstream::connect(target, options, &mut started)
        .await
        .map_err(|error| ConnectFailure {
            public_reason: crate::redact::redact(&error.public_reason()).into_owned(),
            log_detail: crate::redact::redact(&error.to_string()).into_owned(),
        })
}

struct ConnectFailure {
    /// Safe for HTTP error bodies.
    public_reason: String,
    /// For the log only.
    log_detail: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delay_doubles_up_to_a_cap() {
        assert_eq!(retry_delay(1), Duration::from_millis(500));
        assert_eq!(retry_delay(2), Duration::from_secs(1));
        assert_eq!(retry_delay(3), Duration::from_secs(2));
        assert_eq!(retry_delay(40), MAX_RETRY_DELAY);
    }

    #[tokio::test]
    async fn a_missing_command_is_a_503_with_retry_after_and_readyz_says_why() {
        let (upstream, task) = Upstream::start(Settings::never_connecting(
            Duration::from_secs(5),
            DriftPolicy::Warn,
            Metrics::new(&[], 1),
        ));
        let error = upstream.connection(Duration::from_secs(5)).await.err();
        let Some(error) = error else {
            panic!("a missing command cannot connect");
        };
        assert_eq!(error.status, axum::http::StatusCode::SERVICE_UNAVAILABLE);
        assert!(error.retry_after.is_some_and(|seconds| seconds >= 1));
        assert!(error.detail.to_string().contains("was not found"));
        assert!(upstream.readiness().is_err());
        upstream.shutdown();
        assert!(
            tokio::time::timeout(Duration::from_secs(5), task)
                .await
                .is_ok()
        );
    }
}
