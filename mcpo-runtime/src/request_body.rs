//! A JSON request body as the routes read it: a JSON content type (415),
//! at most `--max-body-bytes` (413, what is left drained so the client
//! reads the answer), valid JSON (422); an empty body is `{}`.

use std::pin::Pin;
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::http::{HeaderMap, StatusCode, header};
use serde_json::Value;

use crate::error::{ApiError, ValidationIssue};

/// After refusing a body, at most this much more of it is read and thrown
/// away, and for at most this long. A client still uploading when the 413 is
/// sent otherwise sees the connection reset and never reads the answer (a
/// streamed upload from reqwest or requests does exactly that).
const DRAIN_MAX_BYTES: usize = 4 * 1024 * 1024;
const DRAIN_MAX_TIME: Duration = Duration::from_secs(5);

/// Reads the whole body, refusing more than `limit` bytes (413) before
/// buffering them: a declared length is checked first, a streamed one as it
/// arrives.
pub(crate) async fn read_body_limited(
    mut body: Body,
    headers: &HeaderMap,
    limit: usize,
) -> Result<Bytes, ApiError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        // A client that waits for `100 Continue` has sent nothing yet: answer
        // at once (reading would make hyper invite the upload first).
        if !expects_continue(headers) {
            drain(&mut body).await;
        }
        return Err(ApiError::payload_too_large(limit));
    }
    let mut collected: Vec<u8> = Vec::new();
    while let Some(data) = next_data(&mut body).await {
        let data = data.map_err(|error| {
            // Cut by the listener's body deadline, or to make room.
            match crate::listener::BodyCut::of(&*error.into_inner()) {
                Some(cut) => cut.api_error(),
                None => ApiError::new(StatusCode::BAD_REQUEST, "Could not read the request body"),
            }
        })?;
        if let Some(data) = data {
            if collected.len().saturating_add(data.len()) > limit {
                drop(collected);
                drain(&mut body).await;
                return Err(ApiError::payload_too_large(limit));
            }
            collected.extend_from_slice(&data);
        }
    }
    Ok(Bytes::from(collected))
}

fn expects_continue(headers: &HeaderMap) -> bool {
    headers
        .get(header::EXPECT)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.trim().eq_ignore_ascii_case("100-continue"))
}

/// Tool routes take JSON: `application/json`, any `application/*+json`, or no
/// `Content-Type` at all (as mcpo does). Anything else is 415, notably the
/// `text/plain`, form and multipart bodies a web page can send cross-site
/// without a CORS preflight.
pub(crate) fn check_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Ok(());
    };
    let media_type = value
        .to_str()
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let is_json = media_type == "application/json"
        || media_type
            .strip_prefix("application/")
            .is_some_and(|subtype| subtype.ends_with("+json"));
    if is_json {
        Ok(())
    } else {
        Err(ApiError::unsupported_media_type())
    }
}

/// The next frame's data (`Some(None)` for a trailers frame), `None` at the end.
async fn next_data(body: &mut Body) -> Option<Result<Option<Bytes>, axum::Error>> {
    let frame = std::future::poll_fn(|cx| Pin::new(&mut *body).poll_frame(cx)).await?;
    Some(frame.map(|frame| frame.into_data().ok()))
}

/// Discards what is left of a refused body, within [`DRAIN_MAX_BYTES`] and
/// [`DRAIN_MAX_TIME`]; nothing of it is kept.
async fn drain(body: &mut Body) {
    let discard = async {
        let mut discarded: usize = 0;
        while discarded < DRAIN_MAX_BYTES {
            match next_data(body).await {
                Some(Ok(data)) => {
                    discarded = discarded.saturating_add(data.map_or(0, |data| data.len()));
                }
                Some(Err(_)) | None => break,
            }
        }
    };
    let _ = tokio::time::timeout(DRAIN_MAX_TIME, discard).await;
}

/// An empty body means `{}`: mcpo clients call argument-less tools that way.
pub(crate) fn parse_json_body(bytes: &[u8]) -> Result<Value, ApiError> {
    if bytes.trim_ascii().is_empty() {
        return Ok(Value::Object(serde_json::Map::new()));
    }
    serde_json::from_slice(bytes).map_err(|error| {
        ApiError::validation(vec![ValidationIssue::body(
            format!("JSON decode error: {error}"),
            "json_invalid",
        )])
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn empty_body_is_an_empty_object() {
        assert_eq!(parse_json_body(b""), Ok(json!({})));
        assert_eq!(parse_json_body(b" \n"), Ok(json!({})));
    }

    #[test]
    fn malformed_json_is_422_json_invalid() {
        let error = parse_json_body(b"{\"a\": ").err();
        let Some(error) = error else {
            panic!("malformed JSON must be rejected");
        };
        assert_eq!(error.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(error.detail[0]["loc"], json!(["body"]));
        assert_eq!(error.detail[0]["type"], json!("json_invalid"));
    }

    #[tokio::test]
    async fn body_limit_is_enforced_with_and_without_content_length() {
        let big = vec![b'x'; 11];
        let mut declared = HeaderMap::new();
        declared.insert(header::CONTENT_LENGTH, 11.into());
        let refused = read_body_limited(Body::from(big.clone()), &declared, 10).await;
        assert_eq!(
            refused.err().map(|e| e.status),
            Some(StatusCode::PAYLOAD_TOO_LARGE)
        );
        let streamed = read_body_limited(Body::from(big), &HeaderMap::new(), 10).await;
        assert_eq!(
            streamed.err().map(|e| e.status),
            Some(StatusCode::PAYLOAD_TOO_LARGE)
        );
        let fits = read_body_limited(Body::from(vec![b'x'; 10]), &HeaderMap::new(), 10).await;
        assert_eq!(fits.ok().map(|bytes| bytes.len()), Some(10));
    }
}
