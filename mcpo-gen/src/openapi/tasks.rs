//! How a long call is documented: every tool's 200 may come as server-sent
//! events (progress, then the outcome), and a tool that may run as an MCP
//! task (its `execution.taskSupport`, or any tool of a server of the tasks
//! extension) answers `Prefer: respond-async` with 202 and a task to poll
//! at `/tasks/{taskId}`.
//!
//! `Prefer` is stated in the 202 answer's description, not as a header
//! parameter: clients that turn every parameter into a tool argument (Open
//! WebUI) would otherwise offer it to a model; the operation's own
//! description stays the tool's, which is what a model reads. The task
//! routes have no `operationId` for the same reason: a model cannot start a
//! task, so polling one is no tool of its own.

use serde_json::{Map, Value, json};

use super::{BEARER_SCHEME, ERROR_DETAIL, add_operation, schema_ref};
use crate::lock::{Lock, TaskSupport};

/// Component schemas this adds, reserved before tools claim names.
pub(super) const SCHEMAS: &[&str] = &[TASK, CALL_OUTCOME, INPUT_REQUEST, INPUT_ANSWER];
const TASK: &str = "Task";
const CALL_OUTCOME: &str = "CallOutcome";
const INPUT_REQUEST: &str = "InputRequest";
const INPUT_ANSWER: &str = "InputAnswer";
const TASK_ACCEPTED: &str = "TaskAccepted";
const TASKS_TAG: &str = "tasks";

/// Whether any tool may run as a task.
pub(super) fn present(lock: &Lock) -> bool {
    lock.tools
        .iter()
        .any(|tool| tool.task_support_on(&lock.server) != TaskSupport::Forbidden)
}

/// The `text/event-stream` form of a tool's 200 answer.
pub(super) fn event_stream_media_type() -> Value {
    json!({
        "schema": {
            "type": "string",
            "description": "Sent instead of the JSON answer when `Accept` asks for \
                `text/event-stream` at least as much as for `application/json`: one \
                `progress` event per progress notification of the upstream, its data \
                `{\"progress\": number, \"total\"?: number, \"message\"?: string}`, then \
                one `result` event (status 200) or `error` event (any other status) whose \
                data is `{\"status\": integer, \"body\": ...}`: the status and body the \
                JSON call would have answered. Errors found before the call (key, body, \
                arguments) are answered as usual, without a stream. A caller that stops \
                reading cancels the call upstream."
        }
    })
}

/// What a task-capable tool's operation gains: the 202 answer to `Prefer:
/// respond-async`. Its description stays the tool's own: it is what a model
/// reads (Open WebUI); the 202's description says how tasks work.
pub(super) fn add_to_tool_operation(support: TaskSupport, operation: &mut Value) {
    if support == TaskSupport::Forbidden {
        return;
    }
    if let Some(responses) = operation
        .get_mut("responses")
        .and_then(Value::as_object_mut)
    {
        responses.insert(
            "202".into(),
            json!({"$ref": format!("#/components/responses/{TASK_ACCEPTED}")}),
        );
    }
}

/// The task routes and their components, when any tool may run as a task.
pub(super) fn add_tasks(document: &mut Value, lock: &Lock) {
    if !present(lock) {
        return;
    }
    let error = |status: &str, description: &str| {
        (
            status.to_string(),
            json!({
                "description": description,
                "content": {"application/json": {"schema": schema_ref(ERROR_DETAIL)}}
            }),
        )
    };
    let task_answer = |description: &str| {
        json!({
            "description": description,
            "headers": {"Retry-After": {
                "description": "While the task runs: seconds to wait before polling again.",
                "schema": {"type": "integer", "minimum": 1}
            }},
            "content": {"application/json": {"schema": schema_ref(TASK)}}
        })
    };
    let common_errors = || {
        [
            ("401", "#/components/responses/Unauthorized"),
            ("502", "#/components/responses/UpstreamError"),
            ("504", "#/components/responses/UpstreamTimeout"),
        ]
        .map(|(status, component)| (status.to_string(), json!({"$ref": component})))
    };
    let not_found = error(
        "404",
        "No such task for this key: ids belong to the key that started them, and to \
         the proxy process (a task started before a proxy restart is gone).",
    );
    let gone = error(
        "410",
        "The task expired (its ttl passed), or the upstream restarted since it started.",
    );
    let task_id = json!({
        "name": "taskId",
        "in": "path",
        "required": true,
        "description": "The `taskId` the 202 answer gave.",
        "schema": {"type": "string"}
    });

    let mut get_responses: Map<String, Value> = Map::new();
    get_responses.insert(
        "200".into(),
        task_answer("Where the task stands; once it ended, its `result`."),
    );
    get_responses.extend(common_errors());
    get_responses.extend([not_found.clone(), gone.clone()]);
    let mut delete_responses: Map<String, Value> = Map::new();
    delete_responses.insert("200".into(), task_answer("The task, cancelled."));
    delete_responses.extend(common_errors());
    delete_responses.extend([
        not_found,
        error("409", "The task already ended: `GET` it for its result."),
        gone,
    ]);

    let mut input_responses: Map<String, Value> = Map::new();
    input_responses.insert(
        "200".into(),
        task_answer("Answered: the task goes on (`GET` it for where it stands)."),
    );
    input_responses.extend(common_errors());
    input_responses.extend([
        error(
            "404",
            "No such task for this key (see `GET /tasks/{taskId}`).",
        ),
        error(
            "409",
            "The task is not waiting for input (any more): `GET` it for where it stands.",
        ),
        error(
            "410",
            "The task expired, or the upstream restarted since it started.",
        ),
    ]);
    for (status, component) in [
        ("413", "PayloadTooLarge"),
        ("415", "UnsupportedMediaType"),
        ("422", "ValidationFailed"),
    ] {
        input_responses.insert(
            status.into(),
            json!({"$ref": format!("#/components/responses/{component}")}),
        );
    }

    let Some(paths) = document.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    let security = json!([{BEARER_SCHEME: []}, {}]);
    add_operation(
        paths,
        "/tasks/{taskId}/input",
        "post",
        json!({
            "summary": "Answer the form a task waits on (status `input_required`)",
            "description": "`accept` with `content` that the form's `requestedSchema` \
                accepts (422 otherwise), or `decline`, or `cancel`.",
            "tags": [TASKS_TAG],
            "security": security,
            "parameters": [task_id],
            "requestBody": {
                "required": true,
                "content": {"application/json": {"schema": schema_ref(INPUT_ANSWER)}}
            },
            "responses": input_responses
        }),
    );
    add_operation(
        paths,
        "/tasks/{taskId}",
        "get",
        json!({
            "summary": "Where a task started with `Prefer: respond-async` stands",
            "tags": [TASKS_TAG],
            "security": security,
            "parameters": [task_id],
            "responses": get_responses
        }),
    );
    add_operation(
        paths,
        "/tasks/{taskId}",
        "delete",
        json!({
            "summary": "Cancel a task started with `Prefer: respond-async`",
            "tags": [TASKS_TAG],
            "security": security,
            "parameters": [task_id],
            "responses": delete_responses
        }),
    );

    let Some(components) = document
        .get_mut("components")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    if let Some(schemas) = components.get_mut("schemas").and_then(Value::as_object_mut) {
        schemas.insert(TASK.into(), task_schema());
        schemas.insert(CALL_OUTCOME.into(), call_outcome_schema());
        schemas.insert(INPUT_REQUEST.into(), input_request_schema());
        schemas.insert(INPUT_ANSWER.into(), input_answer_schema());
    }
    if let Some(responses) = components
        .get_mut("responses")
        .and_then(Value::as_object_mut)
    {
        responses.insert(
            TASK_ACCEPTED.into(),
            json!({
                "description": "Started as an MCP task, because the request said `Prefer: \
                    respond-async` (RFC 7240) and the upstream can run this tool as a task; \
                    without it, the call waits for the task (within the call timeout) and \
                    answers as any call. Poll the task at `Location` (`GET`), cancel it \
                    (`DELETE`); a form the upstream asks to be filled in meanwhile (status \
                    `input_required`) is answered at `POST .../tasks/{taskId}/input`. A \
                    caller that did not ask for `respond-async` cannot answer forms: they \
                    are declined.",
                "headers": {
                    "Location": {
                        "description": "The task: `.../tasks/{taskId}`.",
                        "schema": {"type": "string"}
                    },
                    "Retry-After": {
                        "description": "Seconds to wait before polling it.",
                        "schema": {"type": "integer", "minimum": 1}
                    },
                    "Preference-Applied": {
                        "description": "`respond-async`.",
                        "schema": {"type": "string"}
                    }
                },
                "content": {"application/json": {"schema": schema_ref(TASK)}}
            }),
        );
    }
    if let Some(tags) = document.get_mut("tags").and_then(Value::as_array_mut) {
        tags.push(json!({
            "name": TASKS_TAG,
            "description": "Tool calls started with `Prefer: respond-async`, polled and cancelled."
        }));
    }
}

fn task_schema() -> Value {
    json!({
        "type": "object",
        "description": "A tool call running as an MCP task upstream.",
        "required": ["taskId", "tool", "status"],
        "properties": {
            "taskId": {"type": "string", "description": "The proxy's id for the task."},
            "tool": {"type": "string", "description": "The MCP tool called."},
            "status": {
                "type": "string",
                "enum": ["working", "input_required", "completed", "failed", "cancelled"],
                "description": "The upstream's task status."
            },
            "statusMessage": {
                "type": "string",
                "description": "What the upstream says it is doing, while it runs."
            },
            "inputRequest": {
                "$ref": format!("#/components/schemas/{INPUT_REQUEST}"),
                "description": "While `input_required`: the form the upstream waits on."
            },
            "result": {
                "$ref": format!("#/components/schemas/{CALL_OUTCOME}"),
                "description": "Once `completed` or `failed`: what the synchronous call \
                    would have answered."
            }
        }
    })
}

fn input_request_schema() -> Value {
    json!({
        "type": "object",
        "description": "A form the upstream asks its client to fill in (MCP elicitation).",
        "required": ["message", "requestedSchema"],
        "properties": {
            "message": {"type": "string", "description": "What the upstream needs, for a person."},
            "requestedSchema": {
                "type": "object",
                "description": "The JSON Schema the answer's `content` must meet."
            }
        }
    })
}

fn input_answer_schema() -> Value {
    json!({
        "type": "object",
        "description": "The answer to a task's form.",
        "required": ["action"],
        "additionalProperties": false,
        "properties": {
            "action": {"type": "string", "enum": ["accept", "decline", "cancel"]},
            "content": {
                "type": "object",
                "description": "With `accept`: the form's values, as its `requestedSchema` says."
            }
        }
    })
}

fn call_outcome_schema() -> Value {
    json!({
        "type": "object",
        "description": "The status and body a synchronous call answers: 200 and the \
            tool's result, or an error status and `{\"detail\": ...}`.",
        "required": ["status", "body"],
        "properties": {
            "status": {"type": "integer", "description": "The HTTP status."},
            "body": {"description": "The JSON body."}
        }
    })
}
