//! A tool call as an HTTP async job (RFC 7240 `Prefer: respond-async`), for
//! tools the upstream runs as MCP tasks (`execution.taskSupport` required
//! or optional): the call answers `202 Accepted` at once, with `Location:
//! .../tasks/{taskId}` and `Retry-After`; `GET` there says where the task
//! stands and, once it ended, gives its result as `{"status", "body"}`, the
//! status and body the synchronous call would have answered; `DELETE`
//! cancels it upstream. A tool that cannot run as a task ignores the
//! preference (RFC 7240 lets a server) and answers as usual.
//!
//! While the task runs, the proxy holds its `tasks/result` open (the
//! upstream sends its requests for the task there). A form the upstream
//! asks the client to fill in (`elicitation/create`) puts the task in
//! `input_required`: `GET` shows the message and the schema, and `POST
//! .../tasks/{taskId}/input` answers it (`accept` with `content`, `decline`
//! or `cancel`); the task then goes on. A caller that did not ask for
//! `respond-async` cannot answer, so its call's forms are declined.
//!
//! The `taskId` a caller sees is the proxy's own: random, so unguessable,
//! and bound to the API key that started it (another key gets 404). It
//! lives as long as the upstream keeps the task (its `ttl`), then answers
//! 410. Tasks live in their upstream session: once that session is gone
//! (the upstream restarted) they answer 410, and after a proxy restart
//! their ids are unknown (404). The message says which.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use rmcp::model::{CallToolRequestParams, JsonObject};
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::app::{App, TypedChecks};
use crate::auth::KeyDigest;
use crate::error::ApiError;
use crate::supervisor::Connection;
use crate::upstream::{ElicitationAsk, ElicitationRoute};

/// How long the proxy asks the upstream to keep a task: the upstream may
/// keep it for less, and says so.
const REQUESTED_TTL: Duration = Duration::from_secs(3600);

/// At most this many tasks are tracked at once; more is 503.
const MAX_TASKS: usize = 1024;

/// How long an expired task still answers 410 (then 404).
const EXPIRED_KEPT: Duration = Duration::from_secs(3600);

/// `Retry-After` when the upstream suggests no poll interval.
const DEFAULT_POLL: Duration = Duration::from_secs(1);

/// The async calls of one server, by the `taskId` their callers hold.
#[derive(Default)]
pub struct Jobs {
    jobs: Mutex<HashMap<String, Arc<Job>>>,
}

struct Job {
    tool: String,
    /// The API key that started it; `None` when the proxy has no keys.
    owner: Option<KeyDigest>,
    /// The upstream session the task lives in.
    connection: Weak<Connection>,
    upstream_id: String,
    expires_at: Instant,
    poll_interval: Duration,
    checks: TypedChecks,
    /// How it ended, once the proxy has seen its end.
    ended: tokio::sync::Mutex<Option<Ended>>,
    /// Told when `ended` is set.
    finished: tokio::sync::Notify,
    /// The form the upstream waits on the caller for.
    pending_input: Mutex<Option<ElicitationAsk>>,
    /// The upstream forgot the task before the proxy's clock said so (its
    /// ttl ran from the task's creation, before the proxy heard of it).
    forgotten: std::sync::atomic::AtomicBool,
}

#[derive(Clone)]
struct Ended {
    /// `completed`, `failed` or `cancelled`.
    status: &'static str,
    /// The synchronous call's status and body (none for `cancelled`).
    result: Option<(u16, Value)>,
}

/// Whether the request asks to be answered before the call ends.
pub(crate) fn prefers_async(headers: &HeaderMap) -> bool {
    headers
        .get_all("prefer")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split([',', ';']))
        .any(|preference| preference.trim().eq_ignore_ascii_case("respond-async"))
}

/// Starts `tool` as an upstream task and answers 202. `call_path`: the
/// path the call was posted to, next to which the task's path is.
pub(crate) async fn start(
    app: &App,
    tool: &'static str,
    arguments: JsonObject,
    checks: TypedChecks,
    headers: &HeaderMap,
    call_path: &str,
) -> Result<Response, ApiError> {
    let state = app.state();
    let owner = state.api_keys.caller(headers);
    state.jobs.make_room()?;
    let mut params = CallToolRequestParams::new(tool.to_string()).with_arguments(arguments);
    crate::telemetry::carry_context(&mut params);
    let (connection, created, asks, route) = app
        .on_upstream(tool, app.call_timeout(tool), |connection| async move {
            let created = super::create(&connection.peer, params, REQUESTED_TTL).await?;
            let (sink, asks) = tokio::sync::mpsc::unbounded_channel();
            let route = connection
                .events
                .elicitation_route(created.id.clone(), sink);
            Ok((connection, created, asks, route))
        })
        .await
        .map_err(|failure| failure.answer)?;
    let id = uuid::Uuid::new_v4().simple().to_string();
    let poll_interval = created.poll_interval.unwrap_or(DEFAULT_POLL);
    let job = Arc::new(Job {
        tool: tool.to_string(),
        owner,
        connection: Arc::downgrade(&connection),
        upstream_id: created.id,
        expires_at: Instant::now() + created.ttl.unwrap_or(REQUESTED_TTL),
        poll_interval,
        checks,
        ended: tokio::sync::Mutex::new(None),
        finished: tokio::sync::Notify::new(),
        pending_input: Mutex::new(None),
        forgotten: Default::default(),
    });
    state.jobs.insert(id.clone(), Arc::clone(&job));
    tokio::spawn(wait_for_end(
        Arc::clone(&job),
        connection.peer.clone(),
        asks,
        route,
    ));
    tracing::info!(tool, "started as an upstream task for an async caller");
    let base = call_path.rsplit_once('/').map_or("", |(base, _)| base);
    let location = format!("{base}/tasks/{id}");
    let mut response = (
        StatusCode::ACCEPTED,
        Json(task_body(&id, &job.tool, "working", None)),
    )
        .into_response();
    let answer = response.headers_mut();
    if let Ok(location) = HeaderValue::from_str(&location) {
        answer.insert(header::LOCATION, location);
    }
    answer.insert(header::RETRY_AFTER, retry_after(poll_interval));
    answer.insert(
        "preference-applied",
        HeaderValue::from_static("respond-async"),
    );
    Ok(response)
}

/// `GET` and `DELETE /tasks/{taskId}`, where a tool may run as a task.
pub(crate) fn routes(task_support: &HashMap<String, super::TaskSupport>) -> Router<App> {
    if task_support.is_empty() {
        return Router::new();
    }
    Router::new()
        .route("/tasks/{task_id}", get(task_status).delete(cancel_task))
        .route("/tasks/{task_id}/input", post(answer_input))
}

/// Holds the task's `tasks/result` open until its end (or its expiry),
/// passing the forms the upstream asks for on to the caller, and keeps
/// how it ended.
async fn wait_for_end(
    job: Arc<Job>,
    peer: rmcp::Peer<rmcp::RoleClient>,
    mut asks: tokio::sync::mpsc::UnboundedReceiver<ElicitationAsk>,
    _route: ElicitationRoute,
) {
    let result = super::result(&peer, &job.upstream_id);
    tokio::pin!(result);
    let outcome = loop {
        tokio::select! {
            Some(ask) = asks.recv() => {
                *job.pending_input.lock().unwrap_or_else(PoisonError::into_inner) = Some(ask);
            }
            outcome = &mut result => break outcome,
            () = tokio::time::sleep_until(job.expires_at) => return,
        }
    };
    job.pending_input
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take();
    let (status, result) = match outcome {
        Ok(result) => {
            let (code, body) = match crate::app::answer_body(&job.tool, result, job.checks) {
                Ok(body) => (StatusCode::OK, body),
                Err(error) => error.into_status_and_body(),
            };
            ("completed", Some((code.as_u16(), body)))
        }
        // The session is gone: GET says so (410), as for any of its tasks.
        Err(rmcp::ServiceError::TransportClosed) => return,
        // The upstream no longer knows the task: expired there first.
        Err(rmcp::ServiceError::McpError(error))
            if error.code == rmcp::model::ErrorCode::INVALID_PARAMS =>
        {
            job.forgotten
                .store(true, std::sync::atomic::Ordering::Relaxed);
            return;
        }
        Err(error) => {
            let (code, body) = crate::result::error_for(&error).into_status_and_body();
            ("failed", Some((code.as_u16(), body)))
        }
    };
    let mut ended = job.ended.lock().await;
    // A cancel the caller asked for stays the task's end.
    if ended.is_none() {
        *ended = Some(Ended { status, result });
    }
    drop(ended);
    job.finished.notify_waiters();
}

async fn task_status(
    State(app): State<App>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let job = app.state().jobs.find(&app, &id, &headers)?;
    if let Some(answer) = job.ended_answer(&id).await {
        return Ok(answer);
    }
    if let Some(ask) = job
        .pending_input
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .as_ref()
    {
        let mut body = task_body(&id, &job.tool, "input_required", Some(&ask.message));
        body["inputRequest"] = json!({
            "message": ask.message,
            "requestedSchema": ask.requested_schema,
        });
        return Ok(job.running_answer(body));
    }
    let connection = job.connection()?;
    let timeout = app.call_timeout(&job.tool);
    let now = upstream(timeout, super::status(&connection.peer, &job.upstream_id))
        .await
        .map_err(|error| {
            if error.status == StatusCode::UNPROCESSABLE_ENTITY {
                ApiError::new(
                    StatusCode::GONE,
                    "the upstream MCP server no longer knows the task (its ttl passed there)",
                )
            } else {
                error
            }
        })?;
    let status = now
        .get("status")
        .and_then(Value::as_str)
        .unwrap_or("working");
    let message = now.get("statusMessage").and_then(Value::as_str);
    if matches!(status, "completed" | "failed" | "cancelled") {
        // Its result is on its way to the waiter: answer that.
        let finished = job.finished.notified();
        if let Some(answer) = job.ended_answer(&id).await {
            return Ok(answer);
        }
        if tokio::time::timeout(timeout, finished).await.is_ok()
            && let Some(answer) = job.ended_answer(&id).await
        {
            return Ok(answer);
        }
        if status == "cancelled" {
            return Ok(ended_answer(
                &id,
                &job,
                &Ended {
                    status: "cancelled",
                    result: None,
                },
            ));
        }
        return Err(ApiError::gateway_timeout(timeout.as_secs_f64()));
    }
    Ok(job.running_answer(task_body(&id, &job.tool, status, message)))
}

/// A caller's answer to the form its task waits on.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct InputAnswer {
    action: rmcp::model::ElicitationAction,
    #[serde(default)]
    content: Option<Value>,
}

async fn answer_input(
    State(app): State<App>,
    Path(id): Path<String>,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    let job = app.state().jobs.find(&app, &id, &parts.headers)?;
    let (_, value) = app.json_body(&parts.headers, body).await?;
    let answer: InputAnswer = serde_path_to_error::deserialize(value).map_err(|error| {
        let path = error.path().to_string();
        let mut issue = crate::error::ValidationIssue::body(
            format!(
                "{}: the answer is {{\"action\": \"accept\" | \"decline\" | \"cancel\", \"content\"?: {{...}}}}",
                error.inner()
            ),
            "answer",
        );
        issue.loc.extend(
            path.split('.')
                .filter(|segment| !segment.is_empty() && *segment != "?")
                .map(crate::error::LocSegment::from),
        );
        ApiError::validation(vec![issue])
    })?;
    let mut pending = job
        .pending_input
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    let Some(ask) = pending.take() else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "the task is not waiting for input: GET it to see where it stands",
        ));
    };
    let accepted = answer.action == rmcp::model::ElicitationAction::Accept;
    let content = match (accepted, answer.content) {
        (true, Some(content)) => {
            match crate::validate::check_against(&ask.requested_schema, &content, "content") {
                Ok(()) => Some(content),
                Err(issues) => {
                    *pending = Some(ask);
                    return Err(ApiError::validation(issues));
                }
            }
        }
        (true, None) => {
            *pending = Some(ask);
            return Err(ApiError::validation(vec![
                crate::error::ValidationIssue::body(
                    "an accepted answer carries `content`, as the form's schema says",
                    "missing",
                ),
            ]));
        }
        (false, _) => None,
    };
    let mut result = rmcp::model::ElicitResult::new(answer.action);
    result.content = content;
    // The upstream may have given up meanwhile: the answer then goes nowhere.
    let _ = ask.reply.send(result);
    drop(pending);
    tracing::info!(tool = job.tool, "an async caller answered its task's form");
    Ok(job.running_answer(task_body(&id, &job.tool, "working", None)))
}

async fn cancel_task(
    State(app): State<App>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let job = app.state().jobs.find(&app, &id, &headers)?;
    let mut ended = job.ended.lock().await;
    if ended.is_some() {
        return Err(already_ended());
    }
    // A form waiting on the caller is cancelled with its task.
    job.pending_input
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take();
    let connection = job.connection()?;
    let timeout = app.call_timeout(&job.tool);
    match upstream(timeout, super::cancel(&connection.peer, &job.upstream_id)).await {
        Ok(()) => {}
        // The upstream refuses to cancel a task that already ended.
        Err(error) if error.status == StatusCode::UNPROCESSABLE_ENTITY => {
            return Err(already_ended());
        }
        Err(error) => return Err(error),
    }
    tracing::info!(tool = job.tool, "an async caller cancelled its task");
    let end = Ended {
        status: "cancelled",
        result: None,
    };
    let answer = ended_answer(&id, &job, &end);
    *ended = Some(end);
    drop(ended);
    job.finished.notify_waiters();
    Ok(answer)
}

impl Jobs {
    /// Forgets tasks expired for a while (an expired task answers 410 for
    /// [`EXPIRED_KEPT`], then 404), and any expired one when the table is
    /// full; 503 when live tasks fill it.
    fn make_room(&self) -> Result<(), ApiError> {
        let mut jobs = self.jobs.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        jobs.retain(|_, job| job.expires_at + EXPIRED_KEPT > now);
        if jobs.len() >= MAX_TASKS {
            jobs.retain(|_, job| !job.expired(now));
        }
        if jobs.len() >= MAX_TASKS {
            return Err(ApiError::unavailable(
                format!(
                    "the proxy already tracks {MAX_TASKS} async tasks; retry later or call without Prefer: respond-async"
                ),
                DEFAULT_POLL.as_secs(),
            ));
        }
        Ok(())
    }

    fn insert(&self, id: String, job: Arc<Job>) {
        self.jobs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id, job);
    }

    /// The caller's task `id`: 401 without a valid key, 404 when unknown
    /// or another key's, 410 once expired.
    fn find(&self, app: &App, id: &str, headers: &HeaderMap) -> Result<Arc<Job>, ApiError> {
        let keys = &app.state().api_keys;
        keys.check(headers)?;
        let jobs = self.jobs.lock().unwrap_or_else(PoisonError::into_inner);
        let job = jobs
            .get(id)
            .filter(|job| job.owner == keys.caller(headers))
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::NOT_FOUND,
                    "no such task: task ids are the key's that started them and last as long as the proxy process (a task started before a proxy restart is gone)",
                )
            })?;
        if job.expired(Instant::now()) {
            return Err(ApiError::new(
                StatusCode::GONE,
                "the task expired: the upstream keeps a task and its result only for its ttl",
            ));
        }
        Ok(Arc::clone(job))
    }
}

impl Job {
    /// A running task's answer: its body, and when to poll again.
    fn running_answer(&self, body: Value) -> Response {
        let mut response = Json(body).into_response();
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, retry_after(self.poll_interval));
        response
    }

    fn expired(&self, now: Instant) -> bool {
        self.expires_at <= now || self.forgotten.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The answer for a task that ended, once it has.
    async fn ended_answer(&self, id: &str) -> Option<Response> {
        let ended = self.ended.lock().await;
        ended.as_ref().map(|ended| ended_answer(id, self, ended))
    }

    fn connection(&self) -> Result<Arc<Connection>, ApiError> {
        self.connection.upgrade().ok_or_else(|| {
            ApiError::new(
                StatusCode::GONE,
                "the task is gone: the upstream MCP server restarted since it started, and its tasks with it",
            )
        })
    }
}

/// One request to the task's session within `timeout`, its error answered
/// as a call's would be. An upstream that no longer knows the task (its
/// ttl passed there first) is 410.
async fn upstream<T>(
    timeout: Duration,
    request: impl Future<Output = Result<T, rmcp::ServiceError>>,
) -> Result<T, ApiError> {
    match tokio::time::timeout(timeout, request).await {
        Err(_elapsed) => Err(ApiError::gateway_timeout(timeout.as_secs_f64())),
        Ok(Ok(answer)) => Ok(answer),
        Ok(Err(error)) => Err(crate::result::error_for(&error)),
    }
}

fn already_ended() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "the task already ended; GET it for its result",
    )
}

fn ended_answer(id: &str, job: &Job, ended: &Ended) -> Response {
    let mut body = task_body(id, &job.tool, ended.status, None);
    if let Some((status, result)) = &ended.result {
        body["result"] = json!({"status": status, "body": result});
    }
    Json(body).into_response()
}

fn task_body(id: &str, tool: &str, status: &str, message: Option<&str>) -> Value {
    let mut body = json!({"taskId": id, "tool": tool, "status": status});
    if let Some(message) = message {
        body["statusMessage"] = json!(message);
    }
    body
}

/// Whole seconds, at least one.
fn retry_after(poll_interval: Duration) -> HeaderValue {
    HeaderValue::from(poll_interval.as_secs_f64().ceil().max(1.0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn respond_async_is_found_among_other_preferences() {
        let prefer = |value: &'static str| {
            let mut headers = HeaderMap::new();
            headers.insert("prefer", HeaderValue::from_static(value));
            prefers_async(&headers)
        };
        assert!(prefer("respond-async"));
        assert!(prefer("wait=10, Respond-Async"));
        assert!(prefer("respond-async; wait=5"));
        assert!(!prefer("return=minimal"));
        assert!(!prefer("respond-asynchronously"));
        assert!(!prefers_async(&HeaderMap::new()));
    }

    #[test]
    fn retry_after_is_whole_seconds_and_never_zero() {
        assert_eq!(retry_after(Duration::from_millis(200)), "1");
        assert_eq!(retry_after(Duration::from_millis(1500)), "2");
        assert_eq!(retry_after(Duration::from_secs(5)), "5");
    }
}
