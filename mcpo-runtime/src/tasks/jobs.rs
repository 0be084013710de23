//! A tool call as an HTTP async job (RFC 7240 `Prefer: respond-async`), for
//! tools the upstream runs as MCP tasks (`execution.taskSupport` required
//! or optional): the call answers `202 Accepted` at once, with `Location:
//! .../tasks/{taskId}` and `Retry-After`; `GET` there says where the task
//! stands and, once it ended, gives its result as `{"status", "body"}`, the
//! status and body the synchronous call would have answered; `DELETE`
//! cancels it upstream. A tool that cannot run as a task ignores the
//! preference (RFC 7240 lets a server) and answers as usual.
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
use axum::routing::get;
use axum::{Json, Router};
use rmcp::model::{CallToolRequestParams, JsonObject};
use serde_json::{Value, json};
use tokio::time::Instant;

use super::CreatedTask;
use crate::app::{App, TypedChecks};
use crate::auth::KeyDigest;
use crate::error::ApiError;
use crate::supervisor::Connection;

/// How long the proxy asks the upstream to keep a task: the upstream may
/// keep it for less, and says so.
const REQUESTED_TTL: Duration = Duration::from_secs(3600);

/// At most this many tasks are tracked at once; more is 503.
const MAX_TASKS: usize = 1024;

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
    let (connection, created): (Weak<Connection>, CreatedTask) = app
        .on_upstream(tool, app.call_timeout(tool), |connection| async move {
            let created = super::create(&connection.peer, params, REQUESTED_TTL).await?;
            Ok((Arc::downgrade(&connection), created))
        })
        .await
        .map_err(|failure| failure.answer)?;
    let id = uuid::Uuid::new_v4().simple().to_string();
    let poll_interval = created.poll_interval.unwrap_or(DEFAULT_POLL);
    let job = Arc::new(Job {
        tool: tool.to_string(),
        owner,
        connection,
        upstream_id: created.id,
        expires_at: Instant::now() + created.ttl.unwrap_or(REQUESTED_TTL),
        poll_interval,
        checks,
        ended: tokio::sync::Mutex::new(None),
    });
    state.jobs.insert(id.clone(), Arc::clone(&job));
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
    Router::new().route("/tasks/{task_id}", get(task_status).delete(cancel_task))
}

async fn task_status(
    State(app): State<App>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let job = app.state().jobs.find(&app, &id, &headers)?;
    let mut ended = job.ended.lock().await;
    if let Some(ended) = ended.as_ref() {
        return Ok(ended_answer(&id, &job, ended));
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
    let end = match status {
        "completed" | "failed" => {
            let outcome =
                upstream(timeout, super::result(&connection.peer, &job.upstream_id)).await;
            let (code, body) = match outcome {
                Ok(result) => match crate::app::answer_body(&job.tool, result, job.checks) {
                    Ok(body) => (StatusCode::OK, body),
                    Err(error) => error.into_status_and_body(),
                },
                // The task's own failure is its result; the proxy's own
                // trouble reading it (a timeout) is answered as such.
                Err(error) if status == "failed" => error.into_status_and_body(),
                Err(error) => return Err(error),
            };
            Ended {
                status: if status == "completed" {
                    "completed"
                } else {
                    "failed"
                },
                result: Some((code.as_u16(), body)),
            }
        }
        "cancelled" => Ended {
            status: "cancelled",
            result: None,
        },
        _ => {
            let mut response = Json(task_body(&id, &job.tool, status, message)).into_response();
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, retry_after(job.poll_interval));
            return Ok(response);
        }
    };
    let answer = ended_answer(&id, &job, &end);
    *ended = Some(end);
    Ok(answer)
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
    Ok(answer)
}

impl Jobs {
    /// Forgets expired tasks; 503 when the rest fill the table.
    fn make_room(&self) -> Result<(), ApiError> {
        let mut jobs = self.jobs.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        jobs.retain(|_, job| job.expires_at > now);
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
        let mut jobs = self.jobs.lock().unwrap_or_else(PoisonError::into_inner);
        let job = jobs
            .get(id)
            .filter(|job| job.owner == keys.caller(headers))
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::NOT_FOUND,
                    "no such task: task ids are the key's that started them and last as long as the proxy process (a task started before a proxy restart is gone)",
                )
            })?;
        if job.expires_at <= Instant::now() {
            jobs.remove(id);
            return Err(ApiError::new(
                StatusCode::GONE,
                "the task expired: the upstream keeps a task and its result only for its ttl",
            ));
        }
        Ok(Arc::clone(job))
    }
}

impl Job {
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
