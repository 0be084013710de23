//! Multi-server crates end to end.
//!
//! The committed `generated-examples/multi-proxy` (generated from its
//! `mcp.json`) serves four servers, one of each kind: `time` (uvx, stdio),
//! `memory` (npx server-memory, stdio, three tools disabled), `everything`
//! (server-everything over streamable HTTP) and `everything-sse` (over
//! SSE, two tools enabled). Here it serves all of them at once under their
//! prefixes; keeps serving the others when one server dies or never starts;
//! and applies edits of a runtime `--config` with `--hot-reload` (an env
//! value, a URL, tool switches) while calls to an untouched server keep
//! succeeding, refusing invalid edits. The generator side: `mcpo-gen
//! --config` on our fixture server under two names, `check`, `diff` and
//! `update --config`, and the configs it refuses.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use mcpo_gen_e2e::*;
use serde_json::{Value, json};

/// The servers of the committed example, as `GET /` lists them (sorted),
/// with their tool counts after the config's switches.
const SERVERS: [(&str, usize); 4] = [
    ("everything", 14),
    ("everything-sse", 2),
    ("memory", 6),
    ("time", 2),
];

fn multi_proxy() -> PathBuf {
    build(&["multi-proxy"]).join("multi-proxy")
}

/// A GET answer, whatever its status (60 s to answer).
fn fetch(url: &str) -> Reply {
    let response = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("an HTTP client")
        .get(url)
        .send()
        .unwrap_or_else(|error| panic!("GET {url}: {error}"));
    Reply::from(response)
}

/// `GET url`, which must answer 200 with JSON.
#[track_caller]
fn get_ok(url: &str) -> Value {
    let got = fetch(url);
    assert_eq!(got.status, 200, "GET {url}: {}", got.body);
    assert!(
        header_text(&got.headers, "content-type").starts_with("application/json"),
        "GET {url}: content-type {:?}",
        header_text(&got.headers, "content-type")
    );
    got.body
}

/// `POST url` with `body`, which must answer 200 with JSON; returns the body.
#[track_caller]
fn call_ok(proxy: &Running, path: &str, body: Value) -> Value {
    let reply = proxy.post(path, &body);
    assert_eq!(reply.status, 200, "POST {path}: {reply:?}");
    assert_eq!(
        reply.header("content-type"),
        Some("application/json"),
        "POST {path}: {reply:?}"
    );
    reply.body
}

/// `{"detail": "..."}`: the text, or a panic naming `what`.
#[track_caller]
fn detail(reply: &Reply, what: &str) -> String {
    reply.body["detail"]
        .as_str()
        .unwrap_or_else(|| panic!("{what}: no string detail in {reply:?}"))
        .to_string()
}

/// A memory file with one entity named `name`, in server-memory's format.
fn memory_file(dir: &Path, file: &str, name: &str) -> PathBuf {
    let path = dir.join(file);
    let line =
        json!({"type": "entity", "name": name, "entityType": "person", "observations": ["x"]});
    std::fs::write(&path, format!("{line}\n")).expect("write the memory file");
    path
}

fn entity_names(graph: &Value) -> Vec<String> {
    graph["entities"]
        .as_array()
        .map(|entities| {
            entities
                .iter()
                .filter_map(|entity| entity["name"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// The proxy `binary` with `args` and `env`, once its `guarded` server is
/// unready (503: it cannot connect).
fn start_unready(binary: &Path, args: &[&str], env: &[(&str, &str)]) -> Running {
    let proxy = Launch::proxy(binary).args(args).env(env).start();
    assert!(wait_for_status(
        &proxy.url("/guarded/readyz"),
        503,
        Duration::from_secs(30)
    ));
    proxy
}

/// What mcpo-gen says when it refuses (exit 2) to generate the crate `out`
/// from the config `config`.
#[track_caller]
fn refused_config(config: &Path, out: &Path) -> String {
    mcpo_gen_refused(&[
        "--quiet",
        "--config",
        path_str(config),
        "--out",
        path_str(out),
    ])
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 path")
}

/// The committed multi-proxy, reaching its servers as its lock records
/// them: the ports of the everything servers from the env variables its
/// `mcp.json` names, memory's graph in `memory` (env inherited by the stdio
/// server). Run in tests/upstreams, so the locked `npx -y
/// @modelcontextprotocol/server-memory@VERSION` finds the pinned package
/// there instead of the network.
fn start_locked(
    http_port: u16,
    sse_port: u16,
    memory: &Path,
    extra_args: &[&str],
    marker: &str,
) -> Running {
    let http_port = http_port.to_string();
    let sse_port = sse_port.to_string();
    Launch::proxy(&multi_proxy())
        .dir(&workspace_root().join("tests/upstreams"))
        .args(extra_args)
        .env(&[
            ("EVERYTHING_HTTP_PORT", &http_port),
            ("EVERYTHING_SSE_PORT", &sse_port),
            ("MEMORY_FILE_PATH", path_str(memory)),
            ("npm_config_offline", "true"),
            ("npm_config_update_notifier", "false"),
            ("MCPO_TEST_MARKER", marker),
        ])
        .start()
}

#[test]
fn one_crate_serves_every_kind_of_server_under_its_prefix() {
    let everything = start_everything_http();
    let everything_sse = start_everything_sse();
    let scratch = tempfile::tempdir().unwrap();
    let memory = memory_file(scratch.path(), "graph.jsonl", "Alice");
    let memory_api = memory_file(scratch.path(), "graph-api.jsonl", "Alice");
    let marker = unique_marker("multi-every-kind");
    let proxy = start_locked(everything.port, everything_sse.port, &memory, &[], &marker);
    let api = start_locked(
        everything.port,
        everything_sse.port,
        &memory_api,
        &["--root-path", "/api"],
        &marker,
    );
    wait_ready(&proxy);

    // The index lists every server with its URLs and state.
    let index = get_ok(&proxy.url("/"));
    let listed = index["servers"].as_array().expect("a list of servers");
    assert_eq!(listed.len(), SERVERS.len(), "{index}");
    for ((name, tools), entry) in SERVERS.iter().zip(listed) {
        assert_eq!(entry["name"], *name, "{index}");
        assert_eq!(entry["url"], format!("/{name}"), "{entry}");
        assert_eq!(entry["docs"], format!("/{name}/docs"), "{entry}");
        assert_eq!(entry["openapi"], format!("/{name}/openapi.json"), "{entry}");
        assert_eq!(entry["tools"], *tools, "{entry}");
        assert_eq!(entry["ready"], true, "{entry}");
    }
    assert_eq!(index["openapi"], "/openapi.json", "{index}");
    assert_eq!(index["docs"], "/docs", "{index}");
    let readyz = get_ok(&proxy.url("/readyz"));
    assert_eq!(readyz["status"], "ready", "{readyz}");
    let ready: Vec<&String> = readyz["servers"]
        .as_object()
        .expect("servers by name")
        .keys()
        .collect();
    assert_eq!(ready, SERVERS.map(|(name, _)| name), "{readyz}");

    // A call through each server.
    let now = call_ok(&proxy, "/time/get_current_time", json!({"timezone": "UTC"}));
    assert_eq!(now["timezone"], "UTC", "{now}");
    assert!(now["datetime"].as_str().is_some(), "{now}");
    let graph = call_ok(&proxy, "/memory/read_graph", json!({}));
    assert_eq!(entity_names(&graph), ["Alice"], "{graph}");
    let echoed = call_ok(&proxy, "/everything/echo", json!({"message": "over http"}));
    assert_eq!(echoed, json!("Echo: over http"));
    let echoed = call_ok(
        &proxy,
        "/everything-sse/echo",
        json!({"message": "over sse"}),
    );
    assert_eq!(echoed, json!("Echo: over sse"));
    let sum = call_ok(&proxy, "/everything-sse/get-sum", json!({"a": 2, "b": 3}));
    assert_eq!(sum, json!("The sum of 2 and 3 is 5."));

    // Tools the config disabled have no route and are not documented.
    for (server, tool, arguments) in [
        (
            "memory",
            "delete_entities",
            json!({"entityNames": ["Alice"]}),
        ),
        ("everything-sse", "get-env", json!({})),
    ] {
        let reply = proxy.post(&format!("/{server}/{tool}"), &arguments);
        assert_eq!(reply.status, 404, "/{server}/{tool}: {reply:?}");
        detail(&reply, tool);
        let document = get_ok(&proxy.url(&format!("/{server}/openapi.json")));
        assert!(
            document["paths"].get(format!("/{tool}")).is_none(),
            "{server}'s document lists the disabled {tool}"
        );
    }
    let graph = call_ok(&proxy, "/memory/read_graph", json!({}));
    assert_eq!(
        entity_names(&graph),
        ["Alice"],
        "a disabled tool ran: {graph}"
    );
    let sse_document = get_ok(&proxy.url("/everything-sse/openapi.json"));
    let sse_tools: Vec<&str> = sse_document["paths"]
        .as_object()
        .expect("paths")
        .values()
        .filter_map(|item| item.pointer("/post/x-mcp-tool/name")?.as_str())
        .collect();
    assert_eq!(
        sse_tools,
        ["echo", "get-sum"],
        "enabledTools of everything-sse"
    );

    // Each server's document, Swagger UI and readiness under its prefix;
    // every GET a document lists answers there: 200, or, for a read whose
    // query parameters are required, the proxy's own 422 naming them, or,
    // for a path naming an item (`/tasks/{taskId}`), 404 for a name that
    // names none (checked at the end, so the rest of the test runs whatever
    // this finds).
    let mut wrong = Vec::new();
    for (name, _) in SERVERS {
        let document = get_ok(&proxy.url(&format!("/{name}/openapi.json")));
        assert_eq!(document["servers"], json!([{"url": format!("/{name}")}]));
        for (path, item) in document["paths"].as_object().expect("paths") {
            let Some(operation) = item.get("get") else {
                continue;
            };
            let needs_query = operation["parameters"]
                .as_array()
                .is_some_and(|parameters| parameters.iter().any(|p| p["required"] == true));
            let expected = if path.contains('{') {
                404
            } else if needs_query {
                422
            } else {
                200
            };
            let got = fetch(&proxy.url(&format!("/{name}{path}")));
            if got.status != expected {
                wrong.push(format!(
                    "GET /{name}{path}: {} (expected {expected}) {}",
                    got.status, got.body
                ));
            }
        }
        let docs = fetch(&proxy.url(&format!("/{name}/docs/")));
        assert_eq!(docs.status, 200, "/{name}/docs/: {}", docs.body);
        assert!(
            header_text(&docs.headers, "content-type").starts_with("text/html"),
            "/{name}/docs/: {:?}",
            header_text(&docs.headers, "content-type")
        );
        assert!(
            docs.body
                .as_str()
                .is_some_and(|html| html.contains("<html") && html.contains("Swagger UI")),
            "/{name}/docs/ is not Swagger UI: {}",
            docs.body
        );
        // It shows this server's document.
        let initializer = fetch(&proxy.url(&format!("/{name}/docs/swagger-initializer.js")));
        assert!(
            initializer_loads(&initializer.body, &format!("/{name}/openapi.json")),
            "/{name}/docs/ does not load /{name}/openapi.json: {}",
            initializer.body
        );
        let ready = get_ok(&proxy.url(&format!("/{name}/readyz")));
        assert_eq!(ready["status"], "ready", "{name}: {ready}");
    }

    // The combined document has every server's tools under their prefixes,
    // and no disabled one.
    let combined = get_ok(&proxy.url("/openapi.json"));
    let paths = combined["paths"].as_object().expect("paths");
    for path in [
        "/time/get_current_time",
        "/memory/read_graph",
        "/everything/echo",
        "/everything-sse/echo",
    ] {
        assert!(
            paths.contains_key(path),
            "the combined document lacks {path}"
        );
    }
    for path in ["/memory/delete_entities", "/everything-sse/get-env"] {
        assert!(
            !paths.contains_key(path),
            "the combined document has {path}"
        );
    }
    let docs = fetch(&proxy.url("/docs/"));
    assert_eq!(docs.status, 200, "/docs/: {}", docs.body);

    // Metrics carry the server label.
    let (status, metrics) = get(&proxy.url("/metrics")).expect("/metrics answers");
    assert_eq!(status, 200, "{metrics}");
    assert!(
        metrics.contains(
            r#"mcpo_tool_calls_total{server="time",tool="get_current_time",status="200"} 1"#
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"server="everything-sse""#),
        "no everything-sse series: {metrics}"
    );
    // The text format has one TYPE line per metric name, each family in one
    // group, whatever the labels (checked at the end).
    let mut typed = std::collections::BTreeMap::<&str, usize>::new();
    for line in metrics.lines() {
        if let Some(name) = line
            .strip_prefix("# TYPE ")
            .and_then(|rest| rest.split(' ').next())
        {
            *typed.entry(name).or_default() += 1;
        }
    }
    for (name, count) in typed.iter().filter(|(_, count)| **count > 1) {
        wrong.push(format!("/metrics: {count} TYPE lines for {name}"));
    }

    // Under --root-path the same routes answer with and without the prefix.
    wait_ready(&api);
    for path in ["/api/time/get_current_time", "/time/get_current_time"] {
        let now = call_ok(&api, path, json!({"timezone": "UTC"}));
        assert_eq!(now["timezone"], "UTC", "{path}: {now}");
    }
    for path in ["/api/everything-sse/echo", "/everything-sse/echo"] {
        let echoed = call_ok(&api, path, json!({"message": "rooted"}));
        assert_eq!(echoed, json!("Echo: rooted"), "{path}");
    }
    for path in ["/api/readyz", "/readyz", "/api/memory/readyz"] {
        assert_eq!(get_ok(&api.url(path))["status"], "ready", "{path}");
    }
    let document = get_ok(&api.url("/api/time/openapi.json"));
    assert_eq!(document["servers"], json!([{"url": "/api/time"}]));
    // The index at the root path, with and without it (checked at the end).
    for path in ["/api", "/"] {
        let got = fetch(&api.url(path));
        if got.status == 200 {
            assert_eq!(got.body["servers"][3]["url"], "/api/time", "{}", got.body);
            assert_eq!(got.body["servers"][3]["docs"], "/api/time/docs");
        } else {
            wrong.push(format!(
                "the index under --root-path /api, GET {path}: {} {}",
                got.status, got.body
            ));
        }
    }
    let docs = fetch(&api.url("/api/time/docs/"));
    assert_eq!(docs.status, 200, "/api/time/docs/: {}", docs.body);
    let initializer = fetch(&api.url("/api/time/docs/swagger-initializer.js"));
    assert!(
        initializer_loads(&initializer.body, "/api/time/openapi.json"),
        "{}",
        initializer.body
    );

    assert!(wrong.is_empty(), "wrong answers: {wrong:#?}");
}

#[test]
fn a_server_that_dies_leaves_the_others_serving() {
    let everything = start_everything_http();
    let mut everything_sse = start_everything_sse();
    let scratch = tempfile::tempdir().unwrap();
    let memory = memory_file(scratch.path(), "graph.jsonl", "Alice");
    let marker = unique_marker("multi-dies");
    let proxy = start_locked(everything.port, everything_sse.port, &memory, &[], &marker);
    wait_ready(&proxy);
    let echo = |server: &str| {
        proxy.post(
            &format!("/{server}/echo"),
            &json!({"message": "still there"}),
        )
    };
    assert_eq!(echo("everything-sse").status, 200);

    let sse_readyz = proxy.url("/everything-sse/readyz");
    stop_and_wait_unready(&mut everything_sse, &sse_readyz, Duration::from_secs(20));
    let reply = echo("everything-sse");
    assert!(
        matches!(reply.status, 502..=504),
        "a call to the dead server: {reply:?}"
    );
    assert!(!detail(&reply, "the dead server's call").is_empty());
    let document = get_ok(&proxy.url("/everything-sse/openapi.json"));
    assert!(
        document
            .pointer(&format!("/paths/~1echo/post/responses/{}", reply.status))
            .is_some(),
        "{} is not a documented answer of /everything-sse/echo",
        reply.status
    );
    let all = fetch(&proxy.url("/readyz"));
    assert_eq!(all.status, 503, "{}", all.body);
    let why = all.body["detail"].as_str().unwrap_or_default();
    assert!(why.contains("everything-sse:"), "/readyz: {why}");
    assert!(!why.contains("time:") && !why.contains("memory:"), "{why}");

    // The others answer as before.
    let now = call_ok(&proxy, "/time/get_current_time", json!({"timezone": "UTC"}));
    assert_eq!(now["timezone"], "UTC");
    let reply = echo("everything");
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.body, json!("Echo: still there"));
    let graph = call_ok(&proxy, "/memory/read_graph", json!({}));
    assert_eq!(entity_names(&graph), ["Alice"]);
    for name in ["everything", "memory", "time"] {
        assert_eq!(
            get_ok(&proxy.url(&format!("/{name}/readyz")))["status"],
            "ready"
        );
    }
    let index = get_ok(&proxy.url("/"));
    let states: Vec<(&str, bool)> = index["servers"]
        .as_array()
        .expect("servers")
        .iter()
        .map(|entry| {
            (
                entry["name"].as_str().unwrap_or_default(),
                entry["ready"].as_bool().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        states,
        [
            ("everything", true),
            ("everything-sse", false),
            ("memory", true),
            ("time", true)
        ],
        "{index}"
    );
}

#[test]
fn a_server_that_never_starts_leaves_the_others_serving() {
    let everything_sse = start_everything_sse();
    let closed = closed_port();
    let scratch = tempfile::tempdir().unwrap();
    let memory = memory_file(scratch.path(), "graph.jsonl", "Alice");
    let marker = unique_marker("multi-never");
    let proxy = start_locked(closed, everything_sse.port, &memory, &[], &marker);
    for name in ["time", "memory", "everything-sse"] {
        let url = proxy.url(&format!("/{name}/readyz"));
        assert!(
            wait_for_status(&url, 200, Duration::from_secs(90)),
            "{name} never became ready beside a server that does not start"
        );
    }
    let started = Instant::now();
    let reply = proxy.post("/everything/echo", &json!({"message": "anyone?"}));
    assert_eq!(reply.status, 503, "{reply:?}");
    assert!(
        reply.header("retry-after").is_some(),
        "503 without Retry-After: {reply:?}"
    );
    let why = detail(&reply, "the unreachable server's call");
    assert!(why.contains(&closed.to_string()), "{why}");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the call waited {:?}",
        started.elapsed()
    );
    let all = fetch(&proxy.url("/readyz"));
    assert_eq!(all.status, 503, "{}", all.body);
    let why = all.body["detail"].as_str().unwrap_or_default();
    assert!(
        why.contains("everything:") && !why.contains("everything-sse:"),
        "/readyz: {why}"
    );
    assert_eq!(fetch(&proxy.url("/everything/readyz")).status, 503);

    let now = call_ok(&proxy, "/time/get_current_time", json!({"timezone": "UTC"}));
    assert_eq!(now["timezone"], "UTC");
    let echoed = call_ok(&proxy, "/everything-sse/echo", json!({"message": "here"}));
    assert_eq!(echoed, json!("Echo: here"));
    let graph = call_ok(&proxy, "/memory/read_graph", json!({}));
    assert_eq!(entity_names(&graph), ["Alice"]);
}

/// A runtime config for the committed example: the same four servers,
/// reached at the given ports, memory's graph in `memory_file`.
fn runtime_config(
    http_port: u16,
    sse_port: u16,
    memory_file: &Path,
    everything_extra: Value,
) -> Value {
    let mut everything = json!({
        "type": "streamable-http",
        "url": format!("http://127.0.0.1:{http_port}/mcp"),
    });
    if let (Some(entry), Some(extra)) = (everything.as_object_mut(), everything_extra.as_object()) {
        entry.extend(extra.clone());
    }
    json!({"mcpServers": {
        "time": {
            "command": "uvx",
            "args": [MCP_SERVER_TIME, "--local-timezone=America/New_York"],
        },
        "memory": {
            "command": "node",
            "args": [path_str(&node_server("server-memory"))],
            "env": {"MEMORY_FILE_PATH": path_str(memory_file)},
            "disabledTools": ["delete_entities", "delete_observations", "delete_relations"],
        },
        "everything": everything,
        "everything-sse": {
            "type": "sse",
            "url": format!("http://127.0.0.1:{sse_port}/sse"),
            "enabledTools": ["echo", "get-sum"],
        },
    }})
}

/// Replaces `path` as editors that save atomically do: a new file in the
/// same folder, renamed over it.
fn write_atomically(path: &Path, text: &str) {
    let temporary = path.with_extension("json.tmp");
    std::fs::write(&temporary, text).expect("write the new config");
    std::fs::rename(&temporary, path).expect("rename it over the config");
}

/// Rewrites `path` in place, as editors that truncate and write do.
fn write_in_place(path: &Path, text: &str) {
    use std::io::Write as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)
        .expect("open the config");
    file.write_all(text.as_bytes()).expect("write the config");
}

/// Whether the tool `tool` is an operation of `server`'s served document.
fn documents(proxy: &Running, server: &str, tool: &str) -> bool {
    get_ok(&proxy.url(&format!("/{server}/openapi.json")))["paths"]
        .get(format!("/{tool}"))
        .is_some()
}

#[test]
fn hot_reload_applies_edits_of_the_runtime_config_without_dropping_calls() {
    let mut first = start_everything_http();
    let second = start_everything_http();
    let everything_sse = start_everything_sse();
    let scratch = tempfile::tempdir().unwrap();
    let graph_a = memory_file(scratch.path(), "a.jsonl", "Alice");
    let graph_b = memory_file(scratch.path(), "b.jsonl", "Bob");
    let config_path = scratch.path().join("mcp.json");
    let config = |http_port: u16, memory: &Path, everything_extra: Value| {
        serde_json::to_string_pretty(&runtime_config(
            http_port,
            everything_sse.port,
            memory,
            everything_extra,
        ))
        .expect("a config")
    };
    std::fs::write(&config_path, config(first.port, &graph_a, json!({}))).unwrap();
    let marker = unique_marker("multi-reload");
    let proxy = Launch::proxy(&multi_proxy())
        .args(&["--config", path_str(&config_path), "--hot-reload"])
        .env(&[("MCPO_TEST_MARKER", &marker)])
        .start();
    wait_ready(&proxy);
    assert!(proxy.logged("--hot-reload: watching"), "no watch logged");
    let graph = call_ok(&proxy, "/memory/read_graph", json!({}));
    assert_eq!(entity_names(&graph), ["Alice"], "{graph}");
    assert_eq!(
        call_ok(&proxy, "/everything/echo", json!({"message": "first"})),
        json!("Echo: first")
    );

    // Calls to `time`, whose entry no edit touches, go on throughout.
    let stop = Arc::new(AtomicBool::new(false));
    let load = {
        let stop = Arc::clone(&stop);
        let url = proxy.url("/time/get_current_time");
        std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(240);
            let mut answered = 0usize;
            let mut failures = Vec::new();
            while !stop.load(Ordering::SeqCst) && Instant::now() < deadline {
                let reply = post_json(&url, &json!({"timezone": "UTC"}), None);
                if reply.status == 200 && reply.body["timezone"] == "UTC" {
                    answered += 1;
                } else {
                    failures.push(format!("{} {}", reply.status, reply.body));
                }
                // A steady load, not a wait: one call each 20 ms or so.
                std::thread::sleep(Duration::from_millis(20));
            }
            (answered, failures)
        })
    };
    let edit_applied = |before: usize| {
        wait_for(Duration::from_secs(10), || {
            logged_count(&proxy, "--hot-reload: applied") > before
        })
    };

    // (a) An env value of memory, saved atomically: memory reconnects with
    // the new graph file; no other server reconnects.
    let applied = logged_count(&proxy, "--hot-reload: applied");
    write_atomically(&config_path, &config(first.port, &graph_b, json!({})));
    assert!(edit_applied(applied), "the env edit was not applied");
    let read_graph = proxy.url("/memory/read_graph");
    assert!(
        wait_for(Duration::from_secs(15), || {
            let reply = post_json(&read_graph, &json!({}), None);
            reply.status == 200 && entity_names(&reply.body) == ["Bob"]
        }),
        "memory does not read b.jsonl after the edit"
    );
    assert!(
        proxy.logged(r#"server "memory": its config entry changed"#),
        "memory's reconnection was not logged"
    );
    for other in ["time", "everything", "everything-sse"] {
        assert!(
            !proxy.logged(&format!(r#"server "{other}": its config entry changed"#)),
            "{other} reconnected for memory's edit"
        );
    }

    // (b) everything's URL, saved in place: it moves to the second
    // instance, and keeps answering once the first is gone.
    let applied = logged_count(&proxy, "--hot-reload: applied");
    write_in_place(&config_path, &config(second.port, &graph_b, json!({})));
    assert!(edit_applied(applied), "the URL edit was not applied");
    assert!(
        proxy.logged(r#"server "everything": its config entry changed"#),
        "everything's reconnection was not logged"
    );
    let readyz = proxy.url("/everything/readyz");
    assert!(wait_for_status(&readyz, 200, Duration::from_secs(30)));
    first.terminate(Duration::from_secs(5));
    let reply = proxy.post("/everything/echo", &json!({"message": "second"}));
    assert_eq!(
        reply.status, 200,
        "after the first instance stopped: {reply:?}"
    );
    assert_eq!(reply.body, json!("Echo: second"));

    // (c) A tool switched off and on again, saved atomically.
    let echo = proxy.url("/everything/echo");
    let echo_status = || post_json(&echo, &json!({"message": "switch"}), None).status;
    write_atomically(
        &config_path,
        &config(second.port, &graph_b, json!({"disabledTools": ["echo"]})),
    );
    assert!(
        wait_for(Duration::from_secs(10), || echo_status() == 404),
        "/everything/echo still answers after it was disabled"
    );
    assert!(
        !documents(&proxy, "everything", "echo"),
        "the disabled echo is still documented"
    );
    assert!(documents(&proxy, "everything", "get-sum"));
    assert_eq!(
        proxy
            .post("/everything/get-sum", &json!({"a": 1, "b": 2}))
            .status,
        200,
        "a tool left on stopped answering"
    );
    let index = get_ok(&proxy.url("/"));
    assert_eq!(index["servers"][0]["tools"], 13, "{index}");
    write_atomically(&config_path, &config(second.port, &graph_b, json!({})));
    assert!(
        wait_for(Duration::from_secs(10), || echo_status() == 200),
        "/everything/echo does not answer after it was enabled again"
    );
    assert!(documents(&proxy, "everything", "echo"));

    // (d) Invalid edits change nothing and are logged.
    let refused = logged_count(&proxy, "refused the edit");
    write_in_place(&config_path, "{\"mcpServers\": {");
    assert!(
        wait_for(Duration::from_secs(10), || {
            logged_count(&proxy, "refused the edit") > refused
        }),
        "invalid JSON was not refused in the log"
    );
    // A server the lock does not have, beside an edit that would otherwise
    // switch memory back to a.jsonl.
    let refused = logged_count(&proxy, "refused the edit");
    let mut unknown = runtime_config(second.port, everything_sse.port, &graph_a, json!({}));
    unknown["mcpServers"]["nope"] = json!({"command": "true"});
    write_atomically(&config_path, &unknown.to_string());
    assert!(
        wait_for(Duration::from_secs(10), || {
            logged_count(&proxy, "refused the edit") > refused
        }),
        "a config naming an unknown server was not refused in the log"
    );
    assert!(proxy.logged("nope"), "the refusal does not name the server");
    // An unset variable in one entry: the whole edit is refused, memory's
    // switch back to a.jsonl in the same edit included.
    let refused = logged_count(&proxy, "refused the edit");
    let mut unset = runtime_config(second.port, everything_sse.port, &graph_a, json!({}));
    unset["mcpServers"]["everything"]["headers"] =
        json!({"Authorization": "Bearer ${MCPO_E2E_SURELY_UNSET}"});
    write_in_place(&config_path, &unset.to_string());
    assert!(
        wait_for(Duration::from_secs(10), || {
            logged_count(&proxy, "refused the edit") > refused
        }),
        "a config with an unset variable was not refused in the log"
    );
    assert!(
        proxy.logged("MCPO_E2E_SURELY_UNSET"),
        "the refusal does not name the variable"
    );
    // An applied edit swaps pools and tool switches before it is logged, so
    // these calls would see it.
    let graph = call_ok(&proxy, "/memory/read_graph", json!({}));
    assert_eq!(entity_names(&graph), ["Bob"], "a refused edit took effect");
    assert_eq!(
        call_ok(&proxy, "/everything/echo", json!({"message": "after"})),
        json!("Echo: after")
    );
    assert_eq!(get_ok(&proxy.url("/readyz"))["status"], "ready");

    stop.store(true, Ordering::SeqCst);
    let (answered, failures) = load.join().expect("the load thread");
    assert!(
        failures.is_empty(),
        "calls to time failed during the edits ({answered} answered): {failures:?}"
    );
    assert!(answered >= 20, "only {answered} calls to time were made");
}

/// Our fixture server over stdio, under two names, with tool switches.
fn fixture_config(alpha_disabled: &[&str]) -> Value {
    let fixture = build(&["mcp-fixture-server"]).join("mcp-fixture-server");
    let server = |extra: Value| {
        let mut entry = json!({
            "command": path_str(&fixture),
            "args": ["--generate-tools", "3"],
        });
        if let (Some(entry), Some(extra)) = (entry.as_object_mut(), extra.as_object()) {
            entry.extend(extra.clone());
        }
        entry
    };
    json!({"mcpServers": {
        "alpha": server(json!({"disabledTools": alpha_disabled})),
        "beta": server(json!({"enabledTools": ["tool_0000"]})),
    }})
}

fn tool_names(lock: &Value, server: &str) -> Vec<String> {
    lock["servers"][server]["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|tool| tool["name"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn mcpo_gen_generates_checks_diffs_and_updates_a_crate_from_a_config() {
    let (scratch, config_path) =
        scratch_file("mcp.json", fixture_config(&["tool_0002"]).to_string());
    // Beside the other e2e crates: they share one runtime folder and its build.
    let crate_dir = target_dir().join("e2e-proxies/multi-fixture-proxy");
    let output = mcpo_gen(&[
        "--quiet",
        "--force",
        "--runtime",
        "shared:../mcpo-runtime",
        "--config",
        path_str(&config_path),
        "--out",
        path_str(&crate_dir),
    ]);
    assert_exit_code(&output, 0);
    let lock_path = crate_dir.join("mcp.lock.json");
    let lock: Value = serde_json::from_str(&std::fs::read_to_string(&lock_path).unwrap()).unwrap();
    let servers: Vec<&String> = lock["servers"]
        .as_object()
        .expect("servers")
        .keys()
        .collect();
    assert_eq!(servers, ["alpha", "beta"], "{lock}");
    assert_eq!(
        lock["servers"]["alpha"]["disabledTools"],
        json!(["tool_0002"])
    );
    assert_eq!(tool_names(&lock, "alpha"), ["tool_0000", "tool_0001"]);
    assert_eq!(
        lock["servers"]["beta"]["disabledTools"],
        json!(["tool_0001", "tool_0002"])
    );
    assert_eq!(tool_names(&lock, "beta"), ["tool_0000"]);
    for name in ["alpha", "beta"] {
        assert!(
            crate_dir
                .join(format!("servers/{name}/openapi.json"))
                .is_file(),
            "no document for {name}"
        );
    }
    let output = mcpo_gen(&["check", path_str(&crate_dir)]);
    assert_exit_code(&output, 0);

    // The generated crate builds and serves each server under its prefix.
    let (binary, _) = build_crate(&crate_dir, "multi-fixture-proxy", &[]);
    {
        let proxy = start_proxy(&binary, &[]);
        wait_ready(&proxy);
        let reply = proxy.post("/alpha/tool_0001", &json!({"value": "a"}));
        assert_eq!(reply.status, 200, "{reply:?}");
        assert_eq!(reply.body, json!({"value": "a"}));
        let reply = proxy.post("/beta/tool_0000", &json!({"value": "b"}));
        assert_eq!(reply.status, 200, "{reply:?}");
        for path in ["/alpha/tool_0002", "/beta/tool_0001"] {
            let reply = proxy.post(path, &json!({}));
            assert_eq!(reply.status, 404, "{path}: {reply:?}");
        }
    }

    // The config edited: alpha's tool_0001 off, tool_0002 on again.
    let edited_path = scratch.path().join("edited.json");
    std::fs::write(&edited_path, fixture_config(&["tool_0001"]).to_string()).unwrap();
    let updated = scratch.path().join("updated");
    copy_tree(&crate_dir, &updated);
    let output = mcpo_gen(&[
        "update",
        "--quiet",
        path_str(&updated),
        "--config",
        path_str(&edited_path),
    ]);
    assert_exit_code(&output, 0);
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(
        printed.contains("tool-disabled") && printed.contains("tool-enabled"),
        "update did not report the switches: {}",
        output_text(&output)
    );
    let new_lock: Value =
        serde_json::from_str(&std::fs::read_to_string(updated.join("mcp.lock.json")).unwrap())
            .unwrap();
    assert_eq!(tool_names(&new_lock, "alpha"), ["tool_0000", "tool_0002"]);
    assert_eq!(
        new_lock["servers"]["alpha"]["disabledTools"],
        json!(["tool_0001"])
    );
    let module = std::fs::read_to_string(updated.join("src/servers/alpha.rs")).unwrap();
    assert!(
        module.contains("tool_0002") && !module.contains("tool_0001"),
        "update did not regenerate alpha's module"
    );
    let output = mcpo_gen(&["check", path_str(&updated)]);
    assert_exit_code(&output, 0);

    // diff between the two locks: the switches, under the server's name.
    let new_lock_path = updated.join("mcp.lock.json");
    let output = mcpo_gen(&[
        "diff",
        "--format",
        "json",
        "--fail-on",
        "ERR",
        path_str(&lock_path),
        path_str(&new_lock_path),
    ]);
    assert_exit_code(&output, 1);
    let report: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|_| panic!("diff --format json: {}", output_text(&output)));
    let changes: Vec<(String, String, String)> = report["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|change| {
            let text = |key: &str| change[key].as_str().unwrap_or_default().to_string();
            (text("id"), text("server"), text("tool"))
        })
        .collect();
    for expected in [
        ("tool-disabled", "alpha", "tool_0001"),
        ("tool-enabled", "alpha", "tool_0002"),
    ] {
        let expected = (
            expected.0.to_string(),
            expected.1.to_string(),
            expected.2.to_string(),
        );
        assert!(
            changes.contains(&expected),
            "{expected:?} not in {changes:?}"
        );
    }
    assert!(
        changes.iter().all(|(_, server, _)| server == "alpha"),
        "beta did not change: {changes:?}"
    );
    let output = mcpo_gen(&["diff", path_str(&lock_path), path_str(&new_lock_path)]);
    assert_exit_code(&output, 1);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains("alpha/tool_0001") && text.contains("tool-disabled"),
        "{}",
        output_text(&output)
    );
    // Only a tool switched back on: nothing at ERR.
    let output = mcpo_gen(&[
        "diff",
        "--fail-on",
        "ERR",
        path_str(&new_lock_path),
        path_str(&lock_path),
    ]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("tool-enabled"), "{}", output_text(&output));

    // A variable that is not set names the server and the variable.
    let unset = json!({"mcpServers": {"alpha": {
        "command": path_str(&build(&["mcp-fixture-server"]).join("mcp-fixture-server")),
        "args": ["--generate-tools", "${MCPO_E2E_SURELY_UNSET}"],
    }}});
    let unset_path = scratch.path().join("unset.json");
    std::fs::write(&unset_path, unset.to_string()).unwrap();
    let out = scratch.path().join("unset-proxy");
    let said = mcpo_gen_refused(&[
        "--quiet",
        "--config",
        path_str(&unset_path),
        "--out",
        path_str(&out),
    ]);
    assert!(
        said.contains("\"alpha\"") && said.contains("MCPO_E2E_SURELY_UNSET"),
        "{said}"
    );
    assert!(!out.join("mcp.lock.json").exists(), "a lock was written");

    // An oauth block with a key mcpo's format does not have (mcpo's is
    // `client_id`) is refused, naming the server and the key; on a stdio
    // server, an oauth block is refused too (tests/oauth.rs has the flow).
    let oauth = json!({"mcpServers": {"remote": {
        "type": "streamable-http",
        "url": "http://127.0.0.1:9/mcp",
        "oauth": {"clientId": "x"},
    }}});
    let oauth_path = scratch.path().join("oauth.json");
    std::fs::write(&oauth_path, oauth.to_string()).unwrap();
    let said = refused_config(&oauth_path, &scratch.path().join("oauth-proxy"));
    assert!(
        said.contains("\"remote\"") && said.contains("clientId") && said.contains("not supported"),
        "{said}"
    );
    let stdio_oauth = json!({"mcpServers": {"local": {
        "command": "server", "oauth": {"client_id": "x"},
    }}});
    std::fs::write(&oauth_path, stdio_oauth.to_string()).unwrap();
    let said = refused_config(&oauth_path, &scratch.path().join("oauth-proxy"));
    assert!(
        said.contains("\"local\"") && said.contains("oauth"),
        "{said}"
    );
}

#[test]
fn a_proxy_refuses_to_start_without_what_its_servers_need() {
    let (_scratch, unknown) = scratch_file(
        "unknown.json",
        json!({"mcpServers": {"nope": {"command": "true"}}}).to_string(),
    );
    let cases: [(&[&str], &[&str]); 3] = [
        // The lock's `${EVERYTHING_HTTP_PORT}` with the variable unset.
        (&[], &["\"everything\"", "EVERYTHING_HTTP_PORT", "not set"]),
        // A server the lock does not have.
        (
            &["--config", path_str(&unknown)],
            &["\"nope\"", "the lock does not have"],
        ),
        // One upstream for several servers.
        (
            &["--", "node", "server.js"],
            &["several servers", "--config"],
        ),
    ];
    for (args, expected) in cases {
        let output = std::process::Command::new(multi_proxy())
            .args(["--host", "127.0.0.1", "--port", "0"])
            .args(args)
            .env_remove("EVERYTHING_HTTP_PORT")
            .env("EVERYTHING_SSE_PORT", closed_port().to_string())
            .stdin(std::process::Stdio::null())
            .output()
            .expect("multi-proxy runs");
        assert!(
            !output.status.success(),
            "{args:?} started: {}",
            output_text(&output)
        );
        let said = String::from_utf8_lossy(&output.stderr);
        for text in expected {
            assert!(
                said.contains(text),
                "{args:?}: {text:?} not said: {}",
                output_text(&output)
            );
        }
        assert!(
            !said.contains("listening on"),
            "{args:?} listened before refusing"
        );
    }
}

/// Headers a server requires, in a config: `${VAR}` values reach the
/// snapshot and the proxy, never the lock or the documents. The lock keeps
/// each value's `${VAR}` template (a literal value becomes a variable of its
/// own server), so without a runtime `--config` every server reads its own
/// variables and none is shared. Values from `${VAR}` (here an `api_key` in
/// the URL) are shown nowhere: not in the log, `GET /`, `/readyz` or a 503.
#[test]
fn headers_a_server_requires_are_forwarded_and_never_locked() {
    const TOKEN: &str = "s3cret-e2e-token";
    const QUERY_KEY: &str = "query-key-0123456789";
    let server = start_fixture_http(&[
        "--generate-tools",
        "2",
        "--require-header",
        &format!("X-Token: {TOKEN}"),
    ]);
    let port = server.port.to_string();
    let scratch = tempfile::tempdir().unwrap();
    let config_path = scratch.path().join("mcp.json");
    let config = json!({"mcpServers": {
        "guarded": {
            "type": "streamable-http",
            "url": "http://127.0.0.1:${MCPO_E2E_GUARDED_PORT}/mcp?api_key=${MCPO_E2E_QUERY_KEY}",
            "headers": {"X-Token": "${MCPO_E2E_GUARDED_TOKEN}"},
        },
        // The same header written literally: a variable of this server's own.
        "literal": {
            "type": "streamable-http",
            "url": "http://127.0.0.1:${MCPO_E2E_GUARDED_PORT}/mcp",
            "headers": {"X-Token": TOKEN},
        },
    }});
    std::fs::write(&config_path, config.to_string()).unwrap();
    let env = [
        ("MCPO_E2E_GUARDED_PORT", port.as_str()),
        ("MCPO_E2E_GUARDED_TOKEN", TOKEN),
        ("MCPO_E2E_QUERY_KEY", QUERY_KEY),
    ];
    let crate_dir = target_dir().join("e2e-proxies/multi-header-proxy");
    let generate = |env: &[(&str, &str)]| {
        std::process::Command::new(mcpo_gen_bin())
            .args(["--quiet", "--force", "--runtime", "shared:../mcpo-runtime"])
            .args([
                "--config",
                path_str(&config_path),
                "--out",
                path_str(&crate_dir),
            ])
            .envs(env.iter().copied())
            .output()
            .expect("mcpo-gen runs")
    };
    // Its variable unset: refused before connecting, naming it.
    let refused = generate(&[env[0], env[2]]);
    assert_exit_code(&refused, 2);
    assert_said(&refused, "MCPO_E2E_GUARDED_TOKEN");
    // A wrong value: the server refuses the snapshot (401), so the header
    // is what lets it through; the value is not repeated.
    let refused = generate(&[env[0], ("MCPO_E2E_GUARDED_TOKEN", "wrong-value"), env[2]]);
    assert_exit_code(&refused, 2);
    assert!(
        !output_text(&refused).contains("wrong-value"),
        "{}",
        output_text(&refused)
    );
    let output = generate(&env);
    assert_exit_code(&output, 0);
    assert!(
        !output_text(&output).contains(QUERY_KEY),
        "{}",
        output_text(&output)
    );
    for file in [
        "mcp.lock.json",
        "openapi.json",
        "servers/guarded/openapi.json",
        "README.md",
        "deploy/deployment.yaml",
    ] {
        let text = std::fs::read_to_string(crate_dir.join(file)).unwrap();
        assert!(!text.contains(TOKEN), "{file} holds the token");
        assert!(!text.contains(QUERY_KEY), "{file} holds the query key");
        assert!(
            !text.contains(&format!(":{port}/")),
            "{file} holds the expanded port"
        );
    }
    let lock: Value =
        serde_json::from_str(&std::fs::read_to_string(crate_dir.join("mcp.lock.json")).unwrap())
            .unwrap();
    assert_eq!(
        lock["servers"]["guarded"]["upstream"],
        json!({"type": "streamable-http",
               "url": "http://127.0.0.1:${MCPO_E2E_GUARDED_PORT}/mcp?api_key=${MCPO_E2E_QUERY_KEY}",
               "headers": {"X-Token": "${MCPO_E2E_GUARDED_TOKEN}"}})
    );
    assert_eq!(
        lock["servers"]["literal"]["upstream"]["headers"],
        json!({"X-Token": "${MCPO_LITERAL_HEADER_X_TOKEN}"})
    );
    // The generated README and manifests name each server's own variable.
    let readme = std::fs::read_to_string(crate_dir.join("README.md")).unwrap();
    assert!(
        readme.contains("header `X-Token` (env `MCPO_LITERAL_HEADER_X_TOKEN`)")
            && readme.contains("header `X-Token` (env `MCPO_E2E_GUARDED_TOKEN`)"),
        "{readme}"
    );
    let (binary, _) = build_crate(&crate_dir, "multi-header-proxy", &[]);

    // With the runtime --config: the header from ${MCPO_E2E_GUARDED_TOKEN}.
    let with_config = Launch::proxy(&binary)
        .args(&["--config", path_str(&config_path)])
        .env(&env)
        .start();
    wait_ready(&with_config);
    let reply = with_config.post("/guarded/tool_0000", &json!({"value": "x"}));
    assert_eq!(reply.status, 200, "{reply:?}");
    for secret in [TOKEN, QUERY_KEY] {
        assert!(
            !with_config.logged(secret),
            "a secret is in the proxy's log"
        );
    }
    drop(with_config);

    // Without it: the lock's templates, each server its own variables. The
    // variable the old scheme shared between servers no longer counts.
    let from_env = Launch::proxy(&binary)
        .env(&[
            env[0],
            env[1],
            env[2],
            ("MCPO_LITERAL_HEADER_X_TOKEN", TOKEN),
            ("MCPO_HEADER_X_TOKEN", "shared-by-accident"),
        ])
        .start();
    wait_ready(&from_env);
    for server in ["guarded", "literal"] {
        let reply = from_env.post(&format!("/{server}/tool_0001"), &json!({"value": "y"}));
        assert_eq!(reply.status, 200, "{server}: {reply:?}");
    }
    drop(from_env);

    // A per-server variable unset: that server alone cannot start, and says
    // which variable it needs.
    let missing = std::process::Command::new(&binary)
        .args(["--host", "127.0.0.1", "--port", "0"])
        .envs(env.iter().copied())
        .env("MCPO_HEADER_X_TOKEN", TOKEN)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("the proxy runs");
    assert!(!missing.status.success(), "{}", output_text(&missing));
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("MCPO_LITERAL_HEADER_X_TOKEN"),
        "{}",
        output_text(&missing)
    );

    // Nothing listens on the port: the upstream is down, and every place
    // that says why (log, GET /, /readyz, the 503) shows the URL's
    // `${VAR}` form, never the key.
    let down = start_unready(
        &binary,
        &["--connect-timeout", "2"],
        &[
            ("MCPO_E2E_GUARDED_PORT", "1"),
            env[1],
            env[2],
            ("MCPO_LITERAL_HEADER_X_TOKEN", TOKEN),
        ],
    );
    let mut shown = Vec::new();
    for path in ["/", "/readyz", "/guarded/readyz"] {
        shown.push(get(&down.url(path)).unwrap().1);
    }
    shown.push(
        down.post("/guarded/tool_0000", &json!({"value": "z"}))
            .body
            .to_string(),
    );
    for text in &shown {
        assert!(!text.contains(QUERY_KEY), "the key is shown: {text}");
    }
    wait_until(Duration::from_secs(30), || {
        down.logged("api_key=${MCPO_E2E_QUERY_KEY}")
    });
    assert!(!down.logged(QUERY_KEY), "the key is in the proxy's log");
    drop(down);

    // A wrong token: the server refuses, the proxy says it is not ready.
    let wrong = start_unready(
        &binary,
        &["--connect-timeout", "2"],
        &[
            env[0],
            ("MCPO_E2E_GUARDED_TOKEN", "wrong"),
            env[2],
            ("MCPO_LITERAL_HEADER_X_TOKEN", TOKEN),
        ],
    );
    let reply = wrong.post("/guarded/tool_0000", &json!({"value": "z"}));
    assert!(matches!(reply.status, 502 | 503), "{reply:?}");
    assert!(
        !reply.body.to_string().contains("wrong"),
        "the header value is in an error body: {reply:?}"
    );
}

/// The committed example's config, snapshotted live (all four servers, every
/// transport), generates exactly the committed crate.
#[test]
fn the_example_config_generates_the_committed_crate() {
    let everything = start_everything_http();
    let everything_sse = start_everything_sse();
    let example = workspace_root().join("generated-examples/multi-proxy");
    let out = tempfile::tempdir().unwrap();
    let crate_dir = out.path().join("multi-proxy");
    let (http_port, sse_port) = (everything.port.to_string(), everything_sse.port.to_string());
    let output = std::process::Command::new(mcpo_gen_bin())
        .args(["--quiet", "--runtime", "published", "--config"])
        .arg(example.join("mcp.json"))
        .arg("--out")
        .arg(&crate_dir)
        // The locked `npx -y ...@VERSION` finds the pinned package there.
        .current_dir(workspace_root().join("tests/upstreams"))
        .env("PATH", path_with_tools())
        .env("EVERYTHING_HTTP_PORT", &http_port)
        .env("EVERYTHING_SSE_PORT", &sse_port)
        .env("npm_config_offline", "true")
        .env("npm_config_update_notifier", "false")
        .output()
        .expect("mcpo-gen runs");
    assert_exit_code(&output, 0);
    let mut committed = read_tree(&example);
    committed.remove(Path::new("mcp.json"));
    let generated = read_tree(&crate_dir);
    let differing: Vec<&PathBuf> = committed
        .keys()
        .chain(generated.keys())
        .filter(|path| committed.get(*path) != generated.get(*path))
        .collect();
    assert!(
        differing.is_empty(),
        "the live snapshot of mcp.json differs from the committed example in {differing:?}"
    );
}

/// A hot-reload edit that reconnects a server lets the calls already in
/// flight finish on the old connection, sends new calls to the new one at
/// once, and stops the old upstream afterwards; a single-server proxy takes
/// a config of one server too.
#[test]
fn hot_reload_lets_calls_in_flight_finish_on_the_old_connection() {
    let proxy_binary = build(&["errors-proxy"]).join("errors-proxy");
    let fixture = build(&["mcp-fixture-server"]).join("mcp-fixture-server");
    let tools = workspace_root().join("tests/fixture-server/tools/errors.json");
    let scratch = tempfile::tempdir().unwrap();
    let config_path = scratch.path().join("mcp.json");
    let config = |generation: &str| {
        json!({"mcpServers": {"errors": {
            "command": path_str(&fixture),
            "args": ["--tools", path_str(&tools)],
            "env": {"MCPO_E2E_GENERATION": generation},
        }}})
        .to_string()
    };
    std::fs::write(&config_path, config("one")).unwrap();
    let marker = unique_marker("reload-drain");
    let proxy = Launch::proxy(&proxy_binary)
        .args(&["--config", path_str(&config_path), "--hot-reload"])
        .env(&[("MCPO_TEST_MARKER", &marker)])
        .start();
    wait_ready(&proxy);
    // The upstream inherits the marker from the proxy, which has it too.
    let upstreams = || {
        let mut pids = processes_with_marker(&marker);
        pids.retain(|pid| *pid != proxy.pid());
        pids
    };
    let first = upstreams();
    assert!(!first.is_empty(), "the upstream carries the marker");

    // `sleeps` answers after 10 s: in flight across the edit.
    let url = proxy.url("/sleeps");
    let slow = std::thread::spawn(move || {
        let started = Instant::now();
        let reply = post_json(&url, &json!({"message": "slow"}), None);
        (reply, started.elapsed())
    });
    // A fixed pause, not a wait: the slow call must have reached the old
    // upstream before the edit, and nothing outside shows that it has.
    std::thread::sleep(Duration::from_millis(500));
    write_atomically(&config_path, &config("two"));
    wait_until(Duration::from_secs(10), || {
        upstreams().iter().any(|pid| !first.contains(pid))
    });
    // New calls go to the new upstream while the old one is busy.
    let started = Instant::now();
    let reply = proxy.post("/echo", &json!({"message": "new"}));
    assert_eq!(reply.status, 200, "{reply:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "a new call waited for the old upstream"
    );
    let (reply, elapsed) = slow.join().expect("the slow call");
    assert_eq!(reply.status, 200, "the call in flight failed: {reply:?}");
    assert_eq!(reply.body, json!({"message": "slow"}));
    assert!(elapsed >= Duration::from_secs(9), "{elapsed:?}");
    // Then the old upstream is stopped.
    wait_until(Duration::from_secs(10), || {
        upstreams().iter().all(|pid| !first.contains(pid))
    });
    assert_eq!(
        proxy.post("/echo", &json!({"message": "after"})).status,
        200
    );
}
