//! The tasks callers started with `Prefer: respond-async` (`rest.rs`), or
//! as MCP clients of the tasks extension (`gateway/tasks.rs`), by the
//! proxy's own `taskId`: random, so unguessable, and bound to the caller
//! that started it (another gets 404). A task lives as long as the
//! upstream keeps it (its `ttl`), then answers 410 for an hour; tasks live
//! in their upstream session, so once that session is gone (the upstream
//! restarted) they answer 410; after a proxy restart their ids are unknown
//! (404). The message says which.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::auth::KeyDigest;
use crate::error::ApiError;
use crate::supervisor::Connection;
use crate::tool_answer::TypedChecks;
use crate::upstream::ElicitationAsk;

/// At most this many tasks are tracked at once; more is 503.
pub(super) const MAX_TASKS: usize = 1024;

/// At most this many of them started with one API key.
const MAX_TASKS_PER_KEY: usize = 256;

/// How long an expired task still answers 410 (then 404).
const EXPIRED_KEPT: Duration = Duration::from_secs(3600);

/// `Retry-After` when the upstream suggests no poll interval.
pub(super) const DEFAULT_POLL: Duration = Duration::from_secs(1);

/// The async calls of one server, by the `taskId` their callers hold.
#[derive(Default)]
pub struct Jobs {
    jobs: Mutex<HashMap<String, Arc<Job>>>,
}

pub(crate) struct Job {
    pub(super) tool: String,
    /// The API key that started it; `None` when the proxy has no keys.
    pub(super) owner: Option<KeyDigest>,
    /// The upstream session the task lives in.
    pub(super) connection: Weak<Connection>,
    /// The task upstream: its id there, and its form.
    pub(super) upstream: super::CreatedTask,
    pub(super) expires_at: Instant,
    pub(super) poll_interval: Duration,
    pub(super) checks: TypedChecks,
    /// How it ended, once the proxy has seen its end.
    pub(super) ended: tokio::sync::Mutex<Option<Ended>>,
    /// Told when `ended` is set.
    pub(super) finished: tokio::sync::Notify,
    /// The form the upstream waits on the caller for.
    pub(super) pending_input: Mutex<Option<ElicitationAsk>>,
    /// Its caller has read its end.
    pub(super) delivered: std::sync::atomic::AtomicBool,
    /// How many forms it asked for so far: the pending one's number.
    pub(super) forms_asked: std::sync::atomic::AtomicU64,
    /// When it started (RFC 3339), and how long it is kept from then.
    pub(super) created_at: String,
    pub(super) ttl: Duration,
    /// The upstream forgot the task before the proxy's clock said so (its
    /// ttl ran from the task's creation, before the proxy heard of it).
    pub(super) forgotten: std::sync::atomic::AtomicBool,
}

#[derive(Clone)]
pub(crate) struct Ended {
    /// `completed`, `failed` or `cancelled`.
    pub(crate) status: &'static str,
    /// The synchronous call's status and body (none for `cancelled`).
    pub(crate) result: Option<(u16, Value)>,
    /// For an MCP client: the tool's result as the upstream gave it
    /// (`completed`), or the JSON-RPC error the upstream failed it with.
    pub(crate) call: Option<Result<rmcp::model::CallToolResult, rmcp::model::ErrorData>>,
}

impl Ended {
    pub(super) fn cancelled() -> Ended {
        Ended {
            status: "cancelled",
            result: None,
            call: None,
        }
    }
}

impl Jobs {
    /// Forgets tasks expired for a while (an expired task answers 410 for
    /// [`EXPIRED_KEPT`], then 404), and when the table is full any expired
    /// one, then any whose end its caller has read; 503 when running tasks
    /// fill it.
    pub(super) fn make_room(&self, owner: Option<&KeyDigest>) -> Result<(), ApiError> {
        let mut jobs = self.jobs.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        jobs.retain(|_, job| job.expires_at + EXPIRED_KEPT > now);
        if jobs.len() >= MAX_TASKS {
            jobs.retain(|_, job| !job.expired(now));
        }
        if jobs.len() >= MAX_TASKS {
            jobs.retain(|_, job| !job.delivered.load(std::sync::atomic::Ordering::Relaxed));
        }
        // One key cannot take every slot from the others: its running
        // tasks count (a client of the gateway's tasks makes one of many
        // calls, read at once).
        let owned = jobs
            .values()
            .filter(|job| job.owner.as_ref() == owner && !job.expired(now) && job.running())
            .count();
        if owner.is_some() && owned >= MAX_TASKS_PER_KEY {
            return Err(ApiError::unavailable(
                format!(
                    "this key already has {MAX_TASKS_PER_KEY} async tasks; retry when some have expired, or call without Prefer: respond-async"
                ),
                DEFAULT_POLL.as_secs(),
            ));
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

    pub(super) fn insert(&self, id: String, job: Arc<Job>) {
        self.jobs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id, job);
    }

    /// The task `id` of `owner` (an authenticated caller's): 404 when
    /// unknown or another caller's, 410 once expired.
    pub(crate) fn find(&self, owner: Option<KeyDigest>, id: &str) -> Result<Arc<Job>, ApiError> {
        let jobs = self.jobs.lock().unwrap_or_else(PoisonError::into_inner);
        let job = jobs
            .get(id)
            .filter(|job| job.owner == owner)
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::NOT_FOUND,
                    "no such task: task ids are the caller's (key or identity) that started them and last as long as the proxy process (a task started before a proxy restart is gone)",
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
    pub(super) fn running_answer(&self, body: Value) -> Response {
        let mut response = Json(body).into_response();
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, retry_after(self.poll_interval));
        response
    }

    pub(super) fn expired(&self, now: Instant) -> bool {
        self.expires_at <= now || self.forgotten.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The answer for a task that ended, once it has.
    pub(super) async fn ended_answer(&self, id: &str) -> Option<Response> {
        let ended = self.ended.lock().await;
        let answer = ended.as_ref().map(|ended| ended_answer(id, self, ended));
        self.delivered
            .fetch_or(answer.is_some(), std::sync::atomic::Ordering::Relaxed);
        answer
    }

    /// Whether it has not ended (a lock held by a poller counts as not).
    pub(super) fn running(&self) -> bool {
        self.ended.try_lock().map_or(true, |ended| ended.is_none())
    }

    pub(crate) fn connection(&self) -> Result<Arc<Connection>, ApiError> {
        self.connection.upgrade().ok_or_else(|| {
            ApiError::new(
                StatusCode::GONE,
                "the task is gone: the upstream MCP server restarted since it started, and its tasks with it",
            )
        })
    }
}

/// Where a task stands, for an MCP client of the gateway.
pub(crate) enum Standing {
    Working,
    /// It waits on a form, the `number`th it asked for.
    AwaitingForm {
        number: u64,
        request: rmcp::model::ElicitRequestParams,
    },
    Ended(Ended),
}

impl Job {
    /// The tool it runs.
    pub(crate) fn tool(&self) -> &str {
        &self.tool
    }

    pub(crate) async fn standing(&self) -> Standing {
        if let Some(ended) = self.ended.lock().await.clone() {
            self.delivered
                .store(true, std::sync::atomic::Ordering::Relaxed);
            return Standing::Ended(ended);
        }
        let pending = self
            .pending_input
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match pending.as_ref() {
            Some(ask) => Standing::AwaitingForm {
                number: self.forms_asked.load(std::sync::atomic::Ordering::Relaxed),
                request: ask.request.clone(),
            },
            None => Standing::Working,
        }
    }

    /// The task as MCP states it, under the proxy's `id` for it.
    pub(crate) fn mcp_task(&self, id: &str, status: rmcp::model::TaskStatus) -> rmcp::model::Task {
        let millis = |duration: Duration| u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
        rmcp::model::Task::new(id, status, &self.created_at, &self.created_at)
            .with_ttl_ms(millis(self.ttl))
            .with_poll_interval_ms(millis(self.poll_interval))
    }

    /// What the upstream says of its running task (`statusMessage`), if
    /// it says it within `timeout`.
    pub(crate) async fn status_message(&self, timeout: Duration) -> Option<String> {
        let connection = self.connection.upgrade()?;
        let now = tokio::time::timeout(timeout, super::status(&connection.peer, &self.upstream))
            .await
            .ok()?
            .ok()?;
        now.get("statusMessage")?.as_str().map(str::to_string)
    }
}

pub(super) fn ended_answer(id: &str, job: &Job, ended: &Ended) -> Response {
    let mut body = task_body(id, &job.tool, ended.status, None);
    if let Some((status, result)) = &ended.result {
        body["result"] = json!({"status": status, "body": result});
    }
    Json(body).into_response()
}

pub(super) fn task_body(id: &str, tool: &str, status: &str, message: Option<&str>) -> Value {
    let mut body = json!({"taskId": id, "tool": tool, "status": status});
    if let Some(message) = message {
        body["statusMessage"] = json!(message);
    }
    body
}

/// Whole seconds, at least one.
pub(super) fn retry_after(poll_interval: Duration) -> HeaderValue {
    HeaderValue::from(poll_interval.as_secs_f64().ceil().max(1.0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_whole_seconds_and_never_zero() {
        assert_eq!(retry_after(Duration::from_millis(200)), "1");
        assert_eq!(retry_after(Duration::from_millis(1500)), "2");
        assert_eq!(retry_after(Duration::from_secs(5)), "5");
    }
}
