//! Who is calling (README "Caller identity and access policy"): `mcpo-gen
//! serve --policy` of two servers of `tests/upstreams/identity_upstream.py`
//! (an MCP server that answers `whoami` with the headers and `_meta` it
//! received), behind a real OpenID provider (`oidc_provider.mjs`,
//! oidc-provider 9.13.3) whose users alice (admin) and bob (user) get
//! tokens by client credentials, and Open WebUI's own code minting its
//! `X-OpenWebUI-User-Jwt` (`tests/clients/openwebui_user_jwt.py`).
//!
//! Server `ids` forwards the verified identity (`_meta`, named headers and
//! the caller's token); server `plain` forwards nothing.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use mcpo_gen_e2e::*;
use serde_json::{Value, json};

use super::*;

/// The audience the proxy accepts (an API identifier, not a URL).
const AUDIENCE: &str = "urn:mcpo-gen:identity-test";
/// Open WebUI's shared secret (32 bytes at least).
const OPENWEBUI_SECRET: &str = "open-webui-test-secret-0123456789abcdef";
const META_KEY: &str = "io.github.mcpo-gen/caller";

/// The policy under test; the admins' grant is the IdP's (`issuer`) alone,
/// so an Open WebUI user with the role `admin` is not one.
fn policy(issuer: &str) -> String {
    json!({"grants": [
        {"to": {"issuers": [issuer], "roles": ["admin"]},
         "tools": ["*", "delete_everything"], "resources": ["*"], "prompts": ["*"]},
        {"to": {"roles": ["user"]}, "tools": ["echo", "whoami"]},
        {"to": {"scopes": ["admin"]}, "server": "ids", "tools": ["delete_everything"]},
        {"to": {"anyone": true}, "server": "plain", "tools": ["whoami"]}
    ]})
    .to_string()
}

fn upstreams_dir() -> PathBuf {
    workspace_root().join("tests/upstreams")
}

/// The OpenID provider on a free port, with key set `keys`.
fn start_provider_on(port: Option<u16>, keys: &str) -> Running {
    let script = upstreams_dir().join("oidc_provider.mjs");
    let keys = keys.to_string();
    let spawn = move |port: u16| {
        Command::new("node")
            .arg(&script)
            .args(["--port", &port.to_string(), "--keys", &keys])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("node runs the OpenID provider")
    };
    let ready = |running: &Running| {
        get(&running.url("/.well-known/openid-configuration"))
            .is_ok_and(|(status, _)| status == 200)
    };
    let describe = |port: u16| format!("the OpenID provider on port {port}");
    match port {
        Some(port) => start_on_port(port, Duration::from_secs(30), &describe, spawn, ready)
            .expect("the provider restarts on its port"),
        None => start_on_a_released_port(Duration::from_secs(30), &describe, spawn, ready),
    }
}

/// `identity_upstream.py`, over streamable HTTP (`/mcp`) or, with `sse`,
/// the legacy HTTP+SSE transport (`/sse`).
fn start_upstream(sse: bool) -> Running {
    let script = upstreams_dir().join("identity_upstream.py");
    start_on_a_released_port(
        Duration::from_secs(30),
        &|port| format!("the identity upstream on port {port}"),
        |port| {
            Command::new(mcp_python())
                .arg(&script)
                .args(["--port", &port.to_string()])
                .args(sse.then_some("--sse"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("the identity upstream starts")
        },
        |running| std::net::TcpStream::connect(("127.0.0.1", running.port)).is_ok(),
    )
}

/// A token of the provider for `user`, with `scope`, for `audience`.
fn token(provider: &Running, user: &str, scope: &str, audience: &str) -> String {
    let reply: Value = blocking_client()
        .post(provider.url("/token"))
        .basic_auth(user, Some(format!("{user}-secret")))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[
            ("grant_type", "client_credentials"),
            ("resource", audience),
            ("scope", scope),
        ]))
        .send()
        .expect("the provider answers")
        .json()
        .expect("a token answer");
    reply["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("a token for {user}: {reply}"))
        .to_string()
}

/// `application/x-www-form-urlencoded` of `pairs`.
fn form(pairs: &[(&str, &str)]) -> String {
    let encode = |text: &str| -> String {
        text.bytes()
            .map(|byte| match byte {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (byte as char).to_string()
                }
                b' ' => "+".to_string(),
                other => format!("%{other:02X}"),
            })
            .collect()
    };
    pairs
        .iter()
        .map(|(name, value)| format!("{}={}", encode(name), encode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

/// A token the provider never issued (`forge_token.mjs`).
fn forged(kind: &str, provider: &Running) -> String {
    let output = Command::new("node")
        .arg(upstreams_dir().join("forge_token.mjs"))
        .args([kind, &provider.url(""), AUDIENCE, "mallory"])
        .output()
        .expect("node runs forge_token.mjs");
    assert!(output.status.success(), "{}", output_text(&output));
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// The headers Open WebUI 0.12.4's own code sends for a user.
fn open_webui_headers(role: &str, secret: &str) -> Value {
    run_client(
        &mcp_python(),
        &[
            &workspace_root()
                .join("tests/clients/openwebui_user_jwt.py")
                .display()
                .to_string(),
            "--secret",
            secret,
            "--id",
            "u-carol",
            "--email",
            "carol@example.org",
            "--name",
            "Carol",
            "--role",
            role,
            "--chat-id",
            "chat-42",
        ],
        &[],
        Duration::from_secs(60),
    )
}

struct Setup {
    provider: Running,
    upstream: Running,
    sse_upstream: Running,
    proxy: Running,
    scratch: tempfile::TempDir,
}

impl Setup {
    fn audit_lines(&self) -> Vec<Value> {
        std::fs::read_to_string(self.scratch.path().join("audit.log"))
            .unwrap_or_default()
            .lines()
            .map(|line| serde_json::from_str(line).expect("an audit line is JSON"))
            .collect()
    }
}

/// `mcpo-gen serve --policy` of `ids` and `plain`, with the key, the
/// provider's tokens, Open WebUI's secret, an audit log and `flags`.
fn setup(flags: &[&str]) -> Setup {
    let provider = start_provider_on(None, "1");
    let upstream = start_upstream(false);
    let sse_upstream = start_upstream(true);
    let scratch = tempfile::tempdir().expect("a scratch folder");
    let url = upstream.url("/mcp");
    let config = json!({"mcpServers": {
        "ids": {"type": "streamable-http", "url": url, "forwardIdentity": {
            "headers": {"subject": "X-User-Id", "email": "X-User-Email", "role": "X-User-Role",
                        "chatId": "X-Chat-Id"},
            "token": true}},
        "plain": {"type": "streamable-http", "url": url},
        "over_sse": {"type": "sse", "url": sse_upstream.url("/sse"), "forwardIdentity": {
            "headers": {"subject": "X-User-Id"}, "token": true}},
    }});
    let config_path = scratch.path().join("mcp.json");
    std::fs::write(&config_path, config.to_string()).expect("the config is written");
    let issuer = provider.url("");
    let policy_path = scratch.path().join("mcp.policy.json");
    std::fs::write(&policy_path, policy(&issuer)).expect("the policy is written");
    let audit = scratch.path().join("audit.log");
    let mut args: Vec<String> = [
        "--api-key",
        KEY,
        "--jwt-issuer",
        &issuer,
        "--jwt-audience",
        AUDIENCE,
        "--audit-log",
        &audit.display().to_string(),
        "--policy",
        &policy_path.display().to_string(),
        "--lock-out",
        &scratch.path().join("mcp.lock.json").display().to_string(),
        "--config",
        &config_path.display().to_string(),
    ]
    .iter()
    .map(|arg| arg.to_string())
    .collect();
    args.extend(flags.iter().map(|flag| flag.to_string()));
    let proxy = Launch::serve()
        .args(&args)
        .env(&[("MCPO_OPENWEBUI_JWT_SECRET", OPENWEBUI_SECRET)])
        .start_ready();
    Setup {
        provider,
        upstream,
        sse_upstream,
        proxy,
        scratch,
    }
}

/// POST `path` with `body`, a bearer credential and more headers.
fn call(
    proxy: &Running,
    path: &str,
    bearer: Option<&str>,
    headers: &[(&str, &str)],
    body: Value,
) -> Reply {
    let mut request = blocking_client()
        .post(proxy.url(path))
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(bearer) = bearer {
        request = request.bearer_auth(bearer);
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    Reply::from(request.send().expect("the proxy answers"))
}

/// `delete_everything` on `ids`, as `bearer` (with more headers).
fn delete_everything(proxy: &Running, bearer: &str, headers: &[(&str, &str)]) -> Reply {
    call(
        proxy,
        "/ids/delete_everything",
        Some(bearer),
        headers,
        json!({"confirm": true}),
    )
}

/// GET `path` with a bearer credential.
fn get_as(proxy: &Running, path: &str, bearer: &str) -> Reply {
    Reply::from(
        blocking_client()
            .get(proxy.url(path))
            .bearer_auth(bearer)
            .send()
            .expect("the proxy answers"),
    )
}

/// What `whoami` saw, from a REST answer.
fn seen(reply: &Reply) -> Value {
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    match &reply.body {
        Value::String(text) => serde_json::from_str(text).expect("whoami's JSON text"),
        other if other.get("headers").is_some() => other.clone(),
        other => panic!("an unexpected whoami answer: {other}"),
    }
}

fn header_values(headers: &Value, prefix: &str) -> Vec<String> {
    headers
        .as_object()
        .expect("headers")
        .keys()
        .filter(|name| name.starts_with(prefix))
        .cloned()
        .collect()
}

#[test]
fn verified_callers_get_what_the_policy_grants_and_forged_tokens_get_nothing() {
    let setup = setup(&[]);
    let proxy = &setup.proxy;
    let alice = token(&setup.provider, "alice", "tools:call", AUDIENCE);
    let bob = token(&setup.provider, "bob", "tools:call", AUDIENCE);

    // alice is an admin: the destructive tool is granted to her by name.
    let deleted = delete_everything(proxy, &alice, &[]);
    assert_eq!(deleted.status, 200, "{:?}", deleted.body);
    // bob is a user: echo yes, the destructive tool no, and the 403 names
    // the scope a grant of it asks for.
    let echoed = call(proxy, "/ids/echo", Some(&bob), &[], json!({"text": "hi"}));
    assert_eq!(echoed.status, 200, "{:?}", echoed.body);
    let refused = delete_everything(proxy, &bob, &[]);
    assert_eq!(refused.status, 403, "{:?}", refused.body);
    let challenge = refused.header("www-authenticate").unwrap_or_default();
    assert!(
        challenge.contains(r#"error="insufficient_scope""#)
            && challenge.contains(r#"scope="admin""#),
        "{challenge}"
    );
    // An Open WebUI user whose role is `admin` is not the IdP's admin: the
    // admins' grant names the IdP's issuer.
    let owui_admin = open_webui_headers("admin", OPENWEBUI_SECRET);
    let owui_admin = [(
        "X-OpenWebUI-User-Jwt",
        owui_admin["X-OpenWebUI-User-Jwt"]
            .as_str()
            .expect("Open WebUI's JWT header"),
    )];
    let refused = delete_everything(proxy, KEY, &owui_admin);
    assert_eq!(refused.status, 403, "{:?}", refused.body);
    // Resources and prompts follow the policy too: the admin reads and
    // gets them, the user gets 403.
    for (bearer, status) in [(&alice, 200), (&bob, 403)] {
        let read = get_as(
            proxy,
            "/ids/resources/read?uri=notes%3A%2F%2Fwelcome",
            bearer,
        );
        assert_eq!(read.status, status, "{:?}", read.body);
        let prompt = call(
            proxy,
            "/ids/prompts/greet",
            Some(bearer),
            &[],
            json!({"name": "x"}),
        );
        assert_eq!(prompt.status, status, "{:?}", prompt.body);
    }
    // The bare API key (no identity) gets only what `anyone` may use.
    assert_eq!(
        call(proxy, "/plain/whoami", Some(KEY), &[], json!({})).status,
        200
    );
    assert_eq!(
        call(proxy, "/ids/echo", Some(KEY), &[], json!({"text": "x"})).status,
        403
    );

    // Each caller's openapi.json shows only its tools.
    let operations = |bearer: &str| -> Vec<String> {
        let document: Value = blocking_client()
            .get(proxy.url("/openapi.json"))
            .bearer_auth(bearer)
            .send()
            .expect("the document")
            .json()
            .expect("JSON");
        document["paths"]
            .as_object()
            .expect("paths")
            .keys()
            .filter(|path| path.starts_with("/ids/") || path.starts_with("/plain/"))
            // The routes of tools and of single prompts: not the server's
            // own routes, nor the lists every caller may read.
            .filter(|path| !path.ends_with("/readyz") && !path.ends_with("/healthz"))
            .filter(|path| !path.contains("/resources") && !path.ends_with("/prompts"))
            .cloned()
            .collect()
    };
    let for_bob = operations(&bob);
    assert!(for_bob.contains(&"/ids/echo".to_string()), "{for_bob:?}");
    assert!(
        !for_bob
            .iter()
            .any(|path| path.ends_with("/delete_everything")),
        "{for_bob:?}"
    );
    assert!(
        !for_bob.iter().any(|path| path.contains("/prompts/")),
        "{for_bob:?}"
    );
    let for_alice = operations(&alice);
    for path in ["/ids/delete_everything", "/ids/prompts/greet"] {
        assert!(
            for_alice.contains(&path.to_string()),
            "{path}: {for_alice:?}"
        );
    }
    assert_eq!(operations(KEY), ["/plain/whoami"]);

    // Unauthenticated: 401 naming the metadata, which names the issuer.
    let anonymous = call(proxy, "/ids/echo", None, &[], json!({"text": "x"}));
    assert_eq!(anonymous.status, 401);
    let challenge = anonymous
        .header("www-authenticate")
        .unwrap_or_default()
        .to_string();
    assert!(challenge.contains("resource_metadata="), "{challenge}");
    let metadata_url = challenge
        .split("resource_metadata=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a metadata URL");
    let metadata: Value = blocking_client()
        .get(metadata_url)
        .send()
        .expect("metadata")
        .json()
        .expect("JSON");
    assert_eq!(
        metadata["authorization_servers"],
        json!([setup.provider.url("")])
    );
    assert_eq!(metadata["resource"], proxy.url("/"));

    // Tokens a verifier must refuse, each a 401 with invalid_token.
    let other_audience = token(
        &setup.provider,
        "alice",
        "tools:call",
        "urn:another-service",
    );
    for (what, bad) in [
        ("another audience", other_audience),
        ("expired", forged("expired", &setup.provider)),
        ("unsigned", forged("none", &setup.provider)),
        (
            "HS256 with the public key",
            forged("hs-public", &setup.provider),
        ),
    ] {
        let reply = call(proxy, "/ids/echo", Some(&bad), &[], json!({"text": "x"}));
        assert_eq!(reply.status, 401, "{what}: {:?}", reply.body);
        assert!(
            reply
                .header("www-authenticate")
                .is_some_and(|value| value.contains("invalid_token")),
            "{what}: {:?}",
            reply.headers
        );
    }

    // The audit log: one line per call, the subject as the caller, and no
    // credential anywhere in it.
    let lines = setup.audit_lines();
    let by = |caller: &str, name: &str, status: u64| {
        lines.iter().any(|line| {
            line["caller"] == caller && line["name"] == name && line["status"] == status
        })
    };
    assert!(by("alice", "delete_everything", 200), "{lines:#?}");
    assert!(by("bob", "delete_everything", 403), "{lines:#?}");
    assert!(
        by("alice", "notes://welcome", 200) && by("bob", "greet", 403),
        "{lines:#?}"
    );
    assert!(
        lines.iter().all(|line| line["server"].is_string()),
        "{lines:#?}"
    );
    let text = std::fs::read_to_string(setup.scratch.path().join("audit.log")).expect("the log");
    for secret in [KEY, alice.as_str(), bob.as_str(), OPENWEBUI_SECRET] {
        assert!(!text.contains(secret), "the audit log holds a credential");
    }
    // /metrics counts calls by how callers proved themselves, never by who.
    let metrics = blocking_client()
        .get(proxy.url("/metrics"))
        .bearer_auth(KEY)
        .send()
        .expect("/metrics")
        .text()
        .expect("text");
    assert!(
        metrics
            .lines()
            .any(|line| line.starts_with("mcpo_caller_tool_calls_total")
                && line.contains(r#"via="jwt""#)
                && line.contains(r#"status="403""#)),
        "{metrics}"
    );
    assert!(
        !metrics.contains("alice") && !metrics.contains("bob"),
        "{metrics}"
    );
    assert!(
        !text.contains("confirm"),
        "arguments are left out without --audit-arguments"
    );
}

#[test]
fn identity_goes_upstream_only_where_the_config_forwards_it() {
    let setup = setup(&[]);
    let proxy = &setup.proxy;
    let alice = token(&setup.provider, "alice", "tools:call", AUDIENCE);

    let forwarded = seen(&call(proxy, "/ids/whoami", Some(&alice), &[], json!({})));
    let identity = &forwarded["meta"][META_KEY];
    assert_eq!(identity["subject"], "alice", "{forwarded:#}");
    assert_eq!(identity["email"], "alice@example.com");
    assert_eq!(identity["role"], "admin");
    assert_eq!(forwarded["headers"]["x-user-id"], "alice");
    assert_eq!(forwarded["headers"]["x-user-role"], "admin");
    // `"token": true`: the caller's own token, for this server only.
    assert_eq!(
        forwarded["headers"]["authorization"],
        format!("Bearer {alice}")
    );

    // An SSE upstream gets them on the POST that carries the call.
    let over_sse = seen(&call(
        proxy,
        "/over_sse/whoami",
        Some(&alice),
        &[],
        json!({}),
    ));
    assert_eq!(
        over_sse["meta"][META_KEY]["subject"], "alice",
        "{over_sse:#}"
    );
    assert_eq!(over_sse["headers"]["x-user-id"], "alice", "{over_sse:#}");
    assert_eq!(
        over_sse["headers"]["authorization"],
        format!("Bearer {alice}")
    );

    let plain = seen(&call(proxy, "/plain/whoami", Some(&alice), &[], json!({})));
    assert!(plain["meta"].get(META_KEY).is_none(), "{plain:#}");
    assert!(plain["headers"].get("authorization").is_none(), "{plain:#}");
    assert!(
        header_values(&plain["headers"], "x-user-").is_empty(),
        "{plain:#}"
    );

    // Open WebUI's own signed user header, behind the API key: the user it
    // names is the caller (a user may echo and whoami on `ids`), its chat id
    // rides along, and the key never goes upstream.
    let owui = open_webui_headers("user", OPENWEBUI_SECRET);
    let user_jwt = owui["X-OpenWebUI-User-Jwt"]
        .as_str()
        .expect("Open WebUI's JWT header");
    let with_owui = [
        ("X-OpenWebUI-User-Jwt", user_jwt),
        ("X-OpenWebUI-Chat-Id", "chat-42"),
    ];
    let carol = seen(&call(
        proxy,
        "/ids/whoami",
        Some(KEY),
        &with_owui,
        json!({}),
    ));
    assert_eq!(carol["meta"][META_KEY]["subject"], "u-carol", "{carol:#}");
    assert_eq!(carol["meta"][META_KEY]["via"], "openwebui");
    assert_eq!(carol["headers"]["x-chat-id"], "chat-42");
    assert!(carol["headers"].get("authorization").is_none(), "{carol:#}");
    assert_eq!(delete_everything(proxy, KEY, &with_owui).status, 403);

    // Plain X-OpenWebUI-User-* headers are never identity.
    let spoofed = [
        ("X-OpenWebUI-User-Role", "admin"),
        ("X-OpenWebUI-User-Id", "alice"),
    ];
    assert_eq!(delete_everything(proxy, KEY, &spoofed).status, 403);
    // A user JWT signed with another secret is refused, not ignored.
    let wrong = open_webui_headers("admin", "not-the-secret-not-the-secret-0123456789");
    let forged_owui = [(
        "X-OpenWebUI-User-Jwt",
        wrong["X-OpenWebUI-User-Jwt"].as_str().expect("a JWT"),
    )];
    assert_eq!(
        call(proxy, "/ids/whoami", Some(KEY), &forged_owui, json!({})).status,
        401
    );
    drop((setup.upstream, setup.sse_upstream));
}

#[test]
fn the_gateway_lists_and_calls_what_the_policy_grants() {
    let setup = setup(&[]);
    let proxy = &setup.proxy;
    let bob = token(&setup.provider, "bob", "tools:call", AUDIENCE);
    let requests = json!([
        {"list": "tools"},
        {"call": "ids_echo", "arguments": {"text": "over MCP"}},
        {"call": "ids_delete_everything", "arguments": {"confirm": true}},
    ]);
    let report = run_client(
        &mcp_python(),
        &[
            &client_script("live_surface_client.py")
                .display()
                .to_string(),
            &proxy.url("/mcp"),
            &bob,
            &requests.to_string(),
        ],
        &[],
        Duration::from_secs(60),
    );
    let outcomes = report["outcomes"].as_array().expect("outcomes");
    let names: Vec<&str> = outcomes[0]["result"]
        .as_array()
        .expect("a tool list")
        .iter()
        .filter_map(|tool| tool["name"].as_str())
        .collect();
    assert!(
        names.contains(&"ids_echo") && names.contains(&"plain_whoami"),
        "{names:?}"
    );
    assert!(
        !names.iter().any(|name| name.ends_with("delete_everything")),
        "{names:?}"
    );
    assert_eq!(outcomes[1]["result"]["isError"], false, "{report:#}");
    // The policy's refusal, with the status a REST caller would get.
    let refused = &outcomes[2]["error"];
    assert!(
        rpc_error_message(refused, -32012).contains("access policy"),
        "{report:#}"
    );
    assert_eq!(refused["data"]["status"], 403, "{report:#}");
    // A session belongs to the caller that opened it: its id is no
    // credential for another.
    let mcp = |bearer: &str, session: Option<&str>, body: Value| {
        let mut request = blocking_client()
            .post(proxy.url("/mcp"))
            .bearer_auth(bearer)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(body.to_string());
        if let Some(session) = session {
            request = request
                .header("mcp-session-id", session)
                .header("mcp-protocol-version", "2025-11-25");
        }
        request.send().expect("the gateway answers")
    };
    let alice = token(&setup.provider, "alice", "tools:call", AUDIENCE);
    let opened = mcp(
        &alice,
        None,
        json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "raw", "version": "1"}}}),
    );
    assert_eq!(opened.status().as_u16(), 200);
    let session = header_text(opened.headers(), "mcp-session-id");
    assert!(!session.is_empty(), "a session id");
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    assert_eq!(
        mcp(&alice, Some(&session), initialized).status().as_u16(),
        202
    );
    let list = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"});
    assert_eq!(
        mcp(&bob, Some(&session), list.clone()).status().as_u16(),
        404
    );
    assert_eq!(mcp(&alice, Some(&session), list).status().as_u16(), 200);

    // Without credentials the gateway answers 401 with the metadata's URL.
    let reply = blocking_client()
        .post(proxy.url("/mcp"))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#)
        .send()
        .expect("the gateway answers");
    assert_eq!(reply.status().as_u16(), 401);
    let challenge = header_text(reply.headers(), "www-authenticate");
    assert!(challenge.contains("resource_metadata="), "{challenge}");
}

#[test]
fn rotated_keys_are_fetched_and_bursts_get_429() {
    let mut setup = setup(&["--tool-rate-limit", "echo=3/min"]);
    let proxy = &setup.proxy;
    let before = token(&setup.provider, "bob", "tools:call", AUDIENCE);
    assert_eq!(
        call(proxy, "/ids/whoami", Some(&before), &[], json!({})).status,
        200
    );

    // The provider restarts with its second key: the proxy fetches the
    // JWKS again for the new kid, and the old key's tokens stop working.
    let port = setup.provider.port;
    assert!(setup.provider.terminate(Duration::from_secs(5)));
    setup.provider = start_provider_on(Some(port), "2");
    let after = token(&setup.provider, "bob", "tools:call", AUDIENCE);
    assert_ne!(before, after);
    assert_eq!(
        call(proxy, "/ids/whoami", Some(&after), &[], json!({})).status,
        200
    );
    assert_eq!(
        call(proxy, "/ids/whoami", Some(&before), &[], json!({})).status,
        401
    );

    // A burst: three echoes a minute per caller, then 429 with its headers;
    // another caller keeps its own allowance.
    let statuses: Vec<u16> = (0..4)
        .map(|_| call(proxy, "/ids/echo", Some(&after), &[], json!({"text": "x"})).status)
        .collect();
    assert_eq!(statuses, [200, 200, 200, 429]);
    let limited = call(proxy, "/ids/echo", Some(&after), &[], json!({"text": "x"}));
    assert_eq!(limited.status, 429);
    let retry_after: u64 = limited
        .header("retry-after")
        .and_then(|value| value.parse().ok())
        .expect("Retry-After");
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert!(
        limited
            .header("ratelimit")
            .is_some_and(|value| value.contains("r=0")),
        "{:?}",
        limited.headers
    );
    assert!(
        limited.header("ratelimit-policy").is_some(),
        "{:?}",
        limited.headers
    );
    let alice = token(&setup.provider, "alice", "tools:call", AUDIENCE);
    assert_eq!(
        call(proxy, "/ids/echo", Some(&alice), &[], json!({"text": "x"})).status,
        200
    );
    assert!(setup.audit_lines().iter().any(|line| line["status"] == 429));
}
