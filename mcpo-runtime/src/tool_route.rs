//! The REST route of a tool, `POST {root}/{tool}`, as generated handlers
//! call it: API key, body, JSON, the typed checks, then the answer the
//! caller asked for: JSON (or bytes, `accept.rs`), server-sent events
//! (`progress_stream.rs`), or a task to poll (`tasks/rest.rs`).

use std::pin::Pin;

use axum::{
    Json,
    extract::Request,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::de::DeserializeOwned;
use tracing::Instrument as _;

use crate::app::App;
use crate::error::ApiError;
use crate::identity::Caller;
use crate::telemetry;
use crate::tool_answer::{TypedChecks, answer_body, check_input, check_output};
use crate::{result, validate};

impl App {
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
        let state = self.state();
        let span = telemetry::tool_call_span(tool, &state.server_name, request.headers());
        let ids = state.access.call_ids(request.headers());
        let what = crate::access::Use::Tool(tool);
        let mut audited_arguments = None;
        let (caller, outcome) = match state.access.auth.authenticate(request.headers()).await {
            Err(error) => (None, Err(error)),
            Ok(caller) => {
                let outcome = match state.access.admit(&caller, &state.server_name, what) {
                    Err(refused) => Err(refused),
                    Ok(()) => {
                        self.call_tool_checked(
                            tool,
                            request,
                            checks,
                            started,
                            &caller,
                            &mut audited_arguments,
                        )
                        .instrument(span.clone())
                        .await
                    }
                };
                (Some(caller), outcome)
            }
        };
        let mut response = match outcome {
            Ok(answer) => answer,
            Err(error) => error.into_response(),
        };
        state.access.record(
            Some(&state.metrics),
            caller.as_ref(),
            &state.server_name,
            what,
            response.status().as_u16(),
            started.elapsed(),
            &ids,
            audited_arguments.as_ref(),
        );
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
        self.state().metrics.record_call(tool, status, elapsed);
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
        caller: &Caller,
        audited_arguments: &mut Option<serde_json::Value>,
    ) -> Result<Response, ApiError> {
        let state = self.state();
        let (parts, body) = request.into_parts();
        self.check_callable(tool)?;
        let (bytes, arguments) = self.json_body(&parts.headers, body).await?;
        if state.access.audits_arguments() {
            *audited_arguments = Some(arguments.clone());
        }
        validate::check_exact_integers(&bytes, &arguments, |path| {
            state.validators.takes_double_at(tool, path)
        })
        .map_err(ApiError::validation)?;
        if crate::tasks::rest::prefers_async(&parts.headers)
            && state.task_support.contains_key(tool)
        {
            let arguments = self.checked_arguments(tool, arguments, Some(checks.input))?;
            let path = parts
                .extensions
                .get::<axum::extract::OriginalUri>()
                .map_or(parts.uri.path(), |original| original.path());
            return crate::tasks::rest::start(self, tool, arguments, checks, caller, path).await;
        }
        if crate::accept::prefers_to_json(&parts.headers, crate::progress_stream::EVENT_STREAM) {
            let arguments = self.checked_arguments(tool, arguments, Some(checks.input))?;
            return Ok(crate::progress_stream::respond(
                self.clone(),
                tool,
                arguments,
                checks,
                caller.clone(),
                started,
            ));
        }
        let result = self
            .call_with_arguments(
                tool,
                arguments,
                Some(checks.input),
                caller,
                Default::default(),
            )
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
}

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
