//! A tool call as an HTTP async job (RFC 7240 `Prefer: respond-async`), for
//! tools the upstream runs as MCP tasks (`execution.taskSupport` required
//! or optional, or any tool of a server of the tasks extension, which
//! decides per call): the call answers `202 Accepted` at once, with `Location:
//! .../tasks/{taskId}` and `Retry-After`; `GET` there says where the task
//! stands and, once it ended, gives its result as `{"status", "body"}`, the
//! status and body the synchronous call would have answered; `DELETE`
//! cancels it upstream. A tool that cannot run as a task ignores the
//! preference (RFC 7240 lets a server) and answers as usual.
//!
//! While the task runs, the proxy waits for its end (`tasks/result` held
//! open, where the upstream sends its requests for the task; or, for the
//! extension, `tasks/get` polled, which carries the forms the task waits
//! on). A form the upstream asks the client to fill in puts the task in
//! `input_required`: `GET` shows the message and the schema, and `POST
//! .../tasks/{taskId}/input` answers it (`accept` with `content`, `decline`
//! or `cancel`); the task then goes on. A caller that did not ask for
//! `respond-async` cannot answer, so its call's forms are declined.
//!
//! Which task a `taskId` names, and for whom: `store.rs`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use rmcp::model::JsonObject;
use serde_json::{Value, json};
use tokio::time::Instant;

use super::store::{DEFAULT_POLL, Ended, Job, ended_answer, retry_after, task_body};
use crate::access::Audited;
use crate::app::App;
use crate::error::ApiError;
use crate::identity::Caller;
use crate::tool_answer::TypedChecks;
use crate::upstream::{ElicitationAsk, ElicitationRoute};

/// How long the proxy asks the upstream to keep a task: the upstream may
/// keep it for less, and says so.
const REQUESTED_TTL: Duration = Duration::from_secs(3600);

/// Whether the request asks to be answered before the call ends.
pub(crate) fn prefers_async(headers: &HeaderMap) -> bool {
    headers
        .get_all("prefer")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split([',', ';']))
        .any(|preference| preference.trim().eq_ignore_ascii_case("respond-async"))
}

/// A call started for a caller who will poll it.
pub(crate) enum Started {
    /// The upstream runs it as a task: the proxy's id for it, and the task.
    Task { id: String, job: Arc<Job> },
    /// The upstream ran it plainly (RFC 7240 lets a server answer a
    /// preference for async synchronously; a server of the tasks extension
    /// decides for itself): its result.
    Done(rmcp::model::CallToolResult),
}

/// Starts `tool` as an upstream task for `caller`, who polls it by the
/// returned id (over REST, or as an MCP client of the gateway).
///
/// `forms`: where the forms the upstream asks for before it makes a task
/// (an `input_required` answer) go; declined without one.
pub(crate) async fn start_job(
    app: &App,
    tool: &str,
    arguments: JsonObject,
    checks: TypedChecks,
    caller: &crate::identity::Caller,
    forms: Option<crate::upstream::ElicitationSink>,
) -> Result<Started, crate::app::CallFailure> {
    let state = app.state();
    let owner = caller.owner();
    state.jobs.make_room(owner.as_ref())?;
    let params = app.call_params(tool, arguments, caller);
    // A running task is a call at the upstream: it holds its
    // `--max-concurrency` slot until it ends, not only while it is created.
    let call_timeout = app.call_timeout(tool);
    let deadline = tokio::time::Instant::now() + call_timeout;
    let slot = state.limiter.admit(deadline, &state.metrics).await?;
    let form = state
        .task_support
        .get(tool)
        .map_or(super::TaskForm::Classic, |task| task.form);
    let (connection, created) = app
        .on_upstream_admitted(tool, deadline, call_timeout, |connection| async move {
            let created = super::create(
                &connection.peer,
                params,
                REQUESTED_TTL,
                form,
                forms.as_ref(),
            )
            .await?;
            Ok((connection, created))
        })
        .await?;
    let created = match created {
        super::Created::Task(created) => created,
        super::Created::Done(result) => return Ok(Started::Done(result)),
    };
    let (sink, asks) = tokio::sync::mpsc::unbounded_channel();
    let route = connection
        .events
        .elicitation_route(created.id.clone(), sink);
    let id = uuid::Uuid::new_v4().simple().to_string();
    // No longer than the proxy asked: a slot is not held for days.
    let ttl = created.ttl.unwrap_or(REQUESTED_TTL).min(REQUESTED_TTL);
    let job = Arc::new(Job {
        tool: tool.to_string(),
        owner,
        connection: Arc::downgrade(&connection),
        upstream: created.clone(),
        expires_at: Instant::now() + ttl,
        poll_interval: created.poll_interval.unwrap_or(DEFAULT_POLL),
        checks,
        ended: tokio::sync::Mutex::new(None),
        finished: tokio::sync::Notify::new(),
        pending_input: Mutex::new(None),
        forms_asked: Default::default(),
        delivered: Default::default(),
        created_at: crate::audit::rfc3339_millis(std::time::SystemTime::now()),
        ttl,
        forgotten: Default::default(),
    });
    state.jobs.insert(id.clone(), Arc::clone(&job));
    tokio::spawn(wait_for_end(
        Arc::clone(&job),
        connection.peer.clone(),
        connection.events.clone(),
        asks,
        route,
        slot,
    ));
    tracing::info!(tool, "started as an upstream task for an async caller");
    Ok(Started::Task { id, job })
}

/// Starts `tool` as an upstream task and answers 202. `call_path`: the
/// path the call was posted to, next to which the task's path is.
pub(crate) async fn start(
    app: &App,
    tool: &'static str,
    arguments: JsonObject,
    checks: TypedChecks,
    caller: &crate::identity::Caller,
    call_path: &str,
) -> Result<Response, ApiError> {
    let started = start_job(app, tool, arguments, checks, caller, None)
        .await
        .map_err(|failure| failure.answer)?;
    let (id, job) = match started {
        Started::Task { id, job } => (id, job),
        Started::Done(result) => {
            let body = crate::tool_answer::answer_body(tool, result, checks)?;
            return Ok(Json(body).into_response());
        }
    };
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
    answer.insert(header::RETRY_AFTER, retry_after(job.poll_interval));
    answer.insert(
        "preference-applied",
        HeaderValue::from_static("respond-async"),
    );
    Ok(response)
}

/// `GET` and `DELETE /tasks/{taskId}`, where a tool may run as a task.
pub(crate) fn routes(task_support: &HashMap<String, super::TaskUse>) -> Router<App> {
    if task_support.is_empty() {
        return Router::new();
    }
    Router::new()
        .route("/tasks/{task_id}", get(task_status).delete(cancel_task))
        .route("/tasks/{task_id}/input", post(answer_input))
}

/// Holds the task's `tasks/result` open until its end (or its expiry),
/// passing the forms the upstream asks for on to the caller, and keeps
/// how it ended. The task's `--max-concurrency` slot is freed then.
async fn wait_for_end(
    job: Arc<Job>,
    peer: rmcp::Peer<rmcp::RoleClient>,
    events: crate::upstream::UpstreamEvents,
    mut asks: tokio::sync::mpsc::UnboundedReceiver<ElicitationAsk>,
    _route: ElicitationRoute,
    _slot: Option<tokio::sync::OwnedSemaphorePermit>,
) {
    // Whatever way this ends, a form still waiting is answered `cancel`
    // (its sender dropped), and a GET waiting on the end is woken.
    let _done = WaiterDone(Arc::clone(&job));
    // The task is a request in flight on the session: a form tied to no
    // task is then nobody's for sure (upstream/events.rs).
    let _busy = events.request_in_flight();
    let result = super::result(&peer, &events, &job.upstream, None);
    tokio::pin!(result);
    // A cancel by the caller ends the wait (and frees the slot) even when
    // the upstream never answers `tasks/result` for the cancelled task.
    let cancelled = job.finished.notified();
    tokio::pin!(cancelled);
    let outcome = loop {
        tokio::select! {
            () = &mut cancelled => return,
            Some(ask) = asks.recv() => {
                // A task the caller cancelled takes no more forms.
                if job.running() {
                    let mut pending = job.pending_input.lock().unwrap_or_else(PoisonError::into_inner);
                    job.forms_asked.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    *pending = Some(ask);
                }
            }
            outcome = &mut result => break outcome,
            () = tokio::time::sleep_until(job.expires_at) => return,
        }
    };
    job.pending_input
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take();
    let (status, result, call) = match outcome {
        Ok(result) => {
            let call = Some(Ok(result.clone()));
            let (code, body) = match crate::tool_answer::answer_body(&job.tool, result, job.checks)
            {
                Ok(body) => (StatusCode::OK, body),
                Err(error) => error.into_status_and_body(),
            };
            ("completed", Some((code.as_u16(), body)), call)
        }
        // The session is gone: GET says so (410), as for any of its tasks.
        Err(rmcp::ServiceError::TransportClosed) => return,
        // The upstream cancelled it (a task of the extension says so).
        Err(rmcp::ServiceError::Cancelled { .. }) => ("cancelled", None, None),
        // Invalid params: the upstream no longer knows the task (expired
        // there first), if `tasks/get` says so too; else the task's own
        // failure.
        Err(rmcp::ServiceError::McpError(error))
            if error.code == rmcp::model::ErrorCode::INVALID_PARAMS
                && matches!(
                    super::status(&peer, &job.upstream).await,
                    Err(rmcp::ServiceError::McpError(ref unknown))
                        if unknown.code == rmcp::model::ErrorCode::INVALID_PARAMS
                ) =>
        {
            job.forgotten
                .store(true, std::sync::atomic::Ordering::Relaxed);
            return;
        }
        Err(error) => {
            let (code, body) = crate::result::error_for(&error).into_status_and_body();
            let call = match error {
                rmcp::ServiceError::McpError(error) => Some(Err(error)),
                _ => None,
            };
            ("failed", Some((code.as_u16(), body)), call)
        }
    };
    let mut ended = job.ended.lock().await;
    // A cancel the caller asked for stays the task's end.
    if ended.is_none() {
        *ended = Some(Ended {
            status,
            result,
            call,
        });
    }
}

/// Ends a waiter: a form still waiting is dropped (the upstream gets
/// `cancel`), and whoever waits on the task's end is told.
struct WaiterDone(Arc<Job>);

impl Drop for WaiterDone {
    fn drop(&mut self) {
        self.0
            .pending_input
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        self.0.finished.notify_waiters();
    }
}

async fn task_status(
    State(app): State<App>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (caller, job) = callers_task(&app, &id, &headers).await?;
    if let Some(answer) = job.ended_answer(&id).await {
        // Its result is what the tool returned: read as a call's is.
        let outcome = Ok(answer);
        audit(
            &app,
            &caller,
            "task-result",
            &job,
            &outcome,
            std::time::Instant::now(),
        );
        return outcome;
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
    let now = upstream(timeout, super::status(&connection.peer, &job.upstream))
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
    let status = match now.get("status").and_then(Value::as_str) {
        // A form shows once it reached the proxy (above); one the proxy
        // declined or is answering is no question for this caller.
        Some("input_required") | None => "working",
        Some(status) => status,
    };
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
            return Ok(ended_answer(&id, &job, &Ended::cancelled()));
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
    let (caller, job) = callers_task(&app, &id, &parts.headers).await?;
    let started = std::time::Instant::now();
    let outcome = answer_job_input(&app, &id, &job, &parts.headers, body).await;
    audit(&app, &caller, "task-input", &job, &outcome, started);
    outcome
}

async fn answer_job_input(
    app: &App,
    id: &str,
    job: &Job,
    headers: &HeaderMap,
    body: axum::body::Body,
) -> Result<Response, ApiError> {
    let (_, value) = app.json_body(headers, body).await?;
    if job.ended.lock().await.is_some() {
        return Err(already_ended());
    }
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
    answer_form(job, None, answer.action, answer.content)?;
    Ok(job.running_answer(task_body(id, &job.tool, "working", None)))
}

/// Answers the form `job` waits on (the one numbered `number`, when
/// given: an MCP client names the form it answers) with `action` and, for
/// `accept`, `content` checked against the form's schema (422).
pub(crate) fn answer_form(
    job: &Job,
    number: Option<u64>,
    action: rmcp::model::ElicitationAction,
    content: Option<Value>,
) -> Result<(), ApiError> {
    let mut pending = job
        .pending_input
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    let current = job.forms_asked.load(std::sync::atomic::Ordering::Relaxed);
    // The pending form stays when the answer is for another one.
    let asked = number.is_none_or(|number| number == current);
    let Some(ask) = pending.take_if(|_| asked) else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "the task is not waiting for input: GET it to see where it stands",
        ));
    };
    let accepted = action == rmcp::model::ElicitationAction::Accept;
    let content = match (accepted, content) {
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
    let mut result = rmcp::model::ElicitResult::new(action);
    result.content = content;
    // The upstream may have given up meanwhile: the answer then goes nowhere.
    let _ = ask.reply.send(result);
    drop(pending);
    tracing::info!(tool = job.tool, "an async caller answered its task's form");
    Ok(())
}

async fn cancel_task(
    State(app): State<App>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (caller, job) = callers_task(&app, &id, &headers).await?;
    let started = std::time::Instant::now();
    let outcome = cancel_job(&app, &id, &job).await;
    audit(&app, &caller, "task-cancel", &job, &outcome, started);
    outcome
}

async fn cancel_job(app: &App, id: &str, job: &Job) -> Result<Response, ApiError> {
    cancel_started(app, job).await?;
    Ok(ended_answer(id, job, &Ended::cancelled()))
}

/// Cancels the task upstream (`tasks/cancel`) and ends it `cancelled`;
/// 409 once it ended.
pub(crate) async fn cancel_started(app: &App, job: &Job) -> Result<(), ApiError> {
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
    match upstream(timeout, super::cancel(&connection.peer, &job.upstream)).await {
        Ok(()) => {}
        // The upstream refuses to cancel a task that already ended.
        Err(error) if error.status == StatusCode::UNPROCESSABLE_ENTITY => {
            return Err(already_ended());
        }
        Err(error) => return Err(error),
    }
    tracing::info!(tool = job.tool, "an async caller cancelled its task");
    *ended = Some(Ended::cancelled());
    drop(ended);
    job.finished.notify_waiters();
    Ok(())
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

/// The caller the request authenticates as, and its task `id` (401, 404,
/// 410).
async fn callers_task(
    app: &App,
    id: &str,
    headers: &HeaderMap,
) -> Result<(Caller, Arc<Job>), ApiError> {
    let caller = app.state().access.auth.authenticate(headers).await?;
    let job = app.state().jobs.find(caller.owner(), id)?;
    Ok((caller, job))
}

/// One audit line for what `caller` did with its task (`kind`), named by
/// the task's tool; polls of a task still working have none.
fn audit(
    app: &App,
    caller: &Caller,
    kind: &'static str,
    job: &Job,
    outcome: &Result<Response, ApiError>,
    started: std::time::Instant,
) {
    let status = match outcome {
        Ok(response) => response.status().as_u16(),
        Err(error) => error.status.as_u16(),
    };
    let what = Audited {
        kind,
        name: &job.tool,
    };
    app.audit_status(caller, what, status, started);
}

fn already_ended() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "the task already ended; GET it for its result",
    )
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
}
