//! Bearer JWTs of an OIDC issuer and Open WebUI's `X-OpenWebUI-User-Jwt`, verified.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::{Error as JwtError, ErrorKind};
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, Validation};
use serde_json::{Map, Value};
use tokio::sync::{Mutex, RwLock};

/// Longer tokens are refused unread: no issuer makes them, and reading them costs.
const MAX_TOKEN_BYTES: usize = 16 * 1024;
/// Clock skew tolerated on `exp` and `nbf`.
const LEEWAY_SECS: u64 = 60;
/// Unknown `kid`s refetch the JWKS at most this often, so made-up kids cannot hammer the issuer.
const REFETCH_INTERVAL: Duration = Duration::from_secs(10);
/// Discovery documents and JWKS are small; a bigger answer is not one.
const MAX_DOCUMENT_BYTES: usize = 1024 * 1024;
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// Where caller JWTs come from: an OIDC issuer (discovery at
/// `{issuer}/.well-known/openid-configuration` -> `jwks_uri`), or a JWKS URL given directly.
#[derive(Clone, Debug, Default)]
pub(crate) struct JwtSettings {
    pub issuer: Option<String>,
    pub audience: Option<String>,
    pub jwks_url: Option<String>,
}

/// The claims the proxy uses, from a verified token.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Claims {
    /// `sub` (required).
    pub subject: String,
    /// `iss` (empty when the token has none and no issuer is required).
    pub issuer: String,
    pub email: Option<String>,
    /// `name`, else `preferred_username`.
    pub name: Option<String>,
    /// `role` (string) and `roles` (array), merged, without duplicates.
    pub roles: Vec<String>,
    pub groups: Vec<String>,
    /// `scope` (space-separated) and `scp` (array or space-separated string).
    pub scopes: Vec<String>,
    pub expires_at: Option<u64>,
}

/// Why a token was refused. The texts go to the caller in a 401 body: they
/// never contain the token, a key or the secret.
#[derive(Clone, Debug, thiserror::Error, PartialEq)]
pub(crate) enum TokenError {
    #[error("malformed token")]
    Malformed,
    #[error("token expired")]
    Expired,
    #[error("token not yet valid")]
    NotYetValid,
    #[error("token has no valid expiry (exp)")]
    MissingExpiry,
    #[error("token issuer not accepted")]
    WrongIssuer,
    #[error("token audience not accepted")]
    WrongAudience,
    #[error("token signed by an unknown key")]
    UnknownKey,
    #[error("invalid token signature")]
    BadSignature,
    #[error("token algorithm {0} not accepted")]
    AlgorithmRefused(String),
    #[error("token has no subject (sub)")]
    MissingSubject,
    #[error("signing keys unavailable: {0}")]
    KeysUnavailable(String),
}

/// A JWKS key and the algorithms it may verify.
struct Key {
    key: DecodingKey,
    algorithms: Vec<Algorithm>,
}

#[derive(Default)]
struct KeySet {
    by_kid: HashMap<String, Key>,
    kidless: Vec<Key>,
}

impl KeySet {
    fn is_empty(&self) -> bool {
        self.by_kid.is_empty() && self.kidless.is_empty()
    }

    /// With a kid, that key; without, the only key able to verify `alg`.
    fn find(&self, kid: Option<&str>, alg: Algorithm) -> Option<&Key> {
        if let Some(kid) = kid {
            return self.by_kid.get(kid);
        }
        let mut fit = self
            .by_kid
            .values()
            .chain(&self.kidless)
            .filter(|k| k.algorithms.contains(&alg));
        match (fit.next(), fit.next()) {
            (Some(key), None) => Some(key),
            _ => None,
        }
    }
}

/// Verifies bearer JWTs against an issuer's JWKS, refetched when keys rotate.
pub(crate) struct OidcVerifier {
    issuer: Option<String>,
    /// The configured issuer and, when discovered, the spelling the provider publishes.
    accepted_issuers: Vec<String>,
    audience: Option<String>,
    jwks_url: String,
    http: reqwest::Client,
    keys: RwLock<Arc<KeySet>>,
    /// The last rotation refetch; held during one, so concurrent callers share it.
    refetched: Mutex<Option<Instant>>,
}

impl fmt::Debug for OidcVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OidcVerifier")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("jwks_url", &self.jwks_url)
            .finish_non_exhaustive()
    }
}

impl OidcVerifier {
    /// Fetches discovery (when only `issuer` is set: checks the document's `issuer`
    /// equals it, trailing slash insensitive) and the JWKS once, at startup.
    /// Errors name the URL and what went wrong, and say what to fix.
    pub(crate) async fn start(
        settings: JwtSettings,
        http: reqwest::Client,
    ) -> Result<Self, String> {
        let nonempty = |s: Option<String>| s.filter(|s| !s.trim().is_empty());
        let (issuer, audience) = (nonempty(settings.issuer), nonempty(settings.audience));
        let (accepted_issuers, jwks_url, issuer) = match (issuer, nonempty(settings.jwks_url)) {
            (issuer, Some(url)) => (issuer.iter().cloned().collect(), url, issuer),
            (Some(configured), None) => {
                let url = format!(
                    "{}/.well-known/openid-configuration",
                    configured.trim_end_matches('/')
                );
                let doc = fetch_json(&http, &url).await.map_err(|e| {
                    format!(
                        "OIDC discovery at {url} failed: {e}; check that the issuer URL is right \
                         and reachable, or give the JWKS URL directly"
                    )
                })?;
                let published = doc
                    .get("issuer")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                if published.trim_end_matches('/') != configured.trim_end_matches('/') {
                    return Err(format!(
                        "OIDC discovery at {url} names the issuer {published:?}, not the \
                         configured {configured:?}: configure the issuer the provider publishes"
                    ));
                }
                let Some(jwks) = doc.get("jwks_uri").and_then(Value::as_str) else {
                    return Err(format!(
                        "OIDC discovery at {url} has no jwks_uri: give the JWKS URL directly"
                    ));
                };
                let mut accepted = vec![configured];
                if published != accepted[0] {
                    accepted.push(published.to_owned());
                }
                (accepted, jwks.to_owned(), Some(published.to_owned()))
            }
            (None, None) => {
                return Err(
                    "verifying JWTs needs an issuer (for OIDC discovery) or a JWKS URL".into(),
                );
            }
        };
        let keys = fetch_keys(&http, &jwks_url).await.map_err(|e| {
            format!(
                "the JWKS at {jwks_url} could not be used: {e}; check the URL and that it \
                 serves the issuer's public keys"
            )
        })?;
        if keys.is_empty() {
            return Err(format!(
                "the JWKS at {jwks_url} has no usable signing key (RSA, EC P-256/P-384 or \
                 Ed25519, with `use` \"sig\" or none): check the URL"
            ));
        }
        Ok(Self {
            issuer,
            accepted_issuers,
            audience,
            jwks_url,
            http,
            keys: RwLock::new(Arc::new(keys)),
            refetched: Mutex::new(None),
        })
    }

    /// Verifies a bearer token: signed by the JWKS key its `kid` names (without
    /// one, the only key able to verify its `alg`), with an asymmetric algorithm
    /// that key allows; `iss` and `aud` checked when configured; `exp` required
    /// and `nbf` honoured, with 60 s leeway. An unknown `kid` refetches the JWKS
    /// (key rotation) at most once per 10 s.
    pub(crate) async fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let header = read_header(token)?;
        let alg = match Algorithm::from_str(&header.alg) {
            Ok(alg) if alg.family() != AlgorithmFamily::Hmac => alg,
            // `none` and HS*: a public key must never serve as an HMAC secret.
            _ => return Err(TokenError::AlgorithmRefused(shown(&header.alg))),
        };
        let kid = header.kid.as_deref();
        let mut keys = self.keys.read().await.clone();
        if let Some(kid) = kid
            && keys.find(Some(kid), alg).is_none()
        {
            keys = self.refetch(kid).await?;
        }
        let key = keys.find(kid, alg).ok_or(TokenError::UnknownKey)?;
        if !key.algorithms.contains(&alg) {
            return Err(TokenError::AlgorithmRefused(shown(&header.alg)));
        }
        let mut validation = validation(alg);
        let mut required = vec!["exp"];
        if !self.accepted_issuers.is_empty() {
            validation.set_issuer(&self.accepted_issuers);
            required.push("iss");
        }
        match &self.audience {
            Some(audience) => {
                validation.set_audience(&[audience]);
                required.push("aud");
            }
            None => validation.validate_aud = false,
        }
        validation.set_required_spec_claims(&required);
        let data = jsonwebtoken::decode::<Map<String, Value>>(token, &key.key, &validation)
            .map_err(|e| token_error(&e, &header.alg))?;
        claims_from(&data.claims)
    }

    /// The issuer as configured or discovered (for RFC 9728 metadata).
    pub(crate) fn issuer(&self) -> Option<&str> {
        self.issuer.as_deref()
    }

    async fn refetch(&self, kid: &str) -> Result<Arc<KeySet>, TokenError> {
        let mut last = self.refetched.lock().await;
        // A caller that waited for the lock may find the refetch it needed done.
        let current = self.keys.read().await.clone();
        if current.by_kid.contains_key(kid)
            || last.is_some_and(|at| at.elapsed() < REFETCH_INTERVAL)
        {
            return Ok(current);
        }
        *last = Some(Instant::now());
        match fetch_keys(&self.http, &self.jwks_url).await {
            Ok(keys) => {
                let keys = Arc::new(keys);
                *self.keys.write().await = keys.clone();
                Ok(keys)
            }
            Err(e) => {
                let url = &self.jwks_url;
                tracing::warn!(jwks_url = %url, "JWKS refetch for an unknown kid failed: {e}");
                Err(TokenError::KeysUnavailable(
                    "the issuer's keys could not be fetched".into(),
                ))
            }
        }
    }
}

/// Open WebUI's `X-OpenWebUI-User-Jwt`: HS256 with the shared secret, `iss`
/// "open-webui", `exp` required.
pub(crate) fn verify_openwebui(token: &str, secret: &[u8]) -> Result<Claims, TokenError> {
    let header = read_header(token)?;
    if header.alg != "HS256" {
        return Err(TokenError::AlgorithmRefused(shown(&header.alg)));
    }
    let key = DecodingKey::from_secret(secret)
        .map_err(|_| TokenError::KeysUnavailable("no shared secret is configured".into()))?;
    let mut validation = validation(Algorithm::HS256);
    validation.validate_aud = false;
    validation.set_issuer(&["open-webui"]);
    validation.set_required_spec_claims(&["exp", "iss"]);
    let data = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation)
        .map_err(|e| token_error(&e, &header.alg))?;
    claims_from(&data.claims)
}

/// Whether a bearer credential looks like a JWT (three base64url segments, the
/// first a JSON object with "alg"), so API keys and JWTs each take their own path.
pub(crate) fn looks_like_jwt(token: &str) -> bool {
    let segments: Vec<&str> = token.split('.').collect();
    segments.len() == 3
        && segments.iter().all(|s| {
            s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        && read_header(token).is_ok()
}

struct RawHeader {
    alg: String,
    kid: Option<String>,
}

/// The header, read by hand: jsonwebtoken's `Header` cannot even parse `alg: none`.
fn read_header(token: &str) -> Result<RawHeader, TokenError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(TokenError::Malformed);
    }
    let mut parts = token.split('.');
    let (Some(header), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed);
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| TokenError::Malformed)?;
    let Ok(Value::Object(header)) = serde_json::from_slice(&bytes) else {
        return Err(TokenError::Malformed);
    };
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .ok_or(TokenError::Malformed)?;
    let kid = match header.get("kid") {
        None | Some(Value::Null) => None,
        Some(Value::String(kid)) => Some(kid.clone()),
        Some(_) => return Err(TokenError::Malformed),
    };
    Ok(RawHeader {
        alg: alg.to_owned(),
        kid,
    })
}

/// An `alg` as it may appear in an error: caller-controlled text is echoed only when tame.
fn shown(alg: &str) -> String {
    if !alg.is_empty() && alg.len() <= 16 && alg.bytes().all(|b| b.is_ascii_alphanumeric()) {
        alg.to_owned()
    } else {
        "(unrecognised)".to_owned()
    }
}

fn validation(alg: Algorithm) -> Validation {
    let mut validation = Validation::new(alg);
    validation.leeway = LEEWAY_SECS;
    validation.validate_exp = true;
    validation.validate_nbf = true;
    validation
}

fn token_error(e: &JwtError, alg: &str) -> TokenError {
    match e.kind() {
        ErrorKind::InvalidSignature
        | ErrorKind::InvalidRsaKey(_)
        | ErrorKind::InvalidEcdsaKey
        | ErrorKind::InvalidEddsaKey
        | ErrorKind::InvalidKeyFormat => TokenError::BadSignature,
        ErrorKind::ExpiredSignature => TokenError::Expired,
        ErrorKind::ImmatureSignature => TokenError::NotYetValid,
        ErrorKind::InvalidIssuer => TokenError::WrongIssuer,
        ErrorKind::InvalidAudience => TokenError::WrongAudience,
        ErrorKind::MissingRequiredClaim(claim) | ErrorKind::InvalidClaimFormat(claim) => {
            match claim.as_str() {
                "iss" => TokenError::WrongIssuer,
                "aud" => TokenError::WrongAudience,
                "exp" if matches!(e.kind(), ErrorKind::MissingRequiredClaim(_)) => {
                    TokenError::MissingExpiry
                }
                _ => TokenError::Malformed,
            }
        }
        ErrorKind::InvalidAlgorithm | ErrorKind::UnsupportedAlgorithm => {
            TokenError::AlgorithmRefused(shown(alg))
        }
        _ => TokenError::Malformed,
    }
}

fn claims_from(claims: &Map<String, Value>) -> Result<Claims, TokenError> {
    let text = |name: &str| {
        claims
            .get(name)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let list = |names: &[&str], split: bool| {
        let mut out: Vec<String> = Vec::new();
        let mut add = |s: &str| {
            if !s.is_empty() && !out.iter().any(|o| o == s) {
                out.push(s.to_owned());
            }
        };
        for value in names.iter().filter_map(|n| claims.get(*n)) {
            match value {
                Value::String(s) if split => s.split_whitespace().for_each(&mut add),
                Value::String(s) => add(s),
                Value::Array(items) => items.iter().filter_map(Value::as_str).for_each(&mut add),
                _ => {}
            }
        }
        out
    };
    Ok(Claims {
        subject: text("sub").ok_or(TokenError::MissingSubject)?,
        issuer: text("iss").unwrap_or_default(),
        // An email its issuer says it did not verify is not one to grant
        // by (`emailDomains`); access tokens often carry no
        // `email_verified` at all, and then the issuer's word is taken.
        email: text("email").filter(|_| claims.get("email_verified") != Some(&Value::Bool(false))),
        name: text("name").or_else(|| text("preferred_username")),
        roles: list(&["role", "roles"], false),
        groups: list(&["groups"], false),
        scopes: list(&["scope", "scp"], true),
        expires_at: claims.get("exp").and_then(|v| {
            v.as_u64()
                .or_else(|| v.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
        }),
    })
}

async fn fetch_json(http: &reqwest::Client, url: &str) -> Result<Value, String> {
    let mut response = http
        .get(url)
        .header(reqwest::header::ACCEPT, "application/json")
        .timeout(FETCH_TIMEOUT)
        .send()
        .await
        .map_err(|e| format!("the request failed ({e})"))?;
    if !response.status().is_success() {
        return Err(format!("the answer was HTTP {}", response.status()));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| format!("reading the answer failed ({e})"))?
    {
        if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
            return Err("the answer is larger than 1 MiB".into());
        }
        body.extend_from_slice(&chunk);
    }
    serde_json::from_slice(&body).map_err(|e| format!("the answer is not JSON ({e})"))
}

async fn fetch_keys(http: &reqwest::Client, url: &str) -> Result<KeySet, String> {
    let doc = fetch_json(http, url).await?;
    let Some(list) = doc.get("keys").and_then(Value::as_array) else {
        return Err("the answer has no \"keys\" array".into());
    };
    let mut keys = KeySet::default();
    for (index, raw) in list.iter().enumerate() {
        match usable_key(raw) {
            Ok(Some((Some(kid), key))) => {
                keys.by_kid.insert(kid, key);
            }
            Ok(Some((None, key))) => keys.kidless.push(key),
            Ok(None) => {}
            Err(why) => {
                let kid = raw.get("kid").and_then(Value::as_str).unwrap_or("");
                tracing::warn!(jwks_url = url, index, kid, "JWKS key skipped: {why}");
            }
        }
    }
    Ok(keys)
}

/// A JWKS entry as a verifying key; `Ok(None)` for keys not meant for signatures.
fn usable_key(raw: &Value) -> Result<Option<(Option<String>, Key)>, String> {
    if raw.get("use").is_some_and(|u| u.as_str() != Some("sig")) {
        return Ok(None);
    }
    let jwk: Jwk = serde_json::from_value(raw.clone()).map_err(|e| format!("unreadable ({e})"))?;
    let allowed: &[Algorithm] = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => AlgorithmFamily::Rsa.algorithms(),
        AlgorithmParameters::EllipticCurve(p) if p.curve == EllipticCurve::P256 => {
            &[Algorithm::ES256]
        }
        AlgorithmParameters::EllipticCurve(p) if p.curve == EllipticCurve::P384 => {
            &[Algorithm::ES384]
        }
        AlgorithmParameters::OctetKeyPair(p) if p.curve == EllipticCurve::Ed25519 => {
            &[Algorithm::EdDSA]
        }
        // Symmetric keys never: a JWKS is public.
        _ => return Err("not an RSA, EC P-256/P-384 or Ed25519 public key".into()),
    };
    let algorithms = match jwk.common.key_algorithm {
        None => allowed.to_vec(),
        Some(named) => match Algorithm::try_from(named) {
            Ok(alg) if allowed.contains(&alg) => vec![alg],
            _ => return Err(format!("its alg {named} does not fit its key type")),
        },
    };
    let key = DecodingKey::from_jwk(&jwk).map_err(|e| format!("unusable ({e})"))?;
    Ok(Some((jwk.common.key_id, Key { key, algorithms })))
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex as StdMutex;
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

    use Algorithm::{ES256, EdDSA, HS256, PS256, RS256};
    use TokenError::*;
    use axum::{Json, Router, routing::get};
    use base64::engine::general_purpose::STANDARD;
    use jsonwebtoken::{EncodingKey, Header, encode, get_current_timestamp as now};
    use serde_json::json;

    use super::*;

    // Made with openssl for these tests only: RSA-2048 (PKCS#1), P-256 and Ed25519 (PKCS#8), DER.
    const EC1: &str = "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgsnu3wGPc1iZs/QApkc3xVWJITNncYmcD5igAxSTH7e6hRANCAAQcUTXJ8n+B+NmNA1mgNphXLVk2PAVr5V5+AV7uI3OIK0qw+CuRWaVxtokpBU/oZDL6JqrNRXuKXse5uhZRxz3S";
    const EC2: &str = "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgEF+WBHAqJnG2mU0ibt2RKnRzg2cGGk9xS1zFCLup+VChRANCAAQKicrGeGCqKaYjRjg3D86tttql47V84HkXM9+Kj4K2bqxEtYdBqTA94oedsNAnVrtqYkE6fh1meHk4b+RPSW5T";
    const ED: &str = "MC4CAQAwBQYDK2VwBCIEIGEXl+NB4A/1UPqzONsGwsUYPTXg4xAimkWRNZUPTwkR";
    const RSA: &str = "MIIEpQIBAAKCAQEAx864BCmMOuS+3kGjIq3SK7GBdiPyfTaHJKRiYLAG+FzV1HBx19KI7clF22fJJB7z9A7fbRS/KJYTwxQaul1/UmgKWsp+YAFyQMSxiBhb2JHaFpcHwa6I+4ja13zhXcgDg31JAl74W/nVK73T5vMBOTb6ucfZoqns/W+UCPt9FWj0+BDvFuwbQmdKMwVKhhcWHKcXADc+VlHSyDwzpLFuXJqe9XhhvQmUihS8TiuAsl45XIy4INsuWh66NpQm6UxbV1cFgPwQQQKcMDccX/VpAts6/VzNS/2TUe27bROsWN9M+aoiL/zY8ziWR9bvCRCmZ8ZqeuZ38PA6LhMgTaq5/QIDAQABAoIBAAx1dN75kj9n3Qjx0dDLQuQrlNV/h1LMcB/WSjYaM80PyNuOyWJ6Q8SD/OGh9pZUgcSxmrfsB8FpnkDXQ5VkWBiU2TRxFPE6ldu5CBLi5fM6oP0wnLC0h+EbVv4B0PGuk52C1ecaceUWTncERq7Lb0OYjIjCD+2HJ/pjlzj6KYIIpaIkE59dkKq5H1pCCIV0wgNZeRn1D5S3/aA3wI+WEK74ggsQSodEFA3/9grU04/GT+pZWsPkwdXgJ/BQMx6WytQ05u+/eL1DuPu5Vnq4NL/ZM7quJCfzDv9zd8bSXcgp6joo8zpM0e8GGnpqNKi/f2gG7YHC/T82fN3Aw2ln2vECgYEA7xKB99104V5N4y1PGvzt6ys1OBnrYCe8OFG7lNFMeutSznE1BMN8RH8SjzG25f0ajGgG49vkjkanIgPvZu2IbfCwQ4FUqFm9moqGZDY9VTaT9CzElGUnkdDkUNW2oP7Eo/LefeDEBXikJps+2bm80bY/JA/fdGvXct5DB6+1VMUCgYEA1fR8eAbeLoC5xQdxCgMNEsFdi532UsdXJ98gsWkDxW1icBne19GT3s6GAraaOsKtqNeARyUzaIBYYKIkvQ1n0AU5NqqGVHfzhUy2wH2/AGfkcuSmM9Jea1e5b3WeuLCK1V/tulhNc/xg6QxeAaRj07iOGe2Ul3GxgLoNGjQyU9kCgYEAhKYFPQ1AS8eyealrKfNK42AvADjJc6m4cptO9EyJHe6yHF+N5l289ph3KMKR09xyvZL+t7ELiLHFDEeYrsh/GVkhw+LfoSVh4XyZAsNhloVY5HNug1P495wrAnsCASQ64SjhsIBk4xBELDOZVN8M2GNBd3XjK0qm2VJfaMViXG0CgYEAzcvzBYilodlT1v8HbfftVUMFdcwlKQ5w+PsYeU1nwTkr3GQmAzWlpETGhkmaJDcpzyQqUUSpJDV/zMNpzybb2i2MENcJiqouZOObTaAmXn+QMCta6rHI/DtPNLTQTRoTEJbLFdjl91Ck7sVkjvPOydHVbX8m1F0ZvZY4ECJw3lECgYEAiuwXrh5OYqDZvn9EiJhzPj90dZVZHuNEWn6AQq3OwI5XahIrXJgBajiWk62HBaR9RWHWqcQmY7ey9YhhvlczubL0tVeDIj+Woovk2o4xFo9xYUcIuT7qWM+d5gqlDbjmozoBdTX7I/ZUJzmIohcMZQfAEwfeB5N+UjE22e34Pv0=";

    /// A test key by name: "rsa", "ec1", "ec2" (both P-256) or "ed".
    fn key(name: &str) -> EncodingKey {
        let der = |b64: &str| STANDARD.decode(b64).unwrap();
        match name {
            "rsa" => EncodingKey::from_rsa_der(&der(RSA)),
            "ed" => EncodingKey::from_ed_der(&der(ED)),
            "ec1" => EncodingKey::from_ec_der(&der(EC1)),
            _ => EncodingKey::from_ec_der(&der(EC2)),
        }
    }

    /// A test key's public JWK, `use` "sig", naming its `alg` or not.
    fn jwk(name: &str, alg: Algorithm, kid: &str, name_alg: bool) -> Value {
        let jwk = Jwk::from_encoding_key(&key(name), alg).unwrap();
        let mut jwk = with(
            &serde_json::to_value(jwk).unwrap(),
            json!({"kid": kid, "use": "sig"}),
        );
        if !name_alg {
            jwk.as_object_mut().unwrap().remove("alg");
        }
        jwk
    }

    fn sign_with(key: &EncodingKey, alg: Algorithm, kid: Option<&str>, claims: &Value) -> String {
        encode(
            &Header {
                kid: kid.map(str::to_owned),
                ..Header::new(alg)
            },
            claims,
            key,
        )
        .unwrap()
    }

    fn sign(name: &str, alg: Algorithm, kid: Option<&str>, claims: &Value) -> String {
        sign_with(&key(name), alg, kid, claims)
    }

    /// A token with any header, signed with nothing.
    fn unsigned(header: &Value, claims: &Value) -> String {
        let part = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
        format!("{}.{}.", part(header), part(claims))
    }

    /// `base` with `changes` applied, a null removing its claim.
    fn with(base: &Value, changes: Value) -> Value {
        let mut out = base.as_object().unwrap().clone();
        for (k, v) in changes.as_object().unwrap() {
            match v {
                Value::Null => out.remove(k),
                v => out.insert(k.clone(), v.clone()),
            };
        }
        Value::Object(out)
    }

    fn claims(iss: &str, changes: Value) -> Value {
        let base = json!({"sub": "u1", "iss": iss, "aud": ["api", "x"], "exp": now() + 300});
        with(&base, changes)
    }

    struct Idp {
        base: String,
        jwks: Arc<StdMutex<Value>>,
        jwks_hits: Arc<AtomicUsize>,
    }

    /// An issuer on a local port: discovery (naming `advertised` or its own URL) and a JWKS.
    async fn idp(advertised: Option<&str>) -> Idp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let keys = json!({"keys": [
            jwk("rsa", RS256, "rsa1", true),
            jwk("ec1", ES256, "ec1", false),
            jwk("ed", EdDSA, "ed1", false),
            // Skipped: an encryption key, a symmetric one, odd ones, an unsupported curve.
            {"kty": "RSA", "use": "enc", "kid": "enc1", "n": "AQAB", "e": "AQAB"},
            {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
            {"kty": "XYZ", "kid": "odd"},
            42,
            {"kty": "EC", "crv": "P-521", "kid": "p521", "x": "AA", "y": "AA"},
        ]});
        let (jwks, jwks_hits) = (Arc::new(StdMutex::new(keys)), Arc::new(AtomicUsize::new(0)));
        let doc =
            json!({"issuer": advertised.unwrap_or(&base), "jwks_uri": format!("{base}/jwks")});
        let (served, hits) = (jwks.clone(), jwks_hits.clone());
        let jwks_route = get(move || {
            hits.fetch_add(1, SeqCst);
            let keys = served.lock().unwrap().clone();
            async move { Json(keys) }
        });
        let app = Router::new()
            .route(
                "/.well-known/openid-configuration",
                get(move || async move { Json(doc) }),
            )
            .route("/jwks", jwks_route);
        tokio::spawn(async move { axum::serve(listener, app).await });
        Idp {
            base,
            jwks,
            jwks_hits,
        }
    }

    async fn start(
        issuer: Option<String>,
        audience: &str,
        jwks_url: Option<String>,
    ) -> Result<OidcVerifier, String> {
        let audience = Some(audience.to_owned());
        let http = reqwest::Client::builder().no_proxy().build().unwrap();
        OidcVerifier::start(
            JwtSettings {
                issuer,
                audience,
                jwks_url,
            },
            http,
        )
        .await
    }

    /// A verifier by discovery, its issuer configured with a trailing slash, audience "api".
    async fn discovered(idp: &Idp) -> OidcVerifier {
        start(Some(format!("{}/", idp.base)), "api", None)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn rs256_token_verifies_with_claims_mapped() {
        let idp = idp(None).await;
        let verifier = discovered(&idp).await;
        assert_eq!(verifier.issuer(), Some(idp.base.as_str()));
        let exp = now() + 300;
        let extra = json!({
            "exp": exp, "email": "a@b.c", "preferred_username": "ann", "role": "admin",
            "roles": ["admin", "ed"], "groups": ["g1", "g2"],
            "scope": "read  write", "scp": ["read", "x"],
        });
        let token = sign("rsa", RS256, Some("rsa1"), &claims(&idp.base, extra));
        let strings = |s: &[&str]| s.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let expected = Claims {
            subject: "u1".into(),
            issuer: idp.base.clone(),
            email: Some("a@b.c".into()),
            name: Some("ann".into()),
            roles: strings(&["admin", "ed"]),
            groups: strings(&["g1", "g2"]),
            scopes: strings(&["read", "write", "x"]),
            expires_at: Some(exp),
        };
        assert_eq!(verifier.verify(&token).await, Ok(expected));
        let named = claims(
            &idp.base,
            json!({"name": "Ann A", "preferred_username": "ann"}),
        );
        let token = sign("rsa", RS256, Some("rsa1"), &named);
        assert_eq!(
            verifier.verify(&token).await.unwrap().name.unwrap(),
            "Ann A"
        );
        let modulus = jwk("rsa", RS256, "", true)["n"].as_str().unwrap()[..16].to_owned();
        assert!(!format!("{verifier:?}").contains(&modulus));
    }

    #[tokio::test]
    async fn es256_and_eddsa_verify_from_a_jwks_url_without_issuer_or_audience() {
        let idp = idp(None).await;
        let verifier = start(None, " ", Some(format!("{}/jwks", idp.base)))
            .await
            .unwrap();
        assert_eq!(verifier.issuer(), None);
        let any = claims("https://elsewhere", json!({"aud": "someone"}));
        // Without a kid, the only key able to verify the algorithm.
        let cases = [
            ("ec1", ES256, Some("ec1")),
            ("ed", EdDSA, Some("ed1")),
            ("ed", EdDSA, None),
            ("rsa", RS256, None),
        ];
        for (name, alg, kid) in cases {
            let claims = verifier.verify(&sign(name, alg, kid, &any)).await.unwrap();
            assert_eq!(
                (claims.subject.as_str(), claims.issuer.as_str()),
                ("u1", "https://elsewhere")
            );
        }
    }

    #[tokio::test]
    async fn time_issuer_audience_and_subject_are_checked() {
        let idp = idp(None).await;
        let verifier = discovered(&idp).await;
        let cases = [
            (json!({"exp": now() - 30}), None), // within the leeway
            (json!({"exp": now() - 120}), Some(Expired)),
            (json!({"exp": null}), Some(MissingExpiry)),
            (json!({"exp": "soon"}), Some(MissingExpiry)),
            (json!({"nbf": now() + 300}), Some(NotYetValid)),
            (json!({"nbf": now() + 30}), None),
            (json!({"iss": "https://evil.example"}), Some(WrongIssuer)),
            (json!({"iss": null}), Some(WrongIssuer)),
            (json!({"iss": format!("{}/", idp.base)}), None), // as configured
            (json!({"aud": "other"}), Some(WrongAudience)),
            (json!({"aud": null}), Some(WrongAudience)),
            (json!({"aud": "api"}), None),
            (json!({"sub": null}), Some(MissingSubject)),
            (json!({"sub": 7}), Some(MissingSubject)),
        ];
        for (changes, expected) in cases {
            let token = sign(
                "ec1",
                ES256,
                Some("ec1"),
                &claims(&idp.base, changes.clone()),
            );
            assert_eq!(verifier.verify(&token).await.err(), expected, "{changes}");
        }
    }

    #[tokio::test]
    async fn refused_algorithms_signatures_and_shapes() {
        let idp = idp(None).await;
        let verifier = discovered(&idp).await;
        let good = claims(&idp.base, json!({}));
        let refused = |alg: &str| AlgorithmRefused(alg.into());
        let public = jwk("rsa", RS256, "rsa1", true);
        let modulus = URL_SAFE_NO_PAD
            .decode(public["n"].as_str().unwrap())
            .unwrap();
        let hs = |secret: &[u8], kid| {
            sign_with(
                &EncodingKey::from_secret(secret).unwrap(),
                HS256,
                kid,
                &good,
            )
        };
        let token = sign("rsa", RS256, Some("rsa1"), &good);
        let (head, rest) = token.split_once('.').unwrap();
        let forged_claims = URL_SAFE_NO_PAD.encode(with(&good, json!({"sub": "root"})).to_string());
        let forged = format!("{head}.{forged_claims}.{}", rest.split_once('.').unwrap().1);
        let cases = [
            (
                unsigned(&json!({"alg": "none", "kid": "rsa1"}), &good),
                refused("none"),
            ),
            // HS256 keyed with the RSA public key: its modulus, its JWK's text.
            (hs(&modulus, Some("rsa1")), refused("HS256")),
            (hs(public.to_string().as_bytes(), None), refused("HS256")),
            // rsa1's JWK names RS256; ec1 is no RSA key.
            (sign("rsa", PS256, Some("rsa1"), &good), refused("PS256")),
            (sign("rsa", RS256, Some("ec1"), &good), refused("RS256")),
            (unsigned(&json!({"alg": "ES512"}), &good), refused("ES512")),
            (
                unsigned(&json!({"alg": "<b>x"}), &good),
                refused("(unrecognised)"),
            ),
            (sign("ec2", ES256, Some("ec1"), &good), BadSignature),
            (forged, BadSignature),
            (
                sign(
                    "rsa",
                    RS256,
                    Some("rsa1"),
                    &with(&good, json!({"pad": "x".repeat(17 << 10)})),
                ),
                Malformed,
            ),
            (
                format!("{}.e30.", URL_SAFE_NO_PAD.encode("{alg")),
                Malformed,
            ),
            (format!("{head}.!!.x"), Malformed),
        ];
        for (token, expected) in cases {
            assert_eq!(verifier.verify(&token).await, Err(expected), "{token:.60}");
        }
        for bad in [
            "",
            "a.b",
            "a.b.c",
            "a.b.c.d",
            "!!.e30.x",
            "W10.e30.x",
            "e30.e30.x",
        ] {
            assert_eq!(verifier.verify(bad).await, Err(Malformed), "{bad}");
        }
    }

    #[tokio::test]
    async fn an_unknown_kid_refetches_the_jwks_and_finds_a_rotated_key() {
        let idp = idp(None).await;
        let verifier = discovered(&idp).await;
        let token = sign("ec2", ES256, Some("ec2"), &claims(&idp.base, json!({})));
        let rotated = jwk("ec2", ES256, "ec2", true);
        idp.jwks.lock().unwrap()["keys"]
            .as_array_mut()
            .unwrap()
            .push(rotated);
        assert_eq!(verifier.verify(&token).await.unwrap().subject, "u1");
        assert!(verifier.verify(&token).await.is_ok());
        assert_eq!(idp.jwks_hits.load(SeqCst), 2, "startup and one refetch");
    }

    #[tokio::test]
    async fn unknown_kids_refetch_once_per_interval_even_when_concurrent() {
        let idp = idp(None).await;
        let verifier = discovered(&idp).await;
        let token = sign("ec1", ES256, Some("gone"), &claims(&idp.base, json!({})));
        let results = futures::future::join_all((0..8).map(|_| verifier.verify(&token))).await;
        assert!(results.iter().all(|r| *r == Err(UnknownKey)));
        assert_eq!(verifier.verify(&token).await, Err(UnknownKey));
        assert_eq!(idp.jwks_hits.load(SeqCst), 2, "startup and one refetch");
    }

    #[tokio::test]
    async fn start_explains_what_went_wrong() {
        let idp = idp(Some("https://other.example")).await;
        let url = |path: &str| Some(format!("{}{path}", idp.base));
        let err = start(url(""), "", None).await.unwrap_err();
        assert!(
            err.contains("/.well-known/openid-configuration")
                && err.contains("https://other.example"),
            "{err}"
        );
        let err = start(url("/nope"), "", None).await.unwrap_err();
        assert!(
            err.contains(&format!("{}/nope/.well-known", idp.base)) && err.contains("404"),
            "{err}"
        );
        let err = start(None, "", url("/.well-known/openid-configuration"))
            .await
            .unwrap_err();
        assert!(err.contains("no \"keys\""), "{err}");
        *idp.jwks.lock().unwrap() = json!({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]});
        let err = start(None, "", url("/jwks")).await.unwrap_err();
        assert!(err.contains("no usable signing key"), "{err}");
        assert!(
            start(None, "api", None)
                .await
                .unwrap_err()
                .contains("an issuer")
        );
    }

    #[test]
    fn openwebui_tokens() {
        let secret = b"shared-secret";
        let good = json!({
            "sub": "u9", "iss": "open-webui", "email": "e@x.y", "name": "Eve", "role": "user",
            "exp": now() + 60,
        });
        let hs = |changes, secret: &[u8]| {
            sign_with(
                &EncodingKey::from_secret(secret).unwrap(),
                HS256,
                None,
                &with(&good, changes),
            )
        };
        let claims = verify_openwebui(&hs(json!({}), secret), secret).unwrap();
        assert_eq!(
            (
                claims.subject.as_str(),
                claims.issuer.as_str(),
                claims.email.as_deref()
            ),
            ("u9", "open-webui", Some("e@x.y"))
        );
        assert_eq!(
            (claims.name.as_deref(), claims.roles),
            (Some("Eve"), vec!["user".to_owned()])
        );
        let cases = [
            (hs(json!({}), b"guess"), BadSignature),
            (hs(json!({"iss": "x"}), secret), WrongIssuer),
            (hs(json!({"exp": now() - 120}), secret), Expired),
            (hs(json!({"exp": null}), secret), MissingExpiry),
            (
                sign("rsa", RS256, None, &good),
                AlgorithmRefused("RS256".into()),
            ),
            (
                unsigned(&json!({"alg": "none"}), &good),
                AlgorithmRefused("none".into()),
            ),
        ];
        for (token, expected) in cases {
            assert_eq!(verify_openwebui(&token, secret), Err(expected));
        }
        assert!(matches!(
            verify_openwebui(&hs(json!({}), secret), b""),
            Err(KeysUnavailable(_))
        ));
    }

    #[test]
    fn jwt_shapes() {
        let claims = claims("i", json!({}));
        assert!(looks_like_jwt(&sign("ed", EdDSA, None, &claims)));
        assert!(looks_like_jwt(&unsigned(&json!({"alg": "none"}), &claims)));
        let not = [
            "sk-abc.def",
            "sk-abc.def.ghi",
            "",
            "..",
            "e30.e30.e30",
            "W10.e30.x",
            "eyJhbGciOiJIUzI1NiJ9=.e30.x",
        ];
        for token in not
            .into_iter()
            .chain(["eyJhbGciOiJIUzI1NiJ9.a b.c", "mcpo_0123456789abcdef"])
        {
            assert!(!looks_like_jwt(token), "{token}");
        }
    }
}
