//! The pinned MCP gateway: the proxy serves MCP itself, and what MCP
//! clients see is the lock, not the live server.
//!
//! `tools/list` answers the locked tool objects as they were reviewed (less
//! the tools a runtime `--config` switches off), a page at a time;
//! `tools/call` goes through the REST calls' pipeline
//! ([`App::call_with_arguments`]: frozen schema, lax types, limits, pool,
//! timeouts) and answers the upstream's result as it came. A tool whose
//! live definition drifted from the lock is refused (`--on-drift refuse`),
//! and the upstream's `list_changed` never reaches a client: the surface
//! only changes when a reviewed lock is deployed.
//!
//! The rest of the locked surface is served the same way
//! (`resources.rs`): `resources/list`, `resources/templates/list` and
//! `prompts/list` answer the lock (a `live` resource list is the server's
//! own), `resources/read` reads only what the lock offers, `prompts/get`
//! only locked prompts, `completion/complete` only for locked references;
//! `resources/subscribe` forwards the subscriptions of readable URIs and
//! passes their updates on to the sessions subscribed (`subscriptions.rs`).
//! Capabilities are what the lock holds, never `listChanged`.
//!
//! Served over streamable HTTP (`http.rs`: `/mcp`, sessions or the
//! stateless revision) and over stdio (`--stdio`, `stdio.rs`).

mod http;
mod resources;
mod stdio;
mod subscriptions;
mod tasks;

use std::sync::Arc;

use rmcp::ServerHandler;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, CompleteRequestParams, CompleteResult,
    ContentBlock, ErrorCode, ErrorData, GetPromptRequestMethod, GetPromptRequestParams,
    GetPromptResponse, Implementation, ListPromptsRequestMethod, ListPromptsResult,
    ListResourceTemplatesRequestMethod, ListResourceTemplatesResult, ListResourcesRequestMethod,
    ListResourcesResult, ListToolsResult, PaginatedRequestParams, ReadResourceRequestMethod,
    ReadResourceRequestParams, ReadResourceResponse, ResultType, ServerCapabilities, ServerConfig,
    SubscribeRequestParams, SubscriptionFilter, Tool, UnsubscribeRequestParams,
};
use rmcp::service::{RequestContext, RoleServer, SubscriptionContext};

use crate::access::Use;
use crate::identity::Caller;
use serde_json::{Value, json};
use tracing::Instrument as _;

use crate::app::CallFailure;
use crate::lock::Lock;
use crate::served::Served;
use crate::telemetry;
use crate::upstream::{CallRelays, ElicitationAsk, ElicitationSink, FORM_WAIT, ProgressSink};

pub(crate) use http::{McpEndpoints, mcp_routes};
pub(crate) use stdio::serve_stdio;

/// How long a result waits for the progress notifications before it.
const PROGRESS_RELAY_LIMIT: std::time::Duration = std::time::Duration::from_secs(1);

/// The status `/metrics` counts a call the MCP client cancelled under (nginx's
/// "client closed request"; no HTTP answer carries it).
const CLIENT_CLOSED_REQUEST: axum::http::StatusCode = match axum::http::StatusCode::from_u16(499) {
    Ok(status) => status,
    Err(_) => axum::http::StatusCode::BAD_REQUEST,
};

/// Items per `tools/list`, `resources/list`, `resources/templates/list`
/// and `prompts/list` page.
const PAGE_SIZE: usize = 100;

/// JSON-RPC error code of a request refused because its tool, prompt,
/// resource or template drifted from the lock (in the range JSON-RPC
/// leaves to servers).
const DRIFTED: ErrorCode = ErrorCode(-32010);
/// JSON-RPC error code of a request the proxy could not complete: the upstream
/// is down, timed out, or the proxy is at its limits.
const UPSTREAM_UNAVAILABLE: ErrorCode = ErrorCode(-32011);
/// JSON-RPC error code of a request the crate's access policy refuses to
/// this caller (a REST caller gets 403).
const NOT_ALLOWED: ErrorCode = ErrorCode(-32012);

/// One MCP surface: a server's locked tools, resources and prompts (`/mcp`
/// of a single-server proxy, `/{name}/mcp`), or every server's under
/// namespaced names (the aggregated `/mcp` of a multi-server proxy), as
/// one MCP session sees it ([`Gateway::for_session`]).
#[derive(Clone)]
pub(crate) struct Gateway {
    inner: Arc<Surface>,
    /// The session's resource subscriptions; they end with it (rmcp drops
    /// a session's handler when the session ends).
    session: Arc<subscriptions::Subscriptions>,
}

struct Surface {
    servers: Vec<Arc<Served>>,
    /// Sorted by exposed name.
    tools: Vec<ExposedTool>,
    /// Resources, templates and prompts.
    items: resources::SurfaceItems,
    info: ServerConfig,
}

struct ExposedTool {
    /// The name clients call it by.
    exposed: String,
    /// Index into `servers`.
    server: usize,
    /// Its name upstream (and in the lock); `'static` for the metrics'
    /// labels, like the generated routes' names.
    locked: &'static str,
    /// The locked tool object, renamed to `exposed`.
    definition: Tool,
}

impl Gateway {
    /// One server's surface, named as its lock says.
    pub(crate) fn single(served: &Arc<Served>, lock: &Lock) -> Gateway {
        let tools = locked_tools(lock)
            .map(|(name, definition)| ExposedTool {
                exposed: name.clone(),
                server: 0,
                locked: Box::leak(name.into_boxed_str()),
                definition,
            })
            .collect();
        let mut implementation = Implementation::new(&lock.server.name, &lock.server.version);
        implementation.title = lock.server.title.clone();
        let items = resources::SurfaceItems::new(&[(served.as_ref(), lock)], false);
        Gateway::new(
            vec![Arc::clone(served)],
            tools,
            items,
            implementation,
            lock.server.instructions.clone(),
        )
    }

    /// Every server's tools under `{server}_{tool}` names (see
    /// [`crate::lock::aggregated_tool_names`]), and prompts under
    /// `{server}_{prompt}` names alike; resources and templates under their
    /// own URIs. Introduced as the proxy crate itself.
    pub(crate) fn aggregated(
        servers: &[(Arc<Served>, Lock)],
        crate_name: &str,
        crate_version: &str,
    ) -> Gateway {
        let names = crate::lock::aggregated_tool_names(
            servers
                .iter()
                .map(|(served, lock)| (served.name.as_str(), lock)),
        );
        let mut tools = Vec::new();
        for (index, (served, lock)) in servers.iter().enumerate() {
            for (name, mut definition) in locked_tools(lock) {
                let Some(exposed) = names.get(&(served.name.clone(), name.clone())) else {
                    continue;
                };
                definition.name = exposed.clone().into();
                tools.push(ExposedTool {
                    exposed: exposed.clone(),
                    server: index,
                    locked: Box::leak(name.into_boxed_str()),
                    definition,
                });
            }
        }
        let instructions = servers
            .iter()
            .filter_map(|(served, lock)| {
                let text = lock.server.instructions.as_deref()?;
                Some(format!(
                    "Tools of {} ({}_*): {text}",
                    served.name, served.name
                ))
            })
            .collect::<Vec<_>>();
        let items = resources::SurfaceItems::new(
            &servers
                .iter()
                .map(|(served, lock)| (served.as_ref(), lock))
                .collect::<Vec<_>>(),
            true,
        );
        Gateway::new(
            servers
                .iter()
                .map(|(served, _)| Arc::clone(served))
                .collect(),
            tools,
            items,
            Implementation::new(crate_name, crate_version),
            (!instructions.is_empty()).then(|| instructions.join("\n\n")),
        )
    }

    fn new(
        servers: Vec<Arc<Served>>,
        mut tools: Vec<ExposedTool>,
        items: resources::SurfaceItems,
        implementation: Implementation,
        instructions: Option<String>,
    ) -> Gateway {
        tools.sort_by(|a, b| a.exposed.cmp(&b.exposed));
        let mut capabilities = ServerCapabilities::builder().enable_tools().build();
        items.declare(&mut capabilities);
        // Tasks for clients of the tasks extension, where a tool may run as one.
        if servers
            .iter()
            .any(|served| !served.app.state().task_support.is_empty())
        {
            capabilities
                .extensions
                .get_or_insert_with(Default::default)
                .insert(
                    rmcp::model::TASKS_EXTENSION_ID.to_string(),
                    rmcp::model::JsonObject::new(),
                );
        }
        let mut info = ServerConfig::new(capabilities).with_server_info(implementation);
        if let Some(instructions) = instructions {
            info = info.with_instructions(instructions);
        }
        Gateway {
            inner: Arc::new(Surface {
                servers,
                tools,
                items,
                info,
            }),
            session: Arc::default(),
        }
    }

    /// The surface for one more MCP session: its own subscriptions.
    pub(crate) fn for_session(&self) -> Gateway {
        Gateway {
            inner: Arc::clone(&self.inner),
            session: Arc::default(),
        }
    }

    /// The tools clients may see now: switched-off tools left out.
    fn visible(&self) -> Vec<&ExposedTool> {
        // Each server's switches read once per listing, not once per tool.
        let disabled: Vec<_> = self
            .inner
            .servers
            .iter()
            .map(|served| {
                served
                    .app
                    .state()
                    .disabled_tools
                    .read()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .clone()
            })
            .collect();
        self.inner
            .tools
            .iter()
            .filter(|tool| !disabled[tool.server].contains(tool.locked))
            .collect()
    }

    fn find(&self, exposed: &str) -> Option<&ExposedTool> {
        self.inner
            .tools
            .binary_search_by(|tool| tool.exposed.as_str().cmp(exposed))
            .ok()
            .map(|index| &self.inner.tools[index])
    }
}

/// A lock's tools as rmcp's model reads them, by name. A definition rmcp
/// cannot read (it never served it either) is left out, with a warning.
fn locked_tools(lock: &Lock) -> impl Iterator<Item = (String, Tool)> + '_ {
    lock.tools.iter().filter_map(|tool| {
        match serde_json::from_value::<Tool>(tool.definition.clone()) {
            Ok(definition) => Some((tool.name.clone(), definition)),
            Err(error) => {
                tracing::warn!(tool = %tool.name, %error, "a locked tool rmcp cannot read is not served over MCP");
                None
            }
        }
    })
}

impl ServerHandler for Gateway {
    fn get_info(&self) -> ServerConfig {
        self.inner.info.clone()
    }

    async fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let cursor = request.and_then(|request| request.cursor);
        let caller = caller_of(&context);
        let (tools, next_cursor) = page(
            self.visible()
                .into_iter()
                .filter(|tool| {
                    let state = self.inner.servers[tool.server].app.state();
                    state
                        .access
                        .shows(&caller, &state.server_name, Use::Tool(tool.locked))
                })
                .map(|tool| tool.definition.clone()),
            cursor.as_deref(),
            PAGE_SIZE,
        )?;
        Ok(ListToolsResult {
            tools,
            next_cursor,
            ..ListToolsResult::default()
        })
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let name = request.name.as_ref();
        let Some(tool) = self.find(name) else {
            return Err(unknown_tool(name));
        };
        let served = &self.inner.servers[tool.server];
        let app = &served.app;
        let arguments = Value::Object(request.arguments.unwrap_or_default());
        // The HTTP request's headers (trace context), none over stdio.
        let no_headers = axum::http::HeaderMap::new();
        let headers = context
            .extensions
            .get::<axum::http::request::Parts>()
            .map_or(&no_headers, |parts| &parts.headers);
        let (progress, relay) = match context.meta.get_progress_token() {
            Some(token) => {
                let (sink, relay) = relay_progress(&context);
                (Some((token, sink)), Some(relay))
            }
            None => (None, None),
        };
        let forms = offers_forms(&context).then(|| relay_forms(&context));
        let started = std::time::Instant::now();
        let span = telemetry::tool_call_span(tool.locked, &served.name, headers);
        let caller = caller_of(&context);
        let state = app.state();
        let what = Use::Tool(tool.locked);
        let ids = state.access.call_ids(headers);
        let audited_arguments = state.access.audits_arguments().then(|| arguments.clone());
        // A client of the tasks extension gets a task to poll instead.
        let as_task =
            tasks::client_takes_tasks(&context) && state.task_support.contains_key(tool.locked);
        let call = async {
            state.access.admit(&caller, &state.server_name, what)?;
            app.check_callable(tool.locked)?;
            if as_task {
                let arguments = app.checked_arguments(tool.locked, arguments, None)?;
                return tasks::start(app, tool.locked, arguments, &caller, forms).await;
            }
            let relays = CallRelays { progress, forms };
            app.call_with_arguments(tool.locked, arguments, None, &caller, relays)
                .await
                .map(CallToolResponse::Complete)
        };
        let outcome = tokio::select! {
            outcome = call.instrument(span.clone()) => outcome,
            () = context.ct.cancelled() => {
                // Dropping the call cancels it upstream.
                tracing::debug!(tool = %tool.locked, "the MCP client cancelled the call");
                Err(CallFailure::from(crate::error::ApiError::new(
                    CLIENT_CLOSED_REQUEST,
                    "cancelled by the client",
                )))
            }
        };
        // Every progress notification goes out before the result: the
        // relay ends once the call has dropped its sink.
        if let Some(relay) = relay
            && tokio::time::timeout(PROGRESS_RELAY_LIMIT, relay)
                .await
                .is_err()
        {
            tracing::debug!(
                tool = tool.locked,
                "progress still relaying when the call ended"
            );
        }
        let status = match &outcome {
            Ok(CallToolResponse::Complete(result)) if result.is_error == Some(true) => 500,
            Ok(CallToolResponse::Task(_)) => 202,
            Ok(_) => 200,
            Err(failure) => failure.answer.status.as_u16(),
        };
        telemetry::record_status(&span, status);
        state
            .metrics
            .record_call(tool.locked, status, started.elapsed());
        state.access.record(
            Some(&state.metrics),
            Some(&caller),
            &state.server_name,
            what,
            status,
            started.elapsed(),
            &ids,
            audited_arguments.as_ref(),
        );
        match outcome {
            Ok(CallToolResponse::Complete(mut result)) => {
                // An upstream on a revision before 2026-07-28 sends no
                // `resultType`; a client on 2026-07-28 requires it (rmcp
                // strips it again for older clients).
                result.result_type.get_or_insert(ResultType::COMPLETE);
                Ok(CallToolResponse::Complete(result))
            }
            Ok(response) => Ok(response),
            Err(failure) => answer_for_failure(name, failure),
        }
    }

    async fn get_task(
        &self,
        request: rmcp::model::GetTaskParams,
        context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::GetTaskResult, ErrorData> {
        self.task_now(request, &context).await
    }

    async fn update_task(
        &self,
        request: rmcp::model::UpdateTaskParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.answer_task(request, &context).await
    }

    async fn cancel_task(
        &self,
        request: rmcp::model::CancelTaskParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.cancel_callers_task(request, &context).await
    }

    async fn list_resources(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        self.inner
            .items
            .offers_resources::<ListResourcesRequestMethod>()?;
        let cursor = request.and_then(|request| request.cursor);
        let (resources, next_cursor) = page(
            self.resources(&caller_of(&context)).await?.into_iter(),
            cursor.as_deref(),
            PAGE_SIZE,
        )?;
        Ok(ListResourcesResult {
            resources,
            next_cursor,
            ..ListResourcesResult::default()
        })
    }

    async fn list_resource_templates(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        self.inner
            .items
            .offers_resources::<ListResourceTemplatesRequestMethod>()?;
        let cursor = request.and_then(|request| request.cursor);
        let (resource_templates, next_cursor) = page(
            self.templates_for(&caller_of(&context)).into_iter(),
            cursor.as_deref(),
            PAGE_SIZE,
        )?;
        Ok(ListResourceTemplatesResult {
            resource_templates,
            next_cursor,
            ..ListResourceTemplatesResult::default()
        })
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        self.inner
            .items
            .offers_resources::<ReadResourceRequestMethod>()?;
        self.read(&request.uri, &caller_of(&context)).await
    }

    async fn list_prompts(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        self.inner
            .items
            .offers_prompts::<ListPromptsRequestMethod>()?;
        let cursor = request.and_then(|request| request.cursor);
        let (prompts, next_cursor) = page(
            self.prompts_for(&caller_of(&context)).into_iter(),
            cursor.as_deref(),
            PAGE_SIZE,
        )?;
        Ok(ListPromptsResult {
            prompts,
            next_cursor,
            ..ListPromptsResult::default()
        })
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        self.inner
            .items
            .offers_prompts::<GetPromptRequestMethod>()?;
        self.prompt(request, &caller_of(&context)).await
    }

    async fn complete(
        &self,
        request: CompleteRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, ErrorData> {
        self.completion(request, &caller_of(&context)).await
    }

    #[allow(deprecated, reason = "the legacy revisions' resources/subscribe")]
    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let server = self
            .subscribable_server(&request.uri, &caller_of(&context))
            .await?;
        let listener = subscriptions::Listener::Session(context.peer.clone());
        self.session
            .subscribe(&self.inner, server, &request.uri, listener)
            .await
    }

    #[allow(deprecated, reason = "the legacy revisions' resources/unsubscribe")]
    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        if self.session.unsubscribe(&request.uri) {
            return Ok(());
        }
        // Not subscribed: fine for a URI it could have subscribed to.
        self.subscribable_server(&request.uri, &caller_of(&context))
            .await
            .map(|_| ())
    }

    fn accepted_subscription_filter(
        &self,
        requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        // Only resource updates: the surface never changes by itself. As
        // many URIs as a session may subscribe to.
        let mut accepted = SubscriptionFilter::new();
        accepted.resource_subscriptions = requested.resource_subscriptions.as_ref().map(|uris| {
            uris.iter()
                .filter(|uri| self.may_subscribe_now(uri))
                .take(subscriptions::MAX_SUBSCRIPTIONS)
                .cloned()
                .collect()
        });
        Some(accepted)
    }

    async fn listen(&self, context: SubscriptionContext) -> Result<(), ErrorData> {
        self.listen_for_updates(context).await;
        Ok(())
    }
}

/// Where a call's progress goes (the sink), and the task that passes it on
/// to the MCP client: it ends when the call drops the sink.
/// The caller the HTTP guard authenticated (`gateway/http.rs`); over
/// stdio, whoever started the proxy: anonymous, as on an open proxy.
pub(crate) fn caller_of(context: &RequestContext<RoleServer>) -> Caller {
    context
        .extensions
        .get::<axum::http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<Caller>())
        .cloned()
        .unwrap_or_else(Caller::anonymous)
}

fn relay_progress(
    context: &RequestContext<RoleServer>,
) -> (ProgressSink, tokio::task::JoinHandle<()>) {
    let (sink, mut notifications) = tokio::sync::mpsc::unbounded_channel();
    let peer = context.peer.clone();
    let relay = tokio::spawn(async move {
        while let Some(progress) = notifications.recv().await {
            if peer.notify_progress(progress).await.is_err() {
                break;
            }
        }
    });
    (sink, relay)
}

/// Whether the MCP client said it can fill forms in (`elicitation`).
fn offers_forms(context: &RequestContext<RoleServer>) -> bool {
    context
        .peer
        .peer_info()
        .is_some_and(|client| client.capabilities.elicitation.is_some())
}

/// Where the forms an upstream task asks for go: to the MCP client, whose
/// answer goes back upstream (a client that fails to answer cancels the
/// form). The relay ends when the call drops the sink.
fn relay_forms(context: &RequestContext<RoleServer>) -> ElicitationSink {
    let (sink, mut asks) = tokio::sync::mpsc::unbounded_channel::<ElicitationAsk>();
    let peer = context.peer.clone();
    tokio::spawn(async move {
        while let Some(ElicitationAsk {
            request, mut reply, ..
        }) = asks.recv().await
        {
            let request =
                rmcp::model::ServerRequest::ElicitRequest(rmcp::model::ElicitRequest::new(request));
            let answer = tokio::select! {
                answer = tokio::time::timeout(FORM_WAIT, peer.send_request(request)) => {
                    answer.unwrap_or(Err(rmcp::ServiceError::Timeout { timeout: FORM_WAIT }))
                }
                // The upstream stopped waiting (its request was cancelled,
                // its session ended, its wait ran out): so does the form.
                () = reply.closed() => continue,
            };
            let answer = match answer {
                Ok(rmcp::model::ClientResult::ElicitResult(answer)) => answer,
                other => {
                    tracing::debug!(?other, "the MCP client did not answer a form");
                    rmcp::model::ElicitResult::new(rmcp::model::ElicitationAction::Cancel)
                }
            };
            let _ = reply.send(answer);
        }
    });
    sink
}

/// One page of `items` from `cursor` (the decimal offset we gave out), and
/// the next page's cursor when there is one.
fn page<T>(
    items: impl Iterator<Item = T>,
    cursor: Option<&str>,
    size: usize,
) -> Result<(Vec<T>, Option<String>), ErrorData> {
    let start = match cursor {
        None => 0,
        Some(cursor) => cursor
            .parse::<usize>()
            .map_err(|_| ErrorData::invalid_params("unknown cursor", None))?,
    };
    let mut items: Vec<T> = items.skip(start).take(size + 1).collect();
    let next = (items.len() > size).then(|| {
        items.truncate(size);
        (start + size).to_string()
    });
    Ok((items, next))
}

fn unknown_tool(name: &str) -> ErrorData {
    ErrorData::invalid_params(format!("Unknown tool: {name}"), None)
}

/// A failed call as MCP answers it: arguments the frozen schema refuses are
/// a tool execution error the model can correct (as the 2025-11-25 spec
/// asks); an upstream's own JSON-RPC error is passed on; the rest are the
/// proxy's errors, with the HTTP status a REST caller would get in `data`.
fn answer_for_failure(name: &str, failure: CallFailure) -> Result<CallToolResponse, ErrorData> {
    if failure.upstream_error.is_none() {
        match failure.answer.status.as_u16() {
            422 => {
                let detail = detail_text(&failure.answer.detail);
                return Ok(CallToolResponse::Complete(CallToolResult::error(vec![
                    ContentBlock::text(format!("Invalid arguments for tool {name}: {detail}")),
                ])));
            }
            404 => return Err(unknown_tool(name)),
            _ => {}
        }
    }
    Err(failure_error(failure))
}

/// A failed request as MCP answers it whatever the request: an upstream's
/// own JSON-RPC error as it was (less secrets), a drifted item, or the
/// proxy's own failure (upstream down, timeout, limits) with the HTTP status
/// a REST caller would get in `data`.
fn failure_error(failure: CallFailure) -> ErrorData {
    if let Some(mut error) = failure.upstream_error {
        // Upstream texts may quote a secret (a URL, a header).
        error.message = crate::redact::redact(&error.message).into_owned().into();
        if let Some(data) = error.data.as_mut() {
            crate::error::redact_strings(data);
        }
        return error;
    }
    let answer = failure.answer;
    let detail = detail_text(&answer.detail);
    let status = answer.status.as_u16();
    match status {
        409 => ErrorData::new(DRIFTED, detail, Some(json!({"status": status}))),
        403 => ErrorData::new(NOT_ALLOWED, detail, Some(json!({"status": status}))),
        _ => ErrorData::new(
            UPSTREAM_UNAVAILABLE,
            detail,
            Some(json!({"status": status, "retryAfter": answer.retry_after})),
        ),
    }
}

/// An error `detail` as one line of text, less secrets.
fn detail_text(detail: &Value) -> String {
    let text = match detail {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    crate::redact::redact(&text).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_follow_their_cursors_to_the_end() {
        let (first, next) = page(0..250, None, 100).unwrap();
        assert_eq!(first, (0..100).collect::<Vec<_>>());
        assert_eq!(next.as_deref(), Some("100"));
        let (second, next) = page(0..250, next.as_deref(), 100).unwrap();
        assert_eq!(second[0], 100);
        let (last, next) = page(0..250, next.as_deref(), 100).unwrap();
        assert_eq!(last, (200..250).collect::<Vec<_>>());
        assert_eq!(next, None);
        // Exactly one page: no cursor to an empty page.
        assert_eq!(page(0..100, None, 100).unwrap().1, None);
        assert!(page(0..3, Some("x"), 100).is_err());
    }
}
