//! The committed `generated-examples/time-proxy`, started against the real
//! `uvx mcp-server-time`, called over HTTP: every tool, every error of the
//! HTTP contract, docs, root path, clean shutdown.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
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

// `mcpo-gen outdated` and `update --to`, against the real PyPI and the real
// mcp-server-time releases (2026.8.18 and 2026.10.19, in the uv cache).

/// The older release; the newest PyPI serves before [`EXCLUDE_NEWER`] is
/// 2026.10.19 ([`MCP_SERVER_TIME`]).
const OLD_TIME: &str = "mcp-server-time==2026.8.18";

/// `UV_EXCLUDE_NEWER` of scripts/test-env.sh, which `outdated` also applies
/// to PyPI's answer: set here too, so the newest release stays 2026.10.19
/// whatever PyPI publishes later.
const EXCLUDE_NEWER: &str = "2026-11-25T00:00:00Z";

/// `mcpo-gen ARGS` with PyPI read as of [`EXCLUDE_NEWER`] and `env` set.
fn asking_the_index(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(mcpo_gen_bin())
        .args(args)
        .env("PATH", path_with_tools())
        .env("UV_EXCLUDE_NEWER", EXCLUDE_NEWER)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("mcpo-gen runs")
}

/// A crate of `uvx mcp-server-time==2026.8.18` in a scratch folder (kept
/// while the returned folder lives), and its path as text.
fn crate_at_old_release() -> (tempfile::TempDir, String) {
    let scratch = tempfile::tempdir().expect("a scratch folder");
    let dir = scratch.path().join("time-old");
    generate(&dir, &["--", "uvx", OLD_TIME]);
    let text = dir.to_str().expect("a UTF-8 path").to_string();
    (scratch, text)
}

/// A crate's files, as [`read_tree`] reads them.
type Tree = std::collections::BTreeMap<PathBuf, Vec<u8>>;

/// The files whose bytes differ between two [`read_tree`]s (or are in one only).
fn changed_files(before: &Tree, after: &Tree) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = before.keys().chain(after.keys()).cloned().collect();
    paths.sort();
    paths.dedup();
    paths.retain(|path| before.get(path) != after.get(path));
    paths
}

/// The line of `output`'s stdout whose second word is `second` (a row of
/// `outdated`'s text table, by package, or its heading), its cells joined
/// by one space.
fn table_line(output: &Output, second: &str) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .find(|line| line.split_whitespace().nth(1) == Some(second))
        .unwrap_or_else(|| panic!("no line of {second}: {}", output_text(output)));
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `outdated --format json`'s one object.
#[track_caller]
fn outdated_json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|error| panic!("not JSON ({error}): {}", output_text(output)))
}

/// The lock of the crate `dir`.
fn lock_of(dir: &str) -> Value {
    let text = std::fs::read_to_string(Path::new(dir).join("mcp.lock.json")).expect("a lock");
    serde_json::from_str(&text).expect("the lock is JSON")
}

/// A crate generated at 2026.8.18: `outdated` asks PyPI for the newest
/// release (2026.10.19), snapshots it and classifies the difference like
/// `diff` (no breaking change, the server version and launch spec as
/// warnings, titles and both tools' new output schemas as info), in each
/// format; the default `--fail-on ERR` exits 0, `--fail-on WARN` 1; and the
/// crate is left as it was.
#[test]
fn outdated_classifies_the_newest_pypi_release_against_the_lock_and_writes_nothing() {
    let (_scratch, dir) = crate_at_old_release();
    let before = read_tree(Path::new(&dir));

    // The five runs at once: each snapshots 2026.10.19 on its own.
    let crate_dir = dir.as_str();
    let [text, strict, json, markdown, github] = std::thread::scope(|threads| {
        [
            &[][..],
            &["--fail-on", "WARN"],
            &["--format", "json"],
            &["--format", "markdown"],
            &["--format", "github"],
        ]
        .map(|flags| {
            let args = [&["outdated", "--quiet"][..], flags, &[crate_dir]].concat();
            threads.spawn(move || asking_the_index(&args, &[]))
        })
        .map(|run| run.join().expect("mcpo-gen ran"))
    });

    assert_exit_code(&text, 0);
    assert_eq!(
        table_line(&text, "package"),
        "server package current newest breaking warnings info audit"
    );
    let row = "- mcp-server-time 2026.8.18 2026.10.19 0 2 9 0";
    assert_eq!(table_line(&text, "mcp-server-time"), row);
    for change in [
        "WARN server-version-changed  server version changed: 1.30.0 -> 2026.10.19",
        "WARN upstream-changed  upstream launch spec changed: \
         uvx mcp-server-time==2026.8.18 -> uvx mcp-server-time==2026.10.19",
        "INFO output-schema-added  convert_time: now declares an output schema",
        "INFO output-schema-added  get_current_time: now declares an output schema",
        "INFO property-metadata-changed  get_current_time: input property `timezone` \
         `title` changed: (absent) -> \"Timezone\"",
        "0 breaking, 2 warnings, 9 info",
    ] {
        assert_said(&text, change);
    }
    assert!(
        !String::from_utf8_lossy(&text.stdout).contains("ERR "),
        "{}",
        output_text(&text)
    );

    assert_exit_code(&strict, 1);
    assert_eq!(table_line(&strict, "mcp-server-time"), row);

    assert_exit_code(&json, 0);
    let found = outdated_json(&json);
    assert_eq!(found["crate"], dir.as_str());
    assert_eq!(
        found["upstreams"],
        json!([{"package": "mcp-server-time", "current": "2026.8.18", "newest": "2026.10.19",
                "breaking": 0, "warnings": 2, "info": 9, "audit": 0}])
    );
    let changes = found["changes"].as_array().expect("a list of changes");
    let count = |level: &str| changes.iter().filter(|c| c["level"] == level).count();
    assert_eq!((count("ERR"), count("WARN"), count("INFO")), (0, 2, 9));
    let named: Vec<(&str, &str)> = changes
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap_or(""),
                c["tool"].as_str().unwrap_or(""),
            )
        })
        .collect();
    for expected in [
        ("output-schema-added", "convert_time"),
        ("output-schema-added", "get_current_time"),
        ("upstream-changed", ""),
        ("server-version-changed", ""),
    ] {
        assert!(named.contains(&expected), "{expected:?} in {named:?}");
    }
    let launch = changes.iter().find(|c| c["id"] == "upstream-changed");
    assert_eq!(
        launch.map(|c| (&c["old"]["args"], &c["new"]["args"])),
        Some((&json!([OLD_TIME]), &json!([MCP_SERVER_TIME]))),
        "{found}"
    );

    assert_exit_code(&markdown, 0);
    assert_said(&markdown, &format!("### Upstream versions of `{dir}`\n"));
    assert_said(
        &markdown,
        "| - | mcp-server-time | 2026.8.18 | 2026.10.19 | 0 | 2 | 9 | 0 |",
    );
    assert_said(&markdown, "| `output-schema-added` | get_current_time |");

    assert_exit_code(&github, 0);
    assert_said(
        &github,
        &format!(
            "::notice title=outdated upstream::{dir}: mcp-server-time 2026.8.18 -> 2026.10.19 \
             (0 breaking, 2 warnings, 9 info)"
        ),
    );
    assert_said(&github, "::warning title=upstream-changed::");

    let after = read_tree(Path::new(&dir));
    assert_eq!(changed_files(&before, &after), Vec::<PathBuf>::new());
}

/// `update --to latest` bumps a 2026.8.18 crate to 2026.10.19 in the launch
/// spec, the lock (server version, output schemas) and the crate, which
/// `check` then finds up to date and `outdated` current; `update --to
/// 2026.8.18` goes back, reporting the two removed output schemas as
/// breaking (`--fail-on ERR`: exit 1), and leaves the crate byte for byte as
/// it was generated.
#[test]
fn update_to_latest_and_back_applies_each_bump_to_spec_lock_and_crate() {
    let (_scratch, dir) = crate_at_old_release();
    let generated = read_tree(Path::new(&dir));

    let up = asking_the_index(&["update", "--quiet", "--to", "latest", &dir], &[]);
    assert_exit_code(&up, 0);
    assert_said(&up, "0 breaking, 2 warnings, 9 info");
    let lock = lock_of(&dir);
    assert_eq!(lock["upstream"]["args"], json!([MCP_SERVER_TIME]), "{lock}");
    assert_eq!(lock["server"]["version"], "2026.10.19");
    for tool in lock["tools"].as_array().expect("locked tools") {
        assert!(tool["definition"]["outputSchema"].is_object(), "{tool}");
    }
    let bumped = read_tree(Path::new(&dir));
    let readme = String::from_utf8_lossy(&bumped[Path::new("README.md")]).into_owned();
    assert!(
        readme.contains(&format!("`uvx {MCP_SERVER_TIME}`")),
        "{readme}"
    );
    assert_exit_code(&mcpo_gen(&["check", &dir]), 0);

    let current = asking_the_index(
        &[
            "outdated",
            "-q",
            "--format",
            "json",
            "--fail-on",
            "INFO",
            &dir,
        ],
        &[],
    );
    assert_exit_code(&current, 0);
    assert_eq!(
        outdated_json(&current),
        json!({"crate": dir, "changes": [], "upstreams": [{"package": "mcp-server-time",
               "current": "2026.10.19", "newest": "2026.10.19",
               "breaking": 0, "warnings": 0, "info": 0, "audit": 0}]})
    );

    let down = asking_the_index(
        &[
            "update",
            "-q",
            "--to",
            "2026.8.18",
            "--fail-on",
            "ERR",
            &dir,
        ],
        &[],
    );
    assert_exit_code(&down, 1);
    for tool in ["convert_time", "get_current_time"] {
        assert_said(
            &down,
            &format!("ERR  output-schema-removed  {tool}: no longer declares an output schema"),
        );
    }
    assert_said(&down, "2 breaking, 2 warnings, 7 info");
    assert_eq!(lock_of(&dir)["upstream"]["args"], json!([OLD_TIME]));
    assert_exit_code(&mcpo_gen(&["check", &dir]), 0);
    let back = read_tree(Path::new(&dir));
    assert_eq!(changed_files(&generated, &back), Vec::<PathBuf>::new());
}

/// The committed time-proxy (2026.10.19) is PyPI's newest: every count 0,
/// exit 0 even with `--fail-on INFO`; `--to 2026.8.18` compares with the
/// older release instead: 2 breaking (the output schemas it lacks), exit 1
/// with the default `--fail-on ERR`.
#[test]
fn the_committed_example_is_current_and_outdated_to_an_older_release_breaks_it() {
    let example = workspace_root().join("generated-examples/time-proxy");
    let example = example.to_str().expect("a UTF-8 path");

    let current = asking_the_index(&["outdated", "-q", "--fail-on", "INFO", example], &[]);
    assert_exit_code(&current, 0);
    assert_eq!(
        table_line(&current, "mcp-server-time"),
        "- mcp-server-time 2026.10.19 2026.10.19 0 0 0 0"
    );

    let older = asking_the_index(&["outdated", "-q", "--to", "2026.8.18", example], &[]);
    assert_exit_code(&older, 1);
    assert_eq!(
        table_line(&older, "mcp-server-time"),
        "- mcp-server-time 2026.10.19 2026.8.18 2 2 7 0"
    );
    assert_said(&older, "ERR  output-schema-removed  convert_time:");
    assert_said(&older, "ERR  output-schema-removed  get_current_time:");
}

/// An index that does not answer (`MCPO_PYPI_URL` on a closed port) and a
/// package PyPI does not know (the lock edited to launch
/// `uvx no-such-package-mcpo-test==1.0`): `outdated` and `update --to
/// latest` exit 2 with a message naming the index or the package, and
/// write nothing.
#[test]
fn outdated_and_update_exit_2_naming_a_silent_index_or_an_unknown_package() {
    let scratch = tempfile::tempdir().expect("a scratch folder");
    let dir = scratch.path().join("time-proxy");
    copy_tree(
        &workspace_root().join("generated-examples/time-proxy"),
        &dir,
    );
    let dir = dir.to_str().expect("a UTF-8 path");
    // Both verbs refuse saying `message`, and leave the crate as it was.
    let both_refuse = |env: &[(&str, &str)], message: &str| {
        let before = read_tree(Path::new(dir));
        for verb in [
            &["outdated", "-q", dir][..],
            &["update", "-q", "--to", "latest", dir],
        ] {
            let refused = asking_the_index(verb, env);
            assert_exit_code(&refused, 2);
            assert_said(&refused, message);
        }
        let after = read_tree(Path::new(dir));
        assert_eq!(changed_files(&before, &after), Vec::<PathBuf>::new());
    };

    // A version that is not one is refused before any index is asked.
    let before = read_tree(Path::new(dir));
    let range = asking_the_index(&["update", "-q", "--to", "^2026.10", dir], &[]);
    assert_exit_code(&range, 2);
    assert_said(&range, "--to ^2026.10: not an exact version");
    assert_eq!(
        changed_files(&before, &read_tree(Path::new(dir))),
        Vec::<PathBuf>::new()
    );

    let silent = format!("http://127.0.0.1:{}/pypi", closed_port());
    both_refuse(
        &[("MCPO_PYPI_URL", &silent)],
        &format!("the package index at {silent}/mcp-server-time/json did not answer"),
    );

    let mut lock = lock_of(dir);
    lock["upstream"]["args"][0] = json!("no-such-package-mcpo-test==1.0");
    let edited = serde_json::to_string_pretty(&lock).expect("JSON");
    std::fs::write(Path::new(dir).join("mcp.lock.json"), edited).expect("the lock is written");
    both_refuse(
        &[],
        "the package index at https://pypi.org/pypi/no-such-package-mcpo-test/json \
         does not know \"no-such-package-mcpo-test\"",
    );
}

/// `outdated` of a multi-server crate starts only the servers whose index
/// serves a newer version: with `old` at 2026.8.18 and `current` at
/// 2026.10.19 (from one config), `old` is snapshotted at the newest release
/// and reported with its changes, `current` is reported current and never
/// started.
#[test]
fn outdated_of_a_multi_server_crate_starts_only_its_outdated_servers() {
    let scratch = tempfile::tempdir().expect("a scratch folder");
    let config = scratch.path().join("mcp.json");
    let servers = json!({"mcpServers": {
        "old": {"command": "uvx", "args": [OLD_TIME]},
        "current": {"command": "uvx", "args": [MCP_SERVER_TIME]},
    }});
    std::fs::write(&config, servers.to_string()).expect("the config is written");
    let dir = scratch.path().join("times-proxy");
    generate(&dir, &["--config", config.to_str().expect("a UTF-8 path")]);
    let dir = dir.to_str().expect("a UTF-8 path");

    let report = asking_the_index(&["outdated", "--format", "json", dir], &[]);
    assert_exit_code(&report, 0);
    let stderr = String::from_utf8_lossy(&report.stderr);
    assert!(
        stderr.contains("old: mcp-server-time 2026.8.18 -> 2026.10.19: snapshotting it"),
        "{stderr}"
    );
    let started: Vec<&str> = stderr
        .lines()
        .filter(|line| line.starts_with("Snapshotted "))
        .collect();
    assert_eq!(started.len(), 1, "one server started: {stderr}");
    let rows = outdated_json(&report)["upstreams"].clone();
    assert_eq!(
        rows,
        json!([
            {"server": "current", "package": "mcp-server-time", "current": "2026.10.19",
             "newest": "2026.10.19", "breaking": 0, "warnings": 0, "info": 0, "audit": 0},
            {"server": "old", "package": "mcp-server-time", "current": "2026.8.18",
             "newest": "2026.10.19", "breaking": 0, "warnings": 2, "info": 9, "audit": 0},
        ]),
        "{rows:#}"
    );
}
