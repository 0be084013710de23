use super::*;

fn cli(args: &[&str]) -> Cli {
    let argv = std::iter::once("proxy").chain(args.iter().copied());
    match Cli::try_parse_from(argv) {
        Ok(cli) => cli,
        Err(error) => panic!("{error}"),
    }
}

fn stdio_lock() -> Upstream {
    Upstream::Stdio {
        command: "uvx".into(),
        args: vec!["mcp-server-time".into()],
        env: crate::lock::ValueSources::default(),
    }
}

fn no_env(_: &str) -> Option<String> {
    None
}

#[test]
fn defaults_match_mcpo() {
    let parsed = cli(&[]);
    assert_eq!(parsed.host, "0.0.0.0");
    assert_eq!(parsed.port, 8000);
    assert_eq!(parsed.max_body_bytes, 2 * 1024 * 1024);
    assert_eq!(parsed.on_drift, DriftPolicy::Refuse);
    assert!(parsed.api_keys.is_empty());
}

#[test]
fn lock_upstream_is_the_default() {
    let target = resolve_target(&cli(&[]), &stdio_lock(), &no_env);
    assert_eq!(
        target,
        Ok(Target::Stdio {
            command: "uvx".into(),
            args: vec!["mcp-server-time".into()],
            env: BTreeMap::new(),
        })
    );
}

#[test]
fn trailing_command_overrides_stdio() {
    let parsed = cli(&["--port", "9", "--", "node", "server.js", "--flag"]);
    assert_eq!(
        resolve_target(&parsed, &stdio_lock(), &no_env),
        Ok(Target::Stdio {
            command: "node".into(),
            args: vec!["server.js".into(), "--flag".into()],
            env: BTreeMap::new(),
        })
    );
}

#[test]
fn url_argument_means_streamable_http_with_headers() {
    let parsed = cli(&[
        "--header",
        "X-One: 1",
        "--header",
        r#"{"Authorization": "Bearer t"}"#,
        "http://127.0.0.1:3001/mcp",
    ]);
    let Ok(Target::StreamableHttp {
        url,
        headers,
        oauth: _,
    }) = resolve_target(&parsed, &stdio_lock(), &no_env)
    else {
        panic!("expected an HTTP target");
    };
    assert_eq!(url, "http://127.0.0.1:3001/mcp");
    assert_eq!(headers.len(), 2);
    assert_eq!(
        headers.get("Authorization").map(String::as_str),
        Some("Bearer t")
    );
}

#[test]
fn locked_header_names_read_their_env_var() {
    let locked = Upstream::StreamableHttp {
        url: "http://h/mcp".into(),
        headers: crate::lock::ValueSources::from_names(["X-Api-Token".to_string()]),
        oauth: None,
    };
    let env = |name: &str| (name == "MCPO_HEADER_X_API_TOKEN").then(|| "sekrit".to_string());
    let Ok(Target::StreamableHttp { headers, .. }) = resolve_target(&cli(&[]), &locked, &env)
    else {
        panic!("expected an HTTP target");
    };
    assert_eq!(
        headers.get("X-Api-Token").map(String::as_str),
        Some("sekrit")
    );
}

#[test]
fn a_locked_sse_upstream_reads_its_header_env_vars() {
    let locked = Upstream::Sse {
        url: "http://h/sse".into(),
        headers: crate::lock::ValueSources::from_names(["X-Api-Token".to_string()]),
        oauth: None,
    };
    let env = |name: &str| (name == "MCPO_HEADER_X_API_TOKEN").then(|| "sekrit".to_string());
    assert_eq!(
        resolve_target(&cli(&[]), &locked, &env),
        Ok(Target::Sse {
            url: "http://h/sse".into(),
            headers: BTreeMap::from([("X-Api-Token".into(), "sekrit".into())]),
            oauth: None,
        })
    );
    // A URL alone keeps the lock's transport and its header names.
    assert_eq!(
        resolve_target(&cli(&["http://other/sse"]), &locked, &env),
        Ok(Target::Sse {
            url: "http://other/sse".into(),
            headers: BTreeMap::from([("X-Api-Token".into(), "sekrit".into())]),
            oauth: None,
        })
    );
}

#[test]
fn server_type_sse_takes_a_url_and_headers() {
    let parsed = cli(&[
        "--server-type",
        "sse",
        "--header",
        "Authorization: Bearer t",
        "http://127.0.0.1:3001/sse",
    ]);
    assert_eq!(
        resolve_target(&parsed, &stdio_lock(), &no_env),
        Ok(Target::Sse {
            url: "http://127.0.0.1:3001/sse".into(),
            headers: BTreeMap::from([("Authorization".into(), "Bearer t".into())]),
            oauth: None,
        })
    );
    let error = resolve_target(&cli(&["--server-type", "sse"]), &stdio_lock(), &no_env);
    assert!(error.is_err_and(|error| error.0.contains("--server-type sse needs the server URL")));
}

#[test]
fn http_without_url_is_an_error() {
    let parsed = cli(&["--server-type", "streamable-http"]);
    assert!(resolve_target(&parsed, &stdio_lock(), &no_env).is_err());
}

#[test]
fn header_errors_never_echo_values() {
    for raw in [
        "no colon sekrit",
        r#"{"A": "bad\nsekrit"}"#,
        "A: bad\u{7f}sekrit",
        "{sekrit",
    ] {
        let error = parse_headers(&[raw.to_string()]);
        let message = error
            .err()
            .map(|error| error.to_string())
            .unwrap_or_default();
        assert!(!message.is_empty(), "{raw:?} should be rejected");
        assert!(!message.contains("sekrit"), "{message}");
    }
}

#[test]
fn a_header_flag_wins_over_its_env_var_whatever_the_case() {
    let locked = Upstream::StreamableHttp {
        url: "http://h/mcp".into(),
        headers: crate::lock::ValueSources::from_names(["Authorization".to_string()]),
        oauth: None,
    };
    let env = |name: &str| (name == "MCPO_HEADER_AUTHORIZATION").then(|| "from-env".to_string());
    let parsed = cli(&["--header", "authorization: from-flag"]);
    let Ok(Target::StreamableHttp { headers, .. }) = resolve_target(&parsed, &locked, &env) else {
        panic!("expected an HTTP target");
    };
    assert_eq!(
        headers.into_iter().collect::<Vec<_>>(),
        vec![("authorization".to_string(), "from-flag".to_string())]
    );
}

#[test]
fn connection_limits_must_be_usable() {
    assert_eq!(cli(&["--max-connections", "5"]).max_connections, Some(5));
    assert!(Cli::try_parse_from(["proxy", "--max-connections", "0"]).is_err());
    assert!(Cli::try_parse_from(["proxy", "--header-timeout", "0"]).is_err());
}

#[test]
fn log_levels_take_mcpo_names() {
    assert_eq!(cli(&["--log-level", "WARNING"]).log_level, Some("warn"));
    assert_eq!(cli(&["--log-level", "critical"]).log_level, Some("error"));
    assert_eq!(cli(&["--log-level", "DEBUG"]).log_level, Some("debug"));
    assert!(Cli::try_parse_from(["proxy", "--log-level", "loud"]).is_err());
}

#[test]
fn env_files_are_read_and_their_errors_hide_values() {
    let dir = std::env::temp_dir().join(format!("mcpo-env-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("good.env");
    std::fs::write(
        &good,
        "# comment\nexport TOKEN=abc\nQUOTED=\"a b\"\n\nEMPTY=\n",
    )
    .unwrap();
    let vars = read_env_file(&good).unwrap();
    assert_eq!(vars["TOKEN"], "abc");
    assert_eq!(vars["QUOTED"], "a b");
    assert_eq!(vars["EMPTY"], "");
    let bad = dir.join("bad.env");
    std::fs::write(&bad, "OK=1\nsekrit value without key\n").unwrap();
    let error = read_env_file(&bad).unwrap_err().0;
    assert!(error.contains("bad.env"), "{error}");
    assert!(!error.contains("sekrit"), "{error}");
    assert!(read_env_file(&dir.join("missing.env")).is_err());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn root_path_is_normalized() {
    assert_eq!(normalize_root_path(""), Ok(String::new()));
    assert_eq!(normalize_root_path("/"), Ok(String::new()));
    assert_eq!(normalize_root_path("time/"), Ok("/time".to_string()));
    assert_eq!(normalize_root_path("/a/b"), Ok("/a/b".to_string()));
    assert!(normalize_root_path("/{x}").is_err());
    assert!(normalize_root_path("/a//b").is_err());
}

#[test]
fn strict_auth_needs_a_key() {
    let error = check_flags(&cli(&["--strict-auth"]), &no_env);
    assert!(error.is_err_and(|error| error.0.contains("--strict-auth needs an API key")),);
    assert_eq!(
        check_flags(&cli(&["--strict-auth", "--api-key", "k"]), &no_env),
        Ok(())
    );
    let env = |name: &str| (name == API_KEY_ENV).then(|| "k".to_string());
    assert_eq!(check_flags(&cli(&["--strict-auth"]), &env), Ok(()));
    assert_eq!(check_flags(&cli(&[]), &no_env), Ok(()));
}

#[test]
fn ssl_files_come_in_pairs() {
    for one in [["--ssl-certfile", "c.pem"], ["--ssl-keyfile", "k.pem"]] {
        let error = Cli::try_parse_from(std::iter::once("proxy").chain(one));
        let message = error
            .err()
            .map(|error| error.to_string())
            .unwrap_or_default();
        assert!(message.contains("--ssl-"), "{one:?}: {message}");
    }
    let both = cli(&["--ssl-certfile", "c.pem", "--ssl-keyfile", "k.pem"]);
    assert_eq!(
        (both.ssl_certfile, both.ssl_keyfile),
        (Some("c.pem".into()), Some("k.pem".into()))
    );
}

#[test]
fn tool_timeouts_name_locked_tools() {
    let parsed = cli(&["--tool-timeout", "slow=120", "--tool-timeout", "a=b=1.5"]);
    let known = tool_timeouts(&parsed, &[("", vec!["slow", "a=b"])]);
    assert_eq!(
        known.map(|maps| (maps[0]["slow"], maps[0]["a=b"])),
        Ok((Duration::from_secs(120), Duration::from_millis(1500)))
    );
    assert!(tool_timeouts(&parsed, &[("", vec!["slow"])]).is_err());
    // Several servers: TOOL for every server offering it, SERVER/TOOL for one.
    let parsed = cli(&["--tool-timeout", "now=5", "--tool-timeout", "b/slow=9"]);
    let servers = [("a", vec!["now", "slow"]), ("b", vec!["now", "slow"])];
    let maps = tool_timeouts(&parsed, &servers).unwrap();
    assert_eq!(maps[0].get("now"), Some(&Duration::from_secs(5)));
    assert_eq!(maps[0].get("slow"), None);
    assert_eq!(maps[1].get("slow"), Some(&Duration::from_secs(9)));
    let parsed = cli(&["--tool-timeout", "c/slow=9"]);
    assert!(tool_timeouts(&parsed, &servers).is_err());
    let argv = ["proxy", "--tool-timeout", "slow"];
    assert!(Cli::try_parse_from(argv).is_err());
    let argv = ["proxy", "--tool-timeout", "slow=0"];
    assert!(Cli::try_parse_from(argv).is_err());
    let argv = ["proxy", "--max-concurrency", "0"];
    assert!(Cli::try_parse_from(argv).is_err());
    let argv = ["proxy", "--worker-threads", "0"];
    let refused = Cli::try_parse_from(argv).unwrap_err().to_string();
    assert!(refused.contains("--worker-threads"), "{refused}");
    let parsed = cli(&[]);
    assert_eq!(
        (
            parsed.max_concurrency,
            parsed.max_queue,
            parsed.upstream_pool,
            parsed.worker_threads
        ),
        (None, 100, 1, None)
    );
}

#[test]
fn timeouts_must_be_positive() {
    assert!(parse_seconds("0").is_err());
    assert!(parse_seconds("nan").is_err());
    assert_eq!(parse_seconds("1.5"), Ok(1.5));
}

#[test]
fn api_key_flags_are_whole_keys_commas_included() {
    let parsed = cli(&["--api-key", "ab,cd", "--api-key", "e"]);
    let env = |_: &str| Some("ignored,when,flags,are,given".to_string());
    assert_eq!(
        api_keys(&parsed, &env),
        Ok(vec!["ab,cd".into(), "e".into()])
    );
}

#[test]
fn api_key_env_var_is_a_comma_separated_list() {
    let env = |name: &str| (name == "MCPO_API_KEY").then(|| "ab, cd,e".to_string());
    assert_eq!(
        api_keys(&cli(&[]), &env),
        Ok(vec!["ab".into(), "cd".into(), "e".into()])
    );
    assert_eq!(api_keys(&cli(&[]), &no_env), Ok(Vec::new()));
}

#[test]
fn empty_api_keys_are_refused() {
    let env = |_: &str| Some("a,,b".to_string());
    assert!(api_keys(&cli(&[]), &env).is_err());
    assert!(api_keys(&cli(&["--api-key", " "]), &no_env).is_err());
    let empty = |_: &str| Some(String::new());
    assert!(api_keys(&cli(&[]), &empty).is_err());
}

#[test]
fn gateway_and_drift_flags_take_their_ranges() {
    let defaults = cli(&[]);
    assert_eq!(defaults.drift_interval, 300.0);
    assert_eq!(defaults.mcp_max_sessions, 1000);
    assert!(!defaults.stdio);
    // 0 turns the periodic drift check off; anything else must be a duration.
    assert_eq!(cli(&["--drift-interval", "0"]).drift_interval, 0.0);
    assert_eq!(cli(&["--drift-interval", "2.5"]).drift_interval, 2.5);
    for bad in ["-1", "abc", "100000"] {
        let flag = format!("--drift-interval={bad}");
        let error = Cli::try_parse_from(["proxy", flag.as_str()])
            .err()
            .map(|error| error.to_string())
            .unwrap_or_default();
        assert!(
            error.contains("expected 0 or a number of seconds"),
            "{bad}: {error}"
        );
    }
    assert!(Cli::try_parse_from(["proxy", "--mcp-max-sessions", "0"]).is_err());
    assert!(Cli::try_parse_from(["proxy", "--mcp-session-idle", "0"]).is_err());
    assert_eq!(cli(&["--on-drift", "warn"]).on_drift, DriftPolicy::Warn);
}

#[test]
fn identity_flags_that_cannot_work_are_refused() {
    let secret = "s".repeat(32);
    let refused = |args: &[&str], text: &str| {
        let error = check_flags(&cli(args), &no_env);
        assert!(
            error.as_ref().is_err_and(|error| error.0.contains(text)),
            "{args:?}: {error:?}"
        );
    };
    refused(&["--jwt-issuer", "http://idp"], "--jwt-audience AUD");
    refused(&["--jwt-audience", "aud"], "add --jwt-issuer");
    refused(&["--openwebui-jwt-secret", &secret], "add --api-key");
    refused(
        &["--api-key", "k", "--openwebui-jwt-secret", "short"],
        "at least 32 bytes",
    );
    for args in [
        &[
            "--jwt-issuer",
            "http://idp",
            "--jwt-audience",
            "aud",
            "--strict-auth",
        ][..],
        &["--api-key", "k", "--openwebui-jwt-secret", &secret][..],
    ] {
        assert_eq!(check_flags(&cli(args), &no_env), Ok(()), "{args:?}");
    }
}

/// A proxy's URL override is read as mcpo-gen reads the URL it snapshots:
/// one http(s) URL, never with credentials in it (the proxy logs its
/// upstream).
#[test]
fn a_url_override_is_read_as_every_command_line_reads_it() {
    let locked = Upstream::StreamableHttp {
        url: "http://127.0.0.1:1/mcp".into(),
        headers: crate::lock::ValueSources::default(),
        oauth: None,
    };
    for (args, says) in [
        (&["--", "http://user:pw@host/mcp"][..], "credentials"),
        (&["--", "http://a/mcp", "http://b/mcp"], "one URL"),
        (
            &["--server-type", "sse", "--", "ftp://host/sse"],
            "not an http",
        ),
    ] {
        match resolve_target(&cli(args), &locked, &no_env) {
            Err(error) => assert!(error.to_string().contains(says), "{args:?}: {error}"),
            Ok(target) => panic!("{args:?} gave {target:?}"),
        }
    }
    let headers = BTreeMap::from([("X-Key".to_string(), "v".to_string())]);
    let refused = command_line_target(
        ServerType::Stdio,
        &["uvx".into(), "mcp-server-time".into()],
        headers,
        BTreeMap::new(),
        None,
    );
    assert!(refused.is_err_and(|error| error.to_string().contains("--env")));
}
