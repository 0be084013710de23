//! The frozen OpenAPI 3.1 document of a generated proxy, built from the lock.
//!
//! One `POST` operation per tool (mcpo's routes), the tool schemas carried
//! into `components/schemas` (see [`carry`]), the proxy's error contract
//! (README "HTTP contract") as shared responses, and the operational endpoints.
//! [`document`] is a pure function of the lock: no clock, no paths, no
//! environment, so regenerating gives the same bytes.

mod carry;
mod combined;
mod defaults;
mod finish;
mod integers;
mod quarantine;
mod regex;
mod surface;
mod surface_components;
mod tasks;
mod walkable;

/// The fuzzing generator tests/openapi_validity.rs uses too.
#[cfg(test)]
#[path = "../../tests/support/arbitrary_schema.rs"]
mod arbitrary_schema;

use serde_json::{Map, Value, json};

pub use carry::INVALID_SCHEMA;
use carry::{Role, carry_tool_schema};
pub use combined::combined_document;
pub use quarantine::ORIGINAL_KEYWORDS;

use crate::lock::{Lock, LockedTool};
use crate::naming::{UniqueNames, camel_ident, tool_route};

/// The security scheme name the tool operations refer to. The proxy's
/// runtime finds the tool operations by it when it fixes their `security`
/// at startup (`mcpo-runtime/src/server.rs`, `document_api_keys`).
pub const BEARER_SCHEME: &str = "bearerAuth";

const TOOLS_TAG: &str = "tools";
const OPERATIONS_TAG: &str = "operations";

/// Longest `summary` taken from a description's first line, in chars.
const SUMMARY_MAX_CHARS: usize = 120;

/// Shared component schemas, reserved before any tool claims a name.
const ERROR_DETAIL: &str = "ErrorDetail";
const VALIDATION_ERROR: &str = "ValidationError";
const HTTP_VALIDATION_ERROR: &str = "HTTPValidationError";
const TOOL_RESULT: &str = "ToolResult";
const HEALTH_STATUS: &str = "HealthStatus";

/// Shared responses, `(component name, status)`, on every tool operation.
const TOOL_ERROR_RESPONSES: &[(&str, &str)] = &[
    ("BadRequest", "400"),
    ("Unauthorized", "401"),
    ("UpstreamNotFound", "404"),
    ("RequestTimeout", "408"),
    ("PayloadTooLarge", "413"),
    ("UnsupportedMediaType", "415"),
    ("ValidationFailed", "422"),
    ("ToolError", "500"),
    ("UpstreamError", "502"),
    ("UpstreamUnavailable", "503"),
    ("UpstreamTimeout", "504"),
];

/// The whole document, deterministic for a given lock. Never panics on any schema.
pub fn document(lock: &Lock) -> Value {
    let mut component_names = UniqueNames::new();
    for reserved in [
        ERROR_DETAIL,
        VALIDATION_ERROR,
        HTTP_VALIDATION_ERROR,
        TOOL_RESULT,
        HEALTH_STATUS,
    ] {
        component_names.reserve(reserved);
    }
    if surface::present(lock) {
        for reserved in surface_components::SCHEMAS {
            component_names.reserve(reserved);
        }
    }
    if tasks::present(lock) {
        for reserved in tasks::SCHEMAS {
            component_names.reserve(reserved);
        }
    }
    let operation_ids = operation_ids(lock);

    let mut schemas = shared_schemas();
    let mut paths = Map::new();
    let mut input_components = Vec::new();
    let mut input_roots = Vec::new();
    for (tool, operation_id) in lock.tools.iter().zip(&operation_ids) {
        let tool_camel = camel_ident(&tool.name);
        let tool_camel = tool_camel.trim_start_matches("r#");
        let input = carry_tool_schema(
            tool.input_schema(),
            tool_camel,
            Role::Input,
            &mut component_names,
        );
        input_components.extend(input.components.iter().map(|(name, _)| name.clone()));
        input_roots.push(input.root_component.clone());
        schemas.extend(input.components.into_iter().map(titled));
        let output = tool.output_schema().map(|schema| {
            carry_tool_schema(schema, tool_camel, Role::Output, &mut component_names)
        });
        let output_component = output
            .as_ref()
            .map(|carried| carried.root_component.clone());
        if let Some(output) = output {
            schemas.extend(output.components.into_iter().map(titled));
        }
        let mut operation = tool_operation(
            tool,
            operation_id,
            &input.root_component,
            output_component.as_deref(),
        );
        tasks::add_to_tool_operation(tool.task_support_on(&lock.server), &mut operation);
        add_operation(&mut paths, &tool_route(&tool.name), "post", operation);
    }

    // No `operationId`: clients that make every operation with one a tool
    // (Open WebUI) or a method (client generators) get the tools only.
    add_operation(&mut paths, "/healthz", "get", healthz_operation());
    add_operation(&mut paths, "/readyz", "get", readyz_operation());
    // `GET /docs` and `GET /openapi.json` are left out of the document (they
    // are not an API to call), unless a tool shares the path: then the path's
    // `GET` is stated, so the document lists every method the path answers.
    for (path, summary, content_type) in [
        (
            "/docs",
            "Swagger UI for this document (offline)",
            "text/html",
        ),
        ("/openapi.json", "This OpenAPI document", "application/json"),
    ] {
        if paths.contains_key(path) {
            add_operation(
                &mut paths,
                path,
                "get",
                json!({
                    "summary": summary,
                    "tags": [OPERATIONS_TAG],
                    "security": [],
                    "responses": {"200": {
                        "description": summary,
                        "content": {content_type: {"schema": {}}}
                    }}
                }),
            );
        }
    }

    let mut document = json!({
        "openapi": "3.1.0",
        "info": info(lock),
        "tags": [
            {"name": TOOLS_TAG, "description": "The MCP server's tools, one POST route each."},
            {"name": OPERATIONS_TAG, "description": "Liveness and readiness of the proxy. \
                Like `GET /openapi.json` (this document) and `GET /docs` (Swagger UI), \
                they answer `GET` only, and tool routes `POST` only, so a tool named \
                `healthz` or `docs` shares the path and keeps its route."}
        ],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "responses": shared_responses(),
            "securitySchemes": {
                BEARER_SCHEME: {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API key given to the proxy with `--api-key` (or \
                        `MCPO_API_KEY`), sent as `Authorization: Bearer <key>`. Only \
                        enforced when the proxy was started with at least one key."
                }
            }
        }
    });
    surface::add_surface(&mut document, lock, &operation_ids, &mut component_names);
    tasks::add_tasks(&mut document, lock);
    integers::bound_input_integers(&mut document, &input_components);
    walkable::lift_all_of_properties(&mut document, &input_roots);
    finish::finish(&mut document);
    document
}

/// A component of a tool schema, its `title` its name: UIs and client
/// generators name a schema by its `title` (Swagger UI shows pydantic's
/// `convert_timeArguments`, and two different `TimeResult`s), and component
/// names are distinct and readable. A different title of the tool's own is
/// kept under [`ORIGINAL_KEYWORDS`] (unless that holds an invalid one).
fn titled((name, mut schema): (String, Value)) -> (String, Value) {
    if let Value::Object(object) = &mut schema
        && let Some(original) = object.insert("title".into(), json!(name))
        && original != json!(name)
    {
        let kept = object
            .entry(ORIGINAL_KEYWORDS)
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(kept) = kept.as_object_mut() {
            kept.entry("title").or_insert(original);
        }
    }
    (name, schema)
}

/// Unique operationIds, in lock order: the tool name itself when it only
/// uses `[A-Za-z0-9_.-]` (mcpo's id for most tools), else an escaped form.
/// Clean names are claimed first so an escaped name never takes a real one.
fn operation_ids(lock: &Lock) -> Vec<String> {
    let is_clean = |name: &str| {
        !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
    };
    let mut names = UniqueNames::new();
    let mut ids: Vec<Option<String>> = lock
        .tools
        .iter()
        .map(|tool| is_clean(&tool.name).then(|| names.claim(&tool.name)))
        .collect();
    for (id, tool) in ids.iter_mut().zip(&lock.tools) {
        if id.is_none() {
            *id = Some(names.claim(&escaped_operation_id(&tool.name)));
        }
    }
    ids.into_iter().map(Option::unwrap_or_default).collect()
}

/// `größe` -> `gr_u00f6_u00dfe`: every other character spelled as `_uXXXX`.
fn escaped_operation_id(name: &str) -> String {
    let mut id = String::with_capacity(name.len() + 8);
    for ch in name.chars() {
        if ch.is_ascii_alphanumeric() || matches!(ch, '_' | '.' | '-') {
            id.push(ch);
        } else {
            id.push_str(&format!("_u{:04x}", ch as u32));
        }
    }
    if id.is_empty() {
        id.push_str("tool");
    }
    id
}

fn info(lock: &Lock) -> Value {
    let server = &lock.server;
    let title = match server.title.as_deref() {
        Some(title) if !title.is_empty() && title != server.name => {
            format!("{title} ({})", server.name)
        }
        _ => server.name.clone(),
    };
    let mut description = format!(
        "REST proxy for the MCP server `{name}` {version}, generated by {generator} \
         from `mcp.lock.json` (MCP protocol {protocol}). Upstream: `{upstream}`.\n\n\
         Each tool is `POST /{{tool name}}` with the tool's arguments as the JSON body. \
         Request bodies are checked against the tool's input schema (422 on violation) \
         before they go upstream. Schema keywords that OpenAPI 3.1 can't carry \
         as they are (other JSON Schema drafts, regexes other engines can't compile, \
         invalid values) are kept verbatim under `{ORIGINAL_KEYWORDS}`; the proxy \
         still enforces the original schema. Each component schema is titled with its \
         name (a tool schema's own `title` is kept there too). So that loaders which \
         walk only `properties`, `items`, `allOf`, `anyOf` and `oneOf` (Open WebUI) \
         can, boolean schemas there are spelled `{{}}` and `{{\"not\": {{}}}}`, a \
         `$ref` into a component points at a copy of its target instead, and an input \
         schema names the properties of its `allOf` branches at its root too. The \
         proxy's own routes have no `operationId`: only {callable} are operations to call.\n\n\
         Integers are 64-bit: an `integer` is read as a signed 64-bit integer, or an \
         unsigned one when its own `minimum` is not negative, and the input schemas here \
         state that range as `minimum`/`maximum`. An integer literal beyond 64 bits is \
         refused (422 `int_parsing_size`) except where the schema allows only a \
         `number`, which receives the nearest double, as mcpo sends it. Unless the proxy runs with `--strict-types`, \
         a number or boolean written as a string (`\"2\"`, `\"true\"`) is converted as \
         mcpo (pydantic's lax mode) converts it and forwarded converted; the schemas here \
         state the strict types.\n\n\
         A tool route needs `Authorization: Bearer <key>` only when the proxy runs with \
         `--api-key`; the document the proxy serves says which. The proxy's own routes \
         answer `GET` only: `/docs` (Swagger UI), `/openapi.json` (this document), \
         `/healthz` and `/readyz`. Tool routes answer `POST` only, so a tool named `docs`, \
         `openapi.json`, `healthz`, `readyz` or `metrics` keeps its route (`POST /docs`).",
        name = server.name,
        version = server.version,
        // Not its version: the lock records it once, so an upgrade of
        // mcpo-gen changes only documents whose content changed.
        generator = lock.generator.name,
        protocol = server.protocol_version,
        upstream = lock.upstream.describe(),
        callable = if surface::present(lock) {
            "tools, the resource list and resource reads"
        } else {
            "tools"
        },
    );
    description.push_str(&surface::description(lock));
    if let Some(instructions) = server
        .instructions
        .as_deref()
        .filter(|i| !i.trim().is_empty())
    {
        description.push_str("\n\n## Server instructions\n\n");
        description.push_str(instructions);
    }
    with_chosen_info(
        &lock.proxy_crate.info,
        title,
        server.version.clone(),
        description,
    )
}

/// The document's `info`: what the user chose at generation (`--name`,
/// `--description`, `--api-version`) over what the server gives.
pub(crate) fn with_chosen_info(
    chosen: &crate::lock::ApiInfo,
    title: String,
    version: String,
    description: String,
) -> Value {
    json!({
        "title": chosen.title.clone().unwrap_or(title),
        "version": chosen.version.clone().unwrap_or(version),
        "description": chosen.description.clone().unwrap_or(description),
    })
}

fn add_operation(paths: &mut Map<String, Value>, path: &str, method: &str, operation: Value) {
    let item = paths
        .entry(path.to_string())
        .or_insert_with(|| Value::Object(Map::new()));
    if let Some(item) = item.as_object_mut() {
        item.insert(method.to_string(), operation);
    }
}

/// An operation's `summary`: `title`, else the first non-empty line of
/// `description`, else `fallback`; cut to [`SUMMARY_MAX_CHARS`] (ending in
/// `…`). Tool, template and prompt routes alike.
fn summary(title: Option<&str>, description: Option<&str>, fallback: &str) -> String {
    let source = title
        .filter(|title| !title.trim().is_empty())
        .or_else(|| {
            description.and_then(|d| d.lines().map(str::trim).find(|line| !line.is_empty()))
        })
        .unwrap_or(fallback)
        .trim();
    if source.chars().count() <= SUMMARY_MAX_CHARS {
        return source.to_string();
    }
    let mut short: String = source.chars().take(SUMMARY_MAX_CHARS - 1).collect();
    short.push('…');
    short
}

fn schema_ref(component: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{component}")})
}

fn tool_operation(
    tool: &LockedTool,
    operation_id: &str,
    input_component: &str,
    output_component: Option<&str>,
) -> Value {
    let mut x_mcp_tool = Map::new();
    x_mcp_tool.insert("name".into(), json!(tool.name));
    x_mcp_tool.insert("sha256".into(), json!(tool.sha256));
    if let Some(title) = tool.title() {
        x_mcp_tool.insert("title".into(), json!(title));
    }
    if let Some(annotations) = tool.annotations() {
        x_mcp_tool.insert("annotations".into(), Value::Object(annotations.clone()));
    }

    let (description, schema) = match output_component {
        Some(component) => (
            "The tool's `structuredContent`, as declared by its `outputSchema`.",
            schema_ref(component),
        ),
        None => (
            "The tool's result, mapped like mcpo: see the `ToolResult` schema.",
            schema_ref(TOOL_RESULT),
        ),
    };
    let success = json!({
        "description": description,
        "content": {
            "application/json": {"schema": schema},
            "text/event-stream": tasks::event_stream_media_type()
        }
    });
    let mut responses = Map::new();
    responses.insert("200".into(), success);
    for (component, status) in TOOL_ERROR_RESPONSES {
        responses.insert(
            (*status).into(),
            json!({"$ref": format!("#/components/responses/{component}")}),
        );
    }

    let mut operation = Map::new();
    operation.insert("operationId".into(), json!(operation_id));
    operation.insert(
        "summary".into(),
        json!(summary(tool.title(), tool.description(), &tool.name)),
    );
    if let Some(description) = tool.description().filter(|d| !d.trim().is_empty()) {
        operation.insert("description".into(), json!(description));
    }
    operation.insert("tags".into(), json!([TOOLS_TAG]));
    operation.insert("x-mcp-tool".into(), Value::Object(x_mcp_tool));
    // Either: the key is needed only when the proxy runs with `--api-key`.
    // The proxy serves this document with the one that applies.
    operation.insert("security".into(), json!([{BEARER_SCHEME: []}, {}]));
    operation.insert(
        "requestBody".into(),
        json!({
            // An empty body means `{}`: optional exactly when `{}` is valid.
            "required": empty_object_is_refused(tool.input_schema()),
            "description": "The tool's arguments as a JSON object. An empty body (or none) \
                means `{}`. `Content-Type` must be `application/json`, another \
                `application/*+json` type, or absent (415 otherwise).",
            "content": {"application/json": {"schema": schema_ref(input_component)}}
        }),
    );
    operation.insert("responses".into(), Value::Object(responses));
    Value::Object(operation)
}

/// Whether the proxy refuses `{}` (an empty body) for this input schema: it
/// (or every branch of it, through `allOf`, `anyOf`, `oneOf` and local
/// `$ref`s) names required properties or wants at least one.
fn empty_object_is_refused(input_schema: &Value) -> bool {
    refuses_empty_object(input_schema, input_schema, 0)
}

fn refuses_empty_object(schema: &Value, root: &Value, depth: usize) -> bool {
    const MAX_DEPTH: usize = 32;
    if depth > MAX_DEPTH {
        return false;
    }
    let Some(object) = schema.as_object() else {
        // `false` refuses everything; `true` and non-schemas nothing.
        return schema == &Value::Bool(false);
    };
    let names_required = object
        .get("required")
        .and_then(Value::as_array)
        .is_some_and(|required| !required.is_empty());
    let wants_properties = object
        .get("minProperties")
        .and_then(Value::as_u64)
        .is_some_and(|minimum| minimum > 0);
    let by_reference = object
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|reference| reference.strip_prefix('#'))
        .and_then(|pointer| root.pointer(pointer))
        .is_some_and(|target| refuses_empty_object(target, root, depth + 1));
    let by_all_of = object
        .get("allOf")
        .and_then(Value::as_array)
        .is_some_and(|parts| {
            parts
                .iter()
                .any(|part| refuses_empty_object(part, root, depth + 1))
        });
    let by_alternatives = ["anyOf", "oneOf"].iter().any(|keyword| {
        object
            .get(*keyword)
            .and_then(Value::as_array)
            .is_some_and(|branches| {
                !branches.is_empty()
                    && branches
                        .iter()
                        .all(|branch| refuses_empty_object(branch, root, depth + 1))
            })
    });
    names_required || wants_properties || by_reference || by_all_of || by_alternatives
}

fn healthz_operation() -> Value {
    json!({
        "summary": "Liveness: the proxy process is up",
        "tags": [OPERATIONS_TAG],
        "security": [],
        "responses": {
            "200": {
                "description": "The proxy is running.",
                "content": {"application/json": {"schema": schema_ref(HEALTH_STATUS)}}
            }
        }
    })
}

fn readyz_operation() -> Value {
    json!({
        "summary": "Readiness: the upstream MCP server is connected and matches the lock",
        "tags": [OPERATIONS_TAG],
        "security": [],
        "responses": {
            "200": {
                "description": "Ready to serve tool calls.",
                "content": {"application/json": {"schema": schema_ref(HEALTH_STATUS)}}
            },
            "503": {
                "description": "Not ready: the upstream is not connected yet, or its tools \
                    drifted from the lock and the proxy runs with `--on-drift fail`. The \
                    body says why.",
                "content": {"application/json": {"schema": {}}}
            }
        }
    })
}

fn shared_schemas() -> Map<String, Value> {
    let mut schemas = Map::new();
    schemas.insert(
        ERROR_DETAIL.into(),
        json!({
            "type": "object",
            "description": "An error, FastAPI/mcpo style.",
            "required": ["detail"],
            "properties": {
                "detail": {
                    "type": "string",
                    "description": "What went wrong, for humans. For a tool error: the text \
                        of the tool's content blocks. Never contains secrets."
                }
            }
        }),
    );
    schemas.insert(
        VALIDATION_ERROR.into(),
        json!({
            "type": "object",
            "description": "One violation of the tool's input schema.",
            "required": ["loc", "msg", "type"],
            "properties": {
                "loc": {
                    "type": "array",
                    "description": "Where: `body` then the path of the offending value \
                        (property names and array indices).",
                    "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}
                },
                "msg": {"type": "string", "description": "A human-readable message."},
                "type": {
                    "type": "string",
                    "description": "The rule broken: the JSON Schema keyword (`type`, \
                        `minimum`, `pattern`, ...), `missing` for a required field, \
                        `json_invalid` for a body that is not JSON or `int_parsing_size` \
                        for an integer literal beyond 64 bits."
                }
            }
        }),
    );
    schemas.insert(
        HTTP_VALIDATION_ERROR.into(),
        json!({
            "type": "object",
            "description": "The request body broke the tool's input schema (FastAPI's shape).",
            "required": ["detail"],
            "properties": {
                "detail": {
                    "type": "array",
                    "items": schema_ref(VALIDATION_ERROR)
                }
            }
        }),
    );
    schemas.insert(
        TOOL_RESULT.into(),
        json!({
            "description": "The tool's result for a tool without `outputSchema`, mapped \
                like mcpo: `structuredContent` when the tool returned it; otherwise one \
                text block becomes its JSON value when it parses as JSON, else the string; \
                several blocks become a list of mapped blocks; an image or audio block \
                becomes a `data:<mime>;base64,<data>` URL; a resource link or embedded \
                resource becomes its JSON object; no blocks becomes `null`."
        }),
    );
    schemas.insert(
        HEALTH_STATUS.into(),
        json!({
            "type": "object",
            "properties": {"status": {"type": "string", "examples": ["ok"]}}
        }),
    );
    schemas
}

fn shared_responses() -> Value {
    let error = |description: &str| {
        json!({
            "description": description,
            "content": {"application/json": {"schema": schema_ref(ERROR_DETAIL)}}
        })
    };
    let mut unavailable = error(
        "The upstream MCP server is not connected (starting, restarting, or its tools \
         drifted from the lock under `--on-drift fail`). Retry later.",
    );
    if let Some(response) = unavailable.as_object_mut() {
        response.insert(
            "headers".into(),
            json!({"Retry-After": {
                "description": "Seconds to wait before retrying.",
                "schema": {"type": "integer", "minimum": 0}
            }}),
        );
    }
    json!({
        "Unauthorized": {
            "description": "Missing or wrong API key (only when the proxy runs with `--api-key`).",
            "headers": {"WWW-Authenticate": {
                "description": "`Bearer` when the key is missing.",
                "schema": {"type": "string"}
            }},
            "content": {"application/json": {"schema": schema_ref(ERROR_DETAIL)}}
        },
        "UpstreamNotFound": error(
            "The upstream MCP server does not know this tool any more (JSON-RPC \
             \"method not found\")."
        ),
        "BadRequest": error(
            "The `Host` header is missing, given twice or names a host the proxy does not \
             answer (`--allowed-hosts`), or the body broke off before its end."
        ),
        "RequestTimeout": error(
            "The request body did not arrive completely within `--body-timeout` (or \
             `--call-timeout`, if shorter), or the connection was closed to make room at \
             `--max-connections` while its body was still arriving."
        ),
        "PayloadTooLarge": error(
            "The request body is larger than `--max-body-bytes` (a request that declares \
             such a body with `Expect: 100-continue` gets this before sending it)."
        ),
        "UnsupportedMediaType": error(
            "The `Content-Type` is not JSON: it must be `application/json`, another \
             `application/*+json` type, or absent."
        ),
        "ValidationFailed": {
            "description": "The body is not JSON, or it breaks the tool's input schema \
                (or the upstream rejected the arguments as invalid params), or it holds \
                an integer literal beyond 64 bits (`int_parsing_size`).",
            "content": {"application/json": {"schema": schema_ref(HTTP_VALIDATION_ERROR)}}
        },
        "ToolError": error(
            "The tool ran and reported an error (`isError`); `detail` is the tool's text."
        ),
        "UpstreamError": error(
            "The upstream MCP server failed: a JSON-RPC error, or the connection broke \
             during the call."
        ),
        "UpstreamUnavailable": unavailable,
        "UpstreamTimeout": error("The tool call took longer than `--call-timeout`."),
    })
}

#[cfg(test)]
mod tests;
