//! OAuth 2.1 for protected HTTP upstreams (issue #15), end to end against
//! tests/oauth-server (an authorization server that approves at once and the
//! MCP server it protects): mcpo-gen registers, authorizes (the test follows
//! the `Authorize:` URL over HTTP like a browser, to mcpo-gen's loopback
//! callback), snapshots and generates; the proxy calls tools with the stored
//! tokens, refreshes them, and when it cannot (revoked) is unready with the
//! `mcpo-gen login` hint and answers 503. A call that needs more scope
//! (step-up: 403 `insufficient_scope`) is a 503 naming `mcpo-gen login`,
//! which then asks for that scope too, and the call works. Tokens are files 0600 in a folder
//! 0700 and appear in no output: mcpo-gen's, the proxy's log, the lock, the
//! generated crate, the documents, error bodies. Hardening: an authorization
//! endpoint that is `javascript:`, `file:` or plain http to another host is
//! refused before anything is printed or opened; metadata over 1 MiB is
//! refused; a browser starts only on a terminal after Enter, never headless;
//! a token folder open to others is made 0700.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::time::Duration;

use mcpo_gen_e2e::*;
use serde_json::{Value, json};

/// Every secret the server has issued so far (access and refresh tokens,
/// client secrets), and how often each grant was used.
fn issued(server: &Running) -> (Vec<String>, Value) {
    let (status, body) = get(&server.url("/admin/tokens")).expect("the OAuth server answers");
    assert_eq!(status, 200, "{body}");
    let body: Value = serde_json::from_str(&body).expect("JSON");
    let secrets = body["issued"]
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect();
    (secrets, body["grants"].clone())
}

fn grants(server: &Running, grant_type: &str) -> u64 {
    issued(server).1[grant_type].as_u64().unwrap_or(0)
}

/// Fails naming where a secret the server issued shows up in `texts`
/// (`(where, text)` pairs).
#[track_caller]
fn assert_no_secret(server: &Running, texts: &[(String, String)]) {
    let (secrets, _) = issued(server);
    assert!(!secrets.is_empty(), "the server issued no token at all");
    for secret in &secrets {
        for (place, text) in texts {
            assert!(
                !text.contains(secret.as_str()),
                "a token or client secret the server issued ({}...) is in {place}",
                &secret[..secret.len().min(6)]
            );
        }
    }
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|error| panic!("{}: {error}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// The token folder holds one file at least, every one 0600, and is 0700.
#[track_caller]
fn assert_private(token_dir: &Path) -> Vec<std::path::PathBuf> {
    assert_eq!(
        mode(token_dir),
        0o700,
        "token folder {}",
        token_dir.display()
    );
    let files: Vec<_> = std::fs::read_dir(token_dir)
        .expect("the token folder exists")
        .flatten()
        .map(|entry| entry.path())
        .collect();
    assert!(
        !files.is_empty(),
        "no token file in {}",
        token_dir.display()
    );
    for file in &files {
        assert_eq!(mode(file), 0o600, "token file {}", file.display());
    }
    files
}

fn call(proxy: &Running, tool: &str, arguments: Value) -> Reply {
    proxy.post(&format!("/{tool}"), &arguments)
}

fn proxy_log(proxy: &Running) -> String {
    proxy
        .log
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .join("\n")
}

/// Writes `dir/mcp.json`: the server `protected`, `server`'s MCP endpoint
/// over streamable HTTP, with the `oauth` block; returns its path.
fn protected_config(dir: &Path, server: &Running, oauth: Value) -> std::path::PathBuf {
    let config = dir.join("mcp.json");
    std::fs::write(
        &config,
        json!({"mcpServers": {"protected": {
            "type": "streamable-http",
            "url": server.url("/mcp"),
            "oauth": oauth,
        }}})
        .to_string(),
    )
    .unwrap();
    config
}

/// `mcpo-gen login ARGS` with its tokens in `token_dir`, authorized as the
/// user's browser would ([`run_authorizing`]); it must succeed. Returns its
/// output, as text.
#[track_caller]
fn login(args: &[&str], token_dir: impl AsRef<std::ffi::OsStr>) -> String {
    let mut login = std::process::Command::new(mcpo_gen_bin());
    login
        .arg("login")
        .args(args)
        .env("MCPO_TOKEN_DIR", token_dir);
    let output = run_authorizing(&mut login, Duration::from_secs(60));
    let text = output_text(&output);
    assert!(output.status.success(), "mcpo-gen login: {text}");
    text
}

/// The built proxy with `args`, its tokens in `token_dir`, logging the
/// runtime's debug lines; connected.
fn start_with_tokens(built: &BuiltProxy, args: &[&str], token_dir: &str) -> Running {
    Launch::proxy(&built.binary)
        .args(args)
        .env(&[
            ("MCPO_TOKEN_DIR", token_dir),
            ("RUST_LOG", "info,mcpo_runtime=debug"),
        ])
        .start_ready()
}

/// The whole story with one proxy: snapshot through the OAuth flow, call,
/// refresh, revocation, `mcpo-gen login` again; and no token anywhere.
#[test]
fn snapshot_call_refresh_revoke_and_log_in_again() {
    let server = start_oauth_server(&["--token-lifetime-secs", "2", "--subject", "alice"]);
    let upstream = server.url("/mcp");
    let home = tempfile::tempdir().unwrap();
    // Not there yet: mcpo-gen makes it, 0700.
    let token_dir = home.path().join("tokens");
    let token_dir_text = token_dir.to_str().unwrap();
    let env = [("MCPO_TOKEN_DIR", token_dir_text)];

    let (lock, proxy_binary, generated) = snapshot_and_build_with(
        &[
            "--server-type",
            "streamable-http",
            "--oauth",
            "--oauth-callback-port",
            "0",
            "--",
            &upstream,
        ],
        &env,
        true,
        &[],
    );
    let generated_text = output_text(&generated);
    assert!(
        generated_text.contains("Authorize: "),
        "no Authorize: line:\n{generated_text}"
    );
    assert_eq!(grants(&server, "authorization_code"), 1, "{generated_text}");
    let mut tools = strings_of(&lock["tools"], "name");
    tools.sort_unstable();
    assert_eq!(tools, ["echo", "whoami"], "{lock}");
    let token_files = assert_private(&token_dir);
    // The generated crate as written (lock, README, openapi.json, sources).
    let crate_dir = target_dir().join("e2e-proxies/e2e-proxy");
    let mut outputs: Vec<(String, String)> = read_tree(&crate_dir)
        .into_iter()
        .map(|(path, bytes)| {
            (
                format!("the generated crate's {}", path.display()),
                String::from_utf8_lossy(&bytes).into_owned(),
            )
        })
        .collect();
    outputs.push(("mcpo-gen's output".into(), generated_text));

    let proxy = start_with_tokens(&proxy_binary, &[], token_dir_text);
    let whoami = call(&proxy, "whoami", json!({}));
    assert_eq!(whoami.status, 200, "{whoami:?}");
    let text = whoami.body.to_string();
    assert!(text.contains("alice"), "whoami: {text}");
    assert!(text.contains("mcp:tools"), "whoami: {text}");

    // Past the access token's lifetime: refreshed (before expiry or after
    // the 401), the call works. The sleep is the point: the token's
    // lifetime (2 s) must pass.
    std::thread::sleep(Duration::from_secs(3));
    let echo = call(&proxy, "echo", json!({"message": "after expiry"}));
    assert_eq!(echo.status, 200, "{echo:?}");
    assert!(echo.body.to_string().contains("after expiry"), "{echo:?}");
    assert!(
        grants(&server, "refresh_token") >= 1,
        "the proxy never refreshed"
    );
    // Refreshed tokens are stored back, still private.
    assert_eq!(assert_private(&token_dir), token_files);
    let openapi = get(&proxy.url("/openapi.json")).expect("the proxy answers");
    outputs.push(("the proxy's /openapi.json".into(), openapi.1));

    // Revoked: the proxy cannot refresh, is unready with the hint, calls 503.
    let (status, _) = {
        let reply = post_raw(&server.url("/admin/revoke"), "", None);
        (reply.status, reply.body)
    };
    assert_eq!(status, 200);
    let readyz = proxy.url("/readyz");
    let mut last_ready = (0, String::new());
    let unready = wait_for(Duration::from_secs(60), || {
        let echo = call(&proxy, "echo", json!({"message": "revoked"}));
        outputs.push((
            "a call's answer after revocation".into(),
            echo.body.to_string(),
        ));
        last_ready = get(&readyz).unwrap_or((0, String::new()));
        echo.status == 503 && last_ready.0 == 503
    });
    assert!(
        unready,
        "not unready after revocation: /readyz {last_ready:?}"
    );
    assert!(
        last_ready.1.contains("needs authorization") && last_ready.1.contains("mcpo-gen login"),
        "/readyz: {}",
        last_ready.1
    );
    let refused = call(&proxy, "whoami", json!({}));
    assert_eq!(refused.status, 503, "{refused:?}");
    outputs.push(("/readyz".into(), last_ready.1.clone()));
    outputs.push(("a 503".into(), refused.body.to_string()));

    // `mcpo-gen login --url` stores new tokens; the proxy picks them up.
    let login_text = login(
        &["--url", &upstream, "--oauth-callback-port", "0"],
        token_dir_text,
    );
    assert_eq!(grants(&server, "authorization_code"), 2, "{login_text}");
    assert_private(&token_dir);
    outputs.push(("mcpo-gen login's output".into(), login_text));
    let ready_again = wait_for(Duration::from_secs(60), || {
        call(&proxy, "echo", json!({"message": "again"})).status == 200
    });
    assert!(
        ready_again,
        "the proxy did not use the tokens of the new login"
    );

    outputs.push(("the proxy's log".into(), proxy_log(&proxy)));
    assert_no_secret(&server, &outputs);
}

/// `mcpo-gen login NAME --config FILE` (a Claude Desktop config with an
/// `oauth` entry) authorizes and stores tokens, and only that.
#[test]
fn login_from_a_config_stores_private_tokens() {
    let server = start_oauth_server(&[]);
    let home = tempfile::tempdir().unwrap();
    let token_dir = home.path().join("tokens");
    let config = protected_config(
        home.path(),
        &server,
        json!({
            "server_url": server.url("/mcp"),
            "storage_type": "file",
            "callback_port": 0,
            "use_loopback": true,
            "client_metadata": {"client_name": "mcpo-gen e2e"},
        }),
    );
    let text = login(
        &["protected", "--config", config.to_str().unwrap()],
        &token_dir,
    );
    assert!(text.contains("Authorize: "), "{text}");
    assert_eq!(grants(&server, "authorization_code"), 1, "{text}");
    assert!(
        server.logged("registered client"),
        "no dynamic registration"
    );
    assert_private(&token_dir);
    assert_no_secret(&server, &[("mcpo-gen login's output".into(), text)]);
}

/// The protected server refuses a token issued for another resource (RFC
/// 8707 audience), with a challenge pointing at its metadata, and takes one
/// for itself: what makes the client's `resource` parameter matter.
#[test]
fn a_token_for_another_audience_is_refused() {
    let server = start_oauth_server(&[]);
    let initialize = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "e2e", "version": "1"}}});
    let mint = |resource: &str| {
        let reply = post_raw(
            &format!("{}?resource={resource}", server.url("/admin/mint")),
            "",
            None,
        );
        reply.body["access_token"]
            .as_str()
            .expect("a minted token")
            .to_string()
    };
    let post = |token: Option<&str>| {
        let client = reqwest::blocking::Client::new();
        let mut request = client
            .post(server.url("/mcp"))
            .header("accept", "application/json, text/event-stream")
            .header("content-type", "application/json")
            .body(initialize.to_string());
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().expect("the server answers")
    };
    let metadata = format!(
        r#"resource_metadata="{}""#,
        server.url("/.well-known/oauth-protected-resource/mcp")
    );

    let anonymous = post(None);
    assert_eq!(anonymous.status(), 401);
    let challenge = anonymous.headers()["www-authenticate"].to_str().unwrap();
    assert!(challenge.contains(&metadata), "{challenge}");

    let elsewhere = mint(&format!("http://127.0.0.1:{}/mcp", closed_port()));
    let refused = post(Some(&elsewhere));
    assert_eq!(refused.status(), 401);
    let challenge = refused.headers()["www-authenticate"].to_str().unwrap();
    assert!(
        challenge.contains(r#"error="invalid_token""#),
        "{challenge}"
    );
    assert!(challenge.contains(&metadata), "{challenge}");
    // The server's log is read by a thread of its own: it may lag a little.
    assert!(wait_for(Duration::from_secs(10), || server
        .logged("token issued for another resource")));

    let mine = mint(&server.url("/mcp"));
    assert_eq!(post(Some(&mine)).status(), 200);
}

/// Step-up (incremental authorization): the server's `write` tool needs a
/// scope the first token lacks and answers 403 `insufficient_scope` naming
/// it. The proxy answers 503 naming `mcpo-gen login`, records the scope in
/// the token file; that login asks for it too (plus the granted one), and
/// the very same call then works, the running proxy using the new token.
#[test]
fn a_call_needing_more_scope_works_after_the_login_the_503_names() {
    let server =
        start_oauth_server(&["--step-up-scope", "mcp:write", "--token-lifetime-secs", "3"]);
    let home = tempfile::tempdir().unwrap();
    let token_dir = home.path().join("tokens");
    let token_dir_text = token_dir.to_str().unwrap();
    let config = protected_config(
        home.path(),
        &server,
        json!({"callback_port": 0, "client_metadata": {"client_name": "mcpo-gen e2e"}}),
    );
    let config_text = config.to_str().unwrap();
    let (lock, proxy_binary, generated) = snapshot_and_build_with(
        &["--config", config_text],
        &[("MCPO_TOKEN_DIR", token_dir_text)],
        true,
        &[],
    );
    let mut outputs = vec![("mcpo-gen's output".to_string(), output_text(&generated))];
    let tools = lock["servers"]["protected"]["tools"].to_string();
    assert!(tools.contains(r#""write""#), "{tools}");
    let token_files = assert_private(&token_dir);
    assert_eq!(token_files.len(), 1, "{token_files:?}");
    let token_file = &token_files[0];
    let stored = |file: &Path| -> Value {
        serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap()
    };

    let proxy = start_with_tokens(&proxy_binary, &["--config", config_text], token_dir_text);
    let whoami = call(&proxy, "protected/whoami", json!({}));
    assert_eq!(whoami.status, 200, "{whoami:?}");
    assert!(!whoami.body.to_string().contains("mcp:write"), "{whoami:?}");

    // Not enough scope: 503 naming the scope and the login; recorded.
    let refused = call(&proxy, "protected/write", json!({}));
    assert_eq!(refused.status, 503, "{refused:?}");
    let detail = refused.body["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("`mcpo-gen login protected --config FILE`") && detail.contains("mcp:write"),
        "{detail}"
    );
    assert!(wait_for(Duration::from_secs(10), || server
        .logged("refused a call of write")));
    outputs.push(("the 503".into(), refused.body.to_string()));
    assert_eq!(
        stored(token_file)["pending_scopes"],
        json!(["mcp:write"]),
        "the proxy did not record the scope the call needs"
    );
    assert_eq!(assert_private(&token_dir), token_files);
    // The proxy is still ready: a lack of scope is not a lost connection.
    assert_eq!(get(&proxy.url("/readyz")).unwrap().0, 200);

    // The login the 503 names asks for the granted and the pending scopes.
    let login_text = login(&["protected", "--config", config_text], token_dir_text);
    assert!(
        login_text.contains("Asking also for the scope a call needed: mcp:write"),
        "{login_text}"
    );
    let authorize_line = login_text
        .lines()
        .find(|line| line.starts_with("Authorize: "))
        .expect("an Authorize: line");
    assert!(
        authorize_line.contains("mcp%3Atools") && authorize_line.contains("mcp%3Awrite"),
        "{authorize_line}"
    );
    assert_eq!(grants(&server, "authorization_code"), 2, "{login_text}");
    outputs.push(("mcpo-gen login's output".into(), login_text));
    assert_eq!(assert_private(&token_dir), token_files);
    let file = stored(token_file);
    assert!(
        file.get("pending_scopes").is_none(),
        "still pending: {file}"
    );

    // The same call, the same proxy: it works now.
    let written = call(&proxy, "protected/write", json!({}));
    assert_eq!(written.status, 200, "{written:?}");
    assert!(written.body.to_string().contains("written"), "{written:?}");
    let whoami = call(&proxy, "protected/whoami", json!({}));
    assert!(whoami.body.to_string().contains("mcp:write"), "{whoami:?}");
    // Past the new token's lifetime: refreshed, with the scope kept, even
    // though the login registered another client than the proxy started
    // with (the proxy switches to the stored one): no call fails meanwhile.
    // The sleep is the point: the token's lifetime (3 s) must pass.
    std::thread::sleep(Duration::from_secs(4));
    let later = call(&proxy, "protected/write", json!({}));
    assert_eq!(later.status, 200, "after the new token expired: {later:?}");
    assert!(
        grants(&server, "refresh_token") >= 1,
        "the proxy never refreshed"
    );

    outputs.push(("the proxy's log".into(), proxy_log(&proxy)));
    assert!(
        outputs
            .last()
            .is_some_and(|(_, log)| log.contains("recorded for the next `mcpo-gen login`")),
        "the proxy did not log the recorded scope"
    );
    assert_no_secret(&server, &outputs);
}

/// A `$BROWSER` that records what it was asked to open in `marker`.
fn recording_browser(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let marker = dir.join("opened");
    let script = dir.join("browser.sh");
    std::fs::write(
        &script,
        format!("#!/bin/sh\necho \"$1\" >> '{}'\n", marker.display()),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    (script, marker)
}

/// `mcpo-gen login --url` against `server`, headless (stdin not a
/// terminal), with a recording `$BROWSER` and a short wait.
fn login_headless(server: &Running, home: &Path, browser: &Path) -> std::process::Output {
    std::process::Command::new(mcpo_gen_bin())
        .args(["login", "--url", &server.url("/mcp")])
        .args(["--oauth-callback-port", "0"])
        .env("MCPO_TOKEN_DIR", home.join("tokens"))
        .env("BROWSER", browser)
        .env("DISPLAY", ":0")
        .env("MCPO_OAUTH_TIMEOUT", "3")
        .env_remove("MCPO_OAUTH_NO_BROWSER")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("mcpo-gen runs")
}

/// An authorization endpoint that is not https (nor http on a loopback
/// host) in the server's metadata: `mcpo-gen login` refuses it, naming
/// the field and why, before printing or opening anything.
#[test]
fn login_refuses_a_javascript_file_or_plain_http_authorization_endpoint() {
    for (endpoint, why) in [
        (
            "javascript:alert(document.cookie)//",
            "scheme is javascript:",
        ),
        ("file:///etc/passwd?response_type=code", "scheme is file:"),
        ("http://192.0.2.1/authorize", "plain http"),
    ] {
        let server =
            start_oauth_server(&["--advertise", &format!("authorization_endpoint={endpoint}")]);
        let home = tempfile::tempdir().unwrap();
        let (browser, opened) = recording_browser(home.path());
        let output = login_headless(&server, home.path(), &browser);
        let text = output_text(&output);
        assert!(!output.status.success(), "{text}");
        assert!(
            text.contains("authorization_endpoint") && text.contains(why),
            "{endpoint}: {text}"
        );
        assert!(!text.contains("Authorize: "), "{endpoint}: {text}");
        assert!(!opened.exists(), "{endpoint} was opened: {text}");
        assert!(
            !server.logged("registered client"),
            "{endpoint}: registered before the check"
        );
    }
}

/// A login without a terminal never starts a browser, even with
/// `$BROWSER` and a display: it prints `Authorize: URL` and waits.
#[test]
fn a_headless_login_opens_no_browser() {
    let server = start_oauth_server(&[]);
    let home = tempfile::tempdir().unwrap();
    let (browser, opened) = recording_browser(home.path());
    let output = login_headless(&server, home.path(), &browser);
    let text = output_text(&output);
    assert!(text.contains("Authorize: http://127.0.0.1:"), "{text}");
    assert!(!text.contains("Press Enter"), "{text}");
    // No redirect came (nobody followed the URL): it timed out.
    assert!(!output.status.success(), "{text}");
    assert!(text.contains("no redirect within 3s"), "{text}");
    assert!(
        !opened.exists(),
        "a browser was started: {:?}",
        std::fs::read_to_string(&opened)
    );
}

/// Authorization server metadata over 1 MiB is refused, saying so.
#[test]
fn login_refuses_an_oversized_metadata_document() {
    let server = start_oauth_server(&["--metadata-padding", "1100000"]);
    let home = tempfile::tempdir().unwrap();
    let (browser, opened) = recording_browser(home.path());
    let output = login_headless(&server, home.path(), &browser);
    let text = output_text(&output);
    assert!(!output.status.success(), "{text}");
    assert!(text.contains("is larger than 1 MiB"), "{text}");
    assert!(!text.contains("Authorize: "), "{text}");
    assert!(!opened.exists());
}

/// A token folder that exists open to others (0777) and is the user's is
/// made 0700, with a warning; the tokens are stored in it, 0600.
#[test]
fn login_makes_a_token_folder_open_to_others_private() {
    let server = start_oauth_server(&[]);
    let home = tempfile::tempdir().unwrap();
    let token_dir = home.path().join("tokens");
    std::fs::create_dir(&token_dir).unwrap();
    std::fs::set_permissions(&token_dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let text = login(
        &["--url", &server.url("/mcp"), "--oauth-callback-port", "0"],
        &token_dir,
    );
    assert!(
        text.contains("was open to other users (mode 0777); made it 0700"),
        "{text}"
    );
    assert_private(&token_dir);
}

/// On a terminal (util-linux `script` gives mcpo-gen one), `mcpo-gen login`
/// offers to open the URL and starts the browser only once Enter is
/// pressed.
#[test]
fn on_a_terminal_the_browser_opens_only_after_enter() {
    use std::io::{BufRead as _, Write as _};
    let server = start_oauth_server(&[]);
    let home = tempfile::tempdir().unwrap();
    let (browser, opened) = recording_browser(home.path());
    let quote = |text: &str| format!("'{}'", text.replace('\'', r"'\''"));
    let command = format!(
        "{} login --url {} --oauth-callback-port 0",
        quote(mcpo_gen_bin().to_str().unwrap()),
        quote(&server.url("/mcp"))
    );
    let mut terminal = std::process::Command::new("script")
        .args(["-qfec", &command, "/dev/null"])
        .env("SHELL", "/bin/sh")
        .env("MCPO_TOKEN_DIR", home.path().join("tokens"))
        .env("BROWSER", &browser)
        .env("DISPLAY", ":0")
        .env("MCPO_OAUTH_TIMEOUT", "60")
        .env_remove("MCPO_OAUTH_NO_BROWSER")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("util-linux `script` runs");
    let output = terminal.stdout.take().unwrap();
    let (lines, seen) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(output)
            .lines()
            .map_while(Result::ok)
        {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let mut text = String::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !text.contains("Press Enter to open it in your browser.") {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match seen.recv_timeout(left) {
            Ok(line) => {
                text.push_str(&line);
                text.push('\n');
            }
            Err(_) => {
                let _ = terminal.kill();
                panic!("no offer to open the browser:\n{text}");
            }
        }
    }
    assert!(text.contains("Authorize: http://127.0.0.1:"), "{text}");
    // The point: nothing is opened during a while without Enter.
    std::thread::sleep(Duration::from_secs(1));
    assert!(!opened.exists(), "opened before Enter:\n{text}");
    let mut keyboard = terminal.stdin.take().unwrap();
    keyboard.write_all(b"\n").unwrap();
    keyboard.flush().unwrap();
    let started = wait_for(Duration::from_secs(15), || opened.exists());
    let _ = terminal.kill();
    let _ = terminal.wait();
    assert!(started, "Enter started no browser:\n{text}");
    let url = std::fs::read_to_string(&opened).unwrap();
    assert!(
        url.starts_with(&server.url("/authorize?")),
        "opened {url:?}"
    );
}
