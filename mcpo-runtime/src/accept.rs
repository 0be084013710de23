//! Bytes or JSON: a binary answer (a resource's `blob`, a tool's one image)
//! is sent as its bytes only to a caller whose `Accept` asks for its type at
//! least as much as for JSON; everyone else, and every caller that sends no
//! `Accept` or only `*/*`, gets the JSON form (base64), as mcpo answers.
//!
//! The type is the upstream's: bytes are never rendered as a page of the
//! proxy's origin (where `/docs` lives), whatever type they claim.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;

/// Whether the caller prefers `mime_type` to JSON.
pub(crate) fn prefers_to_json(headers: &HeaderMap, mime_type: &str) -> bool {
    // `text/plain; charset=utf-8` is asked for as `text/plain`.
    let mime_type = essence(mime_type);
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
    if !prefers_to_json(headers, mime_type) {
        return None;
    }
    let content_type = HeaderValue::from_str(mime_type).ok()?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data)
        .ok()?;
    let mut response = Body::from(bytes).into_response();
    let answer = response.headers_mut();
    answer.insert(header::CONTENT_TYPE, content_type);
    answer.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // HTML or SVG from an upstream runs no script here, and reaches no
    // cookie or storage of the proxy's origin.
    answer.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("sandbox"),
    );
    if !matches!(media_kind(mime_type).as_str(), "image" | "audio" | "video") {
        answer.insert(
            header::CONTENT_DISPOSITION,
            HeaderValue::from_static("attachment"),
        );
    }
    Some(response)
}

/// A media type without its parameters, lower case.
fn essence(mime_type: &str) -> String {
    mime_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// `image` of `image/png`.
fn media_kind(mime_type: &str) -> String {
    essence(mime_type)
        .split('/')
        .next()
        .unwrap_or_default()
        .to_string()
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
        assert!(prefers_to_json(&accept("image/png"), "image/png"));
        assert!(prefers_to_json(&accept("image/*"), "image/png"));
        assert!(prefers_to_json(
            &accept("image/png, application/json"),
            "image/png"
        ));
        assert!(prefers_to_json(
            &accept("image/png, */*;q=0.1"),
            "image/png"
        ));
        assert!(!prefers_to_json(
            &accept("image/png;q=0.5, application/json"),
            "image/png"
        ));
        assert!(!prefers_to_json(&accept("*/*"), "image/png"));
        assert!(!prefers_to_json(&accept("application/json"), "image/png"));
        assert!(!prefers_to_json(&accept("image/png;q=0"), "image/png"));
        assert!(!prefers_to_json(&accept("text/*"), "image/png"));
        assert!(!prefers_to_json(&HeaderMap::new(), "image/png"));
        assert!(!prefers_to_json(&accept("image/png"), "not a type"));
        assert!(prefers_to_json(
            &accept("text/plain"),
            "text/plain; charset=utf-8"
        ));
    }

    #[test]
    fn bytes_never_render_as_a_page_of_the_proxy() {
        let html = base64::engine::general_purpose::STANDARD.encode("<script>alert(1)</script>");
        let response = bytes_answer(&accept("text/html"), "text/html", &html).unwrap();
        let headers = response.headers();
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(headers[header::CONTENT_SECURITY_POLICY], "sandbox");
        assert_eq!(headers[header::CONTENT_DISPOSITION], "attachment");
        let png = bytes_answer(&accept("image/png"), "image/png", "iVBORw0KGgo=").unwrap();
        assert!(png.headers().get(header::CONTENT_DISPOSITION).is_none());
        assert_eq!(png.headers()[header::CONTENT_SECURITY_POLICY], "sandbox");
    }
}
