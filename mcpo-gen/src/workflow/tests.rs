use super::launch::launch_spec_warnings;
use super::*;

#[test]
fn runtime_settings_parse_and_say_what_is_wrong() {
    assert_eq!(parse_runtime("vendored"), Ok(RuntimeSource::Vendored));
    assert_eq!(
        parse_runtime("shared:../mcpo-runtime/"),
        Ok(RuntimeSource::Shared {
            folder: "../mcpo-runtime".into()
        })
    );
    assert_eq!(
        parse_runtime("published"),
        Ok(RuntimeSource::Published {
            version: mcpo_runtime::VERSION.into()
        })
    );
    assert_eq!(
        parse_runtime("published:1.2.3"),
        Ok(RuntimeSource::Published {
            version: "1.2.3".into()
        })
    );
    let absolute = parse_runtime("shared:/opt/runtime").unwrap_err();
    assert!(absolute.contains("relative to the crate"), "{absolute}");
    let unknown = parse_runtime("inline").unwrap_err();
    assert!(unknown.contains("vendored, shared:FOLDER"), "{unknown}");
    assert!(parse_runtime("vendored:x").is_err());
}

#[test]
fn targets_check_their_arguments() {
    let none = BTreeMap::new;
    assert!(target(ServerType::Stdio, &[], none(), none(), None).is_err());
    assert!(
        target(
            ServerType::StreamableHttp,
            &["ftp://x".into()],
            none(),
            none(),
            None
        )
        .is_err()
    );
    let http = target(
        ServerType::StreamableHttp,
        &["http://127.0.0.1:1/mcp".into()],
        none(),
        none(),
        None,
    )
    .unwrap();
    assert!(matches!(http, Target::StreamableHttp { oauth: None, .. }));
    let flags = OAuthFlags {
        client_id: Some("pre".into()),
        scope: Some("read".into()),
        callback_port: 0,
        storage: mcpo_runtime::upstream::oauth::StorageType::Memory,
        server_url: None,
    };
    let protected = target(
        ServerType::Sse,
        &["http://127.0.0.1:1/sse".into()],
        none(),
        none(),
        Some(flags.clone()),
    )
    .unwrap();
    let settings = protected.upstream();
    let text = serde_json::to_string(&settings).unwrap();
    assert!(text.contains(r#""oauth":{"callback_port":0,"client_id":"pre","scope":"read","storage_type":"memory"}"#), "{text}");
    assert!(
        target(
            ServerType::Stdio,
            &["x".into()],
            none(),
            none(),
            Some(flags)
        )
        .is_err()
    );
    let stdio = target(
        ServerType::Stdio,
        &["uvx".into(), "mcp-server-time".into()],
        none(),
        parse_env(&["TZ=UTC".into()]).unwrap(),
        None,
    )
    .unwrap();
    assert!(matches!(stdio, Target::Stdio { ref args, .. } if args == &["mcp-server-time"]));
    assert!(parse_env(&["=x".into()]).is_err());
}

#[test]
fn credentials_in_urls_are_refused_and_secret_looking_parts_warned() {
    let none = BTreeMap::new;
    let error = target(
        ServerType::StreamableHttp,
        &["https://me:pw@example.test/mcp".into()],
        none(),
        none(),
        None,
    )
    .unwrap_err();
    assert!(error.to_string().contains("--header"), "{error}");

    let url = Target::StreamableHttp {
        url: "http://127.0.0.1:1/mcp?api_key=x&page=2".into(),
        headers: none(),
        oauth: None,
    };
    assert_eq!(launch_spec_warnings(&url).len(), 1);
    let stdio = Target::Stdio {
        command: "server".into(),
        args: vec![
            "--api-key=abc".into(),
            "--token".into(),
            "t".into(),
            "--verbose".into(),
        ],
        env: none(),
    };
    assert_eq!(
        launch_spec_warnings(&stdio).len(),
        2,
        "{:?}",
        launch_spec_warnings(&stdio)
    );
    let clean = Target::Stdio {
        command: "uvx".into(),
        args: vec!["mcp-server-time".into(), "--local-timezone=UTC".into()],
        env: none(),
    };
    assert!(launch_spec_warnings(&clean).is_empty());
}

#[test]
fn a_workspace_that_does_not_list_the_crate_is_pointed_out() {
    let root = tempfile::tempdir().unwrap();
    std::fs::write(
        root.path().join("Cargo.toml"),
        "[workspace]\nmembers = [\"proxies/*\"]\nexclude = [\"scratch\"]\n",
    )
    .unwrap();
    for dir in ["proxies/listed", "elsewhere", "scratch/deep/proxy"] {
        std::fs::create_dir_all(root.path().join(dir)).unwrap();
    }
    assert_eq!(
        enclosing_workspace_hint(&root.path().join("proxies/listed")),
        None
    );
    assert_eq!(
        enclosing_workspace_hint(&root.path().join("scratch/deep/proxy")),
        None,
        "a folder under an excluded one is listed"
    );
    let hint = enclosing_workspace_hint(&root.path().join("elsewhere")).unwrap();
    assert!(hint.contains("\"elsewhere\""), "{hint}");
    let outside = tempfile::tempdir().unwrap();
    assert_eq!(enclosing_workspace_hint(outside.path()), None);
}

#[test]
fn crate_name_defaults_to_the_folder() {
    assert_eq!(
        default_crate_name(Path::new("./time-proxy")).as_deref(),
        Some("time-proxy")
    );
    assert_eq!(default_crate_name(Path::new(".")), None);
}
