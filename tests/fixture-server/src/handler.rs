//! The MCP side: a hand-written `ServerHandler` (not rmcp's `#[tool]` macros, which
//! derive schemas from Rust types) so that tool definitions go out as the file wrote them.

use std::{borrow::Cow, sync::Arc};

use rmcp::{
    ErrorData, RoleServer, ServerHandler,
    model::{
        CallToolRequestParams, CallToolResponse, CancelTaskMethod, CancelTaskParams,
        CancelledNotificationParam, CompleteRequestMethod, CompleteRequestParams, CompleteResult,
        GetPromptRequestMethod, GetPromptRequestParams, GetPromptResponse, GetTaskMethod,
        GetTaskParams, GetTaskResult, Implementation, ListPromptsRequestMethod, ListPromptsResult,
        ListResourceTemplatesRequestMethod, ListResourceTemplatesResult,
        ListResourcesRequestMethod, ListResourcesResult, ListToolsResult, PaginatedRequestParams,
        ProtocolVersion, ReadResourceRequestMethod, ReadResourceRequestParams,
        ReadResourceResponse, ServerCapabilities, ServerConfig, SubscribeRequestMethod,
        SubscribeRequestParams, UnsubscribeRequestMethod, UnsubscribeRequestParams,
        UpdateTaskMethod, UpdateTaskParams,
    },
    service::{NotificationContext, RequestContext},
};

#[cfg(test)]
use crate::catalog::Catalog;
use crate::{
    behavior::{Behavior, Outcome},
    long_calls::LongCalls,
    paging,
    reload::LiveTools,
    resources::Resources,
};

/// Server identity and paging, fixed for the life of the process.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    pub name: String,
    pub version: String,
    /// Most tools per `tools/list` page; `None` = everything in one page.
    pub page_size: Option<usize>,
    /// The protocol revisions served (`--protocol-versions`); empty = every
    /// revision rmcp knows.
    pub protocol_versions: Vec<ProtocolVersion>,
    /// Advertise `tools.listChanged` (the tool file is reloaded and changes
    /// are announced: `--reload-tools-every-ms`).
    pub tools_list_changed: bool,
    /// Hold every `tools/list` answer this long after taking it
    /// (`--tools-list-delay-ms`): the tools as they were when asked.
    pub list_delay: Option<std::time::Duration>,
    /// Advertise the tasks extension and answer `tasks/*` and the long-call
    /// tools (`--tasks-extension`, see `long_calls`).
    pub tasks_extension: bool,
}

/// Cheap to clone (a clone is the same session); the HTTP transport builds one
/// handler per session with [`FixtureServer::for_new_session`].
#[derive(Debug, Clone)]
pub struct FixtureServer {
    tools: Arc<LiveTools>,
    settings: Arc<ServerSettings>,
    /// `--resources`: resources, templates, prompts and completions.
    resources: Option<Resources>,
    /// `--tasks-extension`: the tasks, shared by every session.
    long_calls: Option<Arc<LongCalls>>,
}

impl FixtureServer {
    #[cfg(test)]
    pub fn new(catalog: Catalog, settings: ServerSettings) -> Self {
        Self::with_live_tools(Arc::new(LiveTools::new(catalog)), settings, None)
    }

    /// A server whose tools may be replaced while it runs (see `reload`).
    pub fn with_live_tools(
        tools: Arc<LiveTools>,
        settings: ServerSettings,
        resources: Option<Resources>,
    ) -> Self {
        Self {
            tools,
            long_calls: settings.tasks_extension.then(Arc::default),
            settings: Arc::new(settings),
            resources,
        }
    }

    /// The same server for another client session (its own subscriptions).
    pub fn for_new_session(&self) -> Self {
        Self {
            tools: Arc::clone(&self.tools),
            settings: Arc::clone(&self.settings),
            resources: self.resources.as_ref().map(Resources::for_new_session),
            long_calls: self.long_calls.clone(),
        }
    }

    /// One page of the tool list (see `paging`).
    fn page(&self, cursor: Option<&str>) -> Result<ListToolsResult, ErrorData> {
        let catalog = self.tools.current();
        let (tools, next) = paging::page(catalog.tools(), cursor, self.settings.page_size)?;
        let mut result = ListToolsResult::with_all_items(tools);
        result.next_cursor = next;
        Ok(result)
    }

    /// The resources surface, or rmcp's answer for a method a server without
    /// it does not know.
    fn resources<M: rmcp::model::ConstString>(&self) -> Result<&Resources, ErrorData> {
        self.resources
            .as_ref()
            .ok_or_else(ErrorData::method_not_found::<M>)
    }

    /// The tasks of `--tasks-extension` (without it rmcp already answers
    /// `tasks/*` with -32601, as the capability is not advertised).
    fn long_calls<M: rmcp::model::ConstString>(&self) -> Result<&Arc<LongCalls>, ErrorData> {
        self.long_calls
            .as_ref()
            .ok_or_else(ErrorData::method_not_found::<M>)
    }
}

impl ServerHandler for FixtureServer {
    fn get_info(&self) -> ServerConfig {
        let builder = ServerCapabilities::builder().enable_tools();
        let builder = if self.settings.tools_list_changed {
            builder.enable_tool_list_changed()
        } else {
            builder
        };
        let builder = if self.long_calls.is_some() {
            builder.enable_tasks()
        } else {
            builder
        };
        let mut capabilities = builder.build();
        if self.resources.is_some() {
            Resources::add_capabilities(&mut capabilities);
        }
        let mut config = ServerConfig::new(capabilities).with_server_info(Implementation::new(
            self.settings.name.clone(),
            self.settings.version.clone(),
        ));
        // rmcp answers an `initialize` asking for a revision it does not serve
        // with this one, even when it is not in the supported list: make it the
        // newest served revision that has a handshake, or, for a server that
        // speaks only stateless revisions, one without (then rmcp rejects
        // `initialize` with -32022 naming the supported revisions).
        let served = self.supported_protocol_versions();
        if let Some(answer) = served
            .iter()
            .filter(|version| version.has_initialize())
            .max_by(|a, b| a.as_str().cmp(b.as_str()))
            .or_else(|| served.iter().max_by(|a, b| a.as_str().cmp(b.as_str())))
        {
            config.protocol_version = answer.clone();
        }
        config
    }

    fn supported_protocol_versions(&self) -> Cow<'static, [ProtocolVersion]> {
        if self.settings.protocol_versions.is_empty() {
            Cow::Borrowed(ProtocolVersion::KNOWN_VERSIONS)
        } else {
            Cow::Owned(self.settings.protocol_versions.clone())
        }
    }

    async fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let cursor = request.as_ref().and_then(|params| params.cursor.as_deref());
        let page = self.page(cursor);
        if let Some(delay) = self.settings.list_delay {
            tokio::time::sleep(delay).await;
        }
        page
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        // Same answer as the Python SDK, so the proxy's mapping of it is exercised.
        let catalog = self.tools.current();
        let Some(entry) = catalog.entry(&request.name) else {
            return Err(ErrorData::invalid_params(
                format!("Unknown tool: {}", request.name),
                None,
            ));
        };
        if let (Behavior::LongCall(tool), Some(long_calls)) = (&entry.behavior, &self.long_calls) {
            return long_calls.call(*tool, request, &context).await;
        }
        let arguments = request.arguments.unwrap_or_default();
        if let (Behavior::TouchResource, Some(resources)) = (&entry.behavior, &self.resources) {
            return resources.touch(&arguments).await.map(Into::into);
        }
        let cancelled = context.ct.cancelled();
        let outcome = entry
            .behavior
            .run(arguments, entry.has_output_schema, cancelled)
            .await;
        if context.ct.is_cancelled() {
            // For tests that watch the upstream: the call stopped early.
            eprintln!(
                "fixture: call {} (request {}) stopped: cancelled",
                request.name, context.id
            );
        }
        match outcome {
            Outcome::Result(result) => Ok(result.into()),
            Outcome::Error(error) => Err(error),
        }
    }

    async fn get_task(
        &self,
        request: GetTaskParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<GetTaskResult, ErrorData> {
        self.long_calls::<GetTaskMethod>()?.get(&request.task_id)
    }

    async fn update_task(
        &self,
        request: UpdateTaskParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.long_calls::<UpdateTaskMethod>()?
            .update(&request.task_id, &request.input_responses)
    }

    async fn cancel_task(
        &self,
        request: CancelTaskParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.long_calls::<CancelTaskMethod>()?
            .cancel(&request.task_id)
    }

    async fn on_cancelled(
        &self,
        notification: CancelledNotificationParam,
        _context: NotificationContext<RoleServer>,
    ) {
        // For tests that watch the upstream: which request a client cancelled
        // (rmcp has already fired that request's cancellation token).
        let id = notification
            .request_id
            .map_or_else(|| "(no id)".to_owned(), |id| id.to_string());
        eprintln!("fixture: cancelled request {id}");
    }

    async fn on_initialized(&self, context: NotificationContext<RoleServer>) {
        self.tools.register(context.peer);
    }

    async fn list_resources(
        &self,
        request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        let cursor = request.as_ref().and_then(|params| params.cursor.as_deref());
        self.resources::<ListResourcesRequestMethod>()?
            .list_resources(cursor)
    }

    async fn list_resource_templates(
        &self,
        request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        let cursor = request.as_ref().and_then(|params| params.cursor.as_deref());
        self.resources::<ListResourceTemplatesRequestMethod>()?
            .list_resource_templates(cursor)
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        self.resources::<ReadResourceRequestMethod>()?
            .read(&request.uri)
            .map(Into::into)
    }

    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.resources::<SubscribeRequestMethod>()?
            .subscribe(&request.uri, &context.peer)
    }

    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.resources::<UnsubscribeRequestMethod>()?
            .unsubscribe(&request.uri);
        Ok(())
    }

    async fn list_prompts(
        &self,
        request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        let cursor = request.as_ref().and_then(|params| params.cursor.as_deref());
        self.resources::<ListPromptsRequestMethod>()?
            .list_prompts(cursor)
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        self.resources::<GetPromptRequestMethod>()?
            .get_prompt(&request)
            .map(Into::into)
    }

    async fn complete(
        &self,
        request: CompleteRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, ErrorData> {
        Ok(self
            .resources::<CompleteRequestMethod>()?
            .complete(&request))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(count: usize, page_size: Option<usize>) -> FixtureServer {
        FixtureServer::new(
            Catalog::generated(count).unwrap(),
            ServerSettings {
                name: "test".into(),
                version: "1".into(),
                page_size,
                protocol_versions: Vec::new(),
                tools_list_changed: false,
                list_delay: None,
                tasks_extension: false,
            },
        )
    }

    #[test]
    fn pages_cover_every_tool_once() {
        let server = server(25, Some(10));
        let mut names = Vec::new();
        let mut cursor = None;
        let mut pages = 0;
        loop {
            let page = server.page(cursor.as_deref()).unwrap();
            pages += 1;
            names.extend(page.tools.iter().map(|tool| tool.name.to_string()));
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        assert_eq!(pages, 3);
        assert_eq!(names.len(), 25);
        assert_eq!(names.first().map(String::as_str), Some("tool_0000"));
        assert_eq!(names.last().map(String::as_str), Some("tool_0024"));
    }

    #[test]
    fn no_page_size_means_one_page() {
        let page = server(25, None).page(None).unwrap();
        assert_eq!(page.tools.len(), 25);
        assert_eq!(page.next_cursor, None);
    }

    #[test]
    fn exact_multiple_has_no_trailing_empty_page() {
        let server = server(20, Some(10));
        let second = server.page(Some("10")).unwrap();
        assert_eq!(second.tools.len(), 10);
        assert_eq!(second.next_cursor, None);
    }

    #[test]
    fn bad_cursors_are_invalid_params() {
        let server = server(5, Some(2));
        for cursor in ["x", "-1", "6", "99999999999999999999999"] {
            let error = server.page(Some(cursor)).unwrap_err();
            assert_eq!(
                error.code,
                rmcp::model::ErrorCode::INVALID_PARAMS,
                "{cursor}"
            );
        }
    }
}
