//! Bytes or JSON: a binary answer (a resource's `blob`, a tool's one image)
//! is sent as its bytes only to a caller whose `Accept` asks for its type at
//! least as much as for JSON; everyone else, and every caller that sends no
//! `Accept` or only `*/*`, gets the JSON form (base64), as mcpo answers.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;

/// Whether the caller prefers `mime_type` bytes to JSON.
fn prefers_bytes(headers: &HeaderMap, mime_type: &str) -> bool {
    let mime_type = mime_type.trim().to_ascii_lowercase();
    let Some((kind, _)) = mime_type.split_once('/') else {
        return false;
    };
    let ranges: Vec<(String, f32)> = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(media_range)
        .collect();
    // The most specific range that names the type decides its q (RFC 9110
    // 12.5.1); `*/*` alone never asks for bytes.
    let q_of = |wanted: &str, wanted_kind: &str, wildcard_counts: bool| {
        let exact = ranges.iter().find(|(range, _)| range == wanted);
        let kind_wide = ranges
            .iter()
            .find(|(range, _)| range.strip_suffix("/*") == Some(wanted_kind));
        let any = ranges.iter().find(|(range, _)| range == "*/*");
        exact
            .or(kind_wide)
            .or(any.filter(|_| wildcard_counts))
            .map(|(_, q)| *q)
    };
    let Some(bytes_q) = q_of(&mime_type, kind, false) else {
        return false;
    };
    let json_q = q_of("application/json", "application", true).unwrap_or(0.0);
    bytes_q > 0.0 && bytes_q >= json_q
}

/// The decoded bytes of base64 `data` as `mime_type`, when the caller
/// prefers them and they decode.
pub(crate) fn bytes_answer(headers: &HeaderMap, mime_type: &str, data: &str) -> Option<Response> {
    if !prefers_bytes(headers, mime_type) {
        return None;
    }
    let content_type = HeaderValue::from_str(mime_type).ok()?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data)
        .ok()?;
    let mut response = Body::from(bytes).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, content_type);
    Some(response)
}

/// `type/subtype;q=0.5` as the lower-case range and its q (1 by default).
fn media_range(text: &str) -> Option<(String, f32)> {
    let mut parts = text.split(';');
    let range = parts.next()?.trim().to_ascii_lowercase();
    if !range.contains('/') {
        return None;
    }
    let q = parts
        .filter_map(|parameter| parameter.trim().strip_prefix("q="))
        .find_map(|q| q.trim().parse::<f32>().ok())
        .unwrap_or(1.0);
    Some((range, q))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, value.parse().unwrap());
        headers
    }

    #[test]
    fn bytes_only_when_asked_for_at_least_as_much_as_json() {
        assert!(prefers_bytes(&accept("image/png"), "image/png"));
        assert!(prefers_bytes(&accept("image/*"), "image/png"));
        assert!(prefers_bytes(
            &accept("image/png, application/json"),
            "image/png"
        ));
        assert!(prefers_bytes(&accept("image/png, */*;q=0.1"), "image/png"));
        assert!(!prefers_bytes(
            &accept("image/png;q=0.5, application/json"),
            "image/png"
        ));
        assert!(!prefers_bytes(&accept("*/*"), "image/png"));
        assert!(!prefers_bytes(&accept("application/json"), "image/png"));
        assert!(!prefers_bytes(&accept("image/png;q=0"), "image/png"));
        assert!(!prefers_bytes(&accept("text/*"), "image/png"));
        assert!(!prefers_bytes(&HeaderMap::new(), "image/png"));
        assert!(!prefers_bytes(&accept("image/png"), "not a type"));
    }
}
