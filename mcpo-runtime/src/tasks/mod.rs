//! MCP tasks upstream (the 2025-11-25 form): a tool whose locked definition
//! says `execution.taskSupport: "required"` can only be called as a task.
//! `tools/call` with a `task` parameter answers a task handle; `tasks/result`
//! waits for the task's end and answers the tool's result; `tasks/cancel`
//! stops it; `tasks/get` says where it stands.
//!
//! rmcp models only the later tasks extension (SEP-2663), so these go out
//! as custom requests and their answers are read as JSON.
//!
//! A REST caller or an MCP client of the gateway that calls such a tool
//! plainly gets the task's result as a plain call would: the proxy creates
//! the task and waits for it within the call's timeout
//! ([`call_as_task`]), and cancels it upstream when the caller goes away
//! or the timeout ends first.

use std::time::Duration;

use rmcp::model::{
    CallToolRequestParams, CallToolResult, ClientRequest, CustomRequest, ProgressNotificationParam,
    ProgressToken,
};
use rmcp::service::{Peer, PeerRequestOptions, RoleClient};
use rmcp::{ServiceError, model::ServerResult};
use serde_json::{Value, json};

use crate::lock::LockedTool;
pub use crate::lock::TaskSupport;
use crate::supervisor::Connection;
use crate::upstream::{CallRelays, ProgressSink, RELATED_TASK};

pub(crate) mod rest;
pub(crate) mod store;

/// The tools of a lock that may be called as tasks, and how.
pub fn support_of(tools: &[LockedTool]) -> std::collections::HashMap<String, TaskSupport> {
    tools
        .iter()
        .map(|tool| (tool.name.clone(), tool.task_support()))
        .filter(|(_, support)| *support != TaskSupport::Forbidden)
        .collect()
}

/// A task the upstream created.
#[derive(Clone, Debug)]
pub struct CreatedTask {
    pub id: String,
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
/// upstream to keep the task and its result.
pub async fn create(
    peer: &Peer<RoleClient>,
    params: CallToolRequestParams,
    ttl: Duration,
) -> Result<Created, ServiceError> {
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
        ttl: millis("ttl"),
        poll_interval: millis("pollInterval"),
    }))
}

/// Where a task stands (`tasks/get`): its `status` (`working`,
/// `input_required`, `completed`, `failed`, `cancelled`), `statusMessage`,
/// and the rest of what the upstream said, as it said it.
pub async fn status(peer: &Peer<RoleClient>, task_id: &str) -> Result<Value, ServiceError> {
    send(peer, "tasks/get", json!({"taskId": task_id})).await
}

/// The task's result (`tasks/result`), waiting for its end. A task that
/// failed answers the JSON-RPC error it failed with.
pub async fn result(
    peer: &Peer<RoleClient>,
    task_id: &str,
) -> Result<CallToolResult, ServiceError> {
    let answer = send(peer, "tasks/result", json!({"taskId": task_id})).await?;
    serde_json::from_value(answer).map_err(|_| ServiceError::UnexpectedResponse)
}

/// Asks the upstream to stop the task (`tasks/cancel`).
pub async fn cancel(peer: &Peer<RoleClient>, task_id: &str) -> Result<(), ServiceError> {
    send(peer, "tasks/cancel", json!({"taskId": task_id}))
        .await
        .map(drop)
}

/// A task-required tool called as a plain call: created, then waited for.
/// Dropped before its end (the caller left, the timeout passed), it cancels
/// the task upstream. A caller that asked for progress gets the task's
/// status messages as progress; one that can fill forms in gets the
/// task's (the rest are declined).
pub(crate) async fn call_as_task(
    connection: &Connection,
    params: CallToolRequestParams,
    ttl: Duration,
    relays: CallRelays,
) -> Result<CallToolResult, ServiceError> {
    let peer = &connection.peer;
    let task = match create(peer, params, ttl).await? {
        Created::Task(task) => task,
        Created::Done(result) => return Ok(result),
    };
    let mut guard = CancelTaskOnDrop(Some((peer.clone(), task.id.clone())));
    let CallRelays { progress, forms } = relays;
    let _forms = forms.map(|sink| connection.events.elicitation_route(task.id.clone(), sink));
    let answer = match progress {
        None => result(peer, &task.id).await,
        Some((token, sink)) => tokio::select! {
            answer = result(peer, &task.id) => answer,
            never = report_status(peer, &task, token, sink) => match never {},
        },
    };
    guard.0 = None;
    // The task was the proxy's to run: its id means nothing to the caller.
    answer.map(|mut result| {
        if let Some(meta) = result.meta.as_mut() {
            meta.0.remove(RELATED_TASK);
            if meta.0.is_empty() {
                result.meta = None;
            }
        }
        result
    })
}

/// Passes each new `statusMessage` of a task on as a progress notification
/// (numbered, without a total): a task says where it stands by its status,
/// which a caller that asked for progress wants to see. Runs until dropped.
async fn report_status(
    peer: &Peer<RoleClient>,
    task: &CreatedTask,
    token: ProgressToken,
    sink: ProgressSink,
) -> std::convert::Infallible {
    let interval = task
        .poll_interval
        .unwrap_or(Duration::from_secs(1))
        .max(MIN_STATUS_POLL);
    let mut last_message = None;
    let mut reported = 0u32;
    loop {
        if let Ok(now) = status(peer, &task.id).await
            && let Some(message) = now.get("statusMessage").and_then(Value::as_str)
            && last_message.as_deref() != Some(message)
        {
            reported += 1;
            let mut progress = ProgressNotificationParam::new(token.clone(), f64::from(reported));
            progress.message = Some(message.to_string());
            let _ = sink.send(progress);
            last_message = Some(message.to_string());
        }
        tokio::time::sleep(interval).await;
    }
}

/// The shortest interval at which a waited-for task's status is read.
const MIN_STATUS_POLL: Duration = Duration::from_millis(250);

/// Sends `tasks/cancel` for a task whose caller went away.
pub struct CancelTaskOnDrop(pub Option<(Peer<RoleClient>, String)>);

impl Drop for CancelTaskOnDrop {
    fn drop(&mut self) {
        if let Some((peer, task_id)) = self.0.take()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            runtime.spawn(async move {
                if let Err(error) = cancel(&peer, &task_id).await {
                    tracing::debug!(%error, task_id, "tasks/cancel for an abandoned task failed");
                }
            });
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
