//! The committed `generated-examples/everything-proxy`, started against the
//! real `@modelcontextprotocol/server-everything` over stdio and over
//! streamable HTTP, every tool called over HTTP with real results.

use mcpo_gen_e2e::*;
use serde_json::{Value, json};

fn everything_binary() -> std::path::PathBuf {
    build(&["everything-proxy"]).join("everything-proxy")
}

fn stdio_proxy() -> Running {
    let server = node_server("server-everything");
    let proxy = start_proxy(
        &everything_binary(),
        &["--", "node", server.to_str().unwrap(), "stdio"],
    );
    wait_ready(&proxy);
    proxy
}

/// Calls every tool of the server and checks what each really returns.
fn call_every_tool(proxy: &Running) {
    let call = |tool: &str, body: Value| {
        let reply = proxy.post(&format!("/{tool}"), &body);
        assert_eq!(reply.status, 200, "{tool}: {reply:?}");
        reply.body
    };

    assert_eq!(
        call("echo", json!({"message": "héllo"})),
        json!("Echo: héllo")
    );
    assert_eq!(
        call("get-sum", json!({"a": 2, "b": 3.5})),
        json!("The sum of 2 and 3.5 is 5.5.")
    );

    // Several content blocks -> a list; images -> data URLs.
    let image = call("get-tiny-image", json!({}));
    let blocks = image.as_array().expect("several blocks are a list");
    assert!(
        blocks.iter().any(|b| b
            .as_str()
            .is_some_and(|s| s.starts_with("data:image/png;base64,"))),
        "{image}"
    );

    let annotated = call(
        "get-annotated-message",
        json!({"messageType": "error", "includeImage": true}),
    );
    assert!(
        annotated.to_string().contains("data:image/png;base64,"),
        "{annotated}"
    );

    // One text block holding JSON -> that JSON.
    let env = call("get-env", json!({}));
    assert!(env.is_object() && env.get("PATH").is_some(), "{env}");

    // Resource links and embedded resources come through as objects.
    let links = call("get-resource-links", json!({"count": 2}));
    let link_objects: Vec<&Value> = links
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["type"] == "resource_link")
        .collect();
    assert_eq!(link_objects.len(), 2, "{links}");
    assert!(
        link_objects[0]["uri"]
            .as_str()
            .unwrap()
            .starts_with("demo://")
    );

    let reference = call(
        "get-resource-reference",
        json!({"resourceType": "Text", "resourceId": 1}),
    );
    assert!(
        reference
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b["uri"] == "demo://resource/dynamic/text/1" && b["text"].is_string()),
        "{reference}"
    );

    // structuredContent, typed by the tool's outputSchema.
    let weather = call("get-structured-content", json!({"location": "Chicago"}));
    assert!(weather["temperature"].is_number(), "{weather}");
    assert!(weather["conditions"].is_string(), "{weather}");
    assert!(weather["humidity"].is_number(), "{weather}");

    let gzip = call(
        "gzip-file-as-resource",
        json!({"name": "a.gz", "data": "data:text/plain;base64,aGVsbG8=", "outputType": "resource"}),
    );
    assert_eq!(gzip["mimeType"], "application/gzip", "{gzip}");
    assert!(
        gzip["blob"].as_str().is_some_and(|b| b.starts_with("H4sI")),
        "{gzip}"
    );

    let logging = call("toggle-simulated-logging", json!({}));
    assert!(logging.as_str().unwrap().contains("logging"), "{logging}");
    let updates = call("toggle-subscriber-updates", json!({}));
    assert!(updates.as_str().unwrap().contains("update"), "{updates}");

    let long = call(
        "trigger-long-running-operation",
        json!({"duration": 0.2, "steps": 2}),
    );
    assert!(long.as_str().unwrap().contains("completed"), "{long}");

    // This tool requires MCP task augmentation, which the proxy does not
    // speak: the server's refusal comes back as a clear error, not a hang.
    let research = proxy.post("/simulate-research-query", &json!({"topic": "rust"}));
    assert!(research.status >= 400, "{research:?}");
    assert!(
        research.body["detail"].to_string().contains("task"),
        "{research:?}"
    );

    // Schema enforcement on a real schema: enum value outside the list.
    let bad = proxy.post("/get-structured-content", &json!({"location": "Paris"}));
    assert_eq!(bad.status, 422, "{bad:?}");
    assert_eq!(
        bad.body["detail"][0]["loc"],
        json!(["body", "location"]),
        "{bad:?}"
    );
}

#[test]
fn every_tool_over_stdio() {
    let proxy = stdio_proxy();
    call_every_tool(&proxy);
}

#[test]
fn every_tool_over_streamable_http() {
    let server = start_everything_http();
    let proxy = start_proxy(
        &everything_binary(),
        &[
            "--server-type",
            "streamable-http",
            "--",
            &server.url("/mcp"),
        ],
    );
    wait_ready(&proxy);
    call_every_tool(&proxy);
}

#[test]
fn an_http_upstream_gets_the_configured_headers() {
    // The fixture refuses MCP requests without the header; the proxy sends it.
    let tools = workspace_root().join("tests/fixture-server/tools/errors.json");
    let server = start_fixture_http(&[
        "--tools",
        tools.to_str().unwrap(),
        "--require-header",
        "X-Api-Token: s3cr3t-value",
    ]);
    let url = server.url("/mcp");

    // Without the header the upstream never becomes ready; tool calls say so.
    let refused = start_proxy(
        &everything_binary(),
        &[
            "--on-drift",
            "ignore",
            "--server-type",
            "streamable-http",
            "--",
            &url,
        ],
    );
    let reply = refused.post("/echo", &json!({"message": "x"}));
    assert!(matches!(reply.status, 502 | 503), "{reply:?}");
    assert!(!reply.body.to_string().contains("s3cr3t"), "{reply:?}");

    let proxy = start_proxy(
        &everything_binary(),
        &[
            "--on-drift",
            "ignore",
            "--server-type",
            "streamable-http",
            "--header",
            "X-Api-Token: s3cr3t-value",
            "--",
            &url,
        ],
    );
    wait_ready(&proxy);
    // everything-proxy's `echo` route takes {message}; the fixture's echo
    // returns the arguments it received.
    let reply = proxy.post("/echo", &json!({"message": "through"}));
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.body["message"], "through", "{reply:?}");
}

/// A live snapshot of the pinned server gives the committed lock's server
/// facts, tools, resources, resource templates and prompts, fields rmcp does
/// not model included: server-everything declares the `tasks` capability
/// (its `simulate-research-query` needs task augmentation), which rmcp's
/// typed capabilities drop.
#[test]
fn a_live_snapshot_keeps_what_rmcp_does_not_model() {
    let server = node_server("server-everything");
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("everything-live");
    let dir = dir.to_str().unwrap();
    generate(dir, &["--", "node", server.to_str().unwrap(), "stdio"]);
    let read_lock = |path: &std::path::Path| -> Value {
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    };
    let live = read_lock(&std::path::Path::new(dir).join("mcp.lock.json"));
    let committed =
        read_lock(&workspace_root().join("generated-examples/everything-proxy/mcp.lock.json"));
    assert!(
        live["server"]["capabilities"]["tasks"].is_object(),
        "{}",
        live["server"]
    );
    assert!(
        !committed["prompts"].is_null(),
        "the committed lock has the server's prompts"
    );
    assert_snapshot_matches(&live, &committed, "over stdio");

    // The same over streamable HTTP, where rmcp's client parses JSON bodies
    // before a transport wrapper could see them.
    let http_server = start_everything_http();
    let http_dir = out.path().join("everything-live-http");
    let http_dir = http_dir.to_str().unwrap();
    generate(
        http_dir,
        &[
            "--server-type",
            "streamable-http",
            "--",
            &http_server.url("/mcp"),
        ],
    );
    let over_http = read_lock(&std::path::Path::new(http_dir).join("mcp.lock.json"));
    assert_snapshot_matches(&over_http, &committed, "over streamable HTTP");
}

/// `--env-path` (mcpo's flag): a dotenv file's variables reach a stdio
/// upstream's environment, and the proxy's own key does not.
#[test]
fn a_dotenv_file_reaches_the_stdio_upstream() {
    let (_scratch, env_file) = scratch_file(
        "upstream.env",
        "# for the upstream\nMCPO_TEST_DOTENV=\"from the dotenv file\"\n",
    );
    let server = node_server("server-everything");
    let proxy = Launch::proxy(&everything_binary())
        .args(&[
            "--env-path",
            env_file.to_str().unwrap(),
            "--",
            "node",
            server.to_str().unwrap(),
            "stdio",
        ])
        .env(&[("MCPO_API_KEY", "not-for-the-upstream")])
        .start();
    wait_ready(&proxy);
    let reply = post_json(
        &proxy.url("/get-env"),
        &json!({}),
        Some("not-for-the-upstream"),
    );
    assert_eq!(reply.status, 200, "{reply:?}");
    let text = reply.body.to_string();
    assert!(text.contains("from the dotenv file"), "{text}");
    assert!(!text.contains("not-for-the-upstream"), "{text}");
}
