//! The committed `generated-examples/time-proxy`, started against the real
//! `uvx mcp-server-time`, called over HTTP: every tool, every error of the
//! HTTP contract, docs, root path, clean shutdown.

use std::time::Duration;

use mcpo_gen_e2e::*;
use serde_json::{Value, json};

const KEY: &str = "top-secret";

fn time_proxy(args: &[&str]) -> Running {
    let binary = build(&["time-proxy"]).join("time-proxy");
    let proxy = start_proxy(&binary, args);
    wait_ready(&proxy);
    proxy
}

#[test]
fn every_tool_returns_real_results() {
    let proxy = time_proxy(&["--api-key", KEY]);

    let now = post_json(
        &proxy.url("/get_current_time"),
        &json!({"timezone": "Europe/Paris"}),
        Some(KEY),
    );
    assert_eq!(now.status, 200, "{now:?}");
    assert_eq!(now.body["timezone"], "Europe/Paris", "{now:?}");
    let datetime = now.body["datetime"].as_str().expect("a datetime string");
    assert!(
        datetime.contains('T') && datetime.contains("+0"),
        "{datetime}"
    );

    let converted = post_json(
        &proxy.url("/convert_time"),
        &json!({"source_timezone": "America/New_York", "time": "16:30", "target_timezone": "Asia/Tokyo"}),
        Some(KEY),
    );
    assert_eq!(converted.status, 200, "{converted:?}");
    assert_eq!(converted.body["source"]["timezone"], "America/New_York");
    assert_eq!(converted.body["target"]["timezone"], "Asia/Tokyo");
    assert!(
        converted.body["target"]["datetime"]
            .as_str()
            .is_some_and(|t| t.contains("T05:30") || t.contains("T06:30")),
        "{converted:?}"
    );
    assert!(
        converted.body["time_difference"].is_string(),
        "{converted:?}"
    );
}

#[test]
fn the_error_contract_holds_and_the_proxy_keeps_serving() {
    let proxy = time_proxy(&["--api-key", KEY, "--max-body-bytes", "100000"]);
    let url = proxy.url("/get_current_time");

    // Malformed JSON.
    let bad_json = post_raw(&url, "{\"timezone\": ", Some(KEY));
    assert_eq!(bad_json.status, 422, "{bad_json:?}");
    assert_eq!(
        bad_json.body["detail"][0]["type"], "json_invalid",
        "{bad_json:?}"
    );
    assert_eq!(bad_json.body["detail"][0]["loc"][0], "body");

    // Missing required field: loc points at it.
    let missing = post_json(&url, &json!({}), Some(KEY));
    assert_eq!(missing.status, 422, "{missing:?}");
    assert!(
        detail_locs(&missing.body).contains(&json!(["body", "timezone"])),
        "{missing:?}"
    );
    assert_eq!(missing.body["detail"][0]["type"], "missing", "{missing:?}");

    // Wrong type.
    let wrong_type = post_json(&url, &json!({"timezone": 5}), Some(KEY));
    assert_eq!(wrong_type.status, 422, "{wrong_type:?}");
    assert!(
        detail_locs(&wrong_type.body).contains(&json!(["body", "timezone"])),
        "{wrong_type:?}"
    );
    assert!(
        wrong_type.body["detail"][0]["msg"]
            .as_str()
            .is_some_and(|msg| !msg.is_empty())
    );

    // Not an object at all.
    let array = post_json(&url, &json!([1, 2]), Some(KEY));
    assert_eq!(array.status, 422, "{array:?}");

    // Unknown route, wrong method.
    let unknown = post_json(&proxy.url("/no_such_tool"), &json!({}), Some(KEY));
    assert_eq!(unknown.status, 404, "{unknown:?}");
    assert_eq!(unknown.body, json!({"detail": "Not Found"}));
    let (status, _) = get(&url).unwrap();
    assert_eq!(status, 405);

    // Keys: missing, wrong, right-prefix-but-longer.
    let no_key = post_json(&url, &json!({"timezone": "UTC"}), None);
    assert_eq!(no_key.status, 401, "{no_key:?}");
    assert!(no_key.body["detail"].is_string());
    assert!(
        no_key
            .header("www-authenticate")
            .is_some_and(|v| v.starts_with("Bearer"))
    );
    for wrong in ["wrong", "top-secret-and-more", "top-secre"] {
        let reply = post_json(&url, &json!({"timezone": "UTC"}), Some(wrong));
        assert_eq!(reply.status, 401, "{wrong}: {reply:?}");
        assert!(
            !reply.body.to_string().contains(KEY),
            "an error body leaked the key"
        );
    }

    // The tool's own error: mcp-server-time rejects an unknown timezone.
    let tool_error = post_json(&url, &json!({"timezone": "Mars/Olympus_Mons"}), Some(KEY));
    assert_eq!(tool_error.status, 500, "{tool_error:?}");
    assert!(
        tool_error.detail_contains("Mars/Olympus_Mons"),
        "{tool_error:?}"
    );

    // A body over the limit.
    // Over the limit, but small enough that the proxy reads the rest of the
    // upload before answering (a client still sending would see a reset).
    let huge = format!("{{\"timezone\": \"{}\"}}", "x".repeat(300 * 1024));
    let too_large = post_raw(&url, huge, Some(KEY));
    assert_eq!(too_large.status, 413, "{:?}", too_large.status);
    assert!(too_large.body["detail"].is_string(), "{:?}", too_large.body);

    // And after all of that, a good call still works.
    let ok = post_json(&url, &json!({"timezone": "UTC"}), Some(KEY));
    assert_eq!(ok.status, 200, "{ok:?}");
    assert_eq!(ok.body["timezone"], "UTC");
}

#[test]
fn an_unreachable_upstream_gives_503_with_retry_after() {
    let binary = build(&["time-proxy"]).join("time-proxy");
    let proxy = start_proxy(&binary, &["--", "/nonexistent/mcp-server"]);
    let reply = proxy.post("/get_current_time", &json!({"timezone": "UTC"}));
    assert_eq!(reply.status, 503, "{reply:?}");
    assert!(reply.header("retry-after").is_some(), "{reply:?}");
    assert!(reply.body["detail"].is_string(), "{reply:?}");
    let (health, _) = get(&proxy.url("/healthz")).unwrap();
    assert_eq!(health, 200);
    let (ready, _) = get(&proxy.url("/readyz")).unwrap();
    assert_eq!(ready, 503);
}

#[test]
fn docs_openapi_and_root_path() {
    let proxy = time_proxy(&["--root-path", "/time"]);

    let (status, html) = get(&proxy.url("/time/docs/")).unwrap();
    assert_eq!(status, 200);
    assert!(html.to_lowercase().contains("swagger"), "{html}");

    let (status, text) = get(&proxy.url("/time/openapi.json")).unwrap();
    assert_eq!(status, 200);
    let served: Value = serde_json::from_str(&text).unwrap();
    let committed: Value = serde_json::from_str(
        &std::fs::read_to_string(
            workspace_root().join("generated-examples/time-proxy/openapi.json"),
        )
        .unwrap(),
    )
    .unwrap();
    // The proxy fixes only `servers` and who needs a key (see
    // the_served_document_requires_a_key_exactly_when_one_is_configured).
    assert_eq!(
        without_auth(served["paths"].clone()),
        without_auth(committed["paths"].clone())
    );
    assert_eq!(
        served["servers"][0]["url"], "/time",
        "{}",
        served["servers"]
    );
    let (status, missing) = get(&proxy.url("/time/docs/no-such-file.css")).unwrap();
    assert_eq!(status, 404);
    assert_eq!(
        serde_json::from_str::<Value>(&missing).ok(),
        Some(json!({"detail": "Not Found"})),
        "{missing}"
    );

    let call = proxy.post("/time/get_current_time", &json!({"timezone": "UTC"}));
    assert_eq!(call.status, 200, "{call:?}");
    // As mcpo's root_path: a reverse proxy in front may strip the prefix.
    let stripped = proxy.post("/get_current_time", &json!({"timezone": "UTC"}));
    assert_eq!(stripped.status, 200, "{stripped:?}");
}

/// The paths of a document without what depends on `--api-key`: each
/// operation's `security` and 401 response.
fn without_auth(mut paths: Value) -> Value {
    for item in paths
        .as_object_mut()
        .into_iter()
        .flat_map(|paths| paths.values_mut())
    {
        for operation in item
            .as_object_mut()
            .into_iter()
            .flat_map(|item| item.values_mut())
        {
            if let Some(operation) = operation.as_object_mut() {
                operation.remove("security");
                if let Some(responses) = operation
                    .get_mut("responses")
                    .and_then(Value::as_object_mut)
                {
                    responses.remove("401");
                }
            }
        }
    }
    paths
}

/// Issue 20: the frozen document lets a tool be called with or without a
/// key; the served one says which this proxy wants.
#[test]
fn the_served_document_requires_a_key_exactly_when_one_is_configured() {
    let served = |proxy: &Running| -> Value {
        let (status, text) = get(&proxy.url("/openapi.json")).unwrap();
        assert_eq!(status, 200, "{text}");
        serde_json::from_str(&text).unwrap()
    };
    let keyed = served(&time_proxy(&["--api-key", KEY]));
    let operation = &keyed["paths"]["/get_current_time"]["post"];
    assert_eq!(operation["security"], json!([{"bearerAuth": []}]));
    assert!(
        operation["responses"]["401"]["$ref"].is_string(),
        "{operation}"
    );
    assert!(keyed["components"]["securitySchemes"]["bearerAuth"].is_object());

    let open_proxy = time_proxy(&[]);
    let open = served(&open_proxy);
    let operation = &open["paths"]["/get_current_time"]["post"];
    assert!(operation.get("security").is_none(), "{operation}");
    assert!(operation["responses"].get("401").is_none(), "{operation}");
    assert!(open["components"].get("securitySchemes").is_none());
    // And the proxy indeed asks for no key.
    let call = open_proxy.post("/get_current_time", &json!({"timezone": "UTC"}));
    assert_eq!(call.status, 200, "{call:?}");
}

/// time-proxy started with a marker (`label-...`) its processes inherit.
fn marked_time_proxy(label: &str) -> (Running, String) {
    let marker = unique_marker(label);
    let binary = build(&["time-proxy"]).join("time-proxy");
    let proxy = Launch::proxy(&binary)
        .env(&[("MCPO_TEST_MARKER", &marker)])
        .start();
    (proxy, marker)
}

#[test]
fn sigterm_stops_the_proxy_and_its_whole_upstream_process_group() {
    let (mut proxy, marker) = marked_time_proxy("time-proxy-shutdown");
    wait_ready(&proxy);
    let before = processes_with_marker(&marker);
    assert!(
        before.len() >= 2,
        "the proxy and its upstream run: {before:?}"
    );
    assert!(
        proxy.terminate(Duration::from_secs(10)),
        "the proxy exits on SIGTERM"
    );
    assert_eq!(
        proxy
            .child
            .try_wait()
            .ok()
            .flatten()
            .and_then(|status| status.code()),
        Some(0)
    );
    wait_until(Duration::from_secs(10), || {
        processes_with_marker(&marker).is_empty()
    });
}

/// The signal arrives while the upstream is still starting, right after the
/// port is announced: it must take the graceful path (exit 0, upstream group
/// stopped), not the default action that leaves a half-started upstream behind.
#[test]
fn sigterm_right_after_startup_still_shuts_down_cleanly() {
    let (mut proxy, marker) = marked_time_proxy("time-proxy-early-stop");
    assert!(
        proxy.terminate(Duration::from_secs(10)),
        "the proxy exits on an early SIGTERM"
    );
    let status = proxy.child.try_wait().ok().flatten();
    assert_eq!(
        status.and_then(|status| status.code()),
        Some(0),
        "graceful exit, not killed by the signal: {status:?}"
    );
    wait_until(Duration::from_secs(10), || {
        processes_with_marker(&marker).is_empty()
    });
}
