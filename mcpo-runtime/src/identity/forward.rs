//! The verified caller, forwarded to an upstream whose config entry says
//! `"forwardIdentity"` (never by default): in every request's `_meta`, and
//! for an HTTP upstream in the headers the entry names. The caller's own
//! token goes upstream only with `"token": true` (the MCP spec forbids
//! passing tokens through by default).
//!
//! One upstream connection serves every caller, so per-call headers cannot
//! be set on the connection: they ride in a private `_meta` entry that the
//! HTTP client ([`take_request_headers`]) turns into headers of that one
//! request and removes before the request leaves.

use std::collections::BTreeMap;

use rmcp::model::{CallToolRequestParams, RequestParamsMeta as _};
use serde_json::{Map, Value, json};

use super::Caller;

/// The `_meta` key of the forwarded caller.
pub const META_KEY: &str = "io.github.mcpo-gen/caller";
/// The private `_meta` entry holding this request's headers.
const HEADERS_META_KEY: &str = "io.github.mcpo-gen/request-headers";

/// Headers no config may set per request: they belong to the transport.
const TRANSPORT_HEADERS: &[&str] = &[
    "host",
    "content-type",
    "content-length",
    "accept",
    "connection",
    "transfer-encoding",
    "mcp-session-id",
    "mcp-protocol-version",
    "last-event-id",
];

/// A server's `"forwardIdentity"`: `true`, or
/// `{"headers": {"subject": "X-User-Id", ...}, "token": true}`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ForwardIdentity {
    /// Identity field -> the header an HTTP upstream gets it in.
    pub headers: BTreeMap<Field, String>,
    /// Whether a caller's own bearer JWT goes upstream as `Authorization`.
    pub token: bool,
}

/// What of the verified identity may be forwarded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Field {
    Subject,
    Email,
    Name,
    Role,
    ChatId,
}

impl Field {
    const ALL: [(&'static str, Field); 5] = [
        ("subject", Field::Subject),
        ("email", Field::Email),
        ("name", Field::Name),
        ("role", Field::Role),
        ("chatId", Field::ChatId),
    ];
}

impl ForwardIdentity {
    /// Reads `"forwardIdentity"`; `Ok(None)` for `false`.
    pub fn parse(value: &Value) -> Result<Option<Self>, String> {
        let fields = match value {
            Value::Bool(false) => return Ok(None),
            Value::Bool(true) => return Ok(Some(ForwardIdentity::default())),
            Value::Object(fields) => fields,
            _ => return Err("\"forwardIdentity\" must be true, false or an object".into()),
        };
        let mut forward = ForwardIdentity::default();
        for (key, value) in fields {
            match (key.as_str(), value) {
                ("token", Value::Bool(token)) => forward.token = *token,
                ("headers", Value::Object(headers)) => {
                    for (field, header) in headers {
                        let Some((_, field)) = Field::ALL.iter().find(|(name, _)| name == field)
                        else {
                            let names: Vec<&str> =
                                Field::ALL.iter().map(|(name, _)| *name).collect();
                            return Err(format!(
                                "\"forwardIdentity\".\"headers\": unknown field {field:?}; the fields are {}",
                                names.join(", ")
                            ));
                        };
                        let Some(header) = header.as_str().filter(|header| is_header_name(header))
                        else {
                            return Err(format!(
                                "\"forwardIdentity\".\"headers\".{field:?}: a header name, e.g. \"X-User-Id\""
                            ));
                        };
                        if TRANSPORT_HEADERS.contains(&header.to_ascii_lowercase().as_str())
                            || header.eq_ignore_ascii_case("authorization")
                        {
                            return Err(format!(
                                "\"forwardIdentity\".\"headers\": {header:?} is not one to set (use \"token\": true for Authorization)"
                            ));
                        }
                        forward.headers.insert(*field, header.to_string());
                    }
                }
                _ => {
                    return Err(format!(
                        "\"forwardIdentity\": unknown key {key:?} (or wrong type); the keys are \"headers\" (an object) and \"token\" (a boolean)"
                    ));
                }
            }
        }
        Ok(Some(forward))
    }

    /// Puts `caller`'s verified identity in the request's `_meta`, and the
    /// configured headers in the private entry the HTTP client reads. A
    /// caller without a verified identity forwards nothing.
    pub(crate) fn apply(&self, caller: &Caller, params: &mut CallToolRequestParams) {
        let Some(claims) = &caller.claims else {
            return;
        };
        let value = |field: Field| -> Option<String> {
            match field {
                Field::Subject => Some(claims.subject.clone()),
                Field::Email => claims.email.clone(),
                Field::Name => claims.name.clone(),
                Field::Role => claims.roles.first().cloned(),
                Field::ChatId => caller.chat_id.clone(),
            }
        };
        let mut identity = Map::new();
        identity.insert("issuer".into(), json!(claims.issuer));
        identity.insert("via".into(), json!(caller.via.as_str()));
        for (name, field) in Field::ALL {
            if let Some(value) = value(field) {
                identity.insert(name.into(), json!(value));
            }
        }
        if !claims.roles.is_empty() {
            identity.insert("roles".into(), json!(claims.roles));
        }
        if !claims.groups.is_empty() {
            identity.insert("groups".into(), json!(claims.groups));
        }
        let mut headers = Map::new();
        for (field, header) in &self.headers {
            if let Some(value) = value(*field).filter(|value| is_header_value(value)) {
                headers.insert(header.clone(), json!(value));
            }
        }
        if self.token
            && let Some(token) = &caller.bearer
        {
            headers.insert("authorization".into(), json!(format!("Bearer {}", token.0)));
        }
        let meta = &mut params.meta_or_default().0.0;
        meta.insert(META_KEY.into(), Value::Object(identity));
        if !headers.is_empty() {
            meta.insert(HEADERS_META_KEY.into(), Value::Object(headers));
        }
    }
}

/// Removes the private headers entry from an outgoing message's `_meta`
/// and answers its headers (empty for every other message).
pub(crate) fn take_request_headers(
    message: &mut rmcp::model::ClientJsonRpcMessage,
) -> Vec<(String, String)> {
    let rmcp::model::ClientJsonRpcMessage::Request(request) = message else {
        return Vec::new();
    };
    let rmcp::model::ClientRequest::CallToolRequest(call) = &mut request.request else {
        return Vec::new();
    };
    let Some(meta) = call.params.meta_mut() else {
        return Vec::new();
    };
    let Some(Value::Object(headers)) = meta.0.0.remove(HEADERS_META_KEY) else {
        return Vec::new();
    };
    headers
        .into_iter()
        .filter_map(|(name, value)| Some((name, value.as_str()?.to_string())))
        .collect()
}

fn is_header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte))
}

/// Visible ASCII and spaces only: a name with a newline or non-ASCII
/// letters is left out of headers (it is still in `_meta`).
fn is_header_value(value: &str) -> bool {
    value
        .bytes()
        .all(|byte| byte == b' ' || byte == b'\t' || (0x21..0x7f).contains(&byte))
}
