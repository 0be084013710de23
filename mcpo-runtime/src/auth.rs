//! API keys (`--api-key`): kept as digests, compared in constant time, and
//! read from `Authorization: Bearer <key>`. Who may call what, with keys or
//! tokens, is [`crate::identity`]'s.

use axum::http::{HeaderMap, header};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq;

use crate::error::ApiError;

/// The keys accepted by `--api-key`. Empty means the tool routes are open
/// (mcpo's behaviour without `--api-key`).
///
/// Only the keys' SHA-256 digests are kept and compared: every comparison is
/// then between 32-byte values, so its time does not depend on the length of
/// the configured key or of the presented one (subtle's slice comparison
/// returns early on a length mismatch).
#[derive(Clone, Default)]
pub struct ApiKeys {
    key_digests: Vec<KeyDigest>,
}

pub type KeyDigest = [u8; 32];

fn digest(key: &[u8]) -> KeyDigest {
    Sha256::digest(key).into()
}

// Keys are secrets: never print them, even in debug output.
impl std::fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ApiKeys({} configured)", self.key_digests.len())
    }
}

impl ApiKeys {
    pub fn new(keys: impl IntoIterator<Item = String>) -> Self {
        ApiKeys {
            key_digests: keys.into_iter().map(|key| digest(key.as_bytes())).collect(),
        }
    }

    pub fn is_enabled(&self) -> bool {
        !self.key_digests.is_empty()
    }

    /// The digest of the key the request carries, when it is one of ours
    /// (what a caller starts, a task, is bound to); `None` when no keys
    /// are configured.
    pub fn check(&self, headers: &HeaderMap) -> Result<Option<KeyDigest>, ApiError> {
        if !self.is_enabled() {
            return Ok(None);
        }
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|value| bearer_token(value.as_bytes()))
            .map(digest)
            .ok_or_else(ApiError::not_authenticated)?;
        // Compare against every key without stopping at the first match, so
        // the time taken does not tell which key (or how much of one) matched.
        let matched = self
            .key_digests
            .iter()
            .fold(subtle::Choice::from(0u8), |found, key| {
                found | key.as_slice().ct_eq(presented.as_slice())
            });
        if bool::from(matched) {
            Ok(Some(presented))
        } else {
            Err(ApiError::invalid_api_key())
        }
    }
}

/// The credentials of a `Bearer` authorization header (scheme matched
/// case-insensitively, like FastAPI's `HTTPBearer`); `None` for another
/// scheme or an empty token.
pub(crate) fn bearer_token(header_value: &[u8]) -> Option<&[u8]> {
    let text = header_value.trim_ascii();
    let (scheme, rest) = match text.iter().position(|byte| *byte == b' ') {
        Some(space) => (&text[..space], &text[space + 1..]),
        None => (text, &[][..]),
    };
    if !scheme.eq_ignore_ascii_case(b"bearer") {
        return None;
    }
    let token = rest.trim_ascii();
    (!token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{HeaderValue, StatusCode};

    fn headers_with(authorization: Option<&'static str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(value) = authorization {
            headers.insert(header::AUTHORIZATION, HeaderValue::from_static(value));
        }
        headers
    }

    fn keys() -> ApiKeys {
        ApiKeys::new(["first-key".to_string(), "second".to_string()])
    }

    #[test]
    fn no_keys_means_open() {
        assert!(ApiKeys::default().check(&headers_with(None)).is_ok());
    }

    #[test]
    fn any_configured_key_is_accepted() {
        assert!(
            keys()
                .check(&headers_with(Some("Bearer first-key")))
                .is_ok()
        );
        assert!(keys().check(&headers_with(Some("bearer second"))).is_ok());
    }

    #[test]
    fn missing_or_other_scheme_is_not_authenticated() {
        for header in [
            None,
            Some("Basic Zm9vOmJhcg=="),
            Some("Bearer "),
            Some("Bearer"),
        ] {
            let error = keys().check(&headers_with(header)).err();
            assert_eq!(error, Some(ApiError::not_authenticated()), "{header:?}");
        }
    }

    #[test]
    fn wrong_key_is_invalid() {
        for header in ["Bearer first-ke", "Bearer first-key2", "Bearer nope"] {
            let error = keys().check(&headers_with(Some(header))).err();
            assert_eq!(
                error.map(|error| (error.status, error.detail)),
                Some((StatusCode::UNAUTHORIZED, "Invalid API key".into()))
            );
        }
    }

    #[test]
    fn keys_of_any_length_match_only_themselves() {
        let long = "k".repeat(300);
        let keys = ApiKeys::new([long.clone(), "é✓".to_string()]);
        let with = |token: &str| {
            let mut headers = HeaderMap::new();
            let value = format!("Bearer {token}");
            if let Ok(value) = HeaderValue::from_bytes(value.as_bytes()) {
                headers.insert(header::AUTHORIZATION, value);
            }
            keys.check(&headers)
                .map(|_| ())
                .map_err(|error| error.detail)
        };
        assert_eq!(with(&long), Ok(()));
        assert_eq!(with("é✓"), Ok(()));
        for wrong in [&long[1..], &format!("{long}k"), "é", "k"] {
            assert_eq!(with(wrong), Err("Invalid API key".into()), "{wrong:?}");
        }
    }

    #[test]
    fn debug_output_hides_keys() {
        assert!(!format!("{:?}", keys()).contains("first-key"));
    }
}
