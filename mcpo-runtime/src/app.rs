//! `App`, the state behind every route, and the tool-call pipeline the
//! generated handlers use: API key, body limit, JSON, frozen schema, typed
//! input, upstream call, result mapping.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::{
    Json,
    body::{Body, Bytes, HttpBody},
    extract::Request,
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use rmcp::model::{CallToolRequestParams, CallToolResult, ProgressToken};
use serde::de::DeserializeOwned;
use serde_json::Value;
use tracing::Instrument as _;

use crate::auth::ApiKeys;
use crate::cli::DriftPolicy;
use crate::drift::DriftedTools;
use crate::error::{ApiError, ValidationIssue};
use crate::limits::Limiter;
use crate::metrics::Metrics;
use crate::pool::PoolSlot;
use crate::result::{self, ToolAnswer};
use crate::telemetry;
use crate::upstream::ProgressSink;
use crate::validate::{self, InputValidators};

/// Shared state of the proxy; cheap to clone (one `Arc`).
#[derive(Clone)]
pub struct App {
    state: Arc<AppState>,
}

pub struct AppState {
    /// The server's name in a multi-server crate, `""` otherwise.
    pub server_name: String,
    pub api_keys: ApiKeys,
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
    /// The locked tools that say `execution.taskSupport` other than
    /// forbidden.
    pub task_support: std::collections::HashMap<String, crate::tasks::TaskSupport>,
    /// The calls started with `Prefer: respond-async`.
    pub jobs: crate::tasks::jobs::Jobs,
}

/// Why a tool call did not reach a result: the answer a REST caller gets,
/// and, when the upstream itself answered with a JSON-RPC error, that error
/// (an MCP caller gets it as it was).
pub(crate) struct CallFailure {
    pub(crate) answer: ApiError,
    pub(crate) upstream_error: Option<rmcp::model::ErrorData>,
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

    /// Handles `POST {root}/{tool}`: `I` is the tool's typed input, `O` its
    /// typed output (`serde_json::Value` when it declares no outputSchema).
    ///
    /// The per-tool generic part is only two function pointers; the pipeline
    /// itself is compiled once, so a crate with a thousand tools still
    /// builds in well under a minute.
    #[allow(
        dead_code,
        reason = "a generated crate whose server has no tools never calls it"
    )]
    pub fn call_tool<I, O>(self, tool: &'static str, request: Request) -> ToolFuture
    where
        I: DeserializeOwned,
        O: DeserializeOwned,
    {
        let checks = TypedChecks {
            input: check_input::<I>,
            output: check_output::<O>,
        };
        Box::pin(async move { self.call_tool_erased(tool, request, checks).await })
    }

    async fn call_tool_erased(
        &self,
        tool: &'static str,
        request: Request,
        checks: TypedChecks,
    ) -> Response {
        let started = std::time::Instant::now();
        let span = telemetry::tool_call_span(tool, &self.state.server_name, request.headers());
        let checked = self.call_tool_checked(tool, request, checks, started);
        let mut response = match checked.instrument(span.clone()).await {
            Ok(answer) => answer,
            Err(error) => error.into_response(),
        };
        // A body cut short (408) leaves the connection mid-request: close it.
        if response.status() == StatusCode::REQUEST_TIMEOUT {
            response.headers_mut().insert(
                header::CONNECTION,
                axum::http::HeaderValue::from_static("close"),
            );
        }
        if response
            .extensions()
            .get::<crate::progress_stream::StreamedCall>()
            .is_some()
        {
            // Its stream records the call when the call ends.
            return response;
        }
        let elapsed = started.elapsed();
        let status = response.status().as_u16();
        telemetry::record_status(&span, status);
        self.state.metrics.record_call(tool, status, elapsed);
        tracing::debug!(
            tool,
            status,
            elapsed_ms = elapsed.as_millis() as u64,
            "tool call"
        );
        response
    }

    async fn call_tool_checked(
        &self,
        tool: &'static str,
        request: Request,
        checks: TypedChecks,
        started: std::time::Instant,
    ) -> Result<Response, ApiError> {
        let state = &self.state;
        let (parts, body) = request.into_parts();
        state.api_keys.check(&parts.headers)?;
        self.check_callable(tool)?;
        let (bytes, arguments) = self.json_body(&parts.headers, body).await?;
        validate::check_exact_integers(&bytes, &arguments, |path| {
            state.validators.takes_double_at(tool, path)
        })
        .map_err(ApiError::validation)?;
        if crate::tasks::jobs::prefers_async(&parts.headers)
            && state.task_support.contains_key(tool)
        {
            let arguments = self.checked_arguments(tool, arguments, Some(checks.input))?;
            let path = parts
                .extensions
                .get::<axum::extract::OriginalUri>()
                .map_or(parts.uri.path(), |original| original.path());
            return crate::tasks::jobs::start(self, tool, arguments, checks, &parts.headers, path)
                .await;
        }
        if crate::accept::prefers_to_json(&parts.headers, crate::progress_stream::EVENT_STREAM) {
            let arguments = self.checked_arguments(tool, arguments, Some(checks.input))?;
            return Ok(crate::progress_stream::respond(
                self.clone(),
                tool,
                arguments,
                checks,
                started,
            ));
        }
        let result = self
            .call_with_arguments(tool, arguments, Some(checks.input), None)
            .await
            .map_err(|failure| failure.answer)?;
        if let Some((mime_type, data)) = result::single_binary(&result)
            && let Some(bytes) = crate::accept::bytes_answer(&parts.headers, mime_type, data)
        {
            return Ok(bytes);
        }
        let body = answer_body(tool, result, checks)?;
        Ok((StatusCode::OK, Json(body)).into_response())
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
        check_content_type(headers)?;
        // A client that stops sending mid-body must not hold a task and its
        // buffer forever: the call timeout covers the upload too.
        let bytes = tokio::time::timeout(
            state.call_timeout,
            read_body_limited(body, headers, state.max_body_bytes),
        )
        .await
        .map_err(|_elapsed| ApiError::body_timeout(state.call_timeout.as_secs_f64()))??;
        let value = parse_json_body(&bytes)?;
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
    /// pooled connection and the call timeout. `progress`: a caller's
    /// progress token and where its notifications go.
    pub(crate) async fn call_with_arguments(
        &self,
        tool: &str,
        arguments: Value,
        typed_input: Option<InputCheck>,
        progress: Option<(ProgressToken, ProgressSink)>,
    ) -> Result<CallToolResult, CallFailure> {
        let arguments = self.checked_arguments(tool, arguments, typed_input)?;
        self.call_checked(tool, arguments, progress).await
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
    /// task. `progress`: a caller's progress token and where its
    /// notifications go.
    pub(crate) async fn call_checked(
        &self,
        tool: &str,
        arguments: rmcp::model::JsonObject,
        progress: Option<(ProgressToken, ProgressSink)>,
    ) -> Result<CallToolResult, CallFailure> {
        let state = &self.state;
        let call_timeout = self.call_timeout(tool);
        // The client's own JSON goes upstream, not a re-serialization of `I`.
        let mut params = CallToolRequestParams::new(tool.to_string()).with_arguments(arguments);
        telemetry::carry_context(&mut params);
        let as_task = state.task_support.get(tool) == Some(&crate::tasks::TaskSupport::Required);
        self.on_upstream(tool, call_timeout, |connection| async move {
            match progress {
                // The upstream keeps the task no longer than the caller waits.
                _ if as_task => {
                    crate::tasks::call_as_task(&connection.peer, params, call_timeout, progress)
                        .await
                }
                None => connection.peer.call_tool(params).await,
                Some((caller_token, sink)) => {
                    call_with_progress(&connection, params, caller_token, sink).await
                }
            }
        })
        .await
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
        let state = &self.state;
        let deadline = tokio::time::Instant::now() + call_timeout;
        let _slot = state.limiter.admit(deadline, &state.metrics).await?;
        let pool = state.upstream.current();
        let lease = pool
            .connection(
                state
                    .connect_wait
                    .min(deadline.saturating_duration_since(tokio::time::Instant::now())),
            )
            .await?;
        let _in_flight = state.metrics.enter_upstream(lease.index());
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

/// The JSON body a tool's result answers with: its `structuredContent`
/// (checked against the locked outputSchema, which only warns) or its
/// content mapped as mcpo maps it; a tool error is a 500.
pub(crate) fn answer_body(
    tool: &str,
    result: CallToolResult,
    checks: TypedChecks,
) -> Result<Value, ApiError> {
    match result::answer_for(result) {
        ToolAnswer::Structured(structured) => {
            if let Err(error) = (checks.output)(&structured) {
                tracing::warn!(
                    tool,
                    %error,
                    "structuredContent does not match the tool's locked outputSchema; returning it unchanged"
                );
            }
            Ok(structured)
        }
        ToolAnswer::Content(mapped) => Ok(mapped),
        ToolAnswer::ToolError(text) => Err(ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, text)),
    }
}

/// `tools/call` with the upstream's progress notifications passed to
/// `sink`. rmcp's `call_tool` hides the progress token it gives the request,
/// so this sends the request itself, and like `call_tool` it cancels the
/// request upstream if dropped before the answer.
async fn call_with_progress(
    connection: &crate::supervisor::Connection,
    params: CallToolRequestParams,
    caller_token: ProgressToken,
    sink: ProgressSink,
) -> Result<CallToolResult, rmcp::ServiceError> {
    let request =
        rmcp::model::ClientRequest::CallToolRequest(rmcp::model::CallToolRequest::new(params));
    let handle = connection
        .peer
        .send_cancellable_request(request, rmcp::service::PeerRequestOptions::no_options())
        .await?;
    let _route =
        connection
            .events
            .progress_route(handle.progress_token.clone(), caller_token, sink);
    let mut cancel = CancelOnDrop(Some((handle.peer.clone(), handle.id.clone())));
    let response = handle.await_response().await;
    cancel.0 = None;
    // rmcp hands each notification to a task of its own but the answer
    // straight to us: progress the server sent just before its answer may
    // not be routed yet. Let those tasks run before the route closes.
    for _ in 0..PROGRESS_SETTLE_YIELDS {
        tokio::task::yield_now().await;
    }
    // As rmcp's `call_tool` reads a reply: a result without `content`
    // decodes as an empty one.
    match response? {
        rmcp::model::ServerResult::CallToolResult(result) => Ok(result),
        rmcp::model::ServerResult::EmptyResult(_) => Ok(CallToolResult::default()),
        _ => Err(rmcp::ServiceError::UnexpectedResponse),
    }
}

/// Scheduler turns given to progress still being routed when a call's
/// answer arrives.
const PROGRESS_SETTLE_YIELDS: usize = 8;

/// Sends `notifications/cancelled` for a request whose caller went away.
pub(crate) struct CancelOnDrop(
    pub(crate) Option<(rmcp::Peer<rmcp::RoleClient>, rmcp::model::RequestId)>,
);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some((peer, id)) = self.0.take()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            runtime.spawn(async move {
                let cancelled = rmcp::model::CancelledNotificationParam::new(
                    Some(id),
                    Some("the caller cancelled the call".into()),
                );
                let _ = peer.notify_cancelled(cancelled).await;
            });
        }
    }
}

/// A generated tool's typed input check: its arguments read as its input struct.
pub(crate) type InputCheck = fn(&Value) -> Result<(), Vec<ValidationIssue>>;

/// What a generated tool handler returns: boxed, so that every route shares
/// one handler type instead of instantiating axum's routing per tool.
pub type ToolFuture = Pin<Box<dyn Future<Output = Response> + Send>>;

/// A generated tool handler.
pub type ToolHandler = fn(App, Request) -> ToolFuture;

/// The router of the tool routes: `POST path` -> handler for each entry.
pub fn tool_router(routes: &[(&'static str, ToolHandler)]) -> axum::Router<App> {
    routes
        .iter()
        .fold(axum::Router::new(), |router, &(path, handler)| {
            router.route(
                path,
                axum::routing::post(
                    move |axum::extract::State(app): axum::extract::State<App>,
                          request: Request| { handler(app, request) },
                ),
            )
        })
}

/// A tool's typed checks as plain function pointers.
#[derive(Clone, Copy)]
pub(crate) struct TypedChecks {
    pub(crate) input: InputCheck,
    output: fn(&Value) -> Result<(), serde_json::Error>,
}

fn check_input<I: DeserializeOwned>(arguments: &Value) -> Result<(), Vec<ValidationIssue>> {
    // The copy is only needed when there is a whole float to rewrite; most
    // bodies have none, and the typed check then reads them as they are.
    if has_integral_float(arguments) {
        validate::deserialize_input::<I>(&integral_floats_as_integers(arguments)).map(drop)
    } else {
        validate::deserialize_input::<I>(arguments).map(drop)
    }
}

/// Whether [`integral_floats_as_integers`] would change anything in `value`.
fn has_integral_float(value: &Value) -> bool {
    match value {
        Value::Number(number) if number.is_f64() => number
            .as_f64()
            .is_some_and(|float| float.fract() == 0.0 && float.abs() < 9.0e15),
        Value::Array(items) => items.iter().any(has_integral_float),
        Value::Object(fields) => fields.values().any(has_integral_float),
        _ => false,
    }
}

/// JSON Schema counts `2.0` as an integer, and Python clients send it; the
/// typed check reads it as `2` so that an `i64` field accepts what the schema
/// accepts. Only this copy is changed: upstream gets the client's JSON.
fn integral_floats_as_integers(value: &Value) -> Value {
    match value {
        Value::Number(number) if number.is_f64() => number
            .as_f64()
            .filter(|float| float.fract() == 0.0 && float.abs() < 9.0e15)
            .map(|float| Value::from(float as i64))
            .unwrap_or_else(|| value.clone()),
        Value::Array(items) => {
            Value::Array(items.iter().map(integral_floats_as_integers).collect())
        }
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(key, field)| (key.clone(), integral_floats_as_integers(field)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn check_output<O: DeserializeOwned>(structured: &Value) -> Result<(), serde_json::Error> {
    O::deserialize(structured).map(drop)
}

/// After refusing a body, at most this much more of it is read and thrown
/// away, and for at most this long. A client still uploading when the 413 is
/// sent otherwise sees the connection reset and never reads the answer (a
/// streamed upload from reqwest or requests does exactly that).
const DRAIN_MAX_BYTES: usize = 4 * 1024 * 1024;
const DRAIN_MAX_TIME: Duration = Duration::from_secs(5);

/// Reads the whole body, refusing more than `limit` bytes (413) before
/// buffering them: a declared length is checked first, a streamed one as it
/// arrives.
async fn read_body_limited(
    mut body: Body,
    headers: &HeaderMap,
    limit: usize,
) -> Result<Bytes, ApiError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        // A client that waits for `100 Continue` has sent nothing yet: answer
        // at once (reading would make hyper invite the upload first).
        if !expects_continue(headers) {
            drain(&mut body).await;
        }
        return Err(ApiError::payload_too_large(limit));
    }
    let mut collected: Vec<u8> = Vec::new();
    while let Some(data) = next_data(&mut body).await {
        let data = data.map_err(|error| {
            // Cut by the listener's body deadline, or to make room.
            match crate::listener::BodyCut::of(&*error.into_inner()) {
                Some(cut) => cut.api_error(),
                None => ApiError::new(StatusCode::BAD_REQUEST, "Could not read the request body"),
            }
        })?;
        if let Some(data) = data {
            if collected.len().saturating_add(data.len()) > limit {
                drop(collected);
                drain(&mut body).await;
                return Err(ApiError::payload_too_large(limit));
            }
            collected.extend_from_slice(&data);
        }
    }
    Ok(Bytes::from(collected))
}

fn expects_continue(headers: &HeaderMap) -> bool {
    headers
        .get(header::EXPECT)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.trim().eq_ignore_ascii_case("100-continue"))
}

/// Tool routes take JSON: `application/json`, any `application/*+json`, or no
/// `Content-Type` at all (as mcpo does). Anything else is 415, notably the
/// `text/plain`, form and multipart bodies a web page can send cross-site
/// without a CORS preflight.
fn check_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Ok(());
    };
    let media_type = value
        .to_str()
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let is_json = media_type == "application/json"
        || media_type
            .strip_prefix("application/")
            .is_some_and(|subtype| subtype.ends_with("+json"));
    if is_json {
        Ok(())
    } else {
        Err(ApiError::unsupported_media_type())
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

/// The next frame's data (`Some(None)` for a trailers frame), `None` at the end.
async fn next_data(body: &mut Body) -> Option<Result<Option<Bytes>, axum::Error>> {
    let frame = std::future::poll_fn(|cx| Pin::new(&mut *body).poll_frame(cx)).await?;
    Some(frame.map(|frame| frame.into_data().ok()))
}

/// Discards what is left of a refused body, within [`DRAIN_MAX_BYTES`] and
/// [`DRAIN_MAX_TIME`]; nothing of it is kept.
async fn drain(body: &mut Body) {
    let discard = async {
        let mut discarded: usize = 0;
        while discarded < DRAIN_MAX_BYTES {
            match next_data(body).await {
                Some(Ok(data)) => {
                    discarded = discarded.saturating_add(data.map_or(0, |data| data.len()));
                }
                Some(Err(_)) | None => break,
            }
        }
    };
    let _ = tokio::time::timeout(DRAIN_MAX_TIME, discard).await;
}

/// An empty body means `{}`: mcpo clients call argument-less tools that way.
fn parse_json_body(bytes: &[u8]) -> Result<Value, ApiError> {
    if bytes.trim_ascii().is_empty() {
        return Ok(Value::Object(serde_json::Map::new()));
    }
    serde_json::from_slice(bytes).map_err(|error| {
        ApiError::validation(vec![ValidationIssue::body(
            format!("JSON decode error: {error}"),
            "json_invalid",
        )])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_floats_read_as_integers_for_the_typed_check() {
        let sent = serde_json::json!({"age": 2.0, "ratio": 2.5, "list": [1e2, 3], "huge": 1e300});
        assert_eq!(
            integral_floats_as_integers(&sent),
            serde_json::json!({"age": 2, "ratio": 2.5, "list": [100, 3], "huge": 1e300})
        );
        assert!(has_integral_float(&sent));
        assert!(has_integral_float(&serde_json::json!({"a": [{"b": 3.0}]})));
        assert!(!has_integral_float(
            &serde_json::json!({"ratio": 2.5, "list": [1, "2.0"], "huge": 1e300})
        ));
    }
    use serde_json::json;

    #[test]
    fn empty_body_is_an_empty_object() {
        assert_eq!(parse_json_body(b""), Ok(json!({})));
        assert_eq!(parse_json_body(b" \n"), Ok(json!({})));
    }

    #[test]
    fn malformed_json_is_422_json_invalid() {
        let error = parse_json_body(b"{\"a\": ").err();
        let Some(error) = error else {
            panic!("malformed JSON must be rejected");
        };
        assert_eq!(error.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(error.detail[0]["loc"], json!(["body"]));
        assert_eq!(error.detail[0]["type"], json!("json_invalid"));
    }

    #[tokio::test]
    async fn body_limit_is_enforced_with_and_without_content_length() {
        let big = vec![b'x'; 11];
        let mut declared = HeaderMap::new();
        declared.insert(header::CONTENT_LENGTH, 11.into());
        let refused = read_body_limited(Body::from(big.clone()), &declared, 10).await;
        assert_eq!(
            refused.err().map(|e| e.status),
            Some(StatusCode::PAYLOAD_TOO_LARGE)
        );
        let streamed = read_body_limited(Body::from(big), &HeaderMap::new(), 10).await;
        assert_eq!(
            streamed.err().map(|e| e.status),
            Some(StatusCode::PAYLOAD_TOO_LARGE)
        );
        let fits = read_body_limited(Body::from(vec![b'x'; 10]), &HeaderMap::new(), 10).await;
        assert_eq!(fits.ok().map(|bytes| bytes.len()), Some(10));
    }
}
