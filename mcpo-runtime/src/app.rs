//! `App`, the state behind every route, and the tool-call pipeline the
//! generated handlers use: API key, body limit, JSON, frozen schema, typed
//! input, upstream call, result mapping.

use std::sync::Arc;
use std::time::Duration;

use axum::{
    body::{Body, Bytes},
    http::{HeaderMap, StatusCode},
};
use rmcp::model::{CallToolRequestParams, CallToolResult};
use serde_json::Value;

use crate::access::Access;
use crate::cli::DriftPolicy;
use crate::drift::DriftedTools;
use crate::error::{ApiError, ValidationIssue};
use crate::identity::Caller;
use crate::limits::Limiter;
use crate::metrics::Metrics;
use crate::pool::PoolSlot;
use crate::result;
use crate::telemetry;
use crate::tool_answer::InputCheck;
use crate::upstream::CallRelays;
use crate::validate::InputValidators;

/// Shared state of the proxy; cheap to clone (one `Arc`).
#[derive(Clone)]
pub struct App {
    state: Arc<AppState>,
}

pub struct AppState {
    /// The server's name in a multi-server crate, `""` otherwise.
    pub server_name: String,
    /// Identity, policy, rate limits and audit log.
    pub access: Access,
    pub max_body_bytes: usize,
    pub call_timeout: Duration,
    /// How long a call may wait for a connection attempt in progress.
    pub connect_wait: Duration,
    pub validators: InputValidators,
    /// Convert `"2"` to `2` where the schema wants a number, as mcpo does.
    pub lax_types: bool,
    /// The upstream pool; a hot reload may replace it.
    pub upstream: PoolSlot,
    /// Locked tools the runtime `--config` switches off (404); a hot reload
    /// may change them.
    pub disabled_tools: std::sync::RwLock<std::collections::HashSet<String>>,
    /// How the runtime `--config` launches the server differently from the
    /// lock (`--on-drift warn`), for `/readyz`.
    pub launch_spec_drift: std::sync::RwLock<Vec<String>>,
    /// `--max-concurrency` and its queue.
    pub limiter: Limiter,
    pub metrics: Arc<Metrics>,
    /// `--tool-timeout NAME=SECS`: tools whose calls get their own limit
    /// instead of `call_timeout`.
    pub tool_timeouts: std::collections::HashMap<String, Duration>,
    /// `--on-drift`.
    pub on_drift: DriftPolicy,
    /// The tools, prompts, resource templates and resources whose live
    /// definition differs from the lock, as last checked by the supervisor.
    pub drifted: Arc<DriftedTools>,
    /// The locked resources, resource templates and prompts.
    pub surface: Arc<crate::lock::LockedSurface>,
    /// The server's live resource list, while fresh (`resourceList: live`).
    pub live_list: crate::surface::live_list::LiveListCache,
    /// Whether the server offers `completion/complete` (its locked
    /// capabilities say so).
    pub completions: bool,
    /// The locked tools that may run as tasks (their `execution.taskSupport`,
    /// or every tool of a server of the tasks extension), and how.
    pub task_support: std::collections::HashMap<String, crate::tasks::TaskUse>,
    /// The calls started with `Prefer: respond-async`.
    pub jobs: crate::tasks::store::Jobs,
}

/// Why a tool call did not reach a result: the answer a REST caller gets,
/// and, when the upstream itself answered with a JSON-RPC error, that error
/// (an MCP caller gets it as it was).
pub(crate) struct CallFailure {
    pub(crate) answer: ApiError,
    pub(crate) upstream_error: Option<rmcp::model::ErrorData>,
}

/// The status a REST caller gets for `outcome`: 200, or the failure's.
pub(crate) fn answered_status<T>(outcome: &Result<T, CallFailure>) -> u16 {
    match outcome {
        Ok(_) => 200,
        Err(failure) => failure.answer.status.as_u16(),
    }
}

impl From<ApiError> for CallFailure {
    fn from(answer: ApiError) -> Self {
        CallFailure {
            answer,
            upstream_error: None,
        }
    }
}

impl App {
    pub(crate) fn new(state: AppState) -> Self {
        App {
            state: Arc::new(state),
        }
    }

    pub(crate) fn state(&self) -> &AppState {
        &self.state
    }

    /// A route's JSON body: a JSON content type (415), at most
    /// `--max-body-bytes` (413), read within the call timeout (408), valid
    /// JSON (422). Answers the bytes too, for checks on the literal text.
    pub(crate) async fn json_body(
        &self,
        headers: &HeaderMap,
        body: Body,
    ) -> Result<(Bytes, Value), ApiError> {
        let state = &self.state;
        // Before any byte of the body: a browser posts `text/plain` or a form
        // cross-site without asking first; it must never reach a tool.
        crate::request_body::check_content_type(headers)?;
        // A client that stops sending mid-body must not hold a task and its
        // buffer forever: the call timeout covers the upload too.
        let bytes = tokio::time::timeout(
            state.call_timeout,
            crate::request_body::read_body_limited(body, headers, state.max_body_bytes),
        )
        .await
        .map_err(|_elapsed| ApiError::body_timeout(state.call_timeout.as_secs_f64()))??;
        let value = crate::request_body::parse_json_body(&bytes)?;
        Ok((bytes, value))
    }

    /// Whether `tool` may be called now: not switched off by the runtime
    /// `--config` (404), not drifted from the lock under `--on-drift
    /// refuse` (409).
    pub(crate) fn check_callable(&self, tool: &str) -> Result<(), ApiError> {
        let state = &self.state;
        if state
            .disabled_tools
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains(tool)
        {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                format!("tool {tool:?} is disabled by the proxy's --config"),
            ));
        }
        if state.on_drift == DriftPolicy::Refuse
            && let Some(refusal) = state.drifted.refusal(tool)
        {
            return Err(ApiError::new(StatusCode::CONFLICT, refusal));
        }
        Ok(())
    }

    /// The part of a call REST and MCP callers share, from parsed arguments
    /// to the upstream's result: lax types, the frozen schema, the typed
    /// check (`typed_input`, where there is one), `--max-concurrency`, a
    /// pooled connection and the call timeout. `relays`: where what the
    /// upstream says during the call goes.
    pub(crate) async fn call_with_arguments(
        &self,
        tool: &str,
        arguments: Value,
        typed_input: Option<InputCheck>,
        caller: &Caller,
        relays: CallRelays,
    ) -> Result<CallToolResult, CallFailure> {
        let arguments = self.checked_arguments(tool, arguments, typed_input)?;
        self.call_checked(tool, arguments, caller, relays).await
    }

    /// A call's arguments, as they go upstream: lax types converted, then
    /// checked against the frozen schema and the typed input (422).
    pub(crate) fn checked_arguments(
        &self,
        tool: &str,
        mut arguments: Value,
        typed_input: Option<InputCheck>,
    ) -> Result<rmcp::model::JsonObject, ApiError> {
        let state = &self.state;
        check_depth(&arguments).map_err(ApiError::validation)?;
        if state.lax_types && state.validators.coerce(tool, &mut arguments) {
            tracing::debug!(
                tool,
                "converted string numbers or booleans to the schema's types"
            );
        }
        state
            .validators
            .validate(tool, &arguments)
            .map_err(ApiError::validation)?;
        // The schema may not say `type: object`; MCP arguments must be one.
        if !arguments.is_object() {
            return Err(ApiError::validation(vec![ValidationIssue::body(
                "Input should be a JSON object",
                "type",
            )]));
        }
        // Catches whatever the schema did not (or a schema that did not compile).
        if let Some(check) = typed_input {
            check(&arguments).map_err(ApiError::validation)?;
        }
        let Value::Object(arguments) = arguments else {
            return Err(ApiError::validation(Vec::new()));
        };
        Ok(arguments)
    }

    /// A call with checked arguments, upstream: `--max-concurrency`, a
    /// pooled connection and the call timeout; a task-required tool as a
    /// task. `caller`'s identity goes upstream where the server's
    /// `forwardIdentity` says so.
    pub(crate) async fn call_checked(
        &self,
        tool: &str,
        arguments: rmcp::model::JsonObject,
        caller: &Caller,
        relays: CallRelays,
    ) -> Result<CallToolResult, CallFailure> {
        let state = &self.state;
        let call_timeout = self.call_timeout(tool);
        let params = self.call_params(tool, arguments, caller);
        // A task-required tool of the classic form is asked for a task; a
        // server of the extension makes one when it needs to.
        let as_task = state.task_support.get(tool).is_some_and(|task| {
            task.support == crate::tasks::TaskSupport::Required
                && task.form == crate::tasks::TaskForm::Classic
        });
        self.on_upstream(tool, call_timeout, |connection| async move {
            if as_task {
                // The upstream keeps the task no longer than the caller waits.
                crate::tasks::call::call_as_task(&connection, params, call_timeout, relays).await
            } else {
                crate::tasks::call(&connection, params, relays).await
            }
        })
        .await
    }

    /// The `tools/call` params of a call: the client's own JSON (not a
    /// re-serialization of `I`), the trace context, and the caller where
    /// the server's `forwardIdentity` says so.
    pub(crate) fn call_params(
        &self,
        tool: &str,
        arguments: rmcp::model::JsonObject,
        caller: &Caller,
    ) -> CallToolRequestParams {
        let mut params = CallToolRequestParams::new(tool.to_string()).with_arguments(arguments);
        telemetry::carry_context(&mut params);
        if let Some(forward) = &self.state.access.forward {
            forward.apply(caller, &mut params);
        }
        params
    }

    /// How long a call of `tool` may take: its `--tool-timeout`, or
    /// `--call-timeout`.
    pub(crate) fn call_timeout(&self, tool: &str) -> Duration {
        let state = &self.state;
        state
            .tool_timeouts
            .get(tool)
            .copied()
            .unwrap_or(state.call_timeout)
    }

    /// Runs one request upstream, as every route does: `--max-concurrency`,
    /// a pooled connection and `call_timeout` (which covers the waits for
    /// both), failures mapped to their answer and reported to the pool.
    /// `what` names the request in the log (a tool, `resources/read`, ...).
    pub(crate) async fn on_upstream<T, F, Fut>(
        &self,
        what: &str,
        call_timeout: Duration,
        request: F,
    ) -> Result<T, CallFailure>
    where
        F: FnOnce(Arc<crate::supervisor::Connection>) -> Fut,
        Fut: Future<Output = Result<T, rmcp::ServiceError>>,
    {
        let deadline = tokio::time::Instant::now() + call_timeout;
        let _slot = self
            .state
            .limiter
            .admit(deadline, &self.state.metrics)
            .await?;
        self.on_upstream_admitted(what, deadline, call_timeout, request)
            .await
    }

    /// [`App::on_upstream`] for a request whose `--max-concurrency` slot is
    /// already taken (an async task's, which it holds until the task ends):
    /// `deadline` is `call_timeout` from when it was taken.
    pub(crate) async fn on_upstream_admitted<T, F, Fut>(
        &self,
        what: &str,
        deadline: tokio::time::Instant,
        call_timeout: Duration,
        request: F,
    ) -> Result<T, CallFailure>
    where
        F: FnOnce(Arc<crate::supervisor::Connection>) -> Fut,
        Fut: Future<Output = Result<T, rmcp::ServiceError>>,
    {
        let state = &self.state;
        let pool = state.upstream.current();
        let lease = pool
            .connection(
                state
                    .connect_wait
                    .min(deadline.saturating_duration_since(tokio::time::Instant::now())),
            )
            .await?;
        let _in_flight = state.metrics.enter_upstream(lease.index());
        let _on_session = lease.connection.events.request_in_flight();
        telemetry::record_member(lease.index());
        let outcome =
            tokio::time::timeout_at(deadline, request(Arc::clone(&lease.connection))).await;
        match outcome {
            Err(_elapsed) => {
                tracing::warn!(request = what, "upstream request timed out");
                lease.report_timeout();
                Err(ApiError::gateway_timeout(call_timeout.as_secs_f64()).into())
            }
            Ok(Err(error)) => {
                if let Some(answer) = result::insufficient_scope(&error, &state.server_name) {
                    tracing::warn!(
                        request = what,
                        "the upstream refused the request for lack of OAuth scope"
                    );
                    return Err(answer.into());
                }
                if result::is_connection_failure(&error) {
                    lease.report_connection_lost();
                }
                tracing::warn!(request = what, %error, "request failed upstream");
                let upstream_error = match &error {
                    rmcp::ServiceError::McpError(data) => Some(data.clone()),
                    _ => None,
                };
                Err(CallFailure {
                    answer: result::error_for(&error),
                    upstream_error,
                })
            }
            Ok(Ok(result)) => Ok(result),
        }
    }
}

/// Deepest nesting of arrays and objects a body may have. The JSON-RPC
/// envelope adds two levels on the way upstream, and common JSON stacks
/// (serde_json, which rmcp servers use) stop at 128: a body that fits here
/// is one every upstream can read.
pub(crate) const MAX_BODY_DEPTH: usize = 100;

/// Refuses bodies nested deeper than [`MAX_BODY_DEPTH`]; the upstream could
/// not parse them and the call would only time out.
fn check_depth(body: &Value) -> Result<(), Vec<ValidationIssue>> {
    fn depth(value: &Value) -> usize {
        match value {
            Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
            Value::Object(fields) => 1 + fields.values().map(depth).max().unwrap_or(0),
            _ => 0,
        }
    }
    // The parser's own limit bounds the recursion here.
    if depth(body) > MAX_BODY_DEPTH {
        return Err(vec![ValidationIssue::body(
            format!(
                "JSON nested deeper than {MAX_BODY_DEPTH} levels cannot be forwarded to the MCP server"
            ),
            "too_deep",
        )]);
    }
    Ok(())
}
