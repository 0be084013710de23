//! Swagger UI at a proxy's `/docs`, in a real browser: Debian's headless
//! `chromium`, driven by playwright (`tests/browser/swagger_ui.py`, run with
//! `target/test-tools/browser-venv`; both from `scripts/setup-test-deps.sh`).
//!
//! For the committed time and errors examples, with `--api-key`, and for the
//! time example under `--root-path /time` too: the page renders every
//! operation of the proxy's live `openapi.json` with its summary, the
//! schema names it shows (in "Schemas" and in each tool's request and 200
//! response) are the document's distinct, readable component names, it shows
//! no error, and every request the browser makes goes to the proxy on
//! 127.0.0.1; "Authorize" with the key, then "Try it out" and "Execute" on a
//! tool, shows a 200 and the tool's real result. A screenshot of each page
//! is kept under `target/test-artifacts/`.
//!
//! Not covered: a multi-server crate's `/{name}/docs` (no such crates yet).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;

use mcpo_gen_e2e::*;
use serde_json::{Value, json};

const KEY: &str = "browser-test-key";
const CHROMIUM: &str = "/usr/bin/chromium";

/// The Python of the venv with playwright (the driver launches `CHROMIUM`).
fn browser_python() -> PathBuf {
    let python = workspace_root().join("target/test-tools/browser-venv/bin/python");
    for (path, what) in [
        (python.clone(), "playwright's venv"),
        (CHROMIUM.into(), "chromium"),
    ] {
        assert!(
            path.exists(),
            "{what} is missing at {}: run scripts/setup-test-deps.sh",
            path.display()
        );
    }
    python
}

fn artifact(name: &str) -> PathBuf {
    let dir = target_dir().join("test-artifacts");
    std::fs::create_dir_all(&dir).expect("the artifacts folder");
    dir.join(format!("docs-browser-{name}.png"))
}

/// One tool call made through the page.
struct TryIt {
    tool: &'static str,
    body: Value,
}

/// What one run of the page is checked against.
struct Page<'a> {
    name: &'a str,
    proxy: &'a Running,
    /// The host name the browser uses (mapped to 127.0.0.1 when it is not).
    host: &'a str,
    try_it: TryIt,
}

/// Runs the driver on `page` and checks everything but the tool's result,
/// which it returns (the body shown under "Response body", parsed).
fn open_docs(page: &Page) -> Value {
    let root = &page.proxy.root_path;
    let document: Value = {
        let (status, text) = get(&page.proxy.url(&format!("{root}/openapi.json")))
            .expect("the proxy serves openapi.json");
        assert_eq!(status, 200, "{text}");
        serde_json::from_str(&text).expect("openapi.json is JSON")
    };
    let origin = format!("http://{}:{}", page.host, page.proxy.port);
    let screenshot = artifact(page.name);
    let mut plan = json!({
        "docs_url": format!("{origin}{root}/docs"),
        "key": KEY,
        "try": {"tool": page.try_it.tool, "body": page.try_it.body},
        "screenshot": screenshot,
    });
    if page.host != "127.0.0.1" {
        plan["host_rules"] = json!(format!("MAP {} 127.0.0.1", page.host));
    }
    // One chromium at a time: four at once on CI's two cores (beside another
    // test binary) made a page miss its timeout.
    static ONE_BROWSER: Mutex<()> = Mutex::new(());
    let _turn = ONE_BROWSER
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let output = Command::new(browser_python())
        .arg(workspace_root().join("tests/browser/swagger_ui.py"))
        .arg(plan.to_string())
        .output()
        .expect("the browser driver runs");
    assert!(
        output.status.success(),
        "{}: the browser driver failed\n{}",
        page.name,
        output_text(&output)
    );
    let report: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
        panic!("the driver prints JSON ({error})\n{}", output_text(&output))
    });
    assert!(
        screenshot.is_file(),
        "no screenshot at {}",
        screenshot.display()
    );
    println!("{}: screenshot {}", page.name, screenshot.display());
    let context = format!("{}: {report:#}", page.name);

    // No request leaves the machine: every one, of any kind, goes to the
    // proxy (whose host name the browser resolves to 127.0.0.1).
    let requests = report["requests"].as_array().expect("requests");
    assert!(!requests.is_empty(), "{context}");
    let outside: Vec<&str> = requests
        .iter()
        .filter_map(|request| request["url"].as_str())
        .filter(|url| !url.starts_with(&format!("{origin}/")))
        .collect();
    assert!(
        outside.is_empty(),
        "{}: requests that did not go to the proxy at {origin}: {outside:#?}",
        page.name
    );
    if !root.is_empty() {
        let unprefixed: Vec<&str> = requests
            .iter()
            .filter_map(|request| request["url"].as_str())
            .filter(|url| {
                !url.starts_with(&format!("{origin}{root}/")) && *url != format!("{origin}{root}")
            })
            .collect();
        assert!(
            unprefixed.is_empty(),
            "{}: requests outside --root-path {root}: {unprefixed:#?}",
            page.name
        );
    }
    for list in ["failed_requests", "console_errors", "shown_errors"] {
        assert_eq!(report[list], json!([]), "{}: {list}\n{context}", page.name);
    }

    // Every operation of the document, with its summary and responses; tools
    // with the names of their request and 200 response schemas.
    let title = document["info"]["title"].as_str().expect("a title");
    assert!(
        report["title"]
            .as_str()
            .is_some_and(|shown| shown.starts_with(title)),
        "{context}"
    );
    let component = |schema: &Value| {
        schema["$ref"]
            .as_str()
            .and_then(|reference| reference.strip_prefix("#/components/schemas/"))
            .map(str::to_string)
    };
    let mut expected = BTreeMap::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("a path item") {
            let json_schema =
                |body: &Value| component(&body["content"]["application/json"]["schema"]);
            let method = method.to_uppercase();
            expected.insert(
                format!("{method} {path}"),
                json!({
                    "method": method,
                    "path": path,
                    "summary": operation["summary"],
                    "response_codes": sorted_codes(operation["responses"].as_object().map(|responses| responses.keys().map(String::as_str).collect()).unwrap_or_default()),
                "request_schema": json_schema(&operation["requestBody"]),
                    "response_schema": json_schema(&operation["responses"]["200"]),
                }),
            );
        }
    }
    let shown: BTreeMap<String, Value> = report["operations"]
        .as_array()
        .expect("operations")
        .iter()
        .map(|operation| {
            let key = format!(
                "{} {}",
                operation["method"].as_str().unwrap_or_default(),
                operation["path"].as_str().unwrap_or_default()
            );
            let shown = json!({
                "method": operation["method"],
                "path": operation["path"],
                "summary": operation["summary"],
                "response_codes": sorted_codes(operation["response_codes"].as_array().map(|codes| codes.iter().filter_map(Value::as_str).collect()).unwrap_or_default()),
                "request_schema": operation.get("request_schema"),
                "response_schema": operation.get("response_schema"),
            });
            (key, shown)
        })
        .collect();
    assert_eq!(shown, expected, "{}: the operations shown", page.name);
    let tools = expected
        .values()
        .filter(|operation| operation["method"] == "POST")
        .count();
    assert!(tools > 0, "{context}");

    // The schema names shown are the document's component names: distinct,
    // and readable (no `Convert_timeArguments`, no second `TimeResult`).
    let names: Vec<&str> = report["schema_names"]
        .as_array()
        .expect("schema names")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let distinct: BTreeSet<&str> = names.iter().copied().collect();
    assert_eq!(
        distinct.len(),
        names.len(),
        "{}: repeated names: {names:?}",
        page.name
    );
    let components: BTreeSet<&str> = document["components"]["schemas"]
        .as_object()
        .expect("component schemas")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        distinct, components,
        "{}: the names under Schemas",
        page.name
    );
    for name in &names {
        assert!(
            name.starts_with(|c: char| c.is_ascii_uppercase())
                && name.chars().all(|c| c.is_ascii_alphanumeric())
                && !name.ends_with("Arguments"),
            "{}: {name:?} is not a readable schema name",
            page.name
        );
    }

    // "Authorize", "Try it out", "Execute": the call went to the tool's
    // route with the key, and answered 200.
    assert_eq!(report["authorized"], true, "{context}");
    let tried = &report["try"];
    assert_eq!(
        tried["request_url"],
        page.proxy
            .url(&format!("{root}/{}", page.try_it.tool))
            .replace("127.0.0.1", page.host),
        "{context}"
    );
    assert!(
        tried["curl"]
            .as_str()
            .is_some_and(|curl| curl.contains(&format!("Authorization: Bearer {KEY}"))),
        "{context}"
    );
    assert_eq!(tried["status"], "200", "{context}");
    let body = tried["body"].as_str().expect("a response body");
    serde_json::from_str(body).unwrap_or_else(|error| {
        panic!(
            "{}: the body shown is not JSON ({error}): {body}",
            page.name
        )
    })
}

fn sorted_codes(mut codes: Vec<&str>) -> Vec<&str> {
    codes.sort_unstable();
    codes
}

fn time_proxy(flags: &[&str]) -> Running {
    let binary = build(&["time-proxy"]).join("time-proxy");
    let mut args = vec!["--api-key", KEY];
    args.extend_from_slice(flags);
    let proxy = start_proxy(&binary, &args);
    wait_ready(&proxy);
    proxy
}

fn get_current_time() -> TryIt {
    TryIt {
        tool: "get_current_time",
        body: json!({"timezone": "Europe/Paris"}),
    }
}

#[test]
fn swagger_ui_renders_the_time_proxy_and_calls_a_tool_with_the_key() {
    let proxy = time_proxy(&[]);
    let result = open_docs(&Page {
        name: "time",
        proxy: &proxy,
        host: "127.0.0.1",
        try_it: get_current_time(),
    });
    assert_eq!(result["timezone"], "Europe/Paris", "{result}");
    assert!(
        result["datetime"].as_str().is_some_and(|t| t.contains('T')),
        "{result}"
    );
}

#[test]
fn swagger_ui_works_under_a_root_path() {
    let proxy = time_proxy(&["--root-path", "/time"]);
    let result = open_docs(&Page {
        name: "time-root-path",
        proxy: &proxy,
        host: "127.0.0.1",
        try_it: TryIt {
            tool: "convert_time",
            body: json!({"source_timezone": "America/New_York", "time": "16:30", "target_timezone": "Asia/Tokyo"}),
        },
    });
    assert_eq!(result["source"]["timezone"], "America/New_York", "{result}");
    assert_eq!(result["target"]["timezone"], "Asia/Tokyo", "{result}");
}

#[test]
fn swagger_ui_renders_every_tool_of_the_errors_proxy() {
    let binary = build(&["errors-proxy", "mcp-fixture-server"]).join("errors-proxy");
    let fixture = build(&["mcp-fixture-server"]).join("mcp-fixture-server");
    let tools = workspace_root().join("tests/fixture-server/tools/errors.json");
    let proxy = start_proxy(
        &binary,
        &[
            "--api-key",
            KEY,
            "--",
            &fixture.display().to_string(),
            "--tools",
            &tools.display().to_string(),
        ],
    );
    wait_ready(&proxy);
    let arguments = json!({"message": "from Swagger UI", "count": 2});
    let result = open_docs(&Page {
        name: "errors",
        proxy: &proxy,
        host: "127.0.0.1",
        try_it: TryIt {
            tool: "echo",
            body: arguments.clone(),
        },
    });
    assert_eq!(result, arguments);
}

/// Served under any host name but `localhost` or `127.0.0.1` (that is, as
/// deployed), Swagger UI's "online validator badge" loads
/// `https://validator.swagger.io/validator?url=<this proxy's openapi.json URL>`:
/// a request to swagger.io that also tells it where the proxy is. The
/// runtime's Swagger UI config needs `validatorUrl: "none"`
/// (`utoipa_swagger_ui::Config::validator_url("none")` in
/// `mcpo-runtime/src/server.rs`).
#[test]
fn swagger_ui_sends_nothing_outside_under_a_deployment_host_name() {
    let host = "docs.example";
    let proxy = time_proxy(&["--allowed-hosts", &format!("{host},127.0.0.1")]);
    let result = open_docs(&Page {
        name: "time-host-name",
        proxy: &proxy,
        host,
        try_it: get_current_time(),
    });
    assert_eq!(result["timezone"], "Europe/Paris", "{result}");
}
