//! Resources, resource templates, prompts and completions over MCP, from
//! the lock as [`crate::surface`] serves them to REST callers.
//!
//! A single server's surface is its lock's. The aggregated surface of a
//! multi-server proxy holds every server's: resources and templates under
//! their own URIs (a URI goes to the first server by name whose lock offers
//! it), prompts under `{server}_{prompt}` names like tools (`_2`, `_3`, ...
//! on a collision), and a completion goes to the server its reference
//! names.

use crate::access::Use;
use crate::identity::Caller;
use crate::lock::SurfaceKind;
use std::collections::HashMap;

use rmcp::model::{
    CompleteRequestMethod, CompleteRequestParams, CompleteResult, ConstString, ErrorData,
    GetPromptRequestParams, GetPromptResponse, JsonObject, Prompt, PromptsCapability,
    ReadResourceResponse, Reference, Resource, ResourceTemplate, ResourcesCapability, ResultType,
    ServerCapabilities, SubscribeRequestMethod,
};
use serde_json::{Value, json};

use super::{Gateway, failure_error};
use crate::app::CallFailure;
use crate::lock::{Lock, ResourceList};
use crate::served::Served;

/// A locked prompt as clients see it.
pub(super) struct ExposedPrompt {
    /// The name clients get it by.
    exposed: String,
    /// Index into the gateway's servers.
    server: usize,
    /// Its name upstream (and in the lock).
    locked: String,
    /// The locked prompt object, renamed to `exposed`.
    definition: Prompt,
}

/// What a surface serves besides tools.
pub(super) struct SurfaceItems {
    /// Sorted by exposed name.
    prompts: Vec<ExposedPrompt>,
    /// Every server's locked templates, servers by name (a URI template
    /// once).
    templates: Vec<ResourceTemplate>,
    /// Indices into the gateway's servers, by server name: the first that
    /// offers a URI (or names a template) serves it.
    by_name: Vec<usize>,
    /// Per server: whether it offers resource subscriptions (its locked
    /// capabilities say so, and it has resources).
    subscribable: Vec<bool>,
    /// Whether any server has resources, templates or a live list.
    resources: bool,
    /// Whether any server offers completions.
    completions: bool,
}

impl SurfaceItems {
    /// The items of `servers` (in the gateway's order); `aggregated`:
    /// prompts get `{server}_` names.
    pub(super) fn new(servers: &[(&Served, &Lock)], aggregated: bool) -> SurfaceItems {
        let mut by_name: Vec<usize> = (0..servers.len()).collect();
        by_name.sort_by(|a, b| servers[*a].0.name.cmp(&servers[*b].0.name));
        let names = crate::lock::aggregated_names(servers.iter().flat_map(|(served, lock)| {
            lock.surface
                .prompts
                .iter()
                .map(|prompt| (served.name.clone(), prompt.key.clone()))
        }));
        let mut prompts = Vec::new();
        let mut templates = Vec::new();
        let mut subscribable = Vec::new();
        let mut resources = false;
        let mut completions = false;
        for (index, (served, lock)) in servers.iter().enumerate() {
            let surface = &served.app.state().surface;
            let has_resources = !surface.resources.is_empty()
                || !surface.resource_templates.is_empty()
                || surface.resource_list == ResourceList::Live;
            resources |= has_resources;
            completions |= served.app.state().completions;
            subscribable.push(has_resources && offers_subscriptions(lock));
            for prompt in &surface.prompts {
                let mut definition = match serde_json::from_value::<Prompt>(
                    prompt.definition.clone(),
                ) {
                    Ok(definition) => definition,
                    Err(error) => {
                        tracing::warn!(prompt = %prompt.key, %error, "a locked prompt rmcp cannot read is not served over MCP");
                        continue;
                    }
                };
                let exposed = if aggregated {
                    names
                        .get(&(served.name.clone(), prompt.key.clone()))
                        .cloned()
                        .unwrap_or_else(|| prompt.key.clone())
                } else {
                    prompt.key.clone()
                };
                definition.name = exposed.clone();
                prompts.push(ExposedPrompt {
                    exposed,
                    server: index,
                    locked: prompt.key.clone(),
                    definition,
                });
            }
        }
        prompts.sort_by(|a, b| a.exposed.cmp(&b.exposed));
        let mut listed_templates = std::collections::HashSet::new();
        for &index in &by_name {
            let (served, _) = servers[index];
            for template in &served.app.state().surface.resource_templates {
                // A template two servers lock is listed once: its URIs go
                // to the first server by name.
                if !listed_templates.insert(template.uri_template_text().unwrap_or_default()) {
                    continue;
                }
                match serde_json::from_value::<ResourceTemplate>(template.definition.clone()) {
                    Ok(definition) => templates.push(definition),
                    Err(error) => {
                        tracing::warn!(template = %template.key, %error, "a locked resource template rmcp cannot read is not listed over MCP");
                    }
                }
            }
        }
        if aggregated {
            warn_about_shared_uris(servers, &by_name);
        }
        SurfaceItems {
            prompts,
            templates,
            by_name,
            subscribable,
            resources,
            completions,
        }
    }

    /// Declares what the items need in `capabilities`: never `listChanged`
    /// (the surface changes only with a reviewed lock).
    pub(super) fn declare(&self, capabilities: &mut ServerCapabilities) {
        if self.resources {
            let mut resources = ResourcesCapability::default();
            resources.list_changed = Some(false);
            if self.subscribable.iter().any(|offers| *offers) {
                resources.subscribe = Some(true);
            }
            capabilities.resources = Some(resources);
        }
        if !self.prompts.is_empty() {
            let mut prompts = PromptsCapability::default();
            prompts.list_changed = Some(false);
            capabilities.prompts = Some(prompts);
        }
        if self.completions {
            capabilities.completions = Some(JsonObject::new());
        }
    }

    /// -32601 for a `resources/*` request when no server has resources
    /// (the capability is not declared), as rmcp answers it.
    pub(super) fn offers_resources<M: ConstString>(&self) -> Result<(), ErrorData> {
        if self.resources {
            Ok(())
        } else {
            Err(ErrorData::method_not_found::<M>())
        }
    }

    /// -32601 for a `prompts/*` request when no server has prompts.
    pub(super) fn offers_prompts<M: ConstString>(&self) -> Result<(), ErrorData> {
        if self.prompts.is_empty() {
            Err(ErrorData::method_not_found::<M>())
        } else {
            Ok(())
        }
    }

    /// The listed templates.
    fn find_prompt(&self, exposed: &str) -> Option<&ExposedPrompt> {
        self.prompts
            .binary_search_by(|prompt| prompt.exposed.as_str().cmp(exposed))
            .ok()
            .map(|index| &self.prompts[index])
    }
}

/// Whether a lock's server capabilities offer `resources/subscribe`.
fn offers_subscriptions(lock: &Lock) -> bool {
    lock.server.capabilities["resources"]["subscribe"] == Value::Bool(true)
}

/// Logs, once, each locked resource URI and template several servers
/// offer: the aggregated surface serves the first server's by name.
fn warn_about_shared_uris(servers: &[(&Served, &Lock)], by_name: &[usize]) {
    let mut owners: HashMap<&str, &str> = HashMap::new();
    for &index in by_name {
        let (served, _) = servers[index];
        let surface = &served.app.state().surface;
        let uris = surface.resources.iter().map(|item| item.key.as_str());
        let templates = surface
            .resource_templates
            .iter()
            .filter_map(|item| item.uri_template_text());
        for uri in uris.chain(templates) {
            match owners.get(uri) {
                Some(owner) => tracing::warn!(
                    uri = %crate::redact::redact(uri),
                    served_by = %owner,
                    also_offered_by = %served.name,
                    "several servers offer this resource URI; the aggregated /mcp serves the first server's by name"
                ),
                None => {
                    owners.insert(uri, &served.name);
                }
            }
        }
    }
}

/// JSON-RPC's "resource not found" for a URI the lock does not offer.
pub(super) fn resource_not_found(uri: &str) -> ErrorData {
    ErrorData::resource_not_found("Resource not found", Some(json!({"uri": uri})))
}

/// A failed resource request as MCP answers it: a URI the lock does not
/// offer is "resource not found"; the rest as any request's failure.
pub(super) fn resource_error(uri: &str, failure: CallFailure) -> ErrorData {
    request_error(failure, resource_not_found(uri), &format!("resource {uri}"))
}

/// A failed request that is not a tool call: `not_found` for what the lock
/// does not hold (404), invalid params with the validation messages for
/// arguments it refuses (422); the rest as [`failure_error`] answers.
fn request_error(failure: CallFailure, not_found: ErrorData, what: &str) -> ErrorData {
    if failure.upstream_error.is_none() {
        match failure.answer.status.as_u16() {
            404 => return not_found,
            422 => {
                let messages = validation_messages(&failure.answer.detail);
                return ErrorData::invalid_params(
                    format!("Invalid arguments for {what}: {messages}"),
                    Some(json!({"status": 422, "errors": failure.answer.detail})),
                );
            }
            _ => {}
        }
    }
    failure_error(failure)
}

/// A 422's issues as one line: `argument: message; ...` (the `body`
/// segment of each location left out).
fn validation_messages(detail: &Value) -> String {
    let Some(issues) = detail.as_array() else {
        return super::detail_text(detail);
    };
    issues
        .iter()
        .map(|issue| {
            let loc: Vec<String> = issue["loc"]
                .as_array()
                .into_iter()
                .flatten()
                .skip_while(|segment| segment.as_str() == Some("body"))
                .map(|segment| match segment {
                    Value::String(text) => text.clone(),
                    other => other.to_string(),
                })
                .collect();
            let message = issue["msg"].as_str().unwrap_or("invalid");
            if loc.is_empty() {
                message.to_string()
            } else {
                format!("{}: {message}", loc.join("."))
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn unknown_prompt(name: &str) -> ErrorData {
    ErrorData::invalid_params(format!("Unknown prompt: {name}"), None)
}

fn unknown_reference(reference: &Reference) -> ErrorData {
    let named = match reference {
        Reference::Prompt(prompt) => format!("prompt {}", prompt.name),
        Reference::Resource(template) => format!("resource template {}", template.uri),
        other => other.reference_type().to_string(),
    };
    ErrorData::invalid_params(
        format!("Unknown reference: no locked {named} offers completions"),
        None,
    )
}

impl Gateway {
    /// The prompts `caller` may see, as listed.
    pub(super) fn prompts_for(&self, caller: &Caller) -> Vec<Prompt> {
        self.inner
            .items
            .prompts
            .iter()
            .filter(|prompt| {
                let state = self.inner.servers[prompt.server].app.state();
                state
                    .access
                    .shows(caller, &state.server_name, Use::Prompt(&prompt.locked))
            })
            .map(|prompt| prompt.definition.clone())
            .collect()
    }

    /// The resource templates `caller` may see: those some server's policy
    /// grants it.
    pub(super) fn templates_for(&self, caller: &Caller) -> Vec<ResourceTemplate> {
        self.inner
            .items
            .templates
            .iter()
            .filter(|template| {
                self.inner.servers.iter().any(|served| {
                    let state = served.app.state();
                    state.access.shows(
                        caller,
                        &state.server_name,
                        Use::Resource(&template.uri_template),
                    )
                })
            })
            .cloned()
            .collect()
    }

    /// `resources/list`: every server's (locked, or live) resources, a URI
    /// listed once. A server whose live list cannot be read fails the
    /// request of its own surface, and is left out of the aggregated one.
    pub(super) async fn resources(&self, caller: &Caller) -> Result<Vec<Resource>, ErrorData> {
        let servers = &self.inner.servers;
        let mut seen = std::collections::HashSet::new();
        let mut resources = Vec::new();
        for &index in &self.inner.items.by_name {
            let served = &servers[index];
            let listed = match served.app.list_resources().await {
                Ok(listed) => listed,
                Err(failure) if servers.len() == 1 => return Err(failure_error(failure)),
                Err(failure) => {
                    tracing::warn!(server = %served.name, detail = %super::detail_text(&failure.answer.detail), "its live resource list is left out of the aggregated resources/list");
                    continue;
                }
            };
            for definition in listed {
                let Some(uri) = definition.get("uri").and_then(Value::as_str) else {
                    continue;
                };
                if !served
                    .app
                    .shows_item(caller, SurfaceKind::Resource, &definition)
                {
                    continue;
                }
                if !seen.insert(uri.to_string()) {
                    continue;
                }
                match serde_json::from_value::<Resource>(definition) {
                    Ok(resource) => resources.push(resource),
                    Err(error) => {
                        tracing::debug!(server = %served.name, %error, "a resource rmcp cannot read is not listed over MCP");
                    }
                }
            }
        }
        Ok(resources)
    }

    /// The server whose lock offers `uri`, the first by name; `None` when
    /// none does.
    async fn route(&self, uri: &str) -> Result<Option<usize>, CallFailure> {
        let mut failed = None;
        for &index in &self.inner.items.by_name {
            match self.inner.servers[index].app.offers_uri(uri).await {
                Ok(true) => return Ok(Some(index)),
                Ok(false) => {}
                Err(failure) => {
                    failed.get_or_insert(failure);
                }
            }
        }
        failed.map_or(Ok(None), Err)
    }

    /// `resources/read` of a URI the lock offers.
    pub(super) async fn read(
        &self,
        uri: &str,
        caller: &Caller,
    ) -> Result<ReadResourceResponse, ErrorData> {
        // A single server's App checks the URI itself.
        let server = if self.inner.servers.len() == 1 {
            0
        } else {
            match self.route(uri).await {
                Ok(Some(server)) => server,
                Ok(None) => return Err(resource_not_found(uri)),
                Err(failure) => return Err(resource_error(uri, failure)),
            }
        };
        let app = &self.inner.servers[server].app;
        let started = std::time::Instant::now();
        let outcome = app.read_resource(uri, None, caller).await;
        counted(app, "resources/read", &outcome, started);
        match outcome {
            Ok(mut result) => {
                result.result_type.get_or_insert(ResultType::COMPLETE);
                Ok(ReadResourceResponse::Complete(result))
            }
            Err(failure) => Err(resource_error(uri, failure)),
        }
    }

    /// The server `resources/subscribe` of `uri` goes to: -32002 for a URI
    /// no lock offers, an error for a server without subscriptions.
    pub(super) async fn subscribable_server(
        &self,
        uri: &str,
        caller: &Caller,
    ) -> Result<usize, ErrorData> {
        let items = &self.inner.items;
        if !items.subscribable.iter().any(|offers| *offers) {
            return Err(ErrorData::method_not_found::<SubscribeRequestMethod>());
        }
        let server = match self.route(uri).await {
            Ok(Some(server)) => server,
            Ok(None) => return Err(resource_not_found(uri)),
            Err(failure) => return Err(resource_error(uri, failure)),
        };
        if !items.subscribable[server] {
            return Err(ErrorData::invalid_params(
                format!("the server of {uri} offers no resource subscriptions"),
                Some(json!({"uri": uri})),
            ));
        }
        // Updates tell that a resource exists and when it changes: only for
        // a caller who may read it.
        if let Err(refused) = self.inner.servers[server].app.permit_resource(caller, uri) {
            return Err(super::failure_error(refused.into()));
        }
        Ok(server)
    }

    /// Whether `resources/subscribe` of `uri` may be admitted, by what the
    /// locks tell without asking an upstream ([`App::may_admit_uri`]): for
    /// `subscriptions/listen`, whose filter is accepted before anything is
    /// sent upstream; its URIs are then admitted as `resources/subscribe`'s
    /// are ([`Gateway::subscribable_server`]).
    ///
    /// [`App::may_admit_uri`]: crate::app::App::may_admit_uri
    pub(super) fn may_subscribe_now(&self, uri: &str) -> bool {
        let items = &self.inner.items;
        items.by_name.iter().any(|&index| {
            items.subscribable[index] && self.inner.servers[index].app.may_admit_uri(uri)
        })
    }

    /// `prompts/get` of a locked prompt, its arguments checked first.
    pub(super) async fn prompt(
        &self,
        request: GetPromptRequestParams,
        caller: &Caller,
    ) -> Result<GetPromptResponse, ErrorData> {
        let name = request.name.as_str();
        let Some(prompt) = self.inner.items.find_prompt(name) else {
            return Err(unknown_prompt(name));
        };
        let app = &self.inner.servers[prompt.server].app;
        let arguments = request.arguments.unwrap_or_default();
        let started = std::time::Instant::now();
        let outcome = app.get_prompt(&prompt.locked, arguments, caller).await;
        counted(app, "prompts/get", &outcome, started);
        match outcome {
            Ok(mut result) => {
                // As tool results: a client on 2026-07-28 requires it (rmcp
                // strips it again for older clients).
                result.result_type.get_or_insert(ResultType::COMPLETE);
                Ok(GetPromptResponse::Complete(result))
            }
            Err(failure) => Err(request_error(
                failure,
                unknown_prompt(name),
                &format!("prompt {name}"),
            )),
        }
    }

    /// `completion/complete` for a locked prompt's argument or a locked
    /// template's variable, on the server that locked it.
    pub(super) async fn completion(
        &self,
        request: CompleteRequestParams,
        caller: &Caller,
    ) -> Result<CompleteResult, ErrorData> {
        let items = &self.inner.items;
        if !items.completions {
            return Err(ErrorData::method_not_found::<CompleteRequestMethod>());
        }
        let CompleteRequestParams {
            r#ref: reference,
            argument,
            context,
            ..
        } = request;
        let routed = match &reference {
            Reference::Prompt(prompt) => items.find_prompt(&prompt.name).map(|exposed| {
                let mut upstream = prompt.clone();
                upstream.name = exposed.locked.clone();
                (exposed.server, Reference::Prompt(upstream))
            }),
            Reference::Resource(template) => items
                .by_name
                .iter()
                .copied()
                .find(|&index| {
                    self.inner.servers[index]
                        .app
                        .state()
                        .surface
                        .resource_templates
                        .iter()
                        .any(|item| item.uri_template_text() == Some(template.uri.as_str()))
                })
                .map(|index| (index, reference.clone())),
            _ => None,
        };
        let Some((server, upstream)) = routed else {
            return Err(unknown_reference(&reference));
        };
        let context = context.and_then(|context| context.arguments);
        let app = &self.inner.servers[server].app;
        let started = std::time::Instant::now();
        let outcome = app.complete(upstream, argument, context, caller).await;
        counted(app, "completion/complete", &outcome, started);
        match outcome {
            Ok(mut result) => {
                result.result_type.get_or_insert(ResultType::COMPLETE);
                Ok(result)
            }
            Err(failure) => Err(request_error(
                failure,
                unknown_reference(&reference),
                "completion",
            )),
        }
    }
}

/// Counts a request a server answered in its `/metrics` under `label`, with
/// the status REST would have answered, as REST counts its own.
fn counted<T>(
    app: &crate::app::App,
    label: &'static str,
    outcome: &Result<T, CallFailure>,
    started: std::time::Instant,
) {
    let status = crate::app::answered_status(outcome);
    app.state()
        .metrics
        .record_call(label, status, started.elapsed());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_messages_name_each_argument() {
        let detail = json!([
            {"loc": ["body", "city"], "msg": "Field required", "type": "missing"},
            {"loc": ["body"], "msg": "Input should be a JSON object", "type": "type"}
        ]);
        assert_eq!(
            validation_messages(&detail),
            "city: Field required; Input should be a JSON object"
        );
        assert_eq!(validation_messages(&json!("plain")), "plain");
    }

    #[test]
    fn lock_refusals_and_argument_errors_become_their_json_rpc_errors() {
        use crate::error::ApiError;
        use axum::http::StatusCode;
        let missing = resource_error(
            "demo://x",
            ApiError::new(StatusCode::NOT_FOUND, "not locked").into(),
        );
        assert_eq!(missing.code.0, -32002);
        assert_eq!(missing.message, "Resource not found");
        assert_eq!(missing.data, Some(json!({"uri": "demo://x"})));

        let invalid = request_error(
            ApiError::validation(vec![crate::error::ValidationIssue {
                loc: vec!["body".into(), "city".into()],
                msg: "Field required".into(),
                kind: "missing".into(),
            }])
            .into(),
            unknown_prompt("p"),
            "prompt p",
        );
        assert_eq!(invalid.code.0, -32602);
        assert_eq!(
            invalid.message,
            "Invalid arguments for prompt p: city: Field required"
        );

        let upstream = CallFailure {
            answer: ApiError::new(StatusCode::NOT_FOUND, "the upstream has no such resource"),
            upstream_error: Some(ErrorData::resource_not_found("gone", None)),
        };
        let passed = resource_error("demo://x", upstream);
        assert_eq!(
            (passed.code.0, passed.message.as_ref()),
            (-32002, "gone"),
            "the upstream's own error is passed on"
        );

        let down = request_error(
            ApiError::unavailable("the upstream is down", 5).into(),
            unknown_prompt("p"),
            "prompt p",
        );
        assert_eq!(down.code.0, -32011);
        assert_eq!(down.data.as_ref().unwrap()["status"], 503);
    }
}
