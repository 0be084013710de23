//! Resources, resource templates and prompts: the requests REST routes
//! ([`rest`]) and the MCP gateway share. What a caller may reach is the
//! lock's surface, never what the server lists today: a URI that is neither
//! a locked resource nor a match of a locked template is refused here, not
//! forwarded; a prompt's arguments are checked against its locked ones.

pub(crate) mod live_list;
pub(crate) mod rest;

pub(crate) mod subscriptions;

use crate::access::{Audited, Use};
use crate::identity::Caller;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use axum::http::StatusCode;
use rmcp::model::{
    ArgumentInfo, CompleteRequestParams, CompleteResult, CompletionContext, GetPromptRequestParams,
    GetPromptResult, PaginatedRequestParams, ReadResourceRequestParams, ReadResourceResult,
    Reference,
};
use serde_json::{Map, Value};

use crate::app::{App, CallFailure, answered_status};
use crate::error::{ApiError, LocSegment, ValidationIssue};
use crate::lock::{LockedItem, LockedSurface, ResourceList, SurfaceKind};

/// JSON-RPC's "resource not found" (MCP spec): a read of a URI the lock
/// does not offer.
pub(crate) const RESOURCE_NOT_FOUND: i32 = -32002;

/// Most pages a live resource list is read through, and most resources it
/// may hold: a longer list is refused (502) rather than held in memory.
const MAX_LIVE_PAGES: usize = 100;
const MAX_LIVE_RESOURCES: usize = 10_000;

/// How long a live resource list answers reads and subscriptions before it
/// is asked for again.
const LIVE_LIST_FRESH: std::time::Duration = std::time::Duration::from_secs(5);

/// Longest URI a caller may ask for: enough for any real resource, and it
/// bounds the work of matching it against the templates.
pub(crate) const MAX_URI_BYTES: usize = 8 * 1024;

impl App {
    /// The resources a caller sees: the locked ones, or, when the lock says
    /// the list is live data, what the server lists now.
    pub(crate) async fn list_resources(&self) -> Result<Vec<Value>, CallFailure> {
        let surface = &self.state().surface;
        match surface.resource_list {
            ResourceList::Pinned => Ok(definitions(&surface.resources)),
            ResourceList::Live => Ok(self.live_resources().await?.as_ref().clone()),
        }
    }

    /// The server's resource list now (at most [`LIVE_LIST_FRESH`] old).
    async fn live_resources(&self) -> Result<Arc<Vec<Value>>, CallFailure> {
        let cache = &self.state().live_list;
        if let Some((at, list)) = cache
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_ref()
            && at.elapsed() < LIVE_LIST_FRESH
        {
            return Ok(Arc::clone(list));
        }
        let timeout = self.state().call_timeout;
        let listed = self
            .on_upstream("resources/list", timeout, |connection| async move {
                read_live_list(&connection.peer).await
            })
            .await?;
        let list = match listed {
            Ok(list) => Arc::new(list),
            Err(why) => return Err(ApiError::bad_gateway(why).into()),
        };
        *cache
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) =
            Some((std::time::Instant::now(), Arc::clone(&list)));
        Ok(list)
    }

    /// Whether `uri` is one the server offers by its lock: a locked resource,
    /// a match of a locked template, or, with a live list, one it lists now.
    pub(crate) async fn offers_uri(&self, uri: &str) -> Result<bool, CallFailure> {
        let surface = &self.state().surface;
        if surface.item(SurfaceKind::Resource, uri).is_some() || surface.template_for(uri).is_some()
        {
            return Ok(true);
        }
        self.listed_live(uri).await
    }

    /// Whether the server's live resource list holds `uri` now (never, for
    /// a pinned list).
    async fn listed_live(&self, uri: &str) -> Result<bool, CallFailure> {
        Ok(match self.state().surface.resource_list {
            ResourceList::Pinned => false,
            ResourceList::Live => self
                .live_resources()
                .await?
                .iter()
                .any(|resource| resource.get("uri").and_then(Value::as_str) == Some(uri)),
        })
    }

    /// Whether a caller may reach `uri` (read or subscribe), refused
    /// otherwise: too long (422), neither a locked resource nor a match of a
    /// locked template nor, with a live list, listed now (404), or drifted
    /// from the lock (409). `via_template`: the template whose route built
    /// the URI, checked for drift too.
    /// Whether the lock's policy lets `caller` read `uri`: the URI is
    /// granted, or a locked template it matches is (403 otherwise).
    pub(crate) fn permit_resource(&self, caller: &Caller, uri: &str) -> Result<(), ApiError> {
        let state = self.state();
        let access = &state.access;
        let server = state.server_name.as_str();
        if access.shows(caller, server, Use::Resource(uri)) {
            return Ok(());
        }
        let by_template = state
            .surface
            .templates_matching(uri)
            .filter_map(LockedItem::uri_template_text)
            .any(|template| access.shows(caller, server, Use::Resource(template)));
        if by_template {
            return Ok(());
        }
        access.permit(caller, server, Use::Resource(uri))
    }

    /// Whether `caller` may see a listed item: a resource (by its URI), a
    /// resource template (by its `uriTemplate`) or a prompt (by its name).
    pub(crate) fn shows_item(
        &self,
        caller: &Caller,
        kind: SurfaceKind,
        definition: &Value,
    ) -> bool {
        let state = self.state();
        if state.access.policy.is_none() {
            return true;
        }
        let text = |field: &str| {
            definition
                .get(field)
                .and_then(Value::as_str)
                .unwrap_or_default()
        };
        match kind {
            SurfaceKind::Resource => self.permit_resource(caller, text("uri")).is_ok(),
            SurfaceKind::ResourceTemplate => state.access.shows(
                caller,
                &state.server_name,
                Use::Resource(text("uriTemplate")),
            ),
            SurfaceKind::Prompt => {
                state
                    .access
                    .shows(caller, &state.server_name, Use::Prompt(text("name")))
            }
        }
    }

    pub(crate) async fn admit_uri(
        &self,
        uri: &str,
        via_template: Option<&str>,
    ) -> Result<(), CallFailure> {
        if uri.len() > MAX_URI_BYTES {
            return Err(ApiError::validation(vec![ValidationIssue {
                loc: vec![LocSegment::from("query"), LocSegment::from("uri")],
                msg: format!("a resource URI is at most {MAX_URI_BYTES} bytes"),
                kind: "string_too_long".into(),
            }])
            .into());
        }
        let surface = &self.state().surface;
        let locked = surface.item(SurfaceKind::Resource, uri).is_some();
        // Matched once: the same templates decide readability and drift.
        let templates: Vec<&LockedItem> = surface.templates_matching(uri).collect();
        if !locked && templates.is_empty() && !self.listed_live(uri).await? {
            let mut refusal = unknown_resource(uri);
            if surface.resource_list == ResourceList::Live {
                refusal.detail = format!(
                    "resource {uri:?} is neither listed by the server now nor a match of a locked resource template"
                )
                .into();
            }
            return Err(refusal.into());
        }
        // Drift is refused by whatever makes the URI readable: the locked
        // resource, the template whose route built it, any template it matches.
        if locked {
            self.check_item(SurfaceKind::Resource, uri)?;
        }
        for template in via_template
            .into_iter()
            .chain(templates.iter().map(|t| t.key.as_str()))
        {
            self.check_item(SurfaceKind::ResourceTemplate, template)?;
        }
        Ok(())
    }

    /// `resources/read` of `uri`, when the caller may reach it ([`App::admit_uri`]).
    pub(crate) async fn read_resource(
        &self,
        uri: &str,
        via_template: Option<&str>,
        caller: &Caller,
    ) -> Result<ReadResourceResult, CallFailure> {
        let started = std::time::Instant::now();
        let outcome = self.read_resource_checked(uri, via_template, caller).await;
        self.audit(caller, Use::Resource(uri), &outcome, started);
        outcome
    }

    /// One audit line for a read, prompt or completion (tool calls have
    /// theirs in their routes).
    fn audit<'a, T>(
        &self,
        caller: &Caller,
        what: impl Into<Audited<'a>>,
        outcome: &Result<T, CallFailure>,
        started: std::time::Instant,
    ) {
        self.audit_status(caller, what, answered_status(outcome), started);
    }

    /// One audit line for a request of `caller` about `what` (no tool
    /// call), answered with `status`.
    pub(crate) fn audit_status<'a>(
        &self,
        caller: &Caller,
        what: impl Into<Audited<'a>>,
        status: u16,
        started: std::time::Instant,
    ) {
        let state = self.state();
        state.access.record(
            None,
            Some(caller),
            &state.server_name,
            what,
            status,
            started.elapsed(),
            &Default::default(),
            None,
        );
    }

    async fn read_resource_checked(
        &self,
        uri: &str,
        via_template: Option<&str>,
        caller: &Caller,
    ) -> Result<ReadResourceResult, CallFailure> {
        self.admit_uri(uri, via_template).await?;
        self.permit_resource(caller, uri)?;
        let params = ReadResourceRequestParams::new(uri);
        let timeout = self.state().call_timeout;
        self.on_upstream("resources/read", timeout, |connection| async move {
            connection.peer.read_resource(params).await
        })
        .await
        .map_err(not_found_upstream)
    }

    /// `prompts/get` of a locked prompt, its arguments checked first.
    pub(crate) async fn get_prompt(
        &self,
        name: &str,
        arguments: Map<String, Value>,
        caller: &Caller,
    ) -> Result<GetPromptResult, CallFailure> {
        let started = std::time::Instant::now();
        let outcome = self.get_prompt_checked(name, arguments, caller).await;
        self.audit(caller, Use::Prompt(name), &outcome, started);
        outcome
    }

    async fn get_prompt_checked(
        &self,
        name: &str,
        arguments: Map<String, Value>,
        caller: &Caller,
    ) -> Result<GetPromptResult, CallFailure> {
        let Some(prompt) = self.state().surface.item(SurfaceKind::Prompt, name) else {
            return Err(
                ApiError::new(StatusCode::NOT_FOUND, format!("unknown prompt {name:?}")).into(),
            );
        };
        let state = self.state();
        state
            .access
            .permit(caller, &state.server_name, Use::Prompt(name))?;
        check_prompt_arguments(prompt, &arguments).map_err(ApiError::validation)?;
        self.check_item(SurfaceKind::Prompt, name)?;
        let mut params = GetPromptRequestParams::new(name);
        if !arguments.is_empty() {
            params = params.with_arguments(arguments);
        }
        let timeout = self.state().call_timeout;
        self.on_upstream("prompts/get", timeout, |connection| async move {
            connection.peer.get_prompt(params).await
        })
        .await
    }

    /// `completion/complete` for an argument of a locked prompt or a
    /// variable of a locked template.
    pub(crate) async fn complete(
        &self,
        reference: Reference,
        argument: ArgumentInfo,
        context: Option<HashMap<String, String>>,
        caller: &Caller,
    ) -> Result<CompleteResult, CallFailure> {
        let started = std::time::Instant::now();
        let name = match &reference {
            Reference::Prompt(prompt) => prompt.name.clone(),
            Reference::Resource(template) => template.uri.clone(),
            _ => String::new(),
        };
        let outcome = self
            .complete_checked(reference, argument, context, caller)
            .await;
        let what = Audited {
            kind: "completion",
            name: &name,
        };
        self.audit(caller, what, &outcome, started);
        outcome
    }

    async fn complete_checked(
        &self,
        reference: Reference,
        argument: ArgumentInfo,
        context: Option<HashMap<String, String>>,
        caller: &Caller,
    ) -> Result<CompleteResult, CallFailure> {
        let state = self.state();
        if !state.completions {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "the upstream MCP server does not offer completions",
            )
            .into());
        }
        // Completions tell values of what they complete: only for a caller
        // who may use it.
        let used = match &reference {
            Reference::Prompt(prompt) => Some(Use::Prompt(prompt.name.as_str())),
            Reference::Resource(template) => Some(Use::Resource(template.uri.as_str())),
            _ => None,
        };
        if let Some(used) = used {
            state.access.permit(caller, &state.server_name, used)?;
        }
        let item = match &reference {
            Reference::Prompt(prompt) => state.surface.item(SurfaceKind::Prompt, &prompt.name),
            Reference::Resource(template) => state
                .surface
                .resource_templates
                .iter()
                .find(|item| item.uri_template_text() == Some(template.uri.as_str())),
            _ => None,
        };
        let known: Option<BTreeSet<String>> = item.and_then(|item| match &reference {
            Reference::Prompt(_) => Some(
                item.prompt_arguments()
                    .into_iter()
                    .map(|a| a.name)
                    .collect(),
            ),
            _ => item
                .uri_template()
                .ok()
                .map(|parsed| parsed.variables().into_iter().map(|v| v.name).collect()),
        });
        let (Some(item), Some(known)) = (item, known) else {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "no locked prompt or resource template is named by this reference",
            )
            .into());
        };
        if !known.contains(&argument.name) {
            return Err(ApiError::validation(vec![ValidationIssue {
                loc: vec![LocSegment::from("body"), LocSegment::from("argument")],
                msg: format!(
                    "unknown argument {:?}; expected one of {:?}",
                    argument.name, known
                ),
                kind: "enum".into(),
            }])
            .into());
        }
        let kind = match &reference {
            Reference::Prompt(_) => SurfaceKind::Prompt,
            _ => SurfaceKind::ResourceTemplate,
        };
        self.check_item(kind, &item.key)?;
        let mut params = CompleteRequestParams::new(reference, argument);
        if let Some(arguments) = context {
            params.context = Some(CompletionContext::with_arguments(arguments));
        }
        let timeout = state.call_timeout;
        self.on_upstream("completion/complete", timeout, |connection| async move {
            connection.peer.complete(params).await
        })
        .await
    }
}

impl App {
    /// Refuses a prompt, template or resource the supervisor found drifted
    /// from the lock, under `--on-drift refuse` (409), as tools are.
    fn check_item(&self, kind: SurfaceKind, key: &str) -> Result<(), ApiError> {
        let state = self.state();
        if state.on_drift == crate::cli::DriftPolicy::Refuse
            && let Some(refusal) = state.drifted.item_refusal(kind, key)
        {
            return Err(ApiError::new(StatusCode::CONFLICT, refusal));
        }
        Ok(())
    }
}

/// The listed objects of `items`, as the lock holds them.
pub(crate) fn definitions(items: &[LockedItem]) -> Vec<Value> {
    items.iter().map(|item| item.definition.clone()).collect()
}

/// Reads every page of the server's resource list, refusing a list that
/// repeats a cursor or grows past [`MAX_LIVE_PAGES`] / [`MAX_LIVE_RESOURCES`]
/// (the outer error is the request's, the inner one says what was refused).
async fn read_live_list(
    peer: &rmcp::Peer<rmcp::RoleClient>,
) -> Result<Result<Vec<Value>, String>, rmcp::ServiceError> {
    let mut resources = Vec::new();
    let mut cursor: Option<String> = None;
    let mut seen = BTreeSet::new();
    for _ in 0..MAX_LIVE_PAGES {
        let params = cursor
            .take()
            .map(|cursor| PaginatedRequestParams::default().with_cursor(Some(cursor)));
        let page = peer.list_resources(params).await?;
        resources.extend(
            page.resources
                .iter()
                .map(|resource| serde_json::to_value(resource).unwrap_or(Value::Null)),
        );
        if resources.len() > MAX_LIVE_RESOURCES {
            return Ok(Err(format!(
                "the upstream MCP server lists more than {MAX_LIVE_RESOURCES} resources"
            )));
        }
        match page.next_cursor {
            Some(next) if !next.is_empty() => {
                if !seen.insert(next.clone()) {
                    return Ok(Err(
                        "the upstream MCP server repeated a resources/list cursor".into(),
                    ));
                }
                cursor = Some(next);
            }
            _ => return Ok(Ok(resources)),
        }
    }
    Ok(Err(format!(
        "the upstream MCP server's resource list has more than {MAX_LIVE_PAGES} pages"
    )))
}

/// 404 for a URI the lock does not offer.
pub(crate) fn unknown_resource(uri: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        format!(
            "resource {uri:?} is neither a locked resource nor a match of a locked resource template"
        ),
    )
}

/// An upstream's own "resource not found" is a 404 too, not a 502; so is
/// its "invalid params" for a read, whose only parameter is the URI (the
/// TypeScript SDK's servers answer an unknown URI so).
fn not_found_upstream(mut failure: CallFailure) -> CallFailure {
    if let Some(error) = &failure.upstream_error
        && (error.code.0 == RESOURCE_NOT_FOUND
            || error.code == rmcp::model::ErrorCode::INVALID_PARAMS)
    {
        failure.answer = ApiError::new(
            StatusCode::NOT_FOUND,
            format!(
                "the upstream MCP server has no such resource: {}",
                error.message
            ),
        );
    }
    failure
}

/// A prompt's arguments against its locked ones: an object of strings, each
/// named by the prompt, every required one present.
pub(crate) fn check_prompt_arguments(
    prompt: &LockedItem,
    arguments: &Map<String, Value>,
) -> Result<(), Vec<ValidationIssue>> {
    let declared = prompt.prompt_arguments();
    let names: BTreeMap<&str, bool> = declared
        .iter()
        .map(|argument| (argument.name.as_str(), argument.required))
        .collect();
    let mut issues = Vec::new();
    for (name, value) in arguments {
        let loc = vec![LocSegment::from("body"), LocSegment::from(name.as_str())];
        if !names.contains_key(name.as_str()) {
            issues.push(ValidationIssue {
                loc,
                msg: format!(
                    "Extra inputs are not permitted (prompt {:?} has no such argument)",
                    prompt.key
                ),
                kind: "extra_forbidden".into(),
            });
        } else if !value.is_string() {
            issues.push(ValidationIssue {
                loc,
                msg: "Input should be a valid string".into(),
                kind: "string_type".into(),
            });
        }
    }
    for (name, _) in names.iter().filter(|(_, required)| **required) {
        if !arguments.contains_key(*name) {
            issues.push(ValidationIssue {
                loc: vec![LocSegment::from("body"), LocSegment::from(*name)],
                msg: "Field required".into(),
                kind: "missing".into(),
            });
        }
    }
    if issues.is_empty() {
        Ok(())
    } else {
        Err(issues)
    }
}

/// `value` as a REST answer: rmcp's result type marker dropped (it is for
/// MCP clients of the stateless revision).
pub(crate) fn rest_body<T: serde::Serialize>(value: &T) -> Value {
    let mut body = serde_json::to_value(value).unwrap_or(Value::Null);
    if let Some(object) = body.as_object_mut() {
        object.remove("resultType");
    }
    body
}

/// Whether `surface` gives a server any surface route.
pub(crate) fn has_routes(surface: &LockedSurface) -> bool {
    surface.offers_resources() || !surface.prompts.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lock::lock_items;
    use serde_json::json;

    fn greet() -> LockedItem {
        lock_items(
            SurfaceKind::Prompt,
            vec![json!({"name": "greet", "arguments": [
                {"name": "name", "required": true},
                {"name": "style"}
            ]})],
        )
        .unwrap()
        .remove(0)
    }

    fn kinds(issues: Vec<ValidationIssue>) -> Vec<String> {
        issues.into_iter().map(|issue| issue.kind).collect()
    }

    #[test]
    fn prompt_arguments_are_strings_named_by_the_prompt() {
        let args = |value: Value| value.as_object().unwrap().clone();
        assert!(check_prompt_arguments(&greet(), &args(json!({"name": "Ada"}))).is_ok());
        assert!(
            check_prompt_arguments(&greet(), &args(json!({"name": "Ada", "style": "x"}))).is_ok()
        );
        assert_eq!(
            kinds(check_prompt_arguments(&greet(), &args(json!({}))).unwrap_err()),
            ["missing"]
        );
        assert_eq!(
            kinds(
                check_prompt_arguments(&greet(), &args(json!({"name": 1, "mood": "x"})))
                    .unwrap_err()
            ),
            ["string_type", "extra_forbidden"]
        );
    }

    #[test]
    fn rest_bodies_drop_the_result_type() {
        let result = GetPromptResult::new(vec![]);
        let body = rest_body(&result);
        assert!(body.get("resultType").is_none(), "{body}");
        assert_eq!(body["messages"], json!([]));
    }
}
