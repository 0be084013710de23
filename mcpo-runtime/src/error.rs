//! The one error type every route answers with: `{"detail": ...}` like mcpo
//! and FastAPI, an honest status code, and the headers that go with it.
//!
//! [`ConfigError`] is the other error: flags, files or settings that cannot
//! work, said before the proxy exits.
//!
//! Error bodies are built from fixed texts and from what the client itself
//! sent; never from header values, API keys or upstream transport details.

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use serde_json::{Value, json};

/// Why the configuration cannot work; printed before a non-zero exit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

/// One segment of a FastAPI-style `loc`: a field name or an array index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum LocSegment {
    Field(String),
    Index(usize),
}

impl From<&str> for LocSegment {
    fn from(field: &str) -> Self {
        LocSegment::Field(field.to_string())
    }
}

/// One entry of a 422 `detail` list: `{"loc": [...], "msg": "...", "type": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ValidationIssue {
    pub loc: Vec<LocSegment>,
    pub msg: String,
    #[serde(rename = "type")]
    pub kind: String,
}

impl ValidationIssue {
    /// An issue about the body as a whole (`loc: ["body"]`).
    pub fn body(msg: impl Into<String>, kind: impl Into<String>) -> Self {
        ValidationIssue {
            loc: vec![LocSegment::from("body")],
            msg: msg.into(),
            kind: kind.into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: StatusCode,
    pub detail: Value,
    /// Seconds for `Retry-After` (503 while the upstream is not connected).
    pub retry_after: Option<u32>,
    /// `WWW-Authenticate` value; RFC 7235 requires one on every 401.
    pub challenge: Option<Box<str>>,
    /// More headers of the answer (a 429's `RateLimit`).
    pub headers: Box<[(header::HeaderName, HeaderValue)]>,
}

impl ApiError {
    pub fn new(status: StatusCode, detail: impl Into<Value>) -> Self {
        ApiError {
            status,
            detail: detail.into(),
            retry_after: None,
            challenge: None,
            headers: Box::default(),
        }
    }

    /// This error with `challenge` as its `WWW-Authenticate`.
    pub fn with_challenge(self, challenge: impl Into<Box<str>>) -> Self {
        ApiError {
            challenge: Some(challenge.into()),
            ..self
        }
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "Not Found")
    }

    pub fn method_not_allowed() -> Self {
        Self::new(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed")
    }

    pub fn not_authenticated() -> Self {
        ApiError {
            challenge: Some("Bearer".into()),
            ..Self::new(StatusCode::UNAUTHORIZED, "Not authenticated")
        }
    }

    /// A key was sent but is not one of ours (RFC 6750 §3.1 `invalid_token`).
    pub fn invalid_api_key() -> Self {
        ApiError {
            challenge: Some(r#"Bearer error="invalid_token""#.into()),
            ..Self::new(StatusCode::UNAUTHORIZED, "Invalid API key")
        }
    }

    pub fn unsupported_media_type() -> Self {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "This route takes a JSON body: send Content-Type: application/json (or no Content-Type)",
        )
    }

    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("Request body is larger than the limit of {limit} bytes"),
        )
    }

    pub fn validation(issues: Vec<ValidationIssue>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            serde_json::to_value(issues).unwrap_or(Value::Null),
        )
    }

    pub fn unavailable(reason: impl Into<String>, retry_after_secs: u64) -> Self {
        ApiError {
            retry_after: Some(u32::try_from(retry_after_secs).unwrap_or(u32::MAX).max(1)),
            ..Self::new(StatusCode::SERVICE_UNAVAILABLE, reason.into())
        }
    }

    pub fn bad_gateway(reason: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_GATEWAY, reason.into())
    }

    /// The upstream went away mid-call and is being restarted: worth a retry
    /// in a moment.
    pub fn upstream_lost() -> Self {
        ApiError {
            retry_after: Some(1),
            ..Self::bad_gateway(
                "The connection to the upstream MCP server was lost; it is being restarted",
            )
        }
    }

    /// The client did not finish sending its body in time.
    pub fn body_timeout(seconds: f64) -> Self {
        Self::new(
            StatusCode::REQUEST_TIMEOUT,
            format!("The request body did not arrive within {seconds}s"),
        )
    }

    pub fn gateway_timeout(seconds: f64) -> Self {
        Self::new(
            StatusCode::GATEWAY_TIMEOUT,
            format!("The upstream MCP server did not answer within {seconds}s"),
        )
    }
}

impl ApiError {
    /// The status and the JSON body this error answers with (its headers
    /// aside), for an answer sent inside another one: an event stream's
    /// last event, a task's failure.
    pub(crate) fn into_status_and_body(mut self) -> (StatusCode, Value) {
        // Upstream error texts may quote a URL or argument holding a secret.
        redact_strings(&mut self.detail);
        (self.status, json!({ "detail": self.detail }))
    }
}

impl IntoResponse for ApiError {
    fn into_response(mut self) -> Response {
        let retry_after = self.retry_after;
        let challenge = self.challenge.take();
        let extra_headers = std::mem::take(&mut self.headers).into_vec();
        let (status, body) = self.into_status_and_body();
        let mut response = (status, Json(body)).into_response();
        let headers = response.headers_mut();
        if let Some(seconds) = retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if let Some(challenge) = challenge
            && let Ok(value) = HeaderValue::try_from(challenge.as_ref())
        {
            headers.insert(header::WWW_AUTHENTICATE, value);
        }
        for (name, value) in extra_headers {
            headers.insert(name, value);
        }
        response
    }
}

/// Every string in `value` through [`crate::redact::redact`].
pub(crate) fn redact_strings(value: &mut Value) {
    match value {
        Value::String(text) => {
            if let std::borrow::Cow::Owned(redacted) = crate::redact::redact(text) {
                *text = redacted;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_strings),
        Value::Object(fields) => fields.values_mut().for_each(redact_strings),
        _ => {}
    }
}

/// `fallback` for unknown routes.
pub async fn not_found() -> ApiError {
    ApiError::not_found()
}

/// `method_not_allowed_fallback` for known routes hit with the wrong method.
pub async fn method_not_allowed() -> ApiError {
    ApiError::method_not_allowed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_issue_serializes_like_fastapi() {
        let issue = ValidationIssue {
            loc: vec![
                LocSegment::from("body"),
                LocSegment::from("items"),
                LocSegment::Index(2),
            ],
            msg: "Field required".into(),
            kind: "missing".into(),
        };
        assert_eq!(
            serde_json::to_value(&issue).ok(),
            Some(json!({"loc": ["body", "items", 2], "msg": "Field required", "type": "missing"}))
        );
    }

    #[test]
    fn unavailable_sets_retry_after_of_at_least_one_second() {
        let response = ApiError::unavailable("down", 0).into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            response.headers().get(header::RETRY_AFTER),
            Some(&HeaderValue::from(1u64))
        );
    }

    #[test]
    fn every_401_challenges_for_bearer() {
        let missing = ApiError::not_authenticated().into_response();
        assert_eq!(missing.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            missing.headers().get(header::WWW_AUTHENTICATE),
            Some(&HeaderValue::from_static("Bearer"))
        );
        let wrong = ApiError::invalid_api_key().into_response();
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            wrong.headers().get(header::WWW_AUTHENTICATE),
            Some(&HeaderValue::from_static(r#"Bearer error="invalid_token""#))
        );
    }

    #[test]
    fn a_lost_upstream_says_when_to_retry() {
        let response = ApiError::upstream_lost().into_response();
        assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
        assert_eq!(
            response.headers().get(header::RETRY_AFTER),
            Some(&HeaderValue::from(1u64))
        );
    }
}
