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
    fn len(&self) -> usize {
        self.by_kid.len() + self.kidless.len()
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
                    format!("OIDC discovery at {url} failed: {e}; check that the issuer URL is right and reachable, or give the JWKS URL directly")
                })?;
                let published = doc
                    .get("issuer")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                if published.trim_end_matches('/') != configured.trim_end_matches('/') {
                    return Err(format!(
                        "OIDC discovery at {url} names the issuer {published:?}, not the configured {configured:?}: configure the issuer the provider publishes"
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
        let keys = fetch_keys(&http, &jwks_url)
            .await
            .map_err(|e| format!("the JWKS at {jwks_url} could not be used: {e}; check the URL and that it serves the issuer's public keys"))?;
        if keys.len() == 0 {
            return Err(format!(
                "the JWKS at {jwks_url} has no usable signing key (RSA, EC P-256/P-384 or Ed25519, with `use` \"sig\" or none): check the URL"
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

    /// Verifies a bearer token (see the module's tests for every refusal).
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
                tracing::warn!(jwks_url = %self.jwks_url, "refetching the JWKS for an unknown kid failed: {e}");
                Err(TokenError::KeysUnavailable(
                    "the issuer's keys could not be fetched".into(),
                ))
            }
        }
    }
}

/// Open WebUI's `X-OpenWebUI-User-Jwt`: HS256 with the shared secret, `iss` "open-webui", `exp` required.
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
        email: text("email"),
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

    use axum::{Json, Router, routing::get};
    use base64::engine::general_purpose::STANDARD;
    use jsonwebtoken::{EncodingKey, Header, encode, get_current_timestamp as now};
    use serde_json::json;

    use super::*;

    const EC1: &str = "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgsnu3wGPc1iZs/QApkc3xVWJITNncYmcD5igAxSTH7e6hRANCAAQcUTXJ8n+B+NmNA1mgNphXLVk2PAVr5V5+AV7uI3OIK0qw+CuRWaVxtokpBU/oZDL6JqrNRXuKXse5uhZRxz3S";
    const EC2: &str = "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgEF+WBHAqJnG2mU0ibt2RKnRzg2cGGk9xS1zFCLup+VChRANCAAQKicrGeGCqKaYjRjg3D86tttql47V84HkXM9+Kj4K2bqxEtYdBqTA94oedsNAnVrtqYkE6fh1meHk4b+RPSW5T";
    const ED: &str = "MC4CAQAwBQYDK2VwBCIEIGEXl+NB4A/1UPqzONsGwsUYPTXg4xAimkWRNZUPTwkR";
    // Made with openssl for these tests only: RSA-2048 (PKCS#1), P-256 and Ed25519 (PKCS#8), DER.
    const RSA: &str = "MIIEpQIBAAKCAQEAx864BCmMOuS+3kGjIq3SK7GBdiPyfTaHJKRiYLAG+FzV1HBx19KI7clF22fJJB7z9A7fbRS/KJYTwxQaul1/UmgKWsp+YAFyQMSxiBhb2JHaFpcHwa6I+4ja13zhXcgDg31JAl74W/nVK73T5vMBOTb6ucfZoqns/W+UCPt9FWj0+BDvFuwbQmdKMwVKhhcWHKcXADc+VlHSyDwzpLFuXJqe9XhhvQmUihS8TiuAsl45XIy4INsuWh66NpQm6UxbV1cFgPwQQQKcMDccX/VpAts6/VzNS/2TUe27bROsWN9M+aoiL/zY8ziWR9bvCRCmZ8ZqeuZ38PA6LhMgTaq5/QIDAQABAoIBAAx1dN75kj9n3Qjx0dDLQuQrlNV/h1LMcB/WSjYaM80PyNuOyWJ6Q8SD/OGh9pZUgcSxmrfsB8FpnkDXQ5VkWBiU2TRxFPE6ldu5CBLi5fM6oP0wnLC0h+EbVv4B0PGuk52C1ecaceUWTncERq7Lb0OYjIjCD+2HJ/pjlzj6KYIIpaIkE59dkKq5H1pCCIV0wgNZeRn1D5S3/aA3wI+WEK74ggsQSodEFA3/9grU04/GT+pZWsPkwdXgJ/BQMx6WytQ05u+/eL1DuPu5Vnq4NL/ZM7quJCfzDv9zd8bSXcgp6joo8zpM0e8GGnpqNKi/f2gG7YHC/T82fN3Aw2ln2vECgYEA7xKB99104V5N4y1PGvzt6ys1OBnrYCe8OFG7lNFMeutSznE1BMN8RH8SjzG25f0ajGgG49vkjkanIgPvZu2IbfCwQ4FUqFm9moqGZDY9VTaT9CzElGUnkdDkUNW2oP7Eo/LefeDEBXikJps+2bm80bY/JA/fdGvXct5DB6+1VMUCgYEA1fR8eAbeLoC5xQdxCgMNEsFdi532UsdXJ98gsWkDxW1icBne19GT3s6GAraaOsKtqNeARyUzaIBYYKIkvQ1n0AU5NqqGVHfzhUy2wH2/AGfkcuSmM9Jea1e5b3WeuLCK1V/tulhNc/xg6QxeAaRj07iOGe2Ul3GxgLoNGjQyU9kCgYEAhKYFPQ1AS8eyealrKfNK42AvADjJc6m4cptO9EyJHe6yHF+N5l289ph3KMKR09xyvZL+t7ELiLHFDEeYrsh/GVkhw+LfoSVh4XyZAsNhloVY5HNug1P495wrAnsCASQ64SjhsIBk4xBELDOZVN8M2GNBd3XjK0qm2VJfaMViXG0CgYEAzcvzBYilodlT1v8HbfftVUMFdcwlKQ5w+PsYeU1nwTkr3GQmAzWlpETGhkmaJDcpzyQqUUSpJDV/zMNpzybb2i2MENcJiqouZOObTaAmXn+QMCta6rHI/DtPNLTQTRoTEJbLFdjl91Ck7sVkjvPOydHVbX8m1F0ZvZY4ECJw3lECgYEAiuwXrh5OYqDZvn9EiJhzPj90dZVZHuNEWn6AQq3OwI5XahIrXJgBajiWk62HBaR9RWHWqcQmY7ey9YhhvlczubL0tVeDIj+Woovk2o4xFo9xYUcIuT7qWM+d5gqlDbjmozoBdTX7I/ZUJzmIohcMZQfAEwfeB5N+UjE22e34Pv0=";

    fn key(alg: Algorithm) -> EncodingKey {
        let der = |b64: &str| STANDARD.decode(b64).unwrap();
        match alg {
            Algorithm::ES256 => EncodingKey::from_ec_der(&der(EC1)),
            Algorithm::ES384 => EncodingKey::from_ec_der(&der(EC2)), // ES384 here means "the second P-256 key"
            Algorithm::EdDSA => EncodingKey::from_ed_der(&der(ED)),
            _ => EncodingKey::from_rsa_der(&der(RSA)),
        }
    }

    /// The public JWK of a test key, with `use` "sig"; `alg` named or removed.
    fn jwk(which: Algorithm, alg: Algorithm, kid: &str, name_alg: bool) -> Value {
        let mut jwk =
            serde_json::to_value(Jwk::from_encoding_key(&key(which), alg).unwrap()).unwrap();
        jwk["kid"] = json!(kid);
        jwk["use"] = json!("sig");
        if !name_alg {
            jwk.as_object_mut().unwrap().remove("alg");
        }
        jwk
    }

    fn sign(which: Algorithm, alg: Algorithm, kid: Option<&str>, claims: &Value) -> String {
        let mut header = Header::new(alg);
        header.kid = kid.map(str::to_owned);
        encode(&header, claims, &key(which)).unwrap()
    }

    /// A token with any header, signed with nothing.
    fn unsigned(header: &Value, claims: &Value) -> String {
        let part = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
        format!("{}.{}.", part(header), part(claims))
    }

    struct Idp {
        base: String,
        jwks: Arc<StdMutex<Value>>,
        jwks_hits: Arc<AtomicUsize>,
    }

    /// An issuer on a local port serving discovery (naming `advertised` or its own URL) and a JWKS.
    async fn idp(advertised: Option<&str>) -> Idp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let keys = json!({"keys": [
            jwk(Algorithm::RS256, Algorithm::RS256, "rsa1", true),
            jwk(Algorithm::ES256, Algorithm::ES256, "ec1", false),
            jwk(Algorithm::EdDSA, Algorithm::EdDSA, "ed1", false),
            // Skipped: an encryption key, a symmetric one, unknown types, an unsupported curve.
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
        let app = Router::new()
            .route(
                "/.well-known/openid-configuration",
                get(move || async move { Json(doc) }),
            )
            .route(
                "/jwks",
                get(move || {
                    hits.fetch_add(1, SeqCst);
                    let keys = served.lock().unwrap().clone();
                    async move { Json(keys) }
                }),
            );
        tokio::spawn(async move { axum::serve(listener, app).await });
        Idp {
            base,
            jwks,
            jwks_hits,
        }
    }

    fn http() -> reqwest::Client {
        reqwest::Client::builder().no_proxy().build().unwrap()
    }

    /// A verifier by discovery, configured with a trailing slash, audience "api".
    async fn discovered(idp: &Idp) -> OidcVerifier {
        let settings = JwtSettings {
            issuer: Some(format!("{}/", idp.base)),
            audience: Some("api".into()),
            jwks_url: None,
        };
        OidcVerifier::start(settings, http()).await.unwrap()
    }

    fn claims(iss: &str) -> Value {
        json!({"sub": "u1", "iss": iss, "aud": ["api", "other"], "exp": now() + 300})
    }

    fn with(mut claims: Value, changes: Value) -> Value {
        for (k, v) in changes.as_object().unwrap() {
            match v {
                Value::Null => claims.as_object_mut().unwrap().remove(k),
                v => claims.as_object_mut().unwrap().insert(k.clone(), v.clone()),
            };
        }
        claims
    }

    #[tokio::test]
    async fn rs256_token_verifies_with_claims_mapped() {
        let idp = idp(None).await;
        let verifier = discovered(&idp).await;
        assert_eq!(verifier.issuer(), Some(idp.base.as_str()));
        let exp = now() + 300;
        let token = sign(
            Algorithm::RS256,
            Algorithm::RS256,
            Some("rsa1"),
            &with(
                claims(&idp.base),
                json!({"exp": exp, "email": "a@b.c", "preferred_username": "ann",
                "role": "admin", "roles": ["admin", "editor"], "groups": ["g1", "g2"], "scope": "read  write", "scp": ["read", "x"]}),
            ),
        );
        let expected = Claims {
            subject: "u1".into(),
            issuer: idp.base.clone(),
            email: Some("a@b.c".into()),
            name: Some("ann".into()),
            roles: vec!["admin".into(), "editor".into()],
            groups: vec!["g1".into(), "g2".into()],
            scopes: vec!["read".into(), "write".into(), "x".into()],
            expires_at: Some(exp),
        };
        assert_eq!(verifier.verify(&token).await, Ok(expected));
        let named = with(
            claims(&idp.base),
            json!({"name": "Ann A", "preferred_username": "ann"}),
        );
        let token = sign(Algorithm::RS256, Algorithm::RS256, Some("rsa1"), &named);
        assert_eq!(
            verifier.verify(&token).await.unwrap().name.as_deref(),
            Some("Ann A")
        );
        assert!(
            !format!("{verifier:?}").contains(
                &jwk(Algorithm::RS256, Algorithm::RS256, "", true)["n"]
                    .as_str()
                    .unwrap()[..20]
            )
        );
    }

    #[tokio::test]
    async fn es256_and_eddsa_verify_from_a_jwks_url_without_issuer_or_audience() {
        let idp = idp(None).await;
        let settings = JwtSettings {
            jwks_url: Some(format!("{}/jwks", idp.base)),
            ..Default::default()
        };
        let verifier = OidcVerifier::start(settings, http()).await.unwrap();
        assert_eq!(verifier.issuer(), None);
        let any = with(claims("https://elsewhere"), json!({"aud": "someone"}));
        for (alg, kid) in [
            (Algorithm::ES256, Some("ec1")),
            (Algorithm::EdDSA, Some("ed1")),
            (Algorithm::EdDSA, None),
        ] {
            let claims = verifier.verify(&sign(alg, alg, kid, &any)).await.unwrap();
            assert_eq!(
                (claims.subject.as_str(), claims.issuer.as_str()),
                ("u1", "https://elsewhere")
            );
        }
        // No kid and several RSA-family keys? Only one here, so RS256 finds it too.
        assert!(
            verifier
                .verify(&sign(Algorithm::RS256, Algorithm::RS256, None, &any))
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn time_issuer_audience_and_subject_are_checked() {
        let idp = idp(None).await;
        let verifier = discovered(&idp).await;
        let check = |changes: Value| {
            let token = sign(
                Algorithm::ES256,
                Algorithm::ES256,
                Some("ec1"),
                &with(claims(&idp.base), changes),
            );
            let verifier = &verifier;
            async move { verifier.verify(&token).await.err() }
        };
        assert_eq!(
            check(json!({"exp": now() - 30})).await,
            None,
            "within the leeway"
        );
        assert_eq!(
            check(json!({"exp": now() - 120})).await,
            Some(TokenError::Expired)
        );
        assert_eq!(
            check(json!({"exp": null})).await,
            Some(TokenError::MissingExpiry)
        );
        assert_eq!(
            check(json!({"exp": "soon"})).await,
            Some(TokenError::MissingExpiry)
        );
        assert_eq!(
            check(json!({"nbf": now() + 300})).await,
            Some(TokenError::NotYetValid)
        );
        assert_eq!(check(json!({"nbf": now() + 30})).await, None);
        assert_eq!(
            check(json!({"iss": "https://evil.example"})).await,
            Some(TokenError::WrongIssuer)
        );
        assert_eq!(
            check(json!({"iss": null})).await,
            Some(TokenError::WrongIssuer)
        );
        assert_eq!(
            check(json!({"iss": format!("{}/", idp.base)})).await,
            None,
            "the configured spelling"
        );
        assert_eq!(
            check(json!({"aud": "other"})).await,
            Some(TokenError::WrongAudience)
        );
        assert_eq!(
            check(json!({"aud": null})).await,
            Some(TokenError::WrongAudience)
        );
        assert_eq!(check(json!({"aud": "api"})).await, None);
        assert_eq!(
            check(json!({"sub": null})).await,
            Some(TokenError::MissingSubject)
        );
        assert_eq!(
            check(json!({"sub": 7})).await,
            Some(TokenError::MissingSubject)
        );
    }

    #[tokio::test]
    async fn refused_algorithms_signatures_and_shapes() {
        let idp = idp(None).await;
        let verifier = discovered(&idp).await;
        let good = claims(&idp.base);
        let refused = |alg: &str| Err(TokenError::AlgorithmRefused(alg.into()));
        let none = unsigned(&json!({"alg": "none", "kid": "rsa1"}), &good);
        assert_eq!(verifier.verify(&none).await, refused("none"));
        // HS256 "signed" with the RSA public key, as modulus bytes and as the JWK's text.
        let public = jwk(Algorithm::RS256, Algorithm::RS256, "rsa1", true);
        let n = URL_SAFE_NO_PAD
            .decode(public["n"].as_str().unwrap())
            .unwrap();
        for (secret, kid) in [(n, Some("rsa1")), (public.to_string().into_bytes(), None)] {
            let mut header = Header::new(Algorithm::HS256);
            header.kid = kid.map(str::to_owned);
            let token =
                encode(&header, &good, &EncodingKey::from_secret(&secret).unwrap()).unwrap();
            assert_eq!(verifier.verify(&token).await, refused("HS256"));
        }
        // rsa1's JWK names RS256; ec1 is no RSA key.
        assert_eq!(
            verifier
                .verify(&sign(
                    Algorithm::PS256,
                    Algorithm::PS256,
                    Some("rsa1"),
                    &good
                ))
                .await,
            refused("PS256")
        );
        assert_eq!(
            verifier
                .verify(&sign(
                    Algorithm::RS256,
                    Algorithm::RS256,
                    Some("ec1"),
                    &good
                ))
                .await,
            refused("RS256")
        );
        assert_eq!(
            verifier
                .verify(&unsigned(&json!({"alg": "ES512"}), &good))
                .await,
            refused("ES512")
        );
        assert_eq!(
            verifier
                .verify(&unsigned(&json!({"alg": "<b>x"}), &good))
                .await,
            refused("(unrecognised)")
        );
        // Signed by the second P-256 key under ec1's kid; a payload changed after signing.
        let other = sign(Algorithm::ES384, Algorithm::ES256, Some("ec1"), &good);
        assert_eq!(verifier.verify(&other).await, Err(TokenError::BadSignature));
        let token = sign(Algorithm::RS256, Algorithm::RS256, Some("rsa1"), &good);
        let (head, rest) = token.split_once('.').unwrap();
        let sig = rest.split_once('.').unwrap().1;
        let forged = format!(
            "{head}.{}.{sig}",
            URL_SAFE_NO_PAD.encode(with(good.clone(), json!({"sub": "root"})).to_string())
        );
        assert_eq!(
            verifier.verify(&forged).await,
            Err(TokenError::BadSignature)
        );
        let huge = sign(
            Algorithm::RS256,
            Algorithm::RS256,
            Some("rsa1"),
            &with(good, json!({"pad": "x".repeat(17 * 1024)})),
        );
        let not_json = format!("{}.e30.", URL_SAFE_NO_PAD.encode("{alg"));
        for bad in [
            "",
            "a.b",
            "a.b.c",
            "a.b.c.d",
            "!!.e30.x",
            &huge,
            &not_json,
            "W10.e30.x",
            "e30.e30.x",
        ] {
            assert_eq!(
                verifier.verify(bad).await,
                Err(TokenError::Malformed),
                "{bad:.40}"
            );
        }
        assert_eq!(
            verifier.verify(&format!("{head}.!!.x")).await,
            Err(TokenError::Malformed)
        );
    }

    #[tokio::test]
    async fn an_unknown_kid_refetches_the_jwks_and_finds_a_rotated_key() {
        let idp = idp(None).await;
        let verifier = discovered(&idp).await;
        let token = sign(
            Algorithm::ES384,
            Algorithm::ES256,
            Some("ec2"),
            &claims(&idp.base),
        );
        idp.jwks.lock().unwrap()["keys"]
            .as_array_mut()
            .unwrap()
            .push(jwk(Algorithm::ES384, Algorithm::ES256, "ec2", true));
        assert_eq!(verifier.verify(&token).await.unwrap().subject, "u1");
        assert_eq!(idp.jwks_hits.load(SeqCst), 2);
        assert!(verifier.verify(&token).await.is_ok());
        assert_eq!(idp.jwks_hits.load(SeqCst), 2);
    }

    #[tokio::test]
    async fn unknown_kids_refetch_once_per_interval_even_when_concurrent() {
        let idp = idp(None).await;
        let verifier = discovered(&idp).await;
        let token = sign(
            Algorithm::ES256,
            Algorithm::ES256,
            Some("gone"),
            &claims(&idp.base),
        );
        let results = futures::future::join_all((0..8).map(|_| verifier.verify(&token))).await;
        assert!(results.iter().all(|r| *r == Err(TokenError::UnknownKey)));
        assert_eq!(verifier.verify(&token).await, Err(TokenError::UnknownKey));
        assert_eq!(idp.jwks_hits.load(SeqCst), 2, "startup and one refetch");
    }

    #[tokio::test]
    async fn start_explains_what_went_wrong() {
        let idp = idp(Some("https://other.example")).await;
        let start = |issuer: Option<String>, jwks_url: Option<String>| {
            OidcVerifier::start(
                JwtSettings {
                    issuer,
                    audience: None,
                    jwks_url,
                },
                http(),
            )
        };
        let err = start(Some(idp.base.clone()), None).await.unwrap_err();
        assert!(
            err.contains("/.well-known/openid-configuration")
                && err.contains("https://other.example"),
            "{err}"
        );
        let err = start(Some(format!("{}/nope", idp.base)), None)
            .await
            .unwrap_err();
        assert!(
            err.contains(&format!("{}/nope/.well-known", idp.base)) && err.contains("404"),
            "{err}"
        );
        let err = start(
            None,
            Some(format!("{}/.well-known/openid-configuration", idp.base)),
        )
        .await
        .unwrap_err();
        assert!(err.contains("no \"keys\""), "{err}");
        *idp.jwks.lock().unwrap() = json!({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]});
        let err = start(None, Some(format!("{}/jwks", idp.base)))
            .await
            .unwrap_err();
        assert!(err.contains("no usable signing key"), "{err}");
        assert!(start(None, None).await.unwrap_err().contains("issuer"));
    }

    #[test]
    fn openwebui_tokens() {
        let secret = b"shared-secret";
        let good = json!({"sub": "u9", "iss": "open-webui", "email": "e@x.y", "name": "Eve", "role": "user", "exp": now() + 60});
        let hs = |claims: &Value, secret: &[u8]| {
            encode(
                &Header::new(Algorithm::HS256),
                claims,
                &EncodingKey::from_secret(secret).unwrap(),
            )
            .unwrap()
        };
        let claims = verify_openwebui(&hs(&good, secret), secret).unwrap();
        assert_eq!(
            (claims.subject.as_str(), claims.issuer.as_str()),
            ("u9", "open-webui")
        );
        assert_eq!(
            (
                claims.email.as_deref(),
                claims.name.as_deref(),
                claims.roles
            ),
            (Some("e@x.y"), Some("Eve"), vec!["user".to_owned()])
        );
        assert_eq!(
            verify_openwebui(&hs(&good, b"guess"), secret),
            Err(TokenError::BadSignature)
        );
        assert_eq!(
            verify_openwebui(
                &hs(&with(good.clone(), json!({"iss": "x"})), secret),
                secret
            ),
            Err(TokenError::WrongIssuer)
        );
        assert_eq!(
            verify_openwebui(
                &hs(&with(good.clone(), json!({"exp": now() - 120})), secret),
                secret
            ),
            Err(TokenError::Expired)
        );
        assert_eq!(
            verify_openwebui(
                &hs(&with(good.clone(), json!({"exp": null})), secret),
                secret
            ),
            Err(TokenError::MissingExpiry)
        );
        let rs = sign(Algorithm::RS256, Algorithm::RS256, None, &good);
        assert_eq!(
            verify_openwebui(&rs, secret),
            Err(TokenError::AlgorithmRefused("RS256".into()))
        );
        let none = unsigned(&json!({"alg": "none"}), &good);
        assert_eq!(
            verify_openwebui(&none, secret),
            Err(TokenError::AlgorithmRefused("none".into()))
        );
        assert!(matches!(
            verify_openwebui(&hs(&good, secret), b""),
            Err(TokenError::KeysUnavailable(_))
        ));
    }

    #[test]
    fn jwt_shapes() {
        let claims = claims("i");
        assert!(looks_like_jwt(&sign(
            Algorithm::EdDSA,
            Algorithm::EdDSA,
            None,
            &claims
        )));
        assert!(looks_like_jwt(&unsigned(&json!({"alg": "none"}), &claims)));
        for not in [
            "sk-abc.def",
            "sk-abc.def.ghi",
            "",
            "..",
            "e30.e30.e30",
            "W10.e30.x",
            "eyJhbGciOiJIUzI1NiJ9.a b.c",
            "eyJhbGciOiJIUzI1NiJ9=.e30.x",
        ] {
            assert!(!looks_like_jwt(not), "{not}");
        }
    }
}
