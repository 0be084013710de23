//! The component schemas and shared responses of the resource, template
//! and prompt routes ([`super::surface`]): the list and result schemas
//! (`ResourceList`, `ReadResourceResult`, `GetPromptResult`,
//! `CompletionResult`, ...), the body of a completion route, the error
//! responses these routes add to the tool routes' and which of them each
//! kind of route answers.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use super::{ERROR_DETAIL, HTTP_VALIDATION_ERROR, schema_ref};

/// The shared component schemas of these routes.
pub(super) const RESOURCE_LIST: &str = "ResourceList";
pub(super) const RESOURCE_TEMPLATE_LIST: &str = "ResourceTemplateList";
pub(super) const PROMPT_LIST: &str = "PromptList";
pub(super) const READ_RESOURCE_RESULT: &str = "ReadResourceResult";
pub(super) const GET_PROMPT_RESULT: &str = "GetPromptResult";
const COMPLETION_REQUEST: &str = "CompletionRequest";
pub(super) const COMPLETION_RESULT: &str = "CompletionResult";

/// Every shared component schema name, reserved (before any tool claims a
/// name) in a document that has these routes.
pub(crate) const SCHEMAS: &[&str] = &[
    RESOURCE_LIST,
    RESOURCE_TEMPLATE_LIST,
    PROMPT_LIST,
    READ_RESOURCE_RESULT,
    GET_PROMPT_RESULT,
    COMPLETION_REQUEST,
    COMPLETION_RESULT,
];

/// The shared responses these routes add; the rest are the tool routes'.
/// A read's refusals are not a prompt's or a completion's: an upstream
/// "invalid params" is a 404 for a read (its only parameter is the URI)
/// but a 422 for the others.
const RESOURCE_NOT_FOUND: &str = "ResourceNotFound";
const INVALID_QUERY: &str = "InvalidQuery";
const ITEM_NOT_FOUND: &str = "ItemNotFound";
const INVALID_PARAMETERS: &str = "InvalidParameters";
const ITEM_DRIFTED: &str = "ItemDrifted";
const CALL_TIMEOUT: &str = "CallTimeout";

const RESPONSES_PREFIX: &str = "#/components/responses/";

/// The error statuses of a route: `(status, shared response)`.
pub(super) fn error_responses(responses: &mut Map<String, Value>, errors: &[(&str, &str)]) {
    for (status, component) in errors {
        responses.insert(
            (*status).into(),
            json!({"$ref": format!("{RESPONSES_PREFIX}{component}")}),
        );
    }
}

/// A route answered from the lock: only the proxy's own refusals.
pub(super) const LOCAL_ERRORS: &[(&str, &str)] = &[("400", "BadRequest"), ("401", "Unauthorized")];

/// `GET /resources` with a live list: it goes upstream.
pub(super) const LIVE_LIST_ERRORS: &[(&str, &str)] = &[
    ("400", "BadRequest"),
    ("401", "Unauthorized"),
    ("502", "UpstreamError"),
    ("503", "UpstreamUnavailable"),
    ("504", CALL_TIMEOUT),
];

/// A read (`GET`, by URI or through a template) that goes upstream.
pub(super) const READ_ERRORS: &[(&str, &str)] = &[
    ("400", "BadRequest"),
    ("401", "Unauthorized"),
    ("404", RESOURCE_NOT_FOUND),
    ("409", ITEM_DRIFTED),
    ("422", INVALID_QUERY),
    ("502", "UpstreamError"),
    ("503", "UpstreamUnavailable"),
    ("504", CALL_TIMEOUT),
];

/// A `POST` with a JSON body that goes upstream: a prompt or a completion.
pub(super) const POST_ERRORS: &[(&str, &str)] = &[
    ("400", "BadRequest"),
    ("401", "Unauthorized"),
    ("404", ITEM_NOT_FOUND),
    ("408", "RequestTimeout"),
    ("409", ITEM_DRIFTED),
    ("413", "PayloadTooLarge"),
    ("415", "UnsupportedMediaType"),
    ("422", INVALID_PARAMETERS),
    ("502", "UpstreamError"),
    ("503", "UpstreamUnavailable"),
    ("504", CALL_TIMEOUT),
];

fn string(description: &str) -> Value {
    json!({"type": "string", "description": description})
}

/// `ResourceList`: the answer of `GET /resources`.
pub(super) fn resource_list_schema() -> Value {
    json!({
        "type": "object",
        "description": "The server's resources (`resources/list`), each as the server listed it.",
        "required": ["resources"],
        "properties": {"resources": {"type": "array", "items": {
            "type": "object",
            "required": ["uri"],
            "properties": {
                "uri": string("What `read_resource` reads."),
                "name": string("Its name."),
                "title": string("Its name for people."),
                "description": string("What it holds."),
                "mimeType": string("Its media type."),
                "size": {"type": "integer", "description": "Its size in bytes, if known."}
            }
        }}}
    })
}

/// `ResourceTemplateList`: the answer of `GET /resources/templates`.
pub(super) fn template_list_schema() -> Value {
    json!({
        "type": "object",
        "description": "The server's resource templates (`resources/templates/list`), each as \
            the server listed it.",
        "required": ["resourceTemplates"],
        "properties": {"resourceTemplates": {"type": "array", "items": {
            "type": "object",
            "required": ["name"],
            "properties": {
                "name": string("Its name: its route is `/resources/templates/{name}`."),
                "uriTemplate": string("The RFC 6570 template of the URIs it describes."),
                "title": string("Its name for people."),
                "description": string("What its resources hold."),
                "mimeType": string("The media type of its resources.")
            }
        }}}
    })
}

/// `PromptList`: the answer of `GET /prompts`.
pub(super) fn prompt_list_schema() -> Value {
    json!({
        "type": "object",
        "description": "The server's prompts (`prompts/list`), each as the server listed it.",
        "required": ["prompts"],
        "properties": {"prompts": {"type": "array", "items": {
            "type": "object",
            "required": ["name"],
            "properties": {
                "name": string("Its name: its route is `POST /prompts/{name}`."),
                "title": string("Its name for people."),
                "description": string("What it is for."),
                "arguments": {"type": "array", "items": {
                    "type": "object",
                    "required": ["name"],
                    "properties": {
                        "name": string("The argument's name."),
                        "title": string("Its name for people."),
                        "description": string("What it is."),
                        "required": {"type": "boolean", "description": "Whether it must be given."}
                    }
                }}
            }
        }}}
    })
}

/// `ReadResourceResult`: a read's JSON answer.
pub(super) fn read_result_schema() -> Value {
    json!({
        "type": "object",
        "description": "A resource read (`resources/read`): its contents as the server sent \
            them, text or base64 blobs.",
        "required": ["contents"],
        "properties": {"contents": {"type": "array", "items": {"anyOf": [
            {
                "type": "object",
                "title": "TextResourceContents",
                "required": ["uri", "text"],
                "properties": {
                    "uri": string("The URI of this content."),
                    "mimeType": string("Its media type."),
                    "text": string("The content as text.")
                }
            },
            {
                "type": "object",
                "title": "BlobResourceContents",
                "required": ["uri", "blob"],
                "properties": {
                    "uri": string("The URI of this content."),
                    "mimeType": string("Its media type."),
                    "blob": {
                        "type": "string",
                        "contentEncoding": "base64",
                        "description": "The content's bytes, base64."
                    }
                }
            }
        ]}}}
    })
}

/// `GetPromptResult`: the answer of `POST /prompts/{name}`.
pub(super) fn prompt_result_schema() -> Value {
    json!({
        "type": "object",
        "description": "A prompt (`prompts/get`), as the server sent it.",
        "required": ["messages"],
        "properties": {
            "description": string("What the prompt is for."),
            "messages": {"type": "array", "items": {
                "type": "object",
                "required": ["role", "content"],
                "properties": {
                    "role": {"type": "string", "enum": ["user", "assistant"]},
                    "content": {
                        "type": "object",
                        "description": "A content block: `text`, `image` or `audio` (base64 \
                            `data` and its `mimeType`), `resource_link` or `resource` (an \
                            embedded resource).",
                        "required": ["type"],
                        "properties": {
                            "type": {"type": "string", "examples": [
                                "text", "image", "audio", "resource_link", "resource"
                            ]},
                            "text": string("A text block's text."),
                            "data": string("An image or audio block's bytes, base64."),
                            "mimeType": string("An image or audio block's media type."),
                            "resource": {
                                "type": "object",
                                "description": "An embedded resource's contents."
                            }
                        }
                    }
                }
            }}
        }
    })
}

/// The body of one completion route: `argument` is one of `names` (the
/// proxy refuses any other), and no field the proxy does not read.
pub(super) fn completion_request_schema(names: &[&str]) -> Value {
    json!({
        "type": "object",
        "title": COMPLETION_REQUEST,
        "description": "What to complete (`completion/complete`).",
        "required": ["argument"],
        "additionalProperties": false,
        "properties": {
            "argument": {
                "type": "string",
                "description": "The variable or argument to complete.",
                "enum": names,
            },
            "value": {
                "type": "string",
                "description": "Its value so far (none: suggest from the start).",
                "default": ""
            },
            "context": {
                "type": "object",
                "description": "What is already chosen.",
                "additionalProperties": false,
                "properties": {"arguments": {
                    "type": "object",
                    "description": "The values of the other variables or arguments, by name.",
                    "additionalProperties": {"type": "string"}
                }}
            }
        }
    })
}

/// `CompletionResult`: the answer of a `.../complete` route.
pub(super) fn completion_result_schema() -> Value {
    json!({
        "type": "object",
        "description": "Suggested values (`completion/complete`), as the server sent them.",
        "required": ["values"],
        "properties": {
            "values": {"type": "array", "items": {"type": "string"}},
            "total": {
                "type": "integer",
                "minimum": 0,
                "description": "How many values there are in all."
            },
            "hasMore": {
                "type": "boolean",
                "description": "Whether there are more values than these."
            }
        }
    })
}

/// The shared responses the operations of `paths` refer to (a document
/// without reads gets no read refusals, one without prompts or completions
/// no `POST` refusals).
pub(super) fn shared_responses(paths: &Map<String, Value>) -> Map<String, Value> {
    let referenced: BTreeSet<&str> = paths
        .values()
        .filter_map(Value::as_object)
        .flat_map(|item| item.values())
        .filter_map(|operation| operation.get("responses")?.as_object())
        .flat_map(|responses| responses.values())
        .filter_map(|response| {
            response
                .get("$ref")?
                .as_str()?
                .strip_prefix(RESPONSES_PREFIX)
        })
        .collect();
    let error = |description: &str| {
        json!({
            "description": description,
            "content": {"application/json": {"schema": schema_ref(ERROR_DETAIL)}}
        })
    };
    let validation = |description: &str| {
        json!({
            "description": description,
            "content": {"application/json": {"schema": schema_ref(HTTP_VALIDATION_ERROR)}}
        })
    };
    let responses = [
        (
            RESOURCE_NOT_FOUND,
            error(
                "No such resource: the URI (`uri`, or the one a template's variables give) \
                 is neither a resource of the list nor one a locked template describes (it \
                 is never sent upstream), or the server answered the read with \"resource \
                 not found\" (-32002) or \"invalid params\" (-32602), a read's only \
                 parameter being the URI.",
            ),
        ),
        (
            INVALID_QUERY,
            validation(
                "The proxy's own checks refused the query before asking the server: a \
                 required query parameter (`uri`, or a template's required variable) is \
                 missing, one is unknown or given more than once, or the resource's URI is \
                 over 8 KiB (8192 bytes).",
            ),
        ),
        (
            ITEM_NOT_FOUND,
            error(
                "No such prompt or resource template in the lock (never sent upstream), or \
                 the server answered that it does not know the method (-32601).",
            ),
        ),
        (
            INVALID_PARAMETERS,
            validation(
                "The body is not a JSON object, a required argument is missing, an argument \
                 is unknown or not a string, or a completion names an `argument` the route \
                 does not list or has a field it does not state (never sent upstream); or \
                 the server refused the values as invalid params (-32602).",
            ),
        ),
        (
            ITEM_DRIFTED,
            error(
                "The template, resource or prompt changed upstream since the lock was made, \
                 and the proxy runs with `--on-drift refuse`.",
            ),
        ),
        (
            CALL_TIMEOUT,
            error("The server did not answer within `--call-timeout`."),
        ),
    ];
    responses
        .into_iter()
        .filter(|(name, _)| referenced.contains(name))
        .map(|(name, response)| (name.to_string(), response))
        .collect()
}
