//! mcpo's `--strict-auth`, `--ssl-certfile`/`--ssl-keyfile` and `--root-path`
//! on a generated proxy: the committed `generated-examples/errors-proxy`
//! against our fixture server, called over HTTP and HTTPS.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use mcpo_gen_e2e::*;
use serde_json::{Value, json};

use crate::{KEY, http_client, launch, proxy_binary};

/// The fixture serving errors.json.
fn errors_upstream() -> Vec<String> {
    fixture_upstream("errors.json")
}

/// A GET with an optional bearer key, redirects followed.
fn get_with(client: &reqwest::blocking::Client, url: &str, key: Option<&str>) -> Reply {
    let mut request = client.get(url);
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    let response = request
        .send()
        .unwrap_or_else(|error| panic!("GET {url}: {error}"));
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().unwrap_or_default();
    Reply {
        status,
        headers,
        body: json_or_text(text),
    }
}

/// Runs the proxy binary to its exit (it must exit within 30 s: these
/// flags are refused before anything starts).
fn run_to_exit(args: &[&str], env: &[(&str, &str)]) -> Output {
    Launch::proxy(&proxy_binary())
        .args(args)
        .env_remove("MCPO_API_KEY")
        .env(env)
        .run_to_exit(Duration::from_secs(30))
}

fn anonymous_401(reply: &Reply, what: &str) {
    assert_eq!(
        (reply.status, &reply.body),
        (401, &json!({"detail": "Not authenticated"})),
        "{what}"
    );
    assert_eq!(reply.header("www-authenticate"), Some("Bearer"), "{what}");
}

#[test]
fn strict_auth_guards_docs_and_documents_but_not_liveness() {
    let proxy = launch(&["--api-key", KEY, "--strict-auth"], &errors_upstream()).start();
    let client = http_client(Duration::from_secs(60));
    // Ready, asked with the key: /readyz is guarded too.
    let readyz = proxy.url("/readyz");
    wait_until(Duration::from_secs(90), || {
        get_with(&client, &readyz, Some(KEY)).status == 200
    });
    anonymous_401(&get_with(&client, &readyz, None), "/readyz");

    for path in [
        "/docs",
        "/docs/",
        "/docs/swagger-ui.css",
        "/docs/swagger-initializer.js",
        "/openapi.json",
        "/metrics",
        "/no-such-route",
    ] {
        let url = proxy.url(path);
        anonymous_401(&get_with(&client, &url, None), path);
        let wrong = get_with(&client, &url, Some("not-the-key"));
        assert_eq!(
            (wrong.status, &wrong.body),
            (401, &json!({"detail": "Invalid API key"})),
            "{path}"
        );
    }

    let page = get_with(&client, &proxy.url("/docs/"), Some(KEY));
    assert_eq!(page.status, 200);
    assert!(
        page.body
            .as_str()
            .is_some_and(|html| html.contains("swagger-ui")),
        "{:?}",
        page.body
    );
    let document = get_with(&client, &proxy.url("/openapi.json"), Some(KEY));
    assert_eq!(document.status, 200);
    assert_eq!(document.body["openapi"], "3.1.0");
    let readyz_doc = &document.body["paths"]["/readyz"]["get"];
    assert_eq!(readyz_doc["security"], json!([{"bearerAuth": []}]));
    assert!(readyz_doc["responses"]["401"].is_object(), "{readyz_doc}");
    assert_eq!(
        document.body["paths"]["/healthz"]["get"]["security"],
        json!([])
    );
    assert_eq!(
        document.body["paths"]["/echo"]["post"]["security"],
        json!([{"bearerAuth": []}])
    );
    let missing = get_with(&client, &proxy.url("/no-such-route"), Some(KEY));
    assert_eq!(missing.status, 404);

    // Liveness stays open for container health checks.
    let health = get_with(&client, &proxy.url("/healthz"), None);
    assert_eq!(
        (health.status, &health.body),
        (200, &json!({"status": "ok"}))
    );

    // Tool routes: guarded as without --strict-auth.
    let echo = proxy.url("/echo");
    let body = json!({"message": "strict"});
    anonymous_401(&post_json(&echo, &body, None), "POST /echo");
    let wrong = post_json(&echo, &body, Some("not-the-key"));
    assert_eq!(wrong.status, 401);
    let called = post_json(&echo, &body, Some(KEY));
    assert_eq!((called.status, called.body), (200, body));
}

#[test]
fn without_strict_auth_the_documents_stay_open() {
    let proxy = launch(&["--api-key", KEY], &errors_upstream()).start();
    let client = http_client(Duration::from_secs(60));
    for path in ["/docs/", "/openapi.json"] {
        let reply = get_with(&client, &proxy.url(path), None);
        assert_eq!(reply.status, 200, "{path}");
    }
    let document = get_with(&client, &proxy.url("/openapi.json"), None);
    assert_eq!(
        document.body["paths"]["/readyz"]["get"]["security"],
        json!([])
    );
    let echo = proxy.post("/echo", &json!({"message": "x"}));
    assert_eq!(echo.status, 401);
}

#[test]
fn strict_auth_without_a_key_is_refused_at_startup() {
    let upstream = errors_upstream();
    let output = run_to_exit(&with_upstream(&["--strict-auth"], &upstream), &[]);
    assert_exit_code(&output, 2);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--strict-auth needs an API key or a JWT issuer: add --api-key"),
        "{stderr}"
    );
    // The env var counts as a key, as everywhere else; this one then starts.
    let args = with_upstream(&["--strict-auth"], &upstream);
    let proxy = Launch::proxy(&proxy_binary())
        .args(&args)
        .env(&[("MCPO_API_KEY", KEY)])
        .start();
    let client = http_client(Duration::from_secs(60));
    anonymous_401(
        &get_with(&client, &proxy.url("/openapi.json"), None),
        "/openapi.json",
    );
    assert_eq!(
        get_with(&client, &proxy.url("/openapi.json"), Some(KEY)).status,
        200
    );
}

/// A self-signed certificate for `localhost` and 127.0.0.1, and its key, as
/// PEM files in `dir`.
fn self_signed(dir: &Path, name: &str) -> (PathBuf, PathBuf, String) {
    let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
    let certified = rcgen::generate_simple_self_signed(names).expect("a self-signed certificate");
    let cert_pem = certified.cert.pem();
    let cert = dir.join(format!("{name}-cert.pem"));
    let key = dir.join(format!("{name}-key.pem"));
    std::fs::write(&cert, &cert_pem).expect("write the certificate");
    std::fs::write(&key, certified.signing_key.serialize_pem()).expect("write the key");
    (cert, key, cert_pem)
}

/// Starts a proxy with TLS flags among `args` and returns it once
/// `https://…/healthz` answers through `client` (the harness would ask
/// over `http://`).
fn start_tls_proxy(args: &[&str], client: &reqwest::blocking::Client) -> Running {
    let proxy = Launch::proxy(&proxy_binary())
        .args(args)
        .unchecked()
        .start();
    let health = https_url(&proxy, "/healthz");
    wait_until(Duration::from_secs(30), || {
        client
            .get(&health)
            .send()
            .is_ok_and(|response| response.status() == 200)
    });
    proxy
}

fn https_url(proxy: &Running, path: &str) -> String {
    format!("https://127.0.0.1:{}{path}", proxy.port)
}

/// Whether the proxy closes `stream` within `limit` without answering.
fn closed_without_answer(mut stream: TcpStream, limit: Duration) -> bool {
    stream
        .set_read_timeout(Some(limit))
        .expect("a read timeout");
    let mut buffer = [0u8; 64];
    match stream.read(&mut buffer) {
        Ok(0) => true,
        Ok(_) => false,
        Err(error) => error.kind() == std::io::ErrorKind::ConnectionReset,
    }
}

#[test]
fn https_serves_tool_calls_with_the_connection_limits_in_force() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let (cert, key, cert_pem) = self_signed(dir.path(), "server");
    let (cert, key) = (cert.display().to_string(), key.display().to_string());
    let client = reqwest::blocking::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(cert_pem.as_bytes()).expect("a PEM cert")])
        .timeout(Duration::from_secs(60))
        .build()
        .expect("an HTTPS client");
    let upstream = errors_upstream();
    let flags = [
        "--ssl-certfile",
        &cert,
        "--ssl-keyfile",
        &key,
        "--header-timeout",
        "1",
        "--max-connections",
        "3",
    ];
    let mut proxy = start_tls_proxy(&with_upstream(&flags, &upstream), &client);
    assert!(proxy.logged(&format!("listening on https://127.0.0.1:{}", proxy.port)));

    let ready = https_url(&proxy, "/readyz");
    wait_until(Duration::from_secs(90), || {
        get_with(&client, &ready, None).status == 200
    });
    let body = json!({"message": "over TLS"});
    let called = client
        .post(https_url(&proxy, "/echo"))
        .json(&body)
        .send()
        .expect("an HTTPS answer");
    assert_eq!(called.status(), 200);
    assert_eq!(called.json::<Value>().expect("JSON"), body);
    let document = get_with(&client, &https_url(&proxy, "/openapi.json"), None);
    assert_eq!(document.status, 200);
    assert_eq!(document.body["openapi"], "3.1.0");

    // Plain HTTP to the TLS port: no HTTP answer, the connection is closed.
    let plain = http_client(Duration::from_secs(60))
        .get(proxy.url("/healthz"))
        .send();
    assert!(plain.is_err(), "plain HTTP got an answer: {plain:?}");
    let mut raw = TcpStream::connect(("127.0.0.1", proxy.port)).expect("connect");
    raw.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .expect("write");
    raw.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("a read timeout");
    let mut answer = Vec::new();
    let _ = raw.read_to_end(&mut answer);
    assert!(
        !answer.starts_with(b"HTTP/"),
        "{}",
        String::from_utf8_lossy(&answer)
    );

    // A client that never starts the handshake is closed after the header
    // timeout (1 s here), not held forever.
    let silent = TcpStream::connect(("127.0.0.1", proxy.port)).expect("connect");
    let started = Instant::now();
    assert!(closed_without_answer(silent, Duration::from_secs(10)));
    assert_took(
        started.elapsed(),
        ..Duration::from_secs(5),
        "the close without an answer",
    );

    // Connections stuck before the handshake fill the cap (3), and are
    // evicted oldest first: a real client still gets through at once.
    let stuck: Vec<TcpStream> = (0..3)
        .map(|_| TcpStream::connect(("127.0.0.1", proxy.port)).expect("connect"))
        .collect();
    // A fixed pause, not a wait: the proxy shows nothing of having accepted
    // them (no answer before a handshake), and they must be in before the
    // fresh client so that the cap is full when it comes.
    std::thread::sleep(Duration::from_millis(200));
    let fresh = reqwest::blocking::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(cert_pem.as_bytes()).expect("a PEM cert")])
        .timeout(Duration::from_secs(5))
        .build()
        .expect("an HTTPS client");
    let through = get_with(&fresh, &https_url(&proxy, "/healthz"), None);
    assert_eq!(through.status, 200);
    drop(stuck);

    // A client that does not trust the certificate fails the handshake.
    let untrusting = reqwest::blocking::Client::builder()
        .tls_certs_only(Vec::<reqwest::Certificate>::new())
        .timeout(Duration::from_secs(5))
        .build()
        .expect("an HTTPS client");
    assert!(
        untrusting
            .get(https_url(&proxy, "/healthz"))
            .send()
            .is_err()
    );

    // The drain works over TLS too: SIGTERM, a clean exit.
    assert!(proxy.terminate(Duration::from_secs(20)), "no clean exit");
    assert_eq!(
        proxy.child.wait().ok().and_then(|status| status.code()),
        Some(0)
    );
}

#[test]
fn tls_flags_that_cannot_work_are_refused_at_startup() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let (cert, key, _) = self_signed(dir.path(), "one");
    let (_, other_key, _) = self_signed(dir.path(), "other");
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "not a certificate\n").expect("write");
    let missing = dir.path().join("missing-key.pem");
    let path = |path: &Path| path.display().to_string();
    let (cert, key, other_key, garbage, missing) = (
        path(&cert),
        path(&key),
        path(&other_key),
        path(&garbage),
        path(&missing),
    );
    let upstream = errors_upstream();

    // One without the other: a usage error.
    for (flag, value, needed) in [
        ("--ssl-certfile", &cert, "--ssl-keyfile"),
        ("--ssl-keyfile", &key, "--ssl-certfile"),
    ] {
        let output = run_to_exit(&with_upstream(&[flag, value], &upstream), &[]);
        assert_exit_code(&output, 2);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(needed), "{stderr}");
    }

    // Files that cannot serve: a startup failure naming the file.
    for (certfile, keyfile, expected) in [
        (
            &cert,
            &missing,
            format!("--ssl-keyfile {missing}: cannot read it"),
        ),
        (
            &garbage,
            &key,
            format!("--ssl-certfile {garbage}: no certificate in it"),
        ),
        (
            &cert,
            &garbage,
            format!("--ssl-keyfile {garbage}: no private key in it"),
        ),
        (
            &cert,
            &other_key,
            format!("--ssl-certfile {cert} / --ssl-keyfile {other_key}"),
        ),
    ] {
        let flags = ["--ssl-certfile", certfile, "--ssl-keyfile", keyfile];
        let output = run_to_exit(&with_upstream(&flags, &upstream), &[]);
        assert_exit_code(&output, 1);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(&expected), "{expected}\n{stderr}");
        assert!(!stderr.contains("listening on"), "{stderr}");
    }
}

#[test]
fn root_path_answers_with_and_without_the_prefix() {
    let proxy = launch(&["--root-path", "/tools/v1"], &errors_upstream()).start();
    wait_ready(&proxy);
    let client = http_client(Duration::from_secs(60));
    let body = json!({"message": "prefixed or not"});
    for prefix in ["/tools/v1", ""] {
        let called = proxy.post(&format!("{prefix}/echo"), &body);
        assert_eq!((called.status, &called.body), (200, &body), "{prefix}");
        let document = get_with(&client, &proxy.url(&format!("{prefix}/openapi.json")), None);
        assert_eq!(document.status, 200, "{prefix}");
        assert_eq!(
            document.body["servers"],
            json!([{"url": "/tools/v1"}]),
            "{prefix}"
        );
        // `/docs` redirects to the public, prefixed page.
        let page = client
            .get(proxy.url(&format!("{prefix}/docs")))
            .send()
            .expect("the docs page");
        assert_eq!(page.status(), 200, "{prefix}");
        assert_eq!(page.url().path(), "/tools/v1/docs/", "{prefix}");
        let initializer = get_with(
            &client,
            &proxy.url(&format!("{prefix}/docs/swagger-initializer.js")),
            None,
        );
        assert!(
            initializer_loads(&initializer.body, "/tools/v1/openapi.json"),
            "{prefix}: {:?}",
            initializer.body
        );
        let health = get_with(&client, &proxy.url(&format!("{prefix}/healthz")), None);
        assert_eq!(health.status, 200, "{prefix}");
    }
    // Only a whole-segment prefix counts, and only once.
    for path in ["/tools/v1/tools/v1/echo", "/tools/echo", "/tools/v1x/echo"] {
        let reply = proxy.post(path, &body);
        assert_eq!(
            (reply.status, &reply.body),
            (404, &json!({"detail": "Not Found"})),
            "{path}"
        );
    }
}

/// `--root-path /echo` with a tool named `echo`: `POST /echo` has no `/`
/// after the prefix, so it is the unprefixed tool route, and `/echo/echo` the
/// prefixed one: both call the tool.
#[test]
fn a_tool_named_like_the_root_path_is_reachable_both_ways() {
    let proxy = launch(&["--root-path", "/echo"], &errors_upstream()).start();
    wait_ready(&proxy);
    let body = json!({"message": "same name"});
    for path in ["/echo", "/echo/echo"] {
        let called = proxy.post(path, &body);
        assert_eq!((called.status, &called.body), (200, &body), "{path}");
    }
    let (status, text) = get(&proxy.url("/echo/openapi.json")).expect("an answer");
    assert_eq!(status, 200);
    assert!(text.contains("\"servers\":[{\"url\":\"/echo\"}]"), "{text}");
}

/// The fixture as the lock launches it (`mcp-fixture-server --tools
/// tests/fixture-server/tools/errors.json`), from the workspace root with
/// the fixture's folder on PATH.
fn locked_launch_path() -> String {
    let fixture_dir = build(&["mcp-fixture-server"]);
    let mut paths = vec![fixture_dir];
    paths.extend(std::env::split_paths(&path_with_tools()));
    std::env::join_paths(paths)
        .expect("valid PATH entries")
        .into_string()
        .expect("a UTF-8 PATH")
}

fn write_config(path: &Path, command: &str, args: &[&str], extra: Value) {
    let mut entry = json!({"command": command, "args": args});
    entry
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    // Written beside and renamed, as editors save.
    let temporary = path.with_extension("tmp");
    std::fs::write(
        &temporary,
        json!({"mcpServers": {"errors": entry}}).to_string(),
    )
    .unwrap();
    std::fs::rename(&temporary, path).unwrap();
}

/// The launch spec is part of the reviewed contract: a runtime `--config`
/// that runs another command is drift (logged, in /readyz and /metrics),
/// refused at startup and on a hot-reload edit under `--on-drift fail`.
/// Unknown keys and tool names are warned about, and files too large to be
/// a config or certificate are refused, not read.
#[test]
fn a_runtime_config_that_launches_something_else_is_drift() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let config = dir.path().join("mcp.json");
    let fixture = build(&["mcp-fixture-server"]).join("mcp-fixture-server");
    let errors_json = workspace_root().join("tests/fixture-server/tools/errors.json");
    let (fixture, errors_json) = (path_str(&fixture), path_str(&errors_json));
    // Another command (the same program by another path), a typo'd key and
    // a tool the lock does not have.
    write_config(
        &config,
        fixture,
        &["--tools", errors_json],
        json!({"disableTools": ["x"], "disabledTools": ["no_such_tool"]}),
    );
    let config_arg = path_str(&config);

    // --on-drift fail: refused before anything starts, naming the change.
    let refused = run_to_exit(&["--config", config_arg, "--on-drift", "fail"], &[]);
    assert_ne!(refused.status.code(), Some(0), "{}", output_text(&refused));
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        said.contains("differently from mcp.lock.json")
            && said.contains(&format!(
                "the command is `{fixture} --tools {errors_json}` where the lock has \
                 `mcp-fixture-server --tools tests/fixture-server/tools/errors.json`"
            )),
        "{said}"
    );
    assert!(!said.contains("listening on"), "{said}");

    // --on-drift warn (the default): served, and said everywhere.
    let proxy = Launch::proxy(&proxy_binary())
        .args(&["--config", config_arg])
        .start();
    wait_ready(&proxy);
    let (status, readyz) = get(&proxy.url("/readyz")).unwrap();
    assert_eq!(status, 200, "{readyz}");
    let readyz: Value = serde_json::from_str(&readyz).unwrap();
    assert!(
        readyz["launch_spec_drift"][0]
            .as_str()
            .is_some_and(|finding| finding.starts_with("the command is")),
        "{readyz}"
    );
    let (_, metrics) = get(&proxy.url("/metrics")).unwrap();
    assert!(
        metrics
            .lines()
            .any(|line| line.starts_with("mcpo_launch_spec_drift") && line.ends_with(" 1")),
        "{metrics}"
    );
    for expected in [
        "launch spec drift: the command is",
        r#"unknown key "disableTools" is ignored; did you mean "disabledTools"?"#,
        r#"disabledTools names "no_such_tool", which the lock does not have"#,
    ] {
        assert!(
            wait_for(Duration::from_secs(10), || proxy.logged(expected)),
            "not logged: {expected}"
        );
    }
    drop(proxy);

    // The locked launch spec under --on-drift fail with --hot-reload: an
    // edit that runs another command is refused, the proxy keeps serving
    // the locked one.
    write_config(
        &config,
        "mcp-fixture-server",
        &["--tools", "tests/fixture-server/tools/errors.json"],
        json!({}),
    );
    let path = locked_launch_path();
    let proxy = Launch::proxy(&proxy_binary())
        .dir(&workspace_root())
        .args(&["--config", config_arg, "--on-drift", "fail", "--hot-reload"])
        .env(&[("PATH", &path)])
        .start();
    wait_ready(&proxy);
    let (_, readyz) = get(&proxy.url("/readyz")).unwrap();
    assert!(!readyz.contains("launch_spec_drift"), "{readyz}");
    write_config(&config, "sh", &["-c", "echo pwned"], json!({}));
    assert!(
        wait_for(Duration::from_secs(15), || proxy
            .logged("--hot-reload: refused the edit")
            && proxy.logged("the command is `sh -c echo pwned`")),
        "the edit was not refused"
    );
    let (status, _) = get(&proxy.url("/readyz")).unwrap();
    assert_eq!(status, 200);
    drop(proxy);

    // Files too large to be what they claim: refused at startup, unread.
    let endless = dir.path().join("endless.json");
    std::os::unix::fs::symlink("/dev/zero", &endless).unwrap();
    let endless = path_str(&endless);
    let cases: [&[&str]; 3] = [
        &["--config", endless],
        &["--ssl-certfile", endless, "--ssl-keyfile", endless],
        &["--env-path", endless],
    ];
    for args in cases {
        let output = run_to_exit(args, &[]);
        assert_ne!(output.status.code(), Some(0), "{}", output_text(&output));
        let said = String::from_utf8_lossy(&output.stderr);
        assert!(said.contains("larger than 1 MiB"), "{args:?}: {said}");
    }
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 path")
}
