use super::*;

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::from_json(text, "mcp.json")
}

#[test]
fn every_transport_spelling_mcpo_reads() {
    let config = parse(
            r#"{"mcpServers": {
                "time": {"command": "uvx", "args": ["mcp-server-time"], "env": {"TZ": "UTC"}},
                "legacy": {"url": "http://127.0.0.1:1/sse"},
                "a": {"type": "streamable_http", "url": "http://127.0.0.1:1/mcp"},
                "b": {"type": "streamablehttp", "url": "http://127.0.0.1:1/mcp"},
                "c": {"type": "streamable-http", "url": "http://127.0.0.1:1/mcp",
                      "headers": {"Authorization": "Bearer ${TOKEN}"}},
                "d": {"type": "sse", "url": "http://127.0.0.1:1/sse", "disabled_tools": ["x"]},
                "e": {"type": "stdio", "command": "x", "enabledTools": ["y"], "disabledTools": ["z"]}
            }}"#,
        )
        .unwrap();
    assert!(matches!(
        config.servers["time"].upstream(),
        Upstream::Stdio { .. }
    ));
    assert!(matches!(
        config.servers["legacy"].upstream(),
        Upstream::Sse { .. }
    ));
    for name in ["a", "b", "c"] {
        assert!(matches!(
            config.servers[name].upstream(),
            Upstream::StreamableHttp { .. }
        ));
    }
    assert!(!config.servers["d"].keeps_tool("x"));
    assert!(config.servers["d"].keeps_tool("y"));
    let e = &config.servers["e"];
    assert!(e.keeps_tool("y") && !e.keeps_tool("z") && !e.keeps_tool("other"));
    assert_eq!(
        config.servers["c"].upstream(),
        Upstream::StreamableHttp {
            url: "http://127.0.0.1:1/mcp".into(),
            headers: ValueSources::from_templates([(
                "Authorization".to_string(),
                "Bearer ${TOKEN}".to_string()
            )]),
            oauth: None,
        }
    );
}

#[test]
fn variables_expand_when_reached_and_unset_ones_are_named() {
    let config = parse(
            r#"{"mcpServers": {"s": {"command": "${BIN}", "args": ["--dir=${HOME}/x", "$plain", "${not a var}"],
                "env": {"TOKEN": "${SECRET}"}}}}"#,
        )
        .unwrap();
    let entry = &config.servers["s"];
    let lookup = |name: &str| match name {
        "BIN" => Some("server".to_string()),
        "HOME" => Some("/home/u".to_string()),
        "SECRET" => Some("s3cret".to_string()),
        _ => None,
    };
    let Target::Stdio { command, args, env } = entry.target("s", &lookup).unwrap() else {
        panic!("stdio expected");
    };
    assert_eq!(command, "server");
    assert_eq!(args, ["--dir=/home/u/x", "$plain", "${not a var}"]);
    assert_eq!(env["TOKEN"], "s3cret");
    // The lock form keeps the references, never the values.
    let recorded = format!("{:?}", entry.upstream());
    assert!(recorded.contains("${BIN}") && !recorded.contains("s3cret"));
    let error = entry.target("s", &|_| None).unwrap_err();
    assert!(
        error.to_string().contains("BIN") && error.to_string().contains("command"),
        "{error}"
    );
}

#[test]
fn an_oauth_block_reaches_the_target_and_only_its_settings_the_lock() {
    let config = parse(
        r#"{"mcpServers": {"remote": {"type": "streamable-http", "url": "http://127.0.0.1:9/mcp",
                "oauth": {"server_url": "${AUTH_BASE}/mcp", "storage_type": "memory",
                          "callback_port": 0, "client_id": "pre", "client_secret": "${SECRET}",
                          "client_metadata": {"client_name": "n", "scope": "a b",
                                              "client_secret": "${SECRET}"}}}}}"#,
    )
    .unwrap();
    let entry = &config.servers["remote"];
    let lookup = |var: &str| match var {
        "SECRET" => Some("hush".to_string()),
        "AUTH_BASE" => Some("http://127.0.0.1:9".to_string()),
        _ => None,
    };
    let target = entry.target("remote", &lookup).unwrap();
    let (url, oauth) = target.oauth().expect("an OAuth target");
    assert_eq!(url, "http://127.0.0.1:9/mcp");
    assert_eq!(oauth.client_secret.as_deref(), Some("hush"));
    assert_eq!(oauth.server_url(url), "http://127.0.0.1:9/mcp");
    assert_eq!(oauth.login_hint(url), "mcpo-gen login remote");
    assert_eq!(oauth.settings.callback_port, 0);
    assert_eq!(
        oauth.settings.storage_type,
        crate::upstream::oauth::StorageType::Memory
    );
    assert_eq!(oauth.settings.scopes(), ["a", "b"]);
    assert!(!format!("{target:?}").contains("hush"));
    // The lock: settings as written (`${VAR}` kept), no secret at all.
    let lock = serde_json::to_string(&entry.upstream()).unwrap();
    assert!(lock.contains("${AUTH_BASE}/mcp"), "{lock}");
    assert!(lock.contains("\"client_id\":\"pre\""), "{lock}");
    assert!(!lock.contains("SECRET") && !lock.contains("hush"), "{lock}");
    // Without an oauth block the lock is as before.
    let plain = parse(r#"{"mcpServers": {"p": {"url": "http://x/sse"}}}"#).unwrap();
    let lock = serde_json::to_string(&plain.servers["p"].upstream()).unwrap();
    assert!(!lock.contains("oauth"), "{lock}");
    // A proxy reading the lock back gets an OAuth target, named for the hint.
    let upstream = entry.upstream();
    let target = resolve_target("remote", &upstream, ClientSecret::FromEnv, &lookup).unwrap();
    assert_eq!(
        target.oauth().unwrap().1.login_hint("x"),
        "mcpo-gen login remote"
    );
}

#[test]
fn unknown_entry_keys_are_warned_about_with_the_likely_key() {
    let config = parse(
        r#"{"mcpServers": {"time": {"command": "uvx", "disableTools": ["x"],
                "autoApprove": [], "disabled_tools": ["y"], "colour": 1}}}"#,
    )
    .unwrap();
    assert_eq!(
        config.warnings,
        [
            "server \"time\": unknown key \"disableTools\" is ignored; did you mean \
                 \"disabledTools\"?",
            "server \"time\": unknown key \"colour\" is ignored; the keys used are type, \
                 command, args, env, url, headers, disabledTools, disabled_tools, enabledTools, \
                 enabled_tools, oauth, liveResources, live_resources, forwardIdentity",
        ]
    );
    assert!(
        parse(r#"{"mcpServers": {"t": {"command": "x"}}}"#)
            .unwrap()
            .warnings
            .is_empty()
    );
}

#[test]
fn bad_configs_say_what_to_fix() {
    let cases = [
        ("not json", "not a valid config"),
        (r#"{"servers": {}}"#, "mcpServers"),
        (r#"{"mcpServers": {}}"#, "mcpServers"),
        (
            r#"{"mcpServers": {"docs": {"command": "x"}}}"#,
            "own routes",
        ),
        (r#"{"mcpServers": {"a/b": {"command": "x"}}}"#, "URL prefix"),
        (r#"{"mcpServers": {"s": {}}}"#, "\"command\""),
        (
            r#"{"mcpServers": {"s": {"type": "ws", "url": "http://x"}}}"#,
            "unknown \"type\"",
        ),
        (
            r#"{"mcpServers": {"s": {"type": "sse"}}}"#,
            "needs a \"url\"",
        ),
        (r#"{"mcpServers": {"s": {"url": "ftp://x"}}}"#, "http://"),
        (
            r#"{"mcpServers": {"s": {"url": "http://u:p@x/sse"}}}"#,
            "credentials",
        ),
        (
            r#"{"mcpServers": {"s": {"command": "x", "headers": {"A": "b"}}}}"#,
            "\"env\"",
        ),
        (
            r#"{"mcpServers": {"s": {"url": "http://x/sse", "env": {"A": "b"}}}}"#,
            "\"headers\"",
        ),
        (
            r#"{"mcpServers": {"s": {"command": "x", "oauth": {}}}}"#,
            "applies to HTTP servers",
        ),
        (
            r#"{"mcpServers": {"s": {"url": "http://x/sse", "oauth": {"storage_type": "disk"}}}}"#,
            "expected file or memory",
        ),
        (
            r#"{"mcpServers": {"s": {"url": "http://x/sse", "oauth": {"client_secret": "s"}}}}"#,
            "\"client_id\"",
        ),
        (
            r#"{"mcpServers": {"s": {"url": "http://x/sse", "oauth": {"callbak_port": 1}}}}"#,
            "callbak_port",
        ),
        (r#"{"mcpServers": {"s": {"command": 7}}}"#, "server \"s\""),
    ];
    for (text, expected) in cases {
        let error = parse(text).unwrap_err().to_string();
        assert!(error.contains(expected), "{text}: {error}");
    }
}

#[test]
fn literal_values_of_two_servers_never_share_a_variable() {
    let config = parse(
        r#"{"mcpServers": {
            "a-b": {"type": "sse", "url": "http://127.0.0.1:1/sse", "headers": {"X-Key": "one"}},
            "a_b": {"type": "sse", "url": "http://127.0.0.1:2/sse", "headers": {"X-Key": "two"}},
            "c": {"type": "sse", "url": "http://127.0.0.1:3/sse", "headers": {"X-Key": "${SHARED}"}},
            "d": {"type": "sse", "url": "http://127.0.0.1:4/sse", "headers": {"X-Key": "${SHARED}"}}
        }}"#,
    )
    .unwrap();
    // `${SHARED}` is shared because the config says so; the literal values
    // would be shared by accident.
    assert_eq!(
        config.clashing_variables(),
        [
            "servers \"a-b\" and \"a_b\" would both read ${MCPO_A_B_HEADER_X_KEY}: rename one, \
          or write the value as a ${VAR} of your choosing"
        ]
    );
}

#[test]
fn literal_values_reach_the_target_and_never_the_launch_spec() {
    let config = parse(
        r#"{"mcpServers": {"api": {"type": "streamable-http", "url": "http://127.0.0.1:1/mcp",
            "headers": {"X-Token": "literal-secret-value", "X-Other": "Bearer ${TOKEN}"}}}}"#,
    )
    .unwrap();
    let entry = &config.servers["api"];
    let spec = serde_json::to_string(&entry.upstream()).unwrap();
    assert!(!spec.contains("literal-secret-value"), "{spec}");
    assert!(spec.contains("MCPO_API_HEADER_X_TOKEN"), "{spec}");
    assert!(!format!("{entry:?}").contains("literal-secret-value"));
    let target = entry
        .target("api", &|var| (var == "TOKEN").then(|| "t".to_string()))
        .unwrap();
    let Target::StreamableHttp { headers, .. } = target else {
        panic!("an HTTP target");
    };
    assert_eq!(headers["X-Token"], "literal-secret-value");
    assert_eq!(headers["X-Other"], "Bearer t");
    let missing = entry.target("api", &|_| None).unwrap_err().to_string();
    assert!(
        missing.contains("TOKEN") && missing.contains("header X-Other"),
        "{missing}"
    );
}

#[test]
fn literal_values_of_names_that_read_one_variable_are_refused() {
    let error = parse(
        r#"{"mcpServers": {"api": {"type": "streamable-http", "url": "http://127.0.0.1:1/mcp",
            "headers": {"X-Key": "first-secret", "X_Key": "second-secret"}}}}"#,
    )
    .unwrap_err()
    .to_string();
    assert!(
        error.contains("X_Key") || error.contains("X-Key"),
        "{error}"
    );
    assert!(!error.contains("secret"), "{error}");
}

#[test]
fn live_resources_is_a_switch_of_each_server() {
    let config = parse(
        r#"{"mcpServers": {
            "notes": {"command": "notes-server", "liveResources": true},
            "guides": {"command": "guides-server", "live_resources": false},
            "time": {"command": "uvx"}
        }}"#,
    )
    .unwrap();
    assert!(config.servers["notes"].live_resources);
    assert!(!config.servers["guides"].live_resources);
    assert!(!config.servers["time"].live_resources);
    assert!(config.warnings.is_empty(), "{:?}", config.warnings);
}

#[test]
fn forward_identity_is_off_unless_an_entry_says_so() {
    let config = parse(
        r#"{"mcpServers": {
            "plain": {"url": "http://127.0.0.1:1/mcp"},
            "meta": {"url": "http://127.0.0.1:1/mcp", "forwardIdentity": true},
            "named": {"url": "http://127.0.0.1:1/mcp", "forwardIdentity":
                {"headers": {"subject": "X-User-Id", "email": "X-User-Email"}, "token": true}}}}"#,
    )
    .unwrap();
    assert_eq!(config.servers["plain"].forward_identity, None);
    let meta = config.servers["meta"].forward_identity.clone().unwrap();
    assert!(meta.headers.is_empty() && !meta.token);
    let named = config.servers["named"].forward_identity.clone().unwrap();
    assert_eq!(named.headers.len(), 2);
    assert!(named.token);
    for wrong in [
        r#""forwardIdentity": "yes""#,
        r#""forwardIdentity": {"headers": {"subject": "Mcp-Session-Id"}}"#,
        r#""forwardIdentity": {"headers": {"subject": "Authorization"}}"#,
        r#""forwardIdentity": {"headers": {"password": "X-P"}}"#,
        r#""forwardIdentity": {"headers": {"subject": "X User"}}"#,
        r#""forwardIdentity": {"tokens": true}"#,
    ] {
        let text =
            format!(r#"{{"mcpServers": {{"s": {{"url": "http://127.0.0.1:1/mcp", {wrong}}}}}}}"#);
        assert!(parse(&text).is_err(), "{wrong}");
    }
}
