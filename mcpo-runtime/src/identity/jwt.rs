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
    #[error("token type not accepted: an access token (typ JWT or at+jwt) is")]
    TypeRefused,
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

/// The `typ` values of a token that may be a caller's: plain JWTs (OIDC
/// providers' access tokens, Open WebUI's) and RFC 9068 access tokens.
const ACCESS_TOKEN_TYPES: [&str; 3] = ["JWT", "at+jwt", "application/at+jwt"];

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
    // Other JWTs an issuer signs with the same keys (logout tokens, DPoP
    // proofs, security events) say so in `typ`: none of them is a caller.
    match header.get("typ") {
        None | Some(Value::Null) => {}
        Some(Value::String(typ))
            if ACCESS_TOKEN_TYPES
                .iter()
                .any(|t| t.eq_ignore_ascii_case(typ)) => {}
        Some(_) => return Err(TokenError::TypeRefused),
    }
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
mod tests;
