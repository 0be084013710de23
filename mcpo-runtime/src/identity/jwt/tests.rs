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

/// An RS256 token of key `rsa1` whose header says `typ`.
fn sign_rsa1_typed(typ: &str, claims: &Value) -> String {
    let header = Header {
        kid: Some("rsa1".into()),
        typ: Some(typ.into()),
        ..Header::new(RS256)
    };
    encode(&header, claims, &key("rsa")).unwrap()
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
    let doc = json!({"issuer": advertised.unwrap_or(&base), "jwks_uri": format!("{base}/jwks")});
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
        // Signed by the issuer's key, but not an access token.
        (sign_rsa1_typed("logout+jwt", &good), TypeRefused),
    ];
    for (token, expected) in cases {
        assert_eq!(verifier.verify(&token).await, Err(expected), "{token:.60}");
    }
    // An RFC 9068 access token says so, and is one.
    let access_token = sign_rsa1_typed("at+jwt", &good);
    assert!(verifier.verify(&access_token).await.is_ok());
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
        err.contains("/.well-known/openid-configuration") && err.contains("https://other.example"),
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
