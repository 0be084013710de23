//! A tool call upstream, to its end. On the way the upstream may
//! - ask for input before it answers (MCP 2026-07-28's `input_required`
//!   result, SEP-2322): its forms go to the caller when it can answer them
//!   (an MCP client of the gateway, an async REST caller's task), else are
//!   declined, and the call is sent again with the answers;
//! - ask for input while it runs (`elicitation/create`, before 2026-07-28):
//!   tied to no task, such a form is this call's when it is the only
//!   request in flight on the session (`upstream/events.rs`);
//! - make a task of the call (the tasks extension, SEP-2663), or be asked
//!   for one (a task-required tool, MCP 2025-11-25): the call then waits
//!   for the task, and cancels it upstream when dropped first.

use rmcp::ServiceError;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ClientRequest, ErrorCode, ErrorData,
    InputRequest, InputRequests, InputRequiredResult, InputResponses, ProgressNotificationParam,
    ProgressToken, ServerResult,
};
use rmcp::service::{Peer, PeerRequestOptions, RoleClient};
use serde_json::{Value, json};
use std::time::Duration;

use super::{Created, CreatedTask, TaskForm};
use crate::supervisor::Connection;
use crate::upstream::{CallRelays, ElicitationSink, ProgressSink, RELATED_TASK, ask_form};

/// The most `input_required` rounds one call goes through (rmcp's own
/// client stops at the same number): an upstream that keeps asking must
/// not hold a call forever.
const MAX_INPUT_ROUNDS: usize = rmcp::model::DEFAULT_MRTR_MAX_ROUNDS;

/// A plain call (no task asked for), to its end.
pub(crate) async fn call(
    connection: &Connection,
    params: CallToolRequestParams,
    relays: CallRelays,
) -> Result<CallToolResult, ServiceError> {
    let CallRelays { progress, forms } = relays;
    // A form the upstream asks for during the call, tied to no task, is
    // this caller's when this call is all the session is doing.
    let _forms_route = forms
        .clone()
        .map(|sink| connection.events.plain_call_forms(sink));
    let answered = answered_or_task(params, forms.as_ref(), |params| async {
        match &progress {
            Some((token, sink)) => {
                with_progress(connection, params, token.clone(), sink.clone()).await
            }
            None => connection.peer.call_tool_once(params).await,
        }
    })
    .await?;
    match answered {
        Created::Done(result) => Ok(result),
        Created::Task(task) => wait_for(connection, task, CallRelays { progress, forms }).await,
    }
}

/// Sends a call (with `send`) until the upstream answers it or makes a
/// task of it, answering what it asks for on the way (`input_required`,
/// at most [`MAX_INPUT_ROUNDS`] times): its forms go to `forms`.
pub(crate) async fn answered_or_task<F, Fut>(
    mut params: CallToolRequestParams,
    forms: Option<&ElicitationSink>,
    mut send: F,
) -> Result<Created, ServiceError>
where
    F: FnMut(CallToolRequestParams) -> Fut,
    Fut: Future<Output = Result<CallToolResponse, ServiceError>>,
{
    for _ in 0..MAX_INPUT_ROUNDS {
        match send(params.clone()).await? {
            CallToolResponse::Complete(result) => return Ok(Created::Done(result)),
            CallToolResponse::Task(created) => {
                return Ok(Created::Task(CreatedTask::of_extension(created.task)));
            }
            CallToolResponse::InputRequired(asked) => {
                retry_with_answers(&mut params, asked, forms).await?;
            }
            _ => return Err(ServiceError::UnexpectedResponse),
        }
    }
    Err(ServiceError::InputRequiredRoundsExceeded {
        max_rounds: MAX_INPUT_ROUNDS,
    })
}

/// A task-required tool called as a plain call: created, then waited for.
pub(crate) async fn call_as_task(
    connection: &Connection,
    params: CallToolRequestParams,
    ttl: Duration,
    relays: CallRelays,
) -> Result<CallToolResult, ServiceError> {
    match super::create(&connection.peer, params, ttl, TaskForm::Classic, None).await? {
        Created::Task(task) => wait_for(connection, task, relays).await,
        Created::Done(result) => Ok(result),
    }
}

/// Waits for a task the upstream runs for a plain call. Dropped before its
/// end (the caller left, the timeout passed), it cancels the task
/// upstream. A caller that asked for progress gets the task's status
/// messages as progress; one that can fill forms in gets the task's (the
/// rest are declined).
async fn wait_for(
    connection: &Connection,
    task: CreatedTask,
    relays: CallRelays,
) -> Result<CallToolResult, ServiceError> {
    let peer = &connection.peer;
    let mut guard = CancelTaskOnDrop(Some((peer.clone(), task.clone())));
    let CallRelays { progress, forms } = relays;
    let _forms = forms.map(|sink| connection.events.elicitation_route(task.id.clone(), sink));
    let events = &connection.events;
    let answer = match (progress, task.form) {
        (None, _) => super::result(peer, events, &task, None).await,
        // Polled anyway: each poll's status message is reported.
        (Some((token, sink)), TaskForm::Extension) => {
            let mut status = StatusReport::new(token, sink);
            super::result(peer, events, &task, Some(&mut status)).await
        }
        (Some((token, sink)), TaskForm::Classic) => tokio::select! {
            answer = super::result(peer, events, &task, None) => answer,
            never = report_status(peer, &task, StatusReport::new(token, sink)) => match never {},
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

/// The call sent again with the answers to what the upstream asked
/// (`inputResponses`) and the state it gave back (`requestState`).
async fn retry_with_answers(
    params: &mut CallToolRequestParams,
    asked: InputRequiredResult,
    forms: Option<&ElicitationSink>,
) -> Result<(), ServiceError> {
    params.input_responses = match asked.input_requests {
        Some(requests) => Some(answer_input_requests(requests, forms).await?),
        None => None,
    };
    params.request_state = asked.request_state;
    Ok(())
}

/// The answers to what an upstream asks its client during a call: a form
/// goes to the caller behind `forms` (declined without one), the roots are
/// none (the proxy shares no folder). Sampling fails the call: a proxy has
/// no model to ask, and a sampling answer cannot be declined.
pub(crate) async fn answer_input_requests(
    requests: InputRequests,
    forms: Option<&ElicitationSink>,
) -> Result<InputResponses, ServiceError> {
    let mut answers = InputResponses::new();
    for (key, request) in requests {
        let answer = match request {
            InputRequest::Elicitation(request) => {
                serde_json::to_value(ask_form(forms, request.params).await)
                    .map_err(|_| ServiceError::UnexpectedResponse)?
            }
            InputRequest::ListRoots(_) => json!({"roots": []}),
            InputRequest::CreateMessage(_) => {
                return Err(ServiceError::McpError(ErrorData::new(
                    ErrorCode::INTERNAL_ERROR,
                    "the upstream asked its client to sample a model (sampling/createMessage), which an mcpo-gen proxy does not do",
                    None,
                )));
            }
            _ => return Err(ServiceError::UnexpectedResponse),
        };
        answers.insert(key, answer);
    }
    Ok(answers)
}

/// Passes each new `statusMessage` of a task on as a progress notification
/// (numbered, without a total): a task says where it stands by its status,
/// which a caller that asked for progress wants to see.
pub(crate) struct StatusReport {
    token: ProgressToken,
    sink: ProgressSink,
    last_message: Option<String>,
    reported: u32,
}

impl StatusReport {
    fn new(token: ProgressToken, sink: ProgressSink) -> Self {
        StatusReport {
            token,
            sink,
            last_message: None,
            reported: 0,
        }
    }

    /// Reports `message` when it is new.
    pub(crate) fn report(&mut self, message: Option<&str>) {
        let Some(message) = message else { return };
        if self.last_message.as_deref() == Some(message) {
            return;
        }
        self.reported += 1;
        let mut progress =
            ProgressNotificationParam::new(self.token.clone(), f64::from(self.reported));
        progress.message = Some(message.to_string());
        let _ = self.sink.send(progress);
        self.last_message = Some(message.to_string());
    }
}

/// Polls a task of the classic form for its status messages while its
/// `tasks/result` is awaited. Runs until dropped.
async fn report_status(
    peer: &Peer<RoleClient>,
    task: &CreatedTask,
    mut status: StatusReport,
) -> std::convert::Infallible {
    let interval = super::poll_interval(task);
    loop {
        if let Ok(now) = super::status(peer, task).await {
            status.report(now.get("statusMessage").and_then(Value::as_str));
        }
        tokio::time::sleep(interval).await;
    }
}

/// Sends `tasks/cancel` for a task whose caller went away.
pub struct CancelTaskOnDrop(pub Option<(Peer<RoleClient>, CreatedTask)>);

impl Drop for CancelTaskOnDrop {
    fn drop(&mut self) {
        if let Some((peer, task)) = self.0.take()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            runtime.spawn(async move {
                if let Err(error) = super::cancel(&peer, &task).await {
                    tracing::debug!(%error, task_id = task.id, "tasks/cancel for an abandoned task failed");
                }
            });
        }
    }
}

/// One round of a call with its progress routed: the upstream's progress
/// notifications for it go to `sink` under the caller's own token.
async fn with_progress(
    connection: &Connection,
    params: CallToolRequestParams,
    caller_token: ProgressToken,
    sink: ProgressSink,
) -> Result<CallToolResponse, ServiceError> {
    let request = ClientRequest::CallToolRequest(rmcp::model::CallToolRequest::new(params));
    let handle = connection
        .peer
        .send_cancellable_request(request, PeerRequestOptions::no_options())
        .await?;
    let _route =
        connection
            .events
            .progress_route(handle.progress_token.clone(), caller_token, sink);
    let mut cancel = crate::upstream::CancelOnDrop(Some((handle.peer.clone(), handle.id.clone())));
    let response = handle.await_response().await;
    cancel.0 = None;
    // rmcp hands each notification to a task of its own but the answer
    // straight to us: progress the server sent just before its answer may
    // not be routed yet. Let those tasks run before the route closes.
    for _ in 0..PROGRESS_SETTLE_YIELDS {
        tokio::task::yield_now().await;
    }
    // As rmcp's `call_tool_once` reads a reply: a result without `content`
    // decodes as an empty one.
    match response? {
        ServerResult::CallToolResult(result) => Ok(CallToolResponse::Complete(result)),
        ServerResult::EmptyResult(_) => Ok(CallToolResponse::Complete(CallToolResult::default())),
        ServerResult::InputRequiredResult(asked) => Ok(CallToolResponse::InputRequired(asked)),
        ServerResult::CreateTaskResult(created) => Ok(CallToolResponse::Task(created)),
        _ => Err(ServiceError::UnexpectedResponse),
    }
}

/// Scheduler turns given to progress still being routed when a call's
/// answer arrives.
const PROGRESS_SETTLE_YIELDS: usize = 8;
