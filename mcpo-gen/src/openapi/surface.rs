//! The routes of a server's resources, resource templates and prompts
//! (issue 28), as the lock pins them: `GET /resources`, `GET
//! /resources/read?uri=`, `GET /resources/templates`, one `GET
//! /resources/templates/{name}` per template (its variables as query
//! parameters), `GET /prompts`, one `POST /prompts/{name}` per prompt (its
//! arguments as the body), and, when the server offers completions, `POST
//! .../complete` beside each template and prompt route.
//!
//! Only the resource list and the reads have an `operationId`
//! (`list_resources`, `read_resource`, `read_{template}`): Open WebUI makes
//! every operation with one a tool for the model, and those are what a model
//! should call. The template and prompt lists, prompts and completions are
//! for the user or the client.
//!
//! A lock without resources, templates or prompts gets nothing from here,
//! so its document is the same as before. The component schemas and shared
//! responses of these routes are in [`super::surface_components`].

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use super::surface_components::{
    COMPLETION_RESULT, GET_PROMPT_RESULT, LIVE_LIST_ERRORS, LOCAL_ERRORS, POST_ERRORS, PROMPT_LIST,
    READ_ERRORS, READ_RESOURCE_RESULT, RESOURCE_LIST, RESOURCE_TEMPLATE_LIST,
    completion_request_schema, completion_result_schema, error_responses, prompt_list_schema,
    prompt_result_schema, read_result_schema, resource_list_schema, shared_responses,
    template_list_schema,
};
use super::{BEARER_SCHEME, add_operation, schema_ref, summary};
use crate::lock::{Lock, LockedItem, ResourceList, TemplateVariable};
use crate::naming::{UniqueNames, camel_ident, tool_route};

pub(super) const RESOURCES_TAG: &str = "resources";
pub(super) const PROMPTS_TAG: &str = "prompts";

/// The operationIds of the resource list and of a read by URI.
const LIST_RESOURCES_ID: &str = "list_resources";
const READ_RESOURCE_ID: &str = "read_resource";

/// Whether the lock has anything besides tools: then the document has
/// these routes (the runtime's `has_routes`).
pub(crate) fn present(lock: &Lock) -> bool {
    lock.surface.offers_resources() || !lock.surface.prompts.is_empty()
}

/// A template with a route: its parsed variables. `None` when its
/// `uriTemplate` is missing or not RFC 6570, or its name is empty (no path
/// segment to route).
fn template_variables(template: &LockedItem) -> Option<Vec<TemplateVariable>> {
    if template.key.is_empty() {
        return None;
    }
    template.uri_template_text()?;
    template
        .uri_template()
        .ok()
        .map(|parsed| parsed.variables())
}

/// Templates that get no route (their `uriTemplate` does not parse), for
/// the document's description.
pub(super) fn unroutable_templates(lock: &Lock) -> Vec<&str> {
    lock.surface
        .resource_templates
        .iter()
        .filter(|template| template_variables(template).is_none())
        .map(|template| template.key.as_str())
        .collect()
}

/// The paragraph of the document's description about these routes; empty
/// for a lock without them.
pub(super) fn description(lock: &Lock) -> String {
    if !present(lock) {
        return String::new();
    }
    let surface = &lock.surface;
    let mut text = String::from("\n\n## Resources and prompts\n\n");
    if lock.surface.offers_resources() {
        text.push_str(match surface.resource_list {
            ResourceList::Pinned => {
                "`GET /resources` lists the server's resources as pinned in the lock, and \
                 `GET /resources/read?uri=...` reads one of them (or a URI a resource \
                 template describes); no other URI is ever forwarded. "
            }
            ResourceList::Live => {
                "`GET /resources` forwards the server's current resource list (it is data, \
                 not pinned in the lock), and `GET /resources/read?uri=...` reads a URI that \
                 list holds or a resource template describes; no other URI is ever \
                 forwarded. "
            }
        });
    }
    if !surface.resource_templates.is_empty() {
        text.push_str(
            "`GET /resources/templates` lists the resource templates, and \
             `GET /resources/templates/{name}` reads the resource a template's variables \
             (query parameters) give. ",
        );
    }
    if !surface.prompts.is_empty() {
        text.push_str(
            "`GET /prompts` lists the prompts, and `POST /prompts/{name}` gets one, its \
             arguments (strings) as the JSON body. ",
        );
    }
    if lock.server.declares("completions") {
        text.push_str(
            "`POST .../complete` beside a template or prompt route suggests values for one of \
             its variables or arguments. ",
        );
    }
    text.push_str(
        "A read answers the contents as the server sent them (`text`, or base64 `blob`); \
         one `blob` is answered as its bytes instead when the `Accept` header names its \
         media type (or `type/*`) at least as high as `application/json`.\n\n\
         Besides the tools, `list_resources`, `read_resource` and `read_{template}` have an \
         `operationId`, so a client that makes every operation with one a tool (Open WebUI) \
         lets the model list and read resources. The template and prompt lists, the \
         prompts and completions have none: they are for the user or the client, not the \
         model.",
    );
    let unroutable = unroutable_templates(lock);
    if !unroutable.is_empty() {
        let names: Vec<String> = unroutable
            .iter()
            .map(|name| format!("`{}`", name.replace('`', "'")))
            .collect();
        text.push_str(&format!(
            " No read route for the template(s) {}: the `uriTemplate` is not an RFC 6570 \
             template (or the name is empty).",
            names.join(", ")
        ));
    }
    text
}

/// Adds the routes, their component schemas, responses and tags to
/// `document` (before it is finished). `tool_ids` are the tools'
/// operationIds, which the read ids must not take.
pub(super) fn add_surface(
    document: &mut Value,
    lock: &Lock,
    tool_ids: &[String],
    component_names: &mut UniqueNames,
) {
    if !present(lock) {
        return;
    }
    let surface = &lock.surface;
    let completions = lock.server.declares("completions");
    let mut ids = UniqueNames::new();
    for id in tool_ids {
        ids.reserve(id);
    }
    let mut paths = Map::new();
    let mut schemas = Map::new();
    let mut completes = false;

    if lock.surface.offers_resources() {
        schemas.insert(RESOURCE_LIST.into(), resource_list_schema());
        schemas.insert(READ_RESOURCE_RESULT.into(), read_result_schema());
        add_operation(
            &mut paths,
            "/resources",
            "get",
            list_resources_operation(&ids.claim(LIST_RESOURCES_ID), surface.resource_list),
        );
        let media_types = binary_media_types(
            surface
                .resources
                .iter()
                .chain(&surface.resource_templates)
                .filter_map(LockedItem::mime_type),
        );
        add_operation(
            &mut paths,
            "/resources/read",
            "get",
            read_resource_operation(&ids.claim(READ_RESOURCE_ID), &media_types),
        );
    }

    if !surface.resource_templates.is_empty() {
        schemas.insert(RESOURCE_TEMPLATE_LIST.into(), template_list_schema());
        add_operation(
            &mut paths,
            "/resources/templates",
            "get",
            list_operation(
                RESOURCES_TAG,
                "List the resource templates",
                "The server's resource templates, as pinned in the lock.",
                "The resource templates.",
                RESOURCE_TEMPLATE_LIST,
            ),
        );
        for template in &surface.resource_templates {
            let Some(variables) = template_variables(template) else {
                continue;
            };
            let route = format!("/resources/templates{}", tool_route(&template.key));
            let id = ids.claim(&read_operation_id(&template.key));
            add_operation(
                &mut paths,
                &route,
                "get",
                template_operation(template, &id, &variables),
            );
            if completions && !variables.is_empty() {
                let names: Vec<&str> = variables.iter().map(|v| v.name.as_str()).collect();
                let what = format!("resource template `{}`", template.key);
                add_operation(
                    &mut paths,
                    &format!("{route}/complete"),
                    "post",
                    complete_operation(RESOURCES_TAG, &what, "variable", &names),
                );
                completes = true;
            }
        }
    }

    if !surface.prompts.is_empty() {
        schemas.insert(PROMPT_LIST.into(), prompt_list_schema());
        schemas.insert(GET_PROMPT_RESULT.into(), prompt_result_schema());
        add_operation(
            &mut paths,
            "/prompts",
            "get",
            list_operation(
                PROMPTS_TAG,
                "List the prompts",
                "The server's prompts, as pinned in the lock.",
                "The prompts.",
                PROMPT_LIST,
            ),
        );
        // A prompt with an empty name has no path segment to route.
        for prompt in surface
            .prompts
            .iter()
            .filter(|prompt| !prompt.key.is_empty())
        {
            let camel = camel_ident(&prompt.key);
            let component = component_names.claim(&format!(
                "{}PromptArguments",
                camel.trim_start_matches("r#")
            ));
            let (schema, required) = prompt_arguments_schema(prompt, &component);
            schemas.insert(component.clone(), schema);
            let route = format!("/prompts{}", tool_route(&prompt.key));
            add_operation(
                &mut paths,
                &route,
                "post",
                prompt_operation(prompt, &component, required),
            );
            let arguments = prompt.prompt_arguments();
            if completions && !arguments.is_empty() {
                let mut names: Vec<&str> = Vec::new();
                for argument in &arguments {
                    if !names.contains(&argument.name.as_str()) {
                        names.push(&argument.name);
                    }
                }
                let what = format!("prompt `{}`", prompt.key);
                add_operation(
                    &mut paths,
                    &format!("{route}/complete"),
                    "post",
                    complete_operation(PROMPTS_TAG, &what, "argument", &names),
                );
                completes = true;
            }
        }
    }

    if completes {
        schemas.insert(COMPLETION_RESULT.into(), completion_result_schema());
    }

    let shared_responses = shared_responses(&paths);
    let Some(document) = document.as_object_mut() else {
        return;
    };
    if let Some(Value::Object(document_paths)) = document.get_mut("paths") {
        for (path, item) in paths {
            for (method, operation) in item.as_object().into_iter().flatten() {
                add_operation(document_paths, &path, method, operation.clone());
            }
        }
    }
    if let Some(Value::Object(components)) = document.get_mut("components") {
        if let Some(Value::Object(document_schemas)) = components.get_mut("schemas") {
            for (name, mut schema) in schemas {
                if let Some(object) = schema.as_object_mut() {
                    object.insert("title".into(), json!(name));
                }
                document_schemas.insert(name, schema);
            }
        }
        if let Some(Value::Object(responses)) = components.get_mut("responses") {
            responses.extend(shared_responses);
        }
    }
    if let Some(Value::Array(tags)) = document.get_mut("tags") {
        if lock.surface.offers_resources() {
            tags.push(json!({"name": RESOURCES_TAG, "description":
                "The MCP server's resources: their list, reads by URI, and one read route \
                 per resource template. The list and the reads have an `operationId`: Open \
                 WebUI offers them to the model as tools."}));
        }
        if !surface.prompts.is_empty() {
            tags.push(json!({"name": PROMPTS_TAG, "description":
                "The MCP server's prompts: their list and one `POST` route per prompt, for \
                 the user or the client (no `operationId`: not tools for a model)."}));
        }
    }
}

/// The item's own description, if it has one, then `what`.
fn described(item: &LockedItem, what: &str) -> String {
    match item.description().map(str::trim).filter(|d| !d.is_empty()) {
        Some(own) => format!("{own}\n\n{what}"),
        None => what.to_string(),
    }
}

/// Backticks in a name or template would end its code span early.
fn code(text: &str) -> String {
    format!("`{}`", text.replace('`', "'"))
}

/// An operation: summary, description, tag, security (the key when the
/// proxy runs with `--api-key`, as on tool routes) and responses.
fn operation(
    id: Option<&str>,
    summary: &str,
    description: &str,
    tag: &str,
    success: Value,
    errors: &[(&str, &str)],
) -> Map<String, Value> {
    let mut responses = Map::new();
    responses.insert("200".into(), success);
    error_responses(&mut responses, errors);
    let mut operation = Map::new();
    if let Some(id) = id {
        operation.insert("operationId".into(), json!(id));
    }
    operation.insert("summary".into(), json!(summary));
    operation.insert("description".into(), json!(description));
    operation.insert("tags".into(), json!([tag]));
    operation.insert("security".into(), json!([{BEARER_SCHEME: []}, {}]));
    operation.insert("responses".into(), Value::Object(responses));
    operation
}

fn json_success(description: &str, component: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": schema_ref(component)}}
    })
}

fn list_resources_operation(id: &str, list: ResourceList) -> Value {
    let (description, errors): (&str, &[(&str, &str)]) = match list {
        ResourceList::Pinned => (
            "The server's resources, as pinned in the lock: the URIs `read_resource` reads.",
            LOCAL_ERRORS,
        ),
        ResourceList::Live => (
            "The server's current resources, fetched from it (the list is not pinned): the \
             URIs `read_resource` reads.",
            LIVE_LIST_ERRORS,
        ),
    };
    Value::Object(operation(
        Some(id),
        "List the resources",
        description,
        RESOURCES_TAG,
        json_success("The resources.", RESOURCE_LIST),
        errors,
    ))
}

fn list_operation(
    tag: &str,
    summary: &str,
    description: &str,
    success: &str,
    component: &str,
) -> Value {
    Value::Object(operation(
        None,
        summary,
        description,
        tag,
        json_success(success, component),
        LOCAL_ERRORS,
    ))
}

/// A read's answer: the contents as JSON, or one blob's bytes under the
/// media types the route can answer.
fn read_success(media_types: &BTreeSet<String>) -> Value {
    let mut content = Map::new();
    content.insert(
        "application/json".into(),
        json!({"schema": schema_ref(READ_RESOURCE_RESULT)}),
    );
    for media_type in media_types {
        content.insert(
            media_type.clone(),
            json!({"schema": {"type": "string", "format": "binary"}}),
        );
    }
    json!({
        "description": "The resource's contents as the server sent them. When they are one \
            `blob` and `Accept` names its media type (or `type/*`) with a q not lower than \
            `application/json`'s, the body is the decoded bytes with that `Content-Type`.",
        "content": content
    })
}

fn read_resource_operation(id: &str, media_types: &BTreeSet<String>) -> Value {
    let mut operation = operation(
        Some(id),
        "Read a resource by URI",
        "Reads the resource at `uri`: one `list_resources` lists, or one a resource template \
         describes. Any other URI is refused (404) without asking the server.",
        RESOURCES_TAG,
        read_success(media_types),
        READ_ERRORS,
    );
    operation.insert(
        "parameters".into(),
        json!([{
            "name": "uri",
            "in": "query",
            "required": true,
            "description": "The resource's URI.",
            "schema": {"type": "string"}
        }]),
    );
    Value::Object(operation)
}

fn template_operation(template: &LockedItem, id: &str, variables: &[TemplateVariable]) -> Value {
    let uri_template = template.uri_template_text().unwrap_or_default();
    let fallback = format!("Read {}", template.key);
    let description = described(
        template,
        &format!(
            "Reads the resource at the URI template {} with the query parameters as its \
             variables.",
            code(uri_template)
        ),
    );
    let media_types = binary_media_types(template.mime_type());
    let mut operation = operation(
        Some(id),
        &summary(template.title(), template.description(), &fallback),
        &description,
        RESOURCES_TAG,
        read_success(&media_types),
        READ_ERRORS,
    );
    let mut extension = Map::new();
    extension.insert("name".into(), json!(template.key));
    extension.insert("sha256".into(), json!(template.sha256));
    extension.insert("uriTemplate".into(), json!(uri_template));
    if let Some(title) = template.title() {
        extension.insert("title".into(), json!(title));
    }
    operation.insert("x-mcp-resource-template".into(), Value::Object(extension));
    if !variables.is_empty() {
        let parameters: Vec<Value> = variables
            .iter()
            .map(|variable| {
                let description = if variable.required {
                    format!("{} of the URI template.", code(&variable.name))
                } else {
                    format!(
                        "{} of the URI template (optional: left out of the URI when not \
                         given).",
                        code(&variable.name)
                    )
                };
                json!({
                    "name": variable.name,
                    "in": "query",
                    "required": variable.required,
                    "description": description,
                    "schema": {"type": "string"}
                })
            })
            .collect();
        operation.insert("parameters".into(), Value::Array(parameters));
    }
    Value::Object(operation)
}

/// A prompt's body: each argument a string property, `required` as
/// declared, nothing else; and whether any argument is required.
fn prompt_arguments_schema(prompt: &LockedItem, component: &str) -> (Value, bool) {
    let mut properties = Map::new();
    let mut required = Vec::new();
    for argument in prompt.prompt_arguments() {
        if properties.contains_key(&argument.name) {
            continue;
        }
        let mut property = Map::new();
        property.insert("type".into(), json!("string"));
        if let Some(description) = argument.description.filter(|d| !d.trim().is_empty()) {
            property.insert("description".into(), json!(description));
        }
        if argument.required {
            required.push(json!(argument.name));
        }
        properties.insert(argument.name, Value::Object(property));
    }
    let any_required = !required.is_empty();
    let mut schema = Map::new();
    schema.insert("type".into(), json!("object"));
    schema.insert("title".into(), json!(component));
    schema.insert(
        "description".into(),
        json!(format!(
            "The arguments of the prompt {}.",
            code(&prompt.key)
        )),
    );
    schema.insert("properties".into(), Value::Object(properties));
    if any_required {
        schema.insert("required".into(), Value::Array(required));
    }
    schema.insert("additionalProperties".into(), json!(false));
    (Value::Object(schema), any_required)
}

fn prompt_operation(prompt: &LockedItem, component: &str, required: bool) -> Value {
    let fallback = format!("Get the prompt {}", prompt.key);
    let description = described(
        prompt,
        "Gets the prompt's messages for the arguments in the body (`prompts/get`).",
    );
    let mut operation = operation(
        None,
        &summary(prompt.title(), prompt.description(), &fallback),
        &description,
        PROMPTS_TAG,
        json_success(
            "The prompt's messages, as the server sent them.",
            GET_PROMPT_RESULT,
        ),
        POST_ERRORS,
    );
    let mut extension = Map::new();
    extension.insert("name".into(), json!(prompt.key));
    extension.insert("sha256".into(), json!(prompt.sha256));
    if let Some(title) = prompt.title() {
        extension.insert("title".into(), json!(title));
    }
    operation.insert("x-mcp-prompt".into(), Value::Object(extension));
    operation.insert(
        "requestBody".into(),
        json!({
            "required": required,
            "description": "The prompt's arguments as a JSON object of strings. An empty body \
                (or none) means `{}`. `Content-Type` must be `application/json`, another \
                `application/*+json` type, or absent (415 otherwise).",
            "content": {"application/json": {"schema": schema_ref(component)}}
        }),
    );
    Value::Object(operation)
}

fn complete_operation(tag: &str, what: &str, kind: &str, names: &[&str]) -> Value {
    let listed: Vec<String> = names.iter().map(|name| code(name)).collect();
    let description = format!(
        "Suggests values for one {kind} of the {what} (`completion/complete`): `argument` \
         names it ({}), `value` is what is typed so far, and `context.arguments` holds the \
         values already chosen for the others.",
        listed.join(", ")
    );
    let mut operation = operation(
        None,
        &format!("Complete a {kind} of the {what}"),
        &description,
        tag,
        json_success("The suggested values.", COMPLETION_RESULT),
        POST_ERRORS,
    );
    operation.insert(
        "requestBody".into(),
        json!({
            "required": true,
            "description": "What to complete, as a JSON object.",
            "content": {"application/json": {"schema": completion_request_schema(names)}}
        }),
    );
    Value::Object(operation)
}

/// Media types, normalized (lower case, no parameters), a read can answer
/// as bytes: not text, not JSON, and well-formed (`type/subtype`).
fn binary_media_types<'a>(mime_types: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
    mime_types
        .into_iter()
        .filter_map(binary_media_type)
        .collect()
}

fn binary_media_type(mime_type: &str) -> Option<String> {
    let essence = mime_type.split(';').next()?.trim().to_ascii_lowercase();
    let (kind, subtype) = essence.split_once('/')?;
    let token = |part: &str| {
        !part.is_empty()
            && part
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    if !token(kind) || !token(subtype) {
        return None;
    }
    let json = essence == "application/json" || subtype.ends_with("+json");
    (kind != "text" && !json).then_some(essence)
}

/// `Dynamic Text Resource` -> `read_dynamic_text_resource`: the name a model
/// sees in Open WebUI, so plain words rather than escapes (the lock's name
/// is in `x-mcp-resource-template`; clashes get `_2` when claimed).
fn read_operation_id(template: &str) -> String {
    let mut id = String::from("read_");
    for ch in template.chars() {
        if ch.is_ascii_alphanumeric() {
            id.push(ch.to_ascii_lowercase());
        } else if !id.ends_with('_') {
            id.push('_');
        }
    }
    let trimmed = id.trim_end_matches('_');
    if trimmed == "read" {
        "read_template".to_string()
    } else {
        trimmed.to_string()
    }
}

#[cfg(test)]
#[path = "surface_tests.rs"]
mod tests;
