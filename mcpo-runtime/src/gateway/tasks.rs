//! MCP clients' own tasks at the gateway, in the tasks extension's form
//! (SEP-2663). A client that declares `io.modelcontextprotocol/tasks` and
//! calls a tool that may run as a task (its `execution.taskSupport`, or any
//! tool of a server of the extension) gets a task at once instead of
//! waiting: the proxy starts it upstream, in whichever form the upstream
//! speaks, as for a REST caller's `Prefer: respond-async`, in the same
//! store (the proxy's own random ids, bound to the caller that started
//! them). `tasks/get` says where it stands: `working` (with the upstream's
//! status message), `input_required` with the form the upstream waits on
//! (answered with `tasks/update`), or its end with the tool's result or
//! the upstream's error; `tasks/cancel` cancels it upstream.

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use rmcp::model::{
    CallToolResponse, CancelTaskParams, CreateTaskResult, DetailedTask, ElicitRequest,
    ElicitResult, ErrorData, GetTaskParams, GetTaskResult, InputRequest, InputRequests, JsonObject,
    TaskPayload, TaskStatus, UpdateTaskParams,
};
use rmcp::service::{RequestContext, RoleServer};
use serde_json::{Value, json};

use super::{Gateway, caller_of, detail_text, failure_error};
use crate::app::{App, CallFailure};
use crate::error::ApiError;
use crate::identity::Caller;
use crate::served::Served;
use crate::tasks::rest::{self, Started};
use crate::tasks::store::{Ended, Job, Standing};
use crate::tool_answer::TypedChecks;
use crate::upstream::ElicitationSink;

/// How long `tasks/get` waits for the upstream's status message of a
/// running task before it answers without one.
const STATUS_WAIT: Duration = Duration::from_secs(2);

/// Whether the client of this request takes a task for an answer.
pub(super) fn client_takes_tasks(context: &RequestContext<RoleServer>) -> bool {
    context
        .client_capabilities()
        .is_some_and(|capabilities| capabilities.supports_tasks())
}

/// Starts `tool` as a task of the caller's (checked arguments). An
/// upstream that answers at once gives its result as a plain call does.
pub(super) async fn start(
    app: &App,
    tool: &str,
    arguments: JsonObject,
    caller: &Caller,
    forms: Option<ElicitationSink>,
) -> Result<CallToolResponse, CallFailure> {
    Ok(
        match rest::start_job(app, tool, arguments, TypedChecks::NONE, caller, forms).await? {
            Started::Done(result) => CallToolResponse::Complete(result),
            Started::Task { id, job } => CallToolResponse::Task(CreateTaskResult::new(
                job.mcp_task(&id, TaskStatus::Working),
            )),
        },
    )
}

/// The key of the `number`th form a task asks for, in `inputRequests`.
fn form_key(number: u64) -> String {
    format!("form-{number}")
}

impl Gateway {
    /// The caller's task `id`, in whichever server's store it is.
    fn callers_task(
        &self,
        context: &RequestContext<RoleServer>,
        id: &str,
    ) -> Result<(Arc<Served>, Arc<Job>), ErrorData> {
        let owner = caller_of(context).owner();
        let mut gone = None;
        for served in &self.inner.servers {
            match served.app.state().jobs.find(owner, id) {
                Ok(job) => return Ok((Arc::clone(served), job)),
                Err(error) if error.status == StatusCode::GONE => gone = Some(error),
                Err(_) => {}
            }
        }
        let detail = gone.map_or_else(
            || "unknown task".to_string(),
            |error| detail_text(&error.detail),
        );
        Err(no_such_task(id, detail))
    }

    pub(super) async fn task_now(
        &self,
        params: GetTaskParams,
        context: &RequestContext<RoleServer>,
    ) -> Result<GetTaskResult, ErrorData> {
        let started = std::time::Instant::now();
        let id = params.task_id.as_str();
        let (served, job) = self.callers_task(context, id)?;
        let detailed = match job.standing().await {
            Standing::Working => {
                // Its upstream session ended (a restart): it never will.
                if let Err(gone) = job.connection() {
                    return Err(no_such_task(id, detail_text(&gone.detail)));
                }
                let mut task = job.mcp_task(id, TaskStatus::Working);
                task.status_message = job.status_message(STATUS_WAIT).await;
                DetailedTask::new(task, TaskPayload::Working)
            }
            Standing::AwaitingForm { number, request } => {
                let input_requests = InputRequests::from([(
                    form_key(number),
                    InputRequest::Elicitation(ElicitRequest::new(request)),
                )]);
                DetailedTask::new(
                    job.mcp_task(id, TaskStatus::InputRequired),
                    TaskPayload::InputRequired { input_requests },
                )
            }
            Standing::Ended(ended) => {
                let status = ended.result.as_ref().map_or(200, |(status, _)| *status);
                audit(&served, context, "task-result", &job, status, started);
                let payload = ended_payload(ended);
                DetailedTask::new(job.mcp_task(id, payload.status()), payload)
            }
        };
        Ok(GetTaskResult::new(detailed))
    }

    pub(super) async fn answer_task(
        &self,
        params: UpdateTaskParams,
        context: &RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let started = std::time::Instant::now();
        let (served, job) = self.callers_task(context, &params.task_id)?;
        for (key, answer) in params.input_responses {
            let answered = key
                .strip_prefix("form-")
                .and_then(|number| number.parse().ok())
                .ok_or_else(|| ApiError::new(StatusCode::CONFLICT, "no such input request"))
                .and_then(|number| {
                    let answer: ElicitResult = serde_json::from_value(answer).map_err(|error| {
                        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, error.to_string())
                    })?;
                    rest::answer_form(&job, Some(number), answer.action, answer.content)
                });
            audit(
                &served,
                context,
                "task-input",
                &job,
                status_of(&answered),
                started,
            );
            answered.map_err(|error| invalid_answer(&key, &detail_text(&error.detail)))?;
        }
        Ok(())
    }

    pub(super) async fn cancel_callers_task(
        &self,
        params: CancelTaskParams,
        context: &RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let started = std::time::Instant::now();
        let (served, job) = self.callers_task(context, &params.task_id)?;
        let cancelled = rest::cancel_started(&served.app, &job).await;
        audit(
            &served,
            context,
            "task-cancel",
            &job,
            status_of(&cancelled),
            started,
        );
        match cancelled {
            // Cancelling a task that ended is acknowledged; it stays ended.
            Err(error) if error.status != StatusCode::CONFLICT => {
                Err(failure_error(CallFailure::from(error)))
            }
            _ => Ok(()),
        }
    }
}

/// How an ended task is told to an MCP client: the tool's result, the
/// upstream's JSON-RPC error, or the proxy's own failure (upstream gone,
/// timeout) as a plain call would have answered it.
fn ended_payload(ended: Ended) -> TaskPayload {
    let object = |value: Value| match value {
        Value::Object(object) => object,
        _ => JsonObject::new(),
    };
    match ended {
        Ended {
            status: "cancelled",
            ..
        } => TaskPayload::Cancelled,
        Ended {
            call: Some(Ok(result)),
            ..
        } => TaskPayload::Completed {
            result: object(serde_json::to_value(result).unwrap_or_default()),
        },
        Ended {
            call: Some(Err(error)),
            ..
        } => TaskPayload::Failed {
            error: object(
                serde_json::to_value(failure_error(CallFailure {
                    answer: ApiError::new(StatusCode::BAD_GATEWAY, error.message.to_string()),
                    upstream_error: Some(error),
                }))
                .unwrap_or_default(),
            ),
        },
        Ended { result, .. } => {
            let (status, detail) =
                result.map_or((StatusCode::BAD_GATEWAY, Value::Null), |(status, body)| {
                    (
                        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY),
                        body.get("detail").cloned().unwrap_or(body),
                    )
                });
            let error = failure_error(CallFailure::from(ApiError::new(status, detail)));
            TaskPayload::Failed {
                error: object(serde_json::to_value(error).unwrap_or_default()),
            }
        }
    }
}

/// One audit line for what the caller did with its task (`kind`), named
/// by the task's tool, as over REST.
fn audit(
    served: &Served,
    context: &RequestContext<RoleServer>,
    kind: &'static str,
    job: &Job,
    status: u16,
    started: std::time::Instant,
) {
    let what = crate::access::Audited {
        kind,
        name: job.tool(),
    };
    served
        .app
        .audit_status(&caller_of(context), what, status, started);
}

/// The task `id` is none of this caller's (any more): `why`.
fn no_such_task(id: &str, why: String) -> ErrorData {
    ErrorData::invalid_params(why, Some(json!({"taskId": id})))
}

/// The status a REST caller would have got for `outcome`.
fn status_of(outcome: &Result<(), ApiError>) -> u16 {
    outcome
        .as_ref()
        .map_or_else(|error| error.status.as_u16(), |()| 200)
}

fn invalid_answer(key: &str, why: &str) -> ErrorData {
    ErrorData::invalid_params(
        format!("inputResponses.{key}: {why}"),
        Some(json!({"key": key})),
    )
}
