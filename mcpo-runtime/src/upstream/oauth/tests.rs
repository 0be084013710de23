use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use rmcp::transport::auth::{CredentialStore as _, StoredCredentials};
use rmcp::transport::streamable_http_client::StreamableHttpError;
use tokio::io::AsyncWriteExt as _;

use super::authorize::{probe_challenge, start};
use super::scopes::{record_pending_scopes, scopes_to_request};
use super::store::{TokenFile, make_private};
use super::*;

#[test]
fn token_keys_name_the_host_and_differ_by_url() {
    let a = token_key("http://127.0.0.1:8080/mcp");
    assert!(a.starts_with("127.0.0.1_8080-"), "{a}");
    assert_eq!(a.len(), "127.0.0.1_8080-".len() + 16);
    assert_ne!(a, token_key("http://127.0.0.1:8080/other"));
    assert!(token_key("https://mcp.example.com/").starts_with("mcp.example.com-"));
}

#[cfg(unix)]
#[test]
fn token_files_are_private() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = std::env::temp_dir().join(format!("mcpo-oauth-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let path = dir.join("tokens").join("x.json");
    let store = TokenStore::File(path.clone());
    let file = TokenFile {
        server_url: "http://127.0.0.1:1/mcp".into(),
        client_secret: Some("hush".into()),
        credentials: StoredCredentials::new("client".into(), None, vec![], None),
        pending_scopes: Vec::new(),
    };
    store.write(&file).unwrap();
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(path.parent().unwrap()), 0o700);
    // Rewritten (a refresh): still private, still one file.
    store.write(&file).unwrap();
    assert_eq!(mode(&path), 0o600);
    assert_eq!(
        std::fs::read_dir(path.parent().unwrap()).unwrap().count(),
        1
    );
    let read = store.read().unwrap().unwrap();
    assert_eq!(read.credentials.client_id, "client");
    assert!(!format!("{read:?}").contains("hush"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn settings_keep_no_secret_and_default_compactly() {
    let settings: OAuthSettings = serde_json::from_value(serde_json::json!({
        "client_metadata": {"client_name": "x", "client_secret": "hush", "scope": "a b"}
    }))
    .unwrap();
    let settings = settings.without_secrets();
    assert_eq!(settings.callback_port, DEFAULT_CALLBACK_PORT);
    assert!(settings.use_loopback);
    assert_eq!(settings.scopes(), ["a", "b"]);
    let json = serde_json::to_string(&settings).unwrap();
    assert!(!json.contains("hush"), "{json}");
    assert_eq!(
        json,
        r#"{"client_metadata":{"client_name":"x","scope":"a b"}}"#
    );
    let target = OAuthTarget {
        client_secret: Some("hush".into()),
        ..OAuthTarget::new(settings)
    };
    assert!(!format!("{target:?}").contains("hush"));
}

/// A protected resource at `/mcp` and its authorization server: PRM,
/// RFC 8414 metadata, registration, and a token endpoint that records
/// each form it gets and issues `token-N` (expiring in `expires_in`).
async fn authorization_server(
    expires_in: u64,
) -> (String, Arc<StdMutex<Vec<HashMap<String, String>>>>) {
    let (base, forms, _paths) = authorization_server_with(expires_in, Value::Null, None).await;
    (base, forms)
}

/// [`authorization_server`] whose authorization server metadata has the
/// fields of `advertise` too (over its own), whose challenge names
/// `resource_metadata` when given, and which also records the path of
/// every request.
async fn authorization_server_with(
    expires_in: u64,
    advertise: Value,
    resource_metadata: Option<String>,
) -> (
    String,
    Arc<StdMutex<Vec<HashMap<String, String>>>>,
    Arc<StdMutex<Vec<String>>>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let forms = Arc::new(StdMutex::new(Vec::new()));
    let paths = Arc::new(StdMutex::new(Vec::new()));
    let (root, seen, requested) = (base.clone(), forms.clone(), paths.clone());
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let (base, seen, requested) = (root.clone(), seen.clone(), requested.clone());
            let (advertise, resource_metadata) = (advertise.clone(), resource_metadata.clone());
            tokio::spawn(async move {
                let Some((head, body)) = super::super::test_http::read_request(&mut stream).await
                else {
                    return;
                };
                let path = head.split_whitespace().nth(1).unwrap_or("").to_string();
                requested.lock().unwrap().push(path.clone());
                let json = |value: Value| (200, value.to_string(), String::new());
                let resource_metadata = resource_metadata
                    .unwrap_or_else(|| format!("{base}/.well-known/oauth-protected-resource/mcp"));
                let (status, body, extra) = match path.as_str() {
                    "/mcp" => (
                        401,
                        String::new(),
                        format!(
                            "www-authenticate: Bearer resource_metadata=\"{resource_metadata}\", scope=\"mcp:tools\"\r\n"
                        ),
                    ),
                    p if p.starts_with("/.well-known/oauth-protected-resource") => {
                        json(serde_json::json!({"resource": format!("{base}/mcp"),
                                "authorization_servers": [base], "scopes_supported": ["mcp:tools"]}))
                    }
                    p if p.starts_with("/.well-known/oauth-authorization-server") => {
                        let mut metadata = serde_json::json!({"issuer": base,
                                "authorization_endpoint": format!("{base}/authorize"),
                                "token_endpoint": format!("{base}/token"),
                                "registration_endpoint": format!("{base}/register"),
                                "response_types_supported": ["code"],
                                "code_challenge_methods_supported": ["S256"]});
                        if let Value::Object(fields) = advertise {
                            for (field, value) in fields {
                                metadata[field] = value;
                            }
                        }
                        json(metadata)
                    }
                    "/register" => {
                        json(serde_json::json!({"client_id": "registered", "redirect_uris": []}))
                    }
                    "/token" => {
                        let form: HashMap<String, String> = reqwest::Url::parse(&format!(
                            "http://form/?{}",
                            String::from_utf8_lossy(&body)
                        ))
                        .map(|url| url.query_pairs().into_owned().collect())
                        .unwrap_or_default();
                        let n = {
                            let mut seen = seen.lock().unwrap();
                            seen.push(form);
                            seen.len()
                        };
                        json(serde_json::json!({"access_token": format!("token-{n}"),
                                "token_type": "Bearer", "expires_in": expires_in,
                                "refresh_token": format!("refresh-{n}"), "scope": "mcp:tools"}))
                    }
                    _ => (404, String::new(), String::new()),
                };
                let response = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\n{extra}\
                         content-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    (base, forms, paths)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_flow_sends_pkce_and_resource_checks_state_and_refreshes_on_expiry() {
    let (base, forms) = authorization_server(1).await;
    let upstream = format!("{base}/mcp");
    let mut settings = OAuthSettings::new();
    settings.storage_type = StorageType::Memory;
    let oauth = OAuthTarget::new(settings);
    let challenge = probe_challenge(&upstream, false, None).await;
    assert!(
        challenge
            .as_deref()
            .is_some_and(|c| c.contains("resource_metadata"))
    );
    let redirect = "http://127.0.0.1:1/callback".to_string();
    let (session, url, state) = start(&upstream, &oauth, challenge, None, redirect)
        .await
        .unwrap();
    let authorization = Authorization {
        session,
        url: url.clone(),
        state: state.clone(),
        store: oauth.store(&upstream),
        client_secret: None,
        pending_scopes: Vec::new(),
    };
    let query: HashMap<String, String> = reqwest::Url::parse(&url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    assert_eq!(query["code_challenge_method"], "S256", "{url}");
    assert!(query["code_challenge"].len() >= 43, "{url}");
    assert_eq!(query["resource"], upstream, "{url}");
    assert_eq!(query["client_id"], "registered", "{url}");
    assert_eq!(query["state"], state);
    assert!(query["scope"].contains("mcp:tools"), "{url}");
    // Another flow's redirect is refused (nothing is sent); this one's is
    // taken.
    let forged = "http://127.0.0.1:1/callback?code=c&state=forged";
    assert!(authorization.finish(forged).await.is_err());
    assert!(forms.lock().unwrap().is_empty());
    let redirect = format!("http://127.0.0.1:1/callback?code=the-code&state={state}");
    assert_eq!(authorization.finish(&redirect).await, Ok(Vec::new()));
    {
        let forms = forms.lock().unwrap();
        let exchange = &forms[0];
        assert_eq!(exchange["grant_type"], "authorization_code");
        assert_eq!(exchange["code"], "the-code");
        assert!(exchange["code_verifier"].len() >= 43);
        assert_eq!(exchange["resource"], upstream);
    }
    // The token expires in 1 s: the next use refreshes it first.
    let prepared = Prepared::open(&upstream, &oauth).await.unwrap();
    let access = prepared.into_access();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let token = access.token().await.unwrap();
    assert_eq!(token, "token-2");
    {
        let forms = forms.lock().unwrap();
        assert_eq!(forms[1]["grant_type"], "refresh_token");
        assert_eq!(forms[1]["refresh_token"], "refresh-1");
        assert_eq!(forms[1]["resource"], upstream);
    }
    // A 401 for the current token: one more refresh.
    assert_eq!(access.refresh("token-2").await.unwrap(), "token-3");
    // A 403 insufficient_scope (the SSE transport's): the scope it
    // names and the token lacks is pending.
    access.note_forbidden(r#"Bearer error="insufficient_scope", scope="mcp:tools mcp:admin""#);
    let file = TokenStore::Memory(token_key(&upstream))
        .read()
        .unwrap()
        .unwrap();
    assert_eq!(file.pending_scopes, ["mcp:admin"]);
    // Nothing shows a token.
    for shown in [
        format!("{access:?}"),
        format!("{oauth:?}"),
        format!(
            "{:?}",
            TokenStore::Memory(token_key(&upstream)).read().unwrap()
        ),
    ] {
        assert!(
            !shown.contains("token-") && !shown.contains("refresh-"),
            "{shown}"
        );
    }
    TokenStore::Memory(token_key(&upstream)).remove().unwrap();
    let error = Prepared::open(&upstream, &oauth).await.err().unwrap();
    assert_eq!(
        error.public_reason(),
        format!("needs authorization: run `mcpo-gen login --url {upstream}`")
    );
}

fn stored(granted: &[&str], pending: &[&str]) -> TokenFile {
    TokenFile {
        server_url: "http://127.0.0.1:1/mcp".into(),
        client_secret: None,
        credentials: StoredCredentials::new(
            "client".into(),
            None,
            granted.iter().map(|scope| scope.to_string()).collect(),
            None,
        ),
        pending_scopes: pending.iter().map(|scope| scope.to_string()).collect(),
    }
}

#[tokio::test]
async fn a_403_insufficient_scope_records_the_scopes_until_a_grant_has_them() {
    let key = format!("pending-scope-test-{}", std::process::id());
    let store = TokenStore::Memory(key);
    let watch = ScopeWatch {
        inner: (),
        store: store.clone(),
        server_url: "http://127.0.0.1:1/mcp".into(),
        manager: None,
        redirect: String::new(),
        client_secret: None,
    };
    let refused = |header: &str| -> Result<(), StreamableHttpError<std::io::Error>> {
        Err(StreamableHttpError::InsufficientScope(
            rmcp::transport::streamable_http_client::InsufficientScopeError::new(
                header.to_string(),
                None,
            ),
        ))
    };
    let challenge = r#"Bearer error="insufficient_scope", scope="mcp:basic mcp:write", resource_metadata="http://127.0.0.1:1/.well-known/oauth-protected-resource/mcp""#;
    // No stored tokens: nothing to record into.
    assert!(watch.note(refused(challenge)).is_err());
    assert!(store.read().unwrap().is_none());

    store.write(&stored(&["mcp:basic"], &[])).unwrap();
    assert!(watch.note(refused(challenge)).is_err());
    assert_eq!(store.read().unwrap().unwrap().pending_scopes, ["mcp:write"]);
    // Again, or another error: nothing more.
    let _ = watch.note(refused(challenge));
    let _ = watch.note::<(), std::io::Error>(Err(StreamableHttpError::SessionExpired));
    let _ = watch.note(refused(r#"Bearer error="invalid_token", scope="other""#));
    assert_eq!(store.read().unwrap().unwrap().pending_scopes, ["mcp:write"]);
    assert!(!record_pending_scopes(&store, &["mcp:basic".into()]).unwrap());

    // A refresh (same grant) keeps them; a grant with them clears them.
    let rmcp_store = Store {
        store: store.clone(),
        server_url: "http://127.0.0.1:1/mcp".into(),
        client_secret: None,
    };
    rmcp_store
        .save(stored(&["mcp:basic"], &[]).credentials)
        .await
        .unwrap();
    assert_eq!(store.read().unwrap().unwrap().pending_scopes, ["mcp:write"]);
    rmcp_store
        .save(stored(&["mcp:basic", "mcp:write"], &[]).credentials)
        .await
        .unwrap();
    assert!(store.read().unwrap().unwrap().pending_scopes.is_empty());
    store.remove().unwrap();
}

#[test]
fn an_authorization_asks_for_the_union_of_scopes() {
    let owned = |scopes: &[&str]| scopes.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let set = |scopes: &[&str]| owned(scopes).into_iter().collect::<BTreeSet<_>>();
    // Nothing known: rmcp picks from the metadata.
    assert!(scopes_to_request(vec![], vec![], None, false).is_empty());
    assert!(scopes_to_request(vec![], vec![], Some(&stored(&["a"], &[])), false).is_empty());
    // Step-up: granted + pending.
    assert_eq!(
        scopes_to_request(vec![], vec![], Some(&stored(&["a"], &["b"])), false),
        set(&["a", "b"])
    );
    // Configured + challenge + granted + pending.
    assert_eq!(
        scopes_to_request(
            owned(&["c"]),
            owned(&["d", "a"]),
            Some(&stored(&["a"], &["b"])),
            true
        ),
        set(&["a", "b", "c", "d"])
    );
    assert_eq!(
        scopes_to_request(vec![], owned(&["d"]), Some(&stored(&["a"], &[])), true),
        set(&["a", "d"])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_next_authorization_url_asks_for_the_pending_scopes() {
    let (base, _forms) = authorization_server(3600).await;
    let upstream = format!("{base}/mcp");
    let mut settings = OAuthSettings::new();
    settings.storage_type = StorageType::Memory;
    let oauth = OAuthTarget::new(settings);
    let store = oauth.store(&upstream);
    store
        .write(&stored(&["mcp:tools"], &["mcp:write"]))
        .unwrap();
    let authorizer = Authorizer::new(&upstream, false, &oauth).await.unwrap();
    let redirect = authorizer.redirect_uri(1);
    assert_eq!(redirect, "http://127.0.0.1:1/callback");
    let authorization = authorizer.start(redirect).await.unwrap();
    assert_eq!(authorization.pending_scopes(), ["mcp:write"]);
    let url = authorization.url();
    let query: HashMap<String, String> = reqwest::Url::parse(url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    assert_eq!(query["state"], authorization.state());
    let scopes: BTreeSet<&str> = query["scope"].split_whitespace().collect();
    assert!(
        scopes.contains("mcp:tools") && scopes.contains("mcp:write"),
        "{url}"
    );
    store.remove().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxy_follows_the_client_of_a_later_login() {
    let (base, _forms) = authorization_server(3600).await;
    let upstream = format!("{base}/mcp");
    let mut settings = OAuthSettings::new();
    settings.storage_type = StorageType::Memory;
    let oauth = OAuthTarget::new(settings);
    let redirect = "http://127.0.0.1:1/callback".to_string();
    let (session, _url, state) = start(&upstream, &oauth, None, None, redirect)
        .await
        .unwrap();
    let callback = format!("http://127.0.0.1:1/callback?code=c&state={state}");
    session.handle_callback_url(&callback).await.unwrap();
    let client = Prepared::open(&upstream, &oauth)
        .await
        .unwrap()
        .into_auth_client(());
    let watch = &client.http_client;
    // Same client: nothing to do.
    assert!(watch.follow_new_client().await.is_none());
    // A login registered another client: the manager switches to it.
    let store = oauth.store(&upstream);
    let mut file = store.read().unwrap().unwrap();
    file.credentials.client_id = "another".into();
    store.write(&file).unwrap();
    assert_eq!(watch.follow_new_client().await.as_deref(), Some("token-1"));
    let (client_id, _) = client
        .auth_manager
        .lock()
        .await
        .get_credentials()
        .await
        .unwrap();
    assert_eq!(client_id, "another");
    assert!(watch.follow_new_client().await.is_none());
    store.remove().unwrap();
}

#[test]
fn the_login_hint_names_the_server() {
    let mut target = OAuthTarget::new(OAuthSettings::new());
    assert_eq!(
        target.login_hint("http://h/mcp"),
        "mcpo-gen login --url http://h/mcp"
    );
    target.name = Some("remote".into());
    assert_eq!(target.login_hint("http://h/mcp"), "mcpo-gen login remote");
}

#[test]
fn only_https_or_loopback_http_endpoints_are_taken() {
    for good in [
        "https://as.example.com/authorize",
        "https://as.example.com:8443/token?x=1",
        "http://127.0.0.1:8080/authorize",
        "http://127.1.2.3/token",
        "http://[::1]:9/register",
        "http://localhost:3000/authorize",
        "http://LOCALHOST./authorize",
    ] {
        assert_eq!(check_endpoint("the endpoint", good), Ok(()), "{good}");
    }
    for (bad, why) in [
        ("javascript:alert(document.cookie)", "scheme is javascript:"),
        ("file:///etc/passwd?response_type=code", "scheme is file:"),
        ("data:text/html,<script>x</script>", "scheme is data:"),
        ("ftp://as.example.com/authorize", "scheme is ftp:"),
        ("http://as.example.com/authorize", "plain http"),
        ("http://10.0.0.1/token", "plain http"),
        ("http://localhost.evil.example/authorize", "plain http"),
        ("http://[::ffff:10.0.0.1]/token", "plain http"),
        ("/authorize", "not an absolute URL"),
    ] {
        let error = check_endpoint("the metadata's authorization_endpoint", bad).expect_err(bad);
        assert!(
            error.starts_with("the metadata's authorization_endpoint \""),
            "{error}"
        );
        assert!(error.contains(why), "{bad}: {error}");
    }
    // Control characters in a refused value are shown escaped.
    let error = check_endpoint("f", "javascript:\u{1b}[2Jx").unwrap_err();
    assert!(!error.contains('\u{1b}'), "{error}");
}

/// The metadata names a bad endpoint: `start` fails naming it, and
/// nothing was sent to the registration or token endpoints (the URL
/// is never made, so never printed nor opened).
async fn refused_endpoint(field: &str, value: &str) -> String {
    let (base, forms, paths) =
        authorization_server_with(3600, serde_json::json!({ field: value }), None).await;
    let upstream = format!("{base}/mcp");
    let mut settings = OAuthSettings::new();
    settings.storage_type = StorageType::Memory;
    let oauth = OAuthTarget::new(settings);
    let challenge = probe_challenge(&upstream, false, None).await;
    let redirect = "http://127.0.0.1:1/callback".to_string();
    let error = start(&upstream, &oauth, challenge, None, redirect)
        .await
        .err()
        .unwrap_or_else(|| panic!("{field} {value} was taken"));
    assert!(error.contains(field), "{error}");
    let paths = paths.lock().unwrap();
    assert!(
        !paths
            .iter()
            .any(|path| path == "/register" || path == "/token"),
        "sent before the check: {paths:?}"
    );
    assert!(forms.lock().unwrap().is_empty());
    error
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_javascript_or_file_authorization_endpoint_is_refused_before_anything_is_sent() {
    let error = refused_endpoint("authorization_endpoint", "javascript:alert(1)//").await;
    assert!(error.contains("scheme is javascript:"), "{error}");
    let error = refused_endpoint("authorization_endpoint", "file:///etc/passwd?x=1").await;
    assert!(error.contains("scheme is file:"), "{error}");
    let error = refused_endpoint("authorization_endpoint", "http://192.0.2.1/authorize").await;
    assert!(error.contains("plain http"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_token_and_registration_endpoints_are_refused() {
    let error = refused_endpoint("token_endpoint", "http://192.0.2.1/token").await;
    assert!(error.contains("plain http"), "{error}");
    let error = refused_endpoint("registration_endpoint", "http://as.example.com/register").await;
    assert!(error.contains("plain http"), "{error}");
}

/// The error of an authorization start against `{base}/mcp` that must fail.
async fn refused_start(base: &str) -> String {
    let upstream = format!("{base}/mcp");
    let mut settings = OAuthSettings::new();
    settings.storage_type = StorageType::Memory;
    let oauth = OAuthTarget::new(settings);
    let challenge = probe_challenge(&upstream, false, None).await;
    let redirect = "http://127.0.0.1:1/callback".to_string();
    start(&upstream, &oauth, challenge, None, redirect)
        .await
        .err()
        .expect("refused")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_challenge_naming_plain_http_metadata_is_refused_before_it_is_fetched() {
    let (base, _forms, paths) = authorization_server_with(
        3600,
        Value::Null,
        Some("http://192.0.2.1/.well-known/oauth-protected-resource".into()),
    )
    .await;
    let error = refused_start(&base).await;
    assert!(
        error.contains("resource_metadata") && error.contains("plain http"),
        "{error}"
    );
    assert_eq!(*paths.lock().unwrap(), ["/mcp"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_metadata_document_is_refused_saying_so() {
    let padding = "x".repeat(MAX_DOCUMENT_BYTES as usize + 1);
    let (base, _forms, paths) =
        authorization_server_with(3600, serde_json::json!({ "padding": padding }), None).await;
    let error = refused_start(&base).await;
    assert!(error.contains("is larger than 1 MiB"), "{error}");
    assert!(!paths.lock().unwrap().iter().any(|path| path == "/register"));
}

/// A proxy with stored tokens checks the token endpoint a refresh would
/// go to.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxy_does_not_refresh_at_a_plain_http_token_endpoint() {
    let (base, forms, _paths) = authorization_server_with(
        3600,
        serde_json::json!({"token_endpoint": "http://as.example.com/token"}),
        None,
    )
    .await;
    let upstream = format!("{base}/mcp");
    let mut settings = OAuthSettings::new();
    settings.storage_type = StorageType::Memory;
    let oauth = OAuthTarget::new(settings);
    let response = serde_json::from_value(serde_json::json!({
            "access_token": "stored", "token_type": "Bearer", "expires_in": 3600,
            "refresh_token": "stored-refresh"}))
    .unwrap();
    oauth
        .store(&upstream)
        .write(&TokenFile {
            server_url: upstream.clone(),
            client_secret: None,
            credentials: StoredCredentials::new("client".into(), Some(response), vec![], None),
            pending_scopes: Vec::new(),
        })
        .unwrap();
    let error = Prepared::open(&upstream, &oauth)
        .await
        .err()
        .expect("refused");
    let reason = error.to_string();
    assert!(
        reason.contains("token_endpoint") && reason.contains("plain http"),
        "{reason}"
    );
    assert!(forms.lock().unwrap().is_empty());
    oauth.store(&upstream).remove().unwrap();
}

/// A fresh folder for a test, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("mcpo-oauth-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn a_token_file() -> TokenFile {
    TokenFile {
        server_url: "http://127.0.0.1:1/mcp".into(),
        client_secret: None,
        credentials: StoredCredentials::new("client".into(), None, vec![], None),
        pending_scopes: Vec::new(),
    }
}

#[cfg(unix)]
#[test]
fn a_token_folder_or_file_open_to_others_is_made_private_when_ours() {
    use std::os::unix::fs::PermissionsExt as _;
    let home = TempDir::new("loose");
    let dir = home.path().join("tokens");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let path = dir.join("x.json");
    let store = TokenStore::File(path.clone());
    store.write(&a_token_file()).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    // (The folder checks apply to the token folder; this one is
    // checked as such directly.)
    make_private(&dir, 0o700).unwrap();
    assert_eq!(mode(&dir), 0o700);
    assert!(store.read().unwrap().is_some());
    assert_eq!(mode(&path), 0o600);
}

#[cfg(unix)]
#[test]
fn a_token_folder_or_file_open_to_others_and_not_ours_is_refused() {
    use std::os::unix::fs::PermissionsExt as _;
    // SAFETY: no preconditions.
    let me = unsafe { libc::geteuid() };
    let home = TempDir::new("foreign");
    let (dir, path) = if me == 0 {
        // Root: a folder and file of `nobody`'s.
        let dir = home.path().join("tokens");
        std::fs::create_dir(&dir).unwrap();
        let path = dir.join("x.json");
        std::fs::write(&path, serde_json::to_vec(&a_token_file()).unwrap()).unwrap();
        for entry in [&dir, &path] {
            std::os::unix::fs::chown(entry, Some(65534), Some(65534)).unwrap();
        }
        (dir, path)
    } else {
        // Anyone else: /tmp is root's, 1777; a file of root's.
        (std::env::temp_dir(), PathBuf::from("/etc/hostname"))
    };
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).ok();
    let error = make_private(&dir, 0o700).unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::PermissionDenied);
    let text = error.to_string();
    assert!(
        text.contains("refusing the token folder")
            && text.contains("open to other users")
            && text.contains("not by you"),
        "{text}"
    );
    if me == 0 {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let error = TokenStore::File(path.clone())
            .read()
            .unwrap_err()
            .to_string();
        assert!(error.contains("refusing the token file"), "{error}");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644, "someone else's file was changed");
    }
}

#[test]
fn a_token_file_larger_than_1_mib_is_refused() {
    let home = TempDir::new("large");
    let path = home.path().join("x.json");
    let mut text = serde_json::to_string(&a_token_file()).unwrap();
    text.push_str(&" ".repeat(MAX_DOCUMENT_BYTES as usize));
    std::fs::write(&path, text).unwrap();
    let error = TokenStore::File(path).read().unwrap_err().to_string();
    assert!(error.contains("is larger than 1 MiB"), "{error}");
}
