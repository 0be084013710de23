//! Third-party OpenAPI client generators on the committed examples'
//! `openapi.json`: openapi-python-client (PyPI, in `target/test-tools/client-venv`)
//! and @hey-api/openapi-ts (npm, pinned in `tests/clients/ts`) generate a
//! client from every example, the TypeScript clients type-check with `tsc
//! --strict`, and the clients generated for the time and everything examples
//! call every tool of the real proxies (bearer key on) with typed bodies.
//!
//! One test, so the generators run once: each is a few seconds per document.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use mcpo_gen_e2e::*;
use serde_json::{Value, json};

const KEY: &str = "client-generator-key";

/// The corpus example's tools openapi-python-client 0.29.1 skips, by its own
/// warnings: an `enum` mixing strings, numbers, booleans and null; and
/// properties whose names collide once made Python identifiers. Both are
/// limits of that generator, not of the document (it is valid, see
/// openapi_validity.rs); any other skipped tool fails the test.
const PYTHON_SKIPS_IN_CORPUS: &[&str] = &["POST /enums", "POST /name_collisions"];

fn ts_dir() -> PathBuf {
    workspace_root().join("tests/clients/ts")
}

fn ts_bin(name: &str) -> PathBuf {
    require(&ts_dir().join("node_modules/.bin").join(name), name)
}

fn client_venv_bin() -> PathBuf {
    let bin = test_tool("client-venv/bin/openapi-python-client");
    bin.parent().expect("the venv's bin folder").to_path_buf()
}

/// PATH with the client venv first (openapi-python-client runs ruff from it).
fn client_path() -> std::ffi::OsString {
    let mut paths = vec![client_venv_bin()];
    paths.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    std::env::join_paths(paths).unwrap()
}

#[track_caller]
fn succeeded(what: &str, output: Output) -> String {
    assert!(output.status.success(), "{what}: {}", output_text(&output));
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

struct Example {
    name: String,
    document: Value,
    /// `(operationId, input component)` of every tool operation.
    tools: Vec<(String, String)>,
}

fn examples() -> Vec<Example> {
    example_dirs("openapi.json")
        .into_iter()
        .map(|dir| {
            let document: Value =
                serde_json::from_str(&std::fs::read_to_string(dir.join("openapi.json")).unwrap())
                    .unwrap();
            let mut tools = Vec::new();
            for item in document["paths"].as_object().unwrap().values() {
                let operation = &item["post"];
                if operation.get("x-mcp-tool").is_some() {
                    let input =
                        operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
                            .as_str()
                            .unwrap()
                            .rsplit('/')
                            .next()
                            .unwrap()
                            .to_string();
                    tools.push((
                        operation["operationId"].as_str().unwrap().to_string(),
                        input,
                    ));
                }
            }
            Example {
                name: dir.file_name().unwrap().to_string_lossy().into_owned(),
                document,
                tools,
            }
        })
        .collect()
}

fn python_package(name: &str) -> String {
    format!("{}_client", name.replace('-', "_"))
}

/// openapi-python-client on one example; returns the endpoints it skipped.
fn generate_python(example: &Example, out: &Path) -> BTreeSet<String> {
    let package = out.join(python_package(&example.name));
    let document = workspace_root()
        .join("generated-examples")
        .join(&example.name)
        .join("openapi.json");
    let log = succeeded(
        &format!("openapi-python-client on {}", example.name),
        Command::new(client_venv_bin().join("openapi-python-client"))
            .args(["generate", "--meta", "none", "--path"])
            .arg(&document)
            .arg("--output-path")
            .arg(&package)
            .env("PATH", client_path())
            .current_dir(out)
            .output()
            .unwrap(),
    );
    let skipped: BTreeSet<String> = log
        .lines()
        .filter_map(|line| line.strip_prefix("WARNING parsing "))
        .map(|rest| rest.split(" within ").next().unwrap().to_string())
        .collect();
    let warned = log.contains("Warning(s) encountered");
    assert_eq!(
        warned,
        !skipped.is_empty(),
        "{}: warnings are skipped endpoints only:\n{log}",
        example.name
    );
    for (operation_id, _) in &example.tools {
        let route = example.document["paths"]
            .as_object()
            .unwrap()
            .iter()
            .find(|(_, item)| item["post"]["operationId"] == operation_id.as_str())
            .map(|(path, _)| format!("POST {path}"))
            .unwrap();
        if skipped.contains(&route) {
            continue;
        }
        let module: String = operation_id
            .to_lowercase()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        let api = package.join("api/tools");
        let generated = std::fs::read_dir(&api)
            .unwrap()
            .filter_map(Result::ok)
            .any(|entry| {
                let file = entry.file_name().to_string_lossy().into_owned();
                file.trim_end_matches(".py").trim_matches('_') == module.trim_matches('_')
                    || file.starts_with(module.trim_matches('_'))
            });
        assert!(
            generated,
            "{}: no module for {operation_id} in {}",
            example.name,
            api.display()
        );
    }
    skipped
}

/// @hey-api/openapi-ts on one example, into `out/<name>`: one SDK function
/// per operation (the tools, `/healthz`, `/readyz`, `GET /docs` where a
/// tool is named `docs`, and the resource and prompt routes).
fn generate_ts(example: &Example, out: &Path) -> PathBuf {
    let dir = out.join(&example.name);
    let document = workspace_root()
        .join("generated-examples")
        .join(&example.name)
        .join("openapi.json");
    succeeded(
        &format!("openapi-ts on {}", example.name),
        Command::new(ts_bin("openapi-ts"))
            .arg("-i")
            .arg(&document)
            .arg("-o")
            .arg(&dir)
            .output()
            .unwrap(),
    );
    let sdk = std::fs::read_to_string(dir.join("sdk.gen.ts")).unwrap();
    let functions = sdk
        .lines()
        .filter(|line| line.starts_with("export const ") && line.contains("<ThrowOnError"))
        .count();
    // Tools are the POSTs with `x-mcp-tool`; the rest are the proxy's GETs
    // and, where the lock has them, the resource and prompt routes.
    let operations: usize = example.document["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|item| item.as_object().unwrap().len())
        .sum();
    assert_eq!(
        functions, operations,
        "{}: one SDK function per operation (the tools, /healthz, /readyz, resources, prompts)",
        example.name
    );
    dir
}

fn tsc(args: &[&str], files: &[PathBuf], out_dir: Option<&Path>) {
    let types = ts_dir().join("node_modules/@types");
    let mut command = Command::new(ts_bin("tsc"));
    command
        .args([
            "--strict",
            "--target",
            "es2022",
            "--module",
            "commonjs",
            "--moduleResolution",
            "node10",
            "--lib",
            "es2022,dom",
            "--types",
            "node",
        ])
        .arg("--typeRoots")
        .arg(&types)
        .args(args);
    match out_dir {
        Some(dir) => command.arg("--outDir").arg(dir),
        None => command.arg("--noEmit"),
    };
    succeeded("tsc", command.args(files).output().unwrap());
}

/// Every tool of an example with a body, and what its answer must satisfy.
type Check = fn(u16, &Value) -> bool;

fn time_calls() -> Vec<(&'static str, Value, Check)> {
    vec![
        (
            "get_current_time",
            json!({"timezone": "Europe/Paris"}),
            |status, body| {
                status == 200 && body["timezone"] == "Europe/Paris" && body["is_dst"].is_boolean()
            },
        ),
        (
            "convert_time",
            json!({"source_timezone": "Europe/Paris", "time": "12:00", "target_timezone": "Asia/Tokyo"}),
            |status, body| {
                status == 200
                    && body["target"]["timezone"] == "Asia/Tokyo"
                    && body["source"]["datetime"]
                        .as_str()
                        .is_some_and(|d| d.contains("T12:00"))
            },
        ),
    ]
}

fn everything_calls() -> Vec<(&'static str, Value, Check)> {
    vec![
        ("echo", json!({"message": "héllo"}), |s, b| {
            s == 200 && b == "Echo: héllo"
        }),
        ("get-sum", json!({"a": 2, "b": 3.5}), |s, b| {
            s == 200 && b == "The sum of 2 and 3.5 is 5.5."
        }),
        ("get-tiny-image", json!({}), |s, b| {
            s == 200 && b.to_string().contains("data:image/png;base64,")
        }),
        (
            "get-annotated-message",
            json!({"messageType": "error", "includeImage": true}),
            |s, b| s == 200 && b.to_string().contains("data:image/png;base64,"),
        ),
        ("get-env", json!({}), |s, b| {
            s == 200 && b.get("PATH").is_some()
        }),
        ("get-resource-links", json!({"count": 2}), |s, b| {
            s == 200
                && b.as_array().is_some_and(|blocks| {
                    blocks
                        .iter()
                        .filter(|block| block["type"] == "resource_link")
                        .count()
                        == 2
                })
        }),
        (
            "get-resource-reference",
            json!({"resourceType": "Text", "resourceId": 1}),
            |s, b| s == 200 && b.to_string().contains("demo://resource/dynamic/text/1"),
        ),
        (
            "get-structured-content",
            json!({"location": "Chicago"}),
            |s, b| s == 200 && b["temperature"].is_number() && b["conditions"].is_string(),
        ),
        (
            "gzip-file-as-resource",
            json!({"name": "a.gz", "data": "data:text/plain;base64,aGVsbG8=", "outputType": "resource"}),
            |s, b| s == 200 && b["mimeType"] == "application/gzip",
        ),
        ("toggle-simulated-logging", json!({}), |s, b| {
            s == 200 && b.as_str().is_some_and(|t| t.contains("logging"))
        }),
        ("toggle-subscriber-updates", json!({}), |s, b| {
            s == 200 && b.as_str().is_some_and(|t| t.contains("update"))
        }),
        (
            "trigger-long-running-operation",
            json!({"duration": 0.2, "steps": 2}),
            |s, b| s == 200 && b.as_str().is_some_and(|t| t.contains("completed")),
        ),
        // Its form cannot be answered by a plain caller: declined upstream.
        ("trigger-elicitation-request", json!({}), |s, b| {
            s == 200 && b.to_string().contains("declined")
        }),
        // Runs only as an MCP task: the proxy calls it as one and waits,
        // so a generated client gets the result like any other.
        (
            "simulate-research-query",
            json!({"topic": "rust"}),
            |s, b| {
                s == 200
                    && b.as_str()
                        .is_some_and(|r| r.starts_with("# Research Report: rust"))
            },
        ),
    ]
}

fn call_with_both_clients(
    example: &Example,
    proxy: &Running,
    calls: &[(&'static str, Value, Check)],
    python_out: &Path,
    ts_client: &Path,
    work: &Path,
) {
    let ids: BTreeSet<&str> = example.tools.iter().map(|(id, _)| id.as_str()).collect();
    let called: BTreeSet<&str> = calls.iter().map(|(id, _, _)| *id).collect();
    assert_eq!(called, ids, "{}: every tool is called", example.name);
    let calls_file = work.join(format!("{}-calls.json", example.name));
    let listed: Vec<Value> = calls
        .iter()
        .map(|(id, body, _)| {
            let input = &example.tools.iter().find(|(tool, _)| tool == id).unwrap().1;
            json!({"operationId": id, "input": input, "body": body})
        })
        .collect();
    std::fs::write(&calls_file, serde_json::to_vec(&listed).unwrap()).unwrap();
    let base_url = proxy.url("");
    // Runs a client's call script (it takes the proxy's URL, the key and
    // the calls file last) to its end; the results it printed.
    let results = |what: &str, command: &mut Command| -> Vec<Value> {
        let output = command
            .args([&base_url, KEY])
            .arg(&calls_file)
            .output()
            .unwrap();
        let stdout = succeeded(&format!("{what} client of {}", example.name), output);
        serde_json::from_str(stdout.trim()).unwrap()
    };

    // Python.
    let python = results(
        "python",
        Command::new(client_venv_bin().join("python"))
            .arg(workspace_root().join("tests/clients/call_tools.py"))
            .arg(python_out.join(python_package(&example.name))),
    );

    // TypeScript: the SDK beside call_tools.ts, compiled, run by node.
    let run_dir = work.join(format!("ts-run-{}", example.name));
    std::fs::create_dir_all(&run_dir).unwrap();
    copy_tree(ts_client, &run_dir.join("client"));
    std::fs::copy(
        ts_dir().join("call_tools.ts"),
        run_dir.join("call_tools.ts"),
    )
    .unwrap();
    tsc(
        &["--skipLibCheck"],
        &[run_dir.join("call_tools.ts")],
        Some(&run_dir.join("out")),
    );
    let typescript = results(
        "TypeScript",
        Command::new("node").arg(run_dir.join("out/call_tools.js")),
    );

    for (client, results) in [
        ("openapi-python-client", &python),
        ("openapi-ts", &typescript),
    ] {
        assert_eq!(results.len(), calls.len(), "{client}");
        for ((id, _, check), result) in calls.iter().zip(results) {
            let status = result["status"].as_u64().unwrap() as u16;
            assert!(
                check(status, &result["body"]),
                "{client} calling {}/{id}: {result}",
                example.name
            );
        }
    }
    // Tools with an outputSchema come back as the generated model.
    for result in &python {
        let id = result["operationId"].as_str().unwrap();
        let typed = example.document["paths"]
            .as_object()
            .unwrap()
            .values()
            .find(|item| item["post"]["operationId"] == id)
            .is_some_and(|item| {
                item["post"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
                    != "#/components/schemas/ToolResult"
            });
        if typed {
            assert_eq!(
                result["parsed"], result["body"],
                "{id}: parsed as a model: {result}"
            );
            assert!(
                result["parsed_type"].as_str().unwrap().ends_with("Output"),
                "{result}"
            );
        }
    }
}

#[test]
fn client_generators_consume_every_example_and_call_every_tool() {
    let work = tempfile::tempdir().unwrap();
    let (python_out, ts_out) = (work.path().join("py"), work.path().join("ts"));
    std::fs::create_dir_all(&python_out).unwrap();
    let examples = examples();
    assert!(examples.len() >= 8);

    let mut ts_clients = Vec::new();
    for example in &examples {
        let skipped = generate_python(example, &python_out);
        let expected: BTreeSet<String> = if example.name == "corpus-proxy" {
            PYTHON_SKIPS_IN_CORPUS
                .iter()
                .map(|s| s.to_string())
                .collect()
        } else {
            BTreeSet::new()
        };
        assert_eq!(
            skipped, expected,
            "{}: endpoints openapi-python-client skipped",
            example.name
        );
        ts_clients.push(generate_ts(example, &ts_out));
    }
    // Every generated TypeScript client type-checks, strictly.
    let entries: Vec<PathBuf> = ts_clients.iter().map(|dir| dir.join("index.ts")).collect();
    tsc(&[], &entries, None);

    let find = |name: &str| examples.iter().find(|e| e.name == name).unwrap();
    let bin = build(&["time-proxy", "everything-proxy"]);

    let time = start_proxy(&bin.join("time-proxy"), &["--api-key", KEY]);
    wait_ready(&time);
    call_with_both_clients(
        find("time-proxy"),
        &time,
        &time_calls(),
        &python_out,
        &ts_out.join("time-proxy"),
        work.path(),
    );

    let server = node_server("server-everything");
    let everything = start_proxy(
        &bin.join("everything-proxy"),
        &[
            "--api-key",
            KEY,
            "--",
            "node",
            server.to_str().unwrap(),
            "stdio",
        ],
    );
    wait_ready(&everything);
    call_with_both_clients(
        find("everything-proxy"),
        &everything,
        &everything_calls(),
        &python_out,
        &ts_out.join("everything-proxy"),
        work.path(),
    );
}
