//! The REST routes of a server's resources, resource templates and prompts
//! (the paths the generated OpenAPI document states): lists answered from
//! the lock, reads and prompts forwarded once checked.

use std::collections::{BTreeMap, HashMap};

use axum::{
    Json, Router,
    extract::{Path, Query, Request, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use rmcp::model::{ArgumentInfo, ReadResourceResult, Reference, ResourceContents};
use serde_json::{Value, json};

use super::{definitions, has_routes, rest_body};
use crate::accept::bytes_answer;
use crate::app::{App, CallFailure};
use crate::error::{ApiError, LocSegment, ValidationIssue};
use crate::identity::Caller;
use crate::lock::{LockedSurface, SurfaceKind};

/// The routes `surface` calls for (none for a server without one).
pub(crate) fn routes(surface: &LockedSurface, completions: bool) -> Router<App> {
    let mut router = Router::new();
    if !has_routes(surface) {
        return router;
    }
    if surface.offers_resources() {
        router = router
            .route("/resources", get(list_resources))
            .route("/resources/read", get(read_by_uri));
    }
    if !surface.resource_templates.is_empty() {
        router = router
            .route("/resources/templates", get(list_templates))
            .route("/resources/templates/{name}", get(read_by_template));
        if completions {
            router = router.route(
                "/resources/templates/{name}/complete",
                post(complete_template),
            );
        }
    }
    if !surface.prompts.is_empty() {
        router = router
            .route("/prompts", get(list_prompts))
            .route("/prompts/{name}", post(get_prompt));
        if completions {
            router = router.route("/prompts/{name}/complete", post(complete_prompt));
        }
    }
    router
}

/// Runs a route's work with the API key checked first and the call counted
/// in `/metrics` under `label`.
async fn measured(
    app: &App,
    label: &'static str,
    headers: &HeaderMap,
    work: impl AsyncFnOnce(&Caller) -> Result<Response, ApiError>,
) -> Response {
    let started = std::time::Instant::now();
    let response = match app.state().access.auth.authenticate(headers).await {
        Err(refused) => refused.into_response(),
        Ok(caller) => work(&caller)
            .await
            .unwrap_or_else(IntoResponse::into_response),
    };
    let status = response.status().as_u16();
    app.state()
        .metrics
        .record_call(label, status, started.elapsed());
    tracing::debug!(request = label, status, "surface request");
    response
}

fn answer(failure: CallFailure) -> ApiError {
    failure.answer
}

async fn list_resources(State(app): State<App>, headers: HeaderMap) -> Response {
    measured(&app, "resources/list", &headers, async |caller: &Caller| {
        let resources: Vec<Value> = app
            .list_resources()
            .await
            .map_err(answer)?
            .into_iter()
            .filter(|item| app.shows_item(caller, SurfaceKind::Resource, item))
            .collect();
        Ok(Json(json!({ "resources": resources })).into_response())
    })
    .await
}

async fn list_templates(State(app): State<App>, headers: HeaderMap) -> Response {
    measured(
        &app,
        "resources/templates/list",
        &headers,
        async |caller: &Caller| {
            let templates: Vec<Value> = definitions(&app.state().surface.resource_templates)
                .into_iter()
                .filter(|item| app.shows_item(caller, SurfaceKind::ResourceTemplate, item))
                .collect();
            Ok(Json(json!({ "resourceTemplates": templates })).into_response())
        },
    )
    .await
}

async fn list_prompts(State(app): State<App>, headers: HeaderMap) -> Response {
    measured(&app, "prompts/list", &headers, async |caller: &Caller| {
        let prompts: Vec<Value> = definitions(&app.state().surface.prompts)
            .into_iter()
            .filter(|item| app.shows_item(caller, SurfaceKind::Prompt, item))
            .collect();
        Ok(Json(json!({ "prompts": prompts })).into_response())
    })
    .await
}

/// The query parameters, each at most once, none but `allowed`.
fn query_values(
    pairs: Vec<(String, String)>,
    allowed: &[&str],
) -> Result<BTreeMap<String, String>, ApiError> {
    let mut values = BTreeMap::new();
    let mut issues = Vec::new();
    for (name, value) in pairs {
        let loc = vec![LocSegment::from("query"), LocSegment::from(name.as_str())];
        if !allowed.contains(&name.as_str()) {
            issues.push(ValidationIssue {
                loc,
                msg: format!("unknown query parameter; expected one of {allowed:?}"),
                kind: "extra_forbidden".into(),
            });
        } else if values.insert(name, value).is_some() {
            issues.push(ValidationIssue {
                loc,
                msg: "given more than once".into(),
                kind: "duplicate".into(),
            });
        }
    }
    if issues.is_empty() {
        Ok(values)
    } else {
        Err(ApiError::validation(issues))
    }
}

fn missing(names: &[&str]) -> ApiError {
    ApiError::validation(
        names
            .iter()
            .map(|name| ValidationIssue {
                loc: vec![LocSegment::from("query"), LocSegment::from(*name)],
                msg: "Field required".into(),
                kind: "missing".into(),
            })
            .collect(),
    )
}

async fn read_by_uri(
    State(app): State<App>,
    headers: HeaderMap,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Response {
    measured(&app, "resources/read", &headers, async |caller: &Caller| {
        let values = query_values(pairs, &["uri"])?;
        let Some(uri) = values.get("uri") else {
            return Err(missing(&["uri"]));
        };
        let result = app.read_resource(uri, None, caller).await.map_err(answer)?;
        Ok(read_answer(result, &headers))
    })
    .await
}

async fn read_by_template(
    State(app): State<App>,
    Path(name): Path<String>,
    headers: HeaderMap,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Response {
    measured(&app, "resources/read", &headers, async |caller: &Caller| {
        let surface = &app.state().surface;
        let Some(template) = surface.item(SurfaceKind::ResourceTemplate, &name) else {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                format!("unknown resource template {name:?}"),
            ));
        };
        let parsed = template.uri_template().map_err(|error| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                format!("resource template {name:?} has a URI template this proxy cannot expand: {error}"),
            )
        })?;
        let variables = parsed.variables();
        let names: Vec<&str> = variables.iter().map(|v| v.name.as_str()).collect();
        let values = query_values(pairs, &names)?;
        let absent: Vec<&str> = variables
            .iter()
            .filter(|v| v.required && !values.contains_key(&v.name))
            .map(|v| v.name.as_str())
            .collect();
        if !absent.is_empty() {
            return Err(missing(&absent));
        }
        let uri = parsed.expand(&values);
        let result = app
            .read_resource(&uri, Some(&name), caller)
            .await
            .map_err(answer)?;
        Ok(read_answer(result, &headers))
    })
    .await
}

/// A read's answer: the JSON result, or the bytes of its one `blob` for a
/// caller that asks for their type (see [`bytes_answer`]).
fn read_answer(result: ReadResourceResult, headers: &HeaderMap) -> Response {
    if let [
        ResourceContents::BlobResourceContents {
            mime_type: Some(mime_type),
            blob,
            ..
        },
    ] = result.contents.as_slice()
        && let Some(response) = bytes_answer(headers, mime_type, blob)
    {
        return response;
    }
    Json(rest_body(&result)).into_response()
}

async fn get_prompt(
    State(app): State<App>,
    Path(name): Path<String>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    measured(
        &app,
        "prompts/get",
        &parts.headers,
        async |caller: &Caller| {
            if app
                .state()
                .surface
                .item(SurfaceKind::Prompt, &name)
                .is_none()
            {
                return Err(ApiError::new(
                    StatusCode::NOT_FOUND,
                    format!("unknown prompt {name:?}"),
                ));
            }
            let (_, arguments) = app.json_body(&parts.headers, body).await?;
            let Value::Object(arguments) = arguments else {
                return Err(ApiError::validation(vec![ValidationIssue::body(
                    "Input should be a JSON object",
                    "type",
                )]));
            };
            let result = app
                .get_prompt(&name, arguments, caller)
                .await
                .map_err(answer)?;
            Ok(Json(rest_body(&result)).into_response())
        },
    )
    .await
}

/// The body of a completion route, as the document states it: no field
/// but these, `context` and its `arguments` objects when present.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct CompletionBody {
    argument: String,
    #[serde(default)]
    value: String,
    #[serde(default)]
    context: CompletionContextBody,
}

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct CompletionContextBody {
    #[serde(default)]
    arguments: HashMap<String, String>,
}

async fn complete_template(
    State(app): State<App>,
    Path(name): Path<String>,
    request: Request,
) -> Response {
    let reference = app
        .state()
        .surface
        .item(SurfaceKind::ResourceTemplate, &name)
        .and_then(|template| template.uri_template_text().map(str::to_string))
        .map(Reference::for_resource);
    complete(app, reference, name, request).await
}

async fn complete_prompt(
    State(app): State<App>,
    Path(name): Path<String>,
    request: Request,
) -> Response {
    let reference = app
        .state()
        .surface
        .item(SurfaceKind::Prompt, &name)
        .map(|_| Reference::for_prompt(name.clone()));
    complete(app, reference, name, request).await
}

async fn complete(
    app: App,
    reference: Option<Reference>,
    name: String,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    measured(
        &app,
        "completion/complete",
        &parts.headers,
        async |caller: &Caller| {
            let Some(reference) = reference else {
                return Err(ApiError::new(
                    StatusCode::NOT_FOUND,
                    format!("nothing locked is named {name:?}"),
                ));
            };
            let (_, body) = app.json_body(&parts.headers, body).await?;
            let body: CompletionBody = serde_json::from_value(body).map_err(|error| {
                ApiError::validation(vec![ValidationIssue::body(error.to_string(), "invalid")])
            })?;
            let arguments = body.context.arguments;
            let context = (!arguments.is_empty()).then_some(arguments);
            let result = app
                .complete(
                    reference,
                    ArgumentInfo::new(body.argument, body.value),
                    context,
                    caller,
                )
                .await
                .map_err(answer)?;
            Ok(Json(rest_body(&result.completion)).into_response())
        },
    )
    .await
}
