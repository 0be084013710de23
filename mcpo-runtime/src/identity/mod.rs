//! Who is calling: the verified identity behind a request.
//!
//! A request authenticates with `Authorization: Bearer`, holding either
//! - a JWT of the `--jwt-issuer` (or signed by a key of `--jwks-url`),
//!   verified by [`jwt::OidcVerifier`]: the caller is its subject; or
//! - one of the `--api-key`s: the caller is that key, and when Open WebUI
//!   (which holds the key) also sends `X-OpenWebUI-User-Jwt` signed with
//!   `MCPO_OPENWEBUI_JWT_SECRET`, the user it names.
//!
//! Plain `X-OpenWebUI-User-*` headers are never read: anyone who can reach
//! the port can send them (mcpo reverted its header forwarding for that).

pub(crate) mod forward;
pub(crate) mod jwt;
pub(crate) mod protected_resource;
pub(crate) mod strict;

use std::sync::Arc;

use axum::http::{HeaderMap, StatusCode, header};
use sha2::{Digest as _, Sha256};

use crate::auth::{ApiKeys, KeyDigest};
use crate::error::ApiError;

/// The header Open WebUI sends its signed user claims in.
pub(crate) const OPENWEBUI_JWT_HEADER: &str = "x-openwebui-user-jwt";
/// The chat a call of Open WebUI comes from; only forwarded along with a
/// verified user.
pub(crate) const OPENWEBUI_CHAT_ID_HEADER: &str = "x-openwebui-chat-id";

/// How a caller proved who it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Via {
    /// Nothing to prove: the proxy has no key and no issuer.
    Open,
    ApiKey,
    Jwt,
    /// An API key, and Open WebUI's signed user claims on top.
    OpenWebUi,
}

impl Via {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Via::Open => "none",
            Via::ApiKey => "api-key",
            Via::Jwt => "jwt",
            Via::OpenWebUi => "openwebui",
        }
    }
}

/// The caller of one request, as far as it was verified.
#[derive(Clone, Debug)]
pub(crate) struct Caller {
    pub(crate) via: Via,
    /// The digest of the API key presented, if one was.
    pub(crate) key: Option<KeyDigest>,
    /// The verified claims of a JWT (the bearer's or Open WebUI's).
    pub(crate) claims: Option<jwt::Claims>,
    /// Open WebUI's chat id, kept only along with its verified user.
    pub(crate) chat_id: Option<String>,
    /// The bearer JWT itself, for an upstream configured to receive it.
    pub(crate) bearer: Option<BearerToken>,
}

/// A caller's token; shown as `***` in debug output.
#[derive(Clone)]
pub(crate) struct BearerToken(pub(crate) Arc<str>);

impl std::fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

impl Caller {
    pub(crate) fn anonymous() -> Self {
        Caller {
            via: Via::Open,
            key: None,
            claims: None,
            chat_id: None,
            bearer: None,
        }
    }

    /// What the caller starts (a task) belongs to: its verified subject
    /// (of its issuer), else its key; `None` on an open proxy.
    pub(crate) fn owner(&self) -> Option<KeyDigest> {
        match &self.claims {
            Some(claims) => {
                let mut hasher = Sha256::new();
                hasher.update(claims.issuer.as_bytes());
                hasher.update([0]);
                hasher.update(claims.subject.as_bytes());
                Some(hasher.finalize().into())
            }
            None => self.key,
        }
    }

    /// The caller's own rate-limit bucket: its name under how it proved
    /// it, so a JWT whose `sub` is `key:...` or `anonymous`, or an Open
    /// WebUI user id equal to an issuer's subject, is not another caller.
    pub(crate) fn rate_key(&self) -> String {
        format!("{}:{}", self.via.as_str(), self.name())
    }

    /// The name logs and the audit log (with `via`) know the caller by: its subject, `key:` and the start of its key's digest (never the
    /// key), or `anonymous`.
    pub(crate) fn name(&self) -> String {
        match (&self.claims, &self.key) {
            (Some(claims), _) => claims.subject.clone(),
            (None, Some(key)) => format!("key:{}", hex::encode(&key[..4])),
            (None, None) => "anonymous".to_string(),
        }
    }
}

/// The ways in the proxy accepts, and their checks.
#[derive(Clone, Default)]
pub(crate) struct Authenticator {
    inner: Arc<Inner>,
}

/// What [`Authenticator::new`] is built from.
#[derive(Default)]
pub(crate) struct AuthSettings {
    pub(crate) keys: ApiKeys,
    pub(crate) oidc: Option<jwt::OidcVerifier>,
    pub(crate) openwebui_secret: Option<String>,
    /// `--jwt-audience`: when it is a URL, the resource RFC 9728 metadata
    /// names (else the request's own origin and root path).
    pub(crate) audience: Option<String>,
    /// `--root-path`, for the URLs the metadata and challenges name.
    pub(crate) root_path: String,
    /// Whether the proxy serves HTTPS itself.
    pub(crate) https: bool,
}

#[derive(Default)]
struct Inner {
    keys: ApiKeys,
    oidc: Option<jwt::OidcVerifier>,
    openwebui_secret: Option<Vec<u8>>,
    resource: Option<String>,
    root_path: String,
    https: bool,
}

// The secret and the keys stay out of debug output.
impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("keys", &self.inner.keys)
            .field("issuer", &self.issuer())
            .field("openwebui", &self.inner.openwebui_secret.is_some())
            .finish()
    }
}

impl Authenticator {
    pub(crate) fn new(settings: AuthSettings) -> Self {
        let resource = settings
            .audience
            .filter(|audience| audience.starts_with("https://") || audience.starts_with("http://"));
        Authenticator {
            inner: Arc::new(Inner {
                keys: settings.keys,
                oidc: settings.oidc,
                openwebui_secret: settings.openwebui_secret.map(String::into_bytes),
                resource,
                root_path: settings.root_path,
                https: settings.https,
            }),
        }
    }

    /// Only the API keys.
    #[cfg(test)]
    pub(crate) fn keys_only(keys: ApiKeys) -> Self {
        Self::new(AuthSettings {
            keys,
            ..Default::default()
        })
    }

    /// Whether a request must prove who it is: a key or an issuer is
    /// configured.
    pub(crate) fn is_required(&self) -> bool {
        self.inner.keys.is_enabled() || self.inner.oidc.is_some()
    }

    /// The issuer of caller JWTs, when there is one.
    pub(crate) fn issuer(&self) -> Option<&str> {
        self.inner.oidc.as_ref().and_then(jwt::OidcVerifier::issuer)
    }

    /// Who sent `headers`: 401 (with a challenge naming this proxy's
    /// protected-resource metadata when there is an issuer) unless the
    /// request proves it as the proxy requires.
    pub(crate) async fn authenticate(&self, headers: &HeaderMap) -> Result<Caller, ApiError> {
        let inner = &self.inner;
        if !self.is_required() {
            return Ok(Caller::anonymous());
        }
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|value| crate::auth::bearer_token(value.as_bytes()))
            .and_then(|token| std::str::from_utf8(token).ok());
        let Some(token) = bearer else {
            return Err(self.challenge(headers, ApiError::not_authenticated(), None));
        };
        if let Some(oidc) = &inner.oidc
            && jwt::looks_like_jwt(token)
        {
            let claims = oidc
                .verify(token)
                .await
                .map_err(|error| self.invalid_token(headers, &error))?;
            return Ok(Caller {
                via: Via::Jwt,
                key: None,
                claims: Some(claims),
                chat_id: chat_id(headers),
                bearer: Some(BearerToken(token.into())),
            });
        }
        if !inner.keys.is_enabled() {
            let error = jwt::TokenError::Malformed;
            return Err(self.invalid_token(headers, &error));
        }
        let key = inner
            .keys
            .check(headers)
            .map_err(|error| self.challenge(headers, error, None))?;
        let key_caller = Caller {
            via: Via::ApiKey,
            key,
            claims: None,
            chat_id: None,
            bearer: None,
        };
        let user_token = headers
            .get(OPENWEBUI_JWT_HEADER)
            .and_then(|value| value.to_str().ok());
        let (Some(secret), Some(user_token)) = (&inner.openwebui_secret, user_token) else {
            return Ok(key_caller);
        };
        // A user token that does not verify is refused, not ignored: the
        // call would otherwise run as the bare key, with more rights than
        // the user may have.
        let claims = jwt::verify_openwebui(user_token, secret).map_err(|error| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                format!("X-OpenWebUI-User-Jwt: {error}"),
            )
            .with_challenge(r#"Bearer error="invalid_token""#)
        })?;
        Ok(Caller {
            via: Via::OpenWebUi,
            claims: Some(claims),
            chat_id: chat_id(headers),
            ..key_caller
        })
    }

    fn invalid_token(&self, headers: &HeaderMap, error: &jwt::TokenError) -> ApiError {
        self.challenge(
            headers,
            ApiError::new(StatusCode::UNAUTHORIZED, format!("Invalid token: {error}")),
            Some(("invalid_token", error.to_string())),
        )
    }

    /// `error` with its `WWW-Authenticate`: RFC 6750's error (if any) and,
    /// when callers can get tokens from an issuer, RFC 9728's
    /// `resource_metadata` so that MCP clients find it.
    fn challenge(
        &self,
        headers: &HeaderMap,
        error: ApiError,
        token_error: Option<(&str, String)>,
    ) -> ApiError {
        let mut parts = Vec::new();
        if let Some((code, description)) = token_error {
            parts.push(format!(
                r#"error="{code}", error_description="{}""#,
                description.replace(['"', '\\'], "'")
            ));
        } else if let Some(existing) = error.challenge.as_deref()
            && let Some(rest) = existing.strip_prefix("Bearer ")
        {
            parts.push(rest.to_string());
        }
        if self.inner.oidc.is_some()
            && let Some(origin) = protected_resource::origin(headers, self.inner.https)
        {
            parts.push(format!(
                r#"resource_metadata="{origin}{}{}""#,
                self.inner.root_path,
                protected_resource::PATH
            ));
        }
        let challenge = if parts.is_empty() {
            "Bearer".to_string()
        } else {
            format!("Bearer {}", parts.join(", "))
        };
        error.with_challenge(challenge)
    }
}

fn chat_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get(OPENWEBUI_CHAT_ID_HEADER)
        .and_then(|value| value.to_str().ok())
        .filter(|id| !id.is_empty() && id.len() <= 200)
        .map(str::to_string)
}
