//! MCP tasks upstream, in both forms an upstream may speak:
//!
//! - **2025-11-25** ([`TaskForm::Classic`]): a tool whose locked definition
//!   says `execution.taskSupport` runs as a task when `tools/call` carries a
//!   `task` parameter; `tasks/result` waits for its end and answers the
//!   tool's result; the upstream asks for forms with `elicitation/create`
//!   requests tied to the task. rmcp does not model this form: these go out
//!   as custom requests and their answers are read as JSON.
//! - **The tasks extension** (SEP-2663, [`TaskForm::Extension`]): a server
//!   that declares `io.modelcontextprotocol/tasks` answers any `tools/call`
//!   it likes with a task (`resultType: "task"`); `tasks/get` is polled
//!   until the task ends and carries its result, or the forms it waits on
//!   (`inputRequests`), which `tasks/update` answers.
//!
//! A REST caller or an MCP client of the gateway that calls such a tool
//! plainly gets the task's result as a plain call would: the proxy waits
//! for the task within the call's timeout ([`call`]), and cancels it
//! upstream when the caller goes away or the timeout ends first.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use rmcp::model::{
    CallToolRequestParams, CallToolResult, CancelTaskParams, ClientRequest, CustomRequest,
    ErrorData, GetTaskParams, TaskPayload, UpdateTaskParams,
};
use rmcp::service::{Peer, PeerRequestOptions, RoleClient};
use rmcp::{ServiceError, model::ServerResult};
use serde_json::{Value, json};

pub use crate::lock::TaskSupport;
use crate::lock::{LockedTool, ServerFacts};
use crate::upstream::UpstreamEvents;

pub(crate) mod call;
pub(crate) mod rest;
pub(crate) mod store;

pub(crate) use call::call;

/// Which of a server's tools may run as tasks, how, and in which form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TaskUse {
    pub support: TaskSupport,
    pub form: TaskForm,
}

/// The tools of a lock that may be called as tasks, and how.
pub fn support_of(tools: &[LockedTool], server: &ServerFacts) -> HashMap<String, TaskUse> {
    // A server of the extension makes tasks its way, whatever a tool's
    // definition says.
    let form = match server.speaks_tasks_extension() {
        true => TaskForm::Extension,
        false => TaskForm::Classic,
    };
    tools
        .iter()
        .filter_map(|tool| {
            let support = tool.task_support_on(server);
            (support != TaskSupport::Forbidden)
                .then(|| (tool.name.clone(), TaskUse { support, form }))
        })
        .collect()
}

/// How a task is made, polled and cancelled upstream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskForm {
    /// MCP 2025-11-25: `task` in `tools/call`, `tasks/result`.
    Classic,
    /// The tasks extension (SEP-2663): `tasks/get` until the end.
    Extension,
}

/// A task the upstream created.
#[derive(Clone, Debug)]
pub struct CreatedTask {
    pub id: String,
    pub form: TaskForm,
    /// How long the upstream keeps it (`ttl`), when it says.
    pub ttl: Option<Duration>,
    /// How often it asks to be polled (`pollInterval`), when it says.
    pub poll_interval: Option<Duration>,
}

/// What `tools/call` as a task answered.
pub enum Created {
    Task(CreatedTask),
    /// The upstream ran the tool plainly (it ignored `task`, as a server
    /// without task support does): its result, which must not be lost, or
    /// the tool would run twice when called again.
    Done(CallToolResult),
}

/// `tools/call` as a task. `ttl`: how long the caller would like the
/// upstream to keep the task and its result (the classic form; a server of
/// the extension chooses). The forms a server of the extension asks for
/// before it makes a task (`input_required`) go to `forms` (declined
/// without it: a REST caller can answer a task's forms only).
pub async fn create(
    peer: &Peer<RoleClient>,
    params: CallToolRequestParams,
    ttl: Duration,
    form: TaskForm,
    forms: Option<&crate::upstream::ElicitationSink>,
) -> Result<Created, ServiceError> {
    if form == TaskForm::Extension {
        return call::answered_or_task(params, forms, |params| peer.call_tool_once(params)).await;
    }
    let mut request =
        serde_json::to_value(&params).map_err(|_| ServiceError::UnexpectedResponse)?;
    request["task"] = json!({"ttl": ttl.as_millis() as u64});
    let answer = send(peer, "tools/call", request).await?;
    let Some(task) = answer.get("task") else {
        return serde_json::from_value(answer)
            .map(Created::Done)
            .map_err(|_| ServiceError::UnexpectedResponse);
    };
    let id = task
        .get("taskId")
        .and_then(Value::as_str)
        .ok_or(ServiceError::UnexpectedResponse)?;
    let millis = |key: &str| {
        task.get(key)
            .and_then(Value::as_u64)
            .map(Duration::from_millis)
    };
    Ok(Created::Task(CreatedTask {
        id: id.to_string(),
        form,
        ttl: millis("ttl"),
        poll_interval: millis("pollInterval"),
    }))
}

/// Where a task stands (`tasks/get`): its `status` (`working`,
/// `input_required`, `completed`, `failed`, `cancelled`), `statusMessage`,
/// and the rest of what the upstream said, as it said it.
pub async fn status(peer: &Peer<RoleClient>, task: &CreatedTask) -> Result<Value, ServiceError> {
    match task.form {
        TaskForm::Classic => send(peer, "tasks/get", json!({"taskId": task.id})).await,
        TaskForm::Extension => {
            let now = peer.get_task(GetTaskParams::new(&task.id)).await?;
            serde_json::to_value(now).map_err(|_| ServiceError::UnexpectedResponse)
        }
    }
}

/// The task's result, waiting for its end. A task that failed answers the
/// JSON-RPC error it failed with. The forms a task of the extension waits
/// on go to the caller its `events` route them to (declined otherwise).
///
/// `status`: where a task of the extension reports its status messages, as
/// it is polled anyway (a task of the classic form is waited on, not
/// polled: see `call::report_status`).
pub async fn result(
    peer: &Peer<RoleClient>,
    events: &UpstreamEvents,
    task: &CreatedTask,
    status: Option<&mut call::StatusReport>,
) -> Result<CallToolResult, ServiceError> {
    if task.form == TaskForm::Extension {
        return extension_result(peer, events, task, status).await;
    }
    let answer = send(peer, "tasks/result", json!({"taskId": task.id})).await?;
    serde_json::from_value(answer).map_err(|_| ServiceError::UnexpectedResponse)
}

/// Polls a task of the extension until it ends, answering the forms it
/// asks for on the way (each once: `tasks/update` is taken in its own
/// time, and a poll may still show an answered request).
async fn extension_result(
    peer: &Peer<RoleClient>,
    events: &UpstreamEvents,
    task: &CreatedTask,
    mut status: Option<&mut call::StatusReport>,
) -> Result<CallToolResult, ServiceError> {
    let interval = poll_interval(task);
    let mut answered = BTreeSet::new();
    loop {
        let now = peer.get_task(GetTaskParams::new(&task.id)).await?;
        if let Some(status) = status.as_deref_mut() {
            status.report(now.task.task.status_message.as_deref());
        }
        match now.task.payload {
            TaskPayload::Completed { result } => {
                return serde_json::from_value(Value::Object(result))
                    .map_err(|_| ServiceError::UnexpectedResponse);
            }
            TaskPayload::Failed { error } => {
                let error = serde_json::from_value(Value::Object(error)).unwrap_or_else(|_| {
                    ErrorData::internal_error("the upstream task failed", None)
                });
                return Err(ServiceError::McpError(error));
            }
            TaskPayload::Cancelled => {
                return Err(ServiceError::Cancelled {
                    reason: Some("the upstream cancelled the task".into()),
                });
            }
            TaskPayload::InputRequired { input_requests } => {
                let asked: rmcp::model::InputRequests = input_requests
                    .into_iter()
                    .filter(|(key, _)| !answered.contains(key))
                    .collect();
                if !asked.is_empty() {
                    let forms = events.form_sink(&task.id);
                    let answered_now = async {
                        let answers = call::answer_input_requests(asked, forms.as_ref()).await?;
                        let keys: Vec<String> = answers.keys().cloned().collect();
                        peer.update_task(UpdateTaskParams::new(&task.id, answers))
                            .await?;
                        Ok::<_, ServiceError>(keys)
                    };
                    match answered_now.await {
                        Ok(keys) => answered.extend(keys),
                        // The proxy cannot go on with it (a sampling request,
                        // an answer not taken): the task must not wait on.
                        Err(error) => {
                            let _ = cancel(peer, task).await;
                            return Err(error);
                        }
                    }
                    continue;
                }
            }
            _ => {}
        }
        tokio::time::sleep(interval).await;
    }
}

/// How often a waited-for task is polled: as it asks, within reason.
fn poll_interval(task: &CreatedTask) -> Duration {
    task.poll_interval
        .unwrap_or(Duration::from_secs(1))
        .max(MIN_STATUS_POLL)
}

/// Asks the upstream to stop the task (`tasks/cancel`).
pub async fn cancel(peer: &Peer<RoleClient>, task: &CreatedTask) -> Result<(), ServiceError> {
    match task.form {
        TaskForm::Classic => send(peer, "tasks/cancel", json!({"taskId": task.id}))
            .await
            .map(drop),
        TaskForm::Extension => peer.cancel_task(CancelTaskParams::new(&task.id)).await,
    }
}

/// The shortest interval at which a waited-for task's status is read.
const MIN_STATUS_POLL: Duration = Duration::from_millis(250);

impl CreatedTask {
    /// A task the upstream made of a call, in the extension's form.
    fn of_extension(task: rmcp::model::Task) -> Self {
        CreatedTask {
            id: task.task_id,
            form: TaskForm::Extension,
            ttl: task.ttl_ms.map(Duration::from_millis),
            poll_interval: task.poll_interval_ms.map(Duration::from_millis),
        }
    }
}

/// One custom request, its answer as JSON. rmcp sends `notifications/
/// cancelled` for it if this future is dropped first.
async fn send(peer: &Peer<RoleClient>, method: &str, params: Value) -> Result<Value, ServiceError> {
    let request = ClientRequest::CustomRequest(CustomRequest::new(method, Some(params)));
    let handle = peer
        .send_cancellable_request(request, PeerRequestOptions::no_options())
        .await?;
    let mut cancel = crate::upstream::CancelOnDrop(Some((handle.peer.clone(), handle.id.clone())));
    let answer = handle.await_response().await;
    cancel.0 = None;
    result_json(answer?)
}

/// A result as the upstream sent it: rmcp reads every answer into one of
/// its types, and a custom request's usually stays [`CustomResult`]
/// (serialized back, each type gives its wire form).
///
/// [`CustomResult`]: rmcp::model::CustomResult
fn result_json(answer: ServerResult) -> Result<Value, ServiceError> {
    match answer {
        ServerResult::CustomResult(custom) => Ok(custom.0),
        other => serde_json::to_value(other).map_err(|_| ServiceError::UnexpectedResponse),
    }
}
