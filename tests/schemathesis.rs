//! schemathesis (pinned in `scripts/setup-test-deps.sh`) against every
//! committed example whose upstream can run here: each proxy is started with
//! an API key against its real upstream, and `schemathesis run` fuzzes its
//! `/openapi.json` with every check. Any failure fails the test, with
//! schemathesis's own report (and its `curl` reproductions) as the message.
//!
//! `fetch-proxy` is not run: its upstream's only tool fetches URLs from the
//! internet, and these tests have no network beyond loopback.
//!
//! No network beyond loopback: schemathesis only talks to the proxy on
//! 127.0.0.1, and every upstream runs over stdio inside its own empty network
//! namespace (`unshare --net --map-root-user`), so a fuzzed URL argument (say,
//! everything's `gzip-file-as-resource`, whose default is a GitHub URL) cannot
//! leave the machine; such a call fails like any unreachable URL.
//!
//! Deterministic where schemathesis allows: `--generation-deterministic` (no
//! seed, no example database), one worker, at most `MAX_EXAMPLES` fuzzed cases
//! per operation, run in a scratch folder so nothing a run leaves behind
//! (`.hypothesis`, `.schemathesis`) is read by the next one.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use mcpo_gen_e2e::*;

const KEY: &str = "schemathesis-key";
/// Fuzzed cases per operation (the coverage phase adds its own, bounded by
/// each schema).
const MAX_EXAMPLES: &str = "10";

fn path_str(path: &Path) -> &str {
    path.to_str().expect("test paths are UTF-8")
}

/// `-- unshare --net --map-root-user COMMAND...`: the upstream override,
/// run without any network (stdio needs none).
fn offline_upstream(command: &[&str]) -> Vec<String> {
    let isolation: &[&str] = if network_namespaces_work() {
        &["unshare", "--net", "--map-root-user"]
    } else {
        &[]
    };
    std::iter::once("--")
        .chain(isolation.iter().copied())
        .chain(command.iter().copied())
        .map(str::to_string)
        .collect()
}

/// Whether this machine lets us make a network namespace. Without one the
/// upstreams run as they are: the fuzzed URL arguments then may reach the
/// network, which changes no verdict here (a failed fetch is the tool's own
/// error), so the run goes on with a note rather than failing.
fn network_namespaces_work() -> bool {
    static WORKS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *WORKS.get_or_init(|| {
        let works = Command::new("unshare")
            .args(["--net", "--map-root-user", "true"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        if !works {
            eprintln!(
                "note: unshare --net is not available; upstreams run with the machine's network"
            );
        }
        works
    })
}

/// `PATH=...` of the tests, for an upstream started with `env -i`.
fn path_env() -> String {
    format!(
        "PATH={}",
        path_with_tools().to_str().expect("PATH is UTF-8")
    )
}

/// Builds `crate_name`, starts it with the API key, `flags` and the upstream
/// override, and waits until the upstream is connected.
fn start(crate_name: &str, flags: &[&str], upstream: &[String], env: &[(&str, &str)]) -> Running {
    let binary = build(&[crate_name, "mcp-fixture-server"]).join(crate_name);
    // Strict types: the document states the strict contract, which is what
    // schemathesis checks (a string "2" for an integer must be refused). The
    // default lax conversion, as mcpo's, is an extension the document only
    // describes; tests/proxy_contract/lax_types.rs covers it.
    let mut args = vec!["--quiet", "--api-key", KEY, "--strict-types"];
    args.extend_from_slice(flags);
    args.extend(upstream.iter().map(String::as_str));
    // uvx must not look for the network it does not have.
    let mut all_env = vec![("UV_OFFLINE", "1")];
    all_env.extend_from_slice(env);
    let proxy = Launch::proxy(&binary).args(&args).env(&all_env).start();
    wait_ready(&proxy);
    proxy
}

/// Runs schemathesis against the proxy's `/openapi.json` with every check and
/// panics with its report unless it finds nothing. `extra` are further
/// `schemathesis run` options and `config` a `schemathesis.toml`, each with
/// the comment that justifies it at the call site.
fn schemathesis(example: &str, proxy: &Running, extra: &[&str], config: &str) {
    let scratch = tempfile::tempdir().expect("a temp dir");
    // Always a config file of our own (empty by default), so that no
    // `schemathesis.toml` of the machine or a parent folder is picked up.
    let config_file = scratch.path().join("schemathesis.toml");
    std::fs::write(&config_file, config).expect("write schemathesis.toml");
    let authorization = format!("Authorization: Bearer {KEY}");
    let schema = proxy.url("/openapi.json");
    let started = Instant::now();
    let output = Command::new(test_tool("venv/bin/schemathesis"))
        .current_dir(scratch.path())
        .arg("--config-file")
        .arg(&config_file)
        .args(["--no-color", "run", &schema])
        .args(["--checks", "all"])
        .args(["--header", &authorization])
        .args(["--max-examples", MAX_EXAMPLES])
        .arg("--generation-deterministic")
        .args(["--workers", "1"])
        // Every failure of every operation, not only the first one.
        .arg("--continue-on-failure")
        // The key is a test key: keep it in the curl reproductions so that
        // they reproduce.
        .args(["--output-sanitize", "false"])
        .args(["--request-timeout", "30"])
        .args(extra)
        .env("PATH", path_with_tools())
        // tests/schemathesis_hooks.py: bodies with integers beyond 64 bits,
        // which the proxy refuses by design, are not generated.
        .env(
            "SCHEMATHESIS_HOOKS",
            workspace_root().join("tests/schemathesis_hooks.py"),
        )
        .stdin(Stdio::null())
        .output()
        .expect("schemathesis runs");
    let report = output_text(&output);
    eprintln!(
        "schemathesis on {example}: {:?} in {:.1?}\n{report}",
        output.status.code(),
        started.elapsed()
    );
    assert!(
        output.status.success(),
        "schemathesis reports failures on {example}:\n{report}"
    );
}

#[test]
fn time_proxy() {
    // The lock's own command (`uvx mcp-server-time==... --local-timezone=...`).
    let proxy = start(
        "time-proxy",
        &[],
        &offline_upstream(&["uvx", MCP_SERVER_TIME, "--local-timezone=America/New_York"]),
        &[],
    );
    schemathesis("time-proxy", &proxy, &[], TOOL_ERRORS_ARE_500);
}

#[test]
fn everything_proxy() {
    let server = node_server("server-everything");
    let proxy = start(
        "everything-proxy",
        &[],
        // `get-env` answers with the server's whole environment, which a
        // failure report would print: the server gets only PATH.
        &offline_upstream(&["env", "-i", &path_env(), "node", path_str(&server), "stdio"]),
        &[],
    );
    schemathesis(
        "everything-proxy",
        &proxy,
        // The tool only sleeps `duration` seconds (default 10, unbounded):
        // fuzzing it tests the clock, one call-timeout per case, minutes per
        // run, and 200-or-504 would depend on the machine's speed. The 504
        // path is runtime_contract's `a_call_over_the_timeout_is_504...`.
        // `simulate-research-query` is a task of 4 s a call, whatever its
        // arguments: its sync, async and timeout paths are everything_proxy's
        // and proxy_contract's tasks tests.
        &[
            "--exclude-path",
            "/trigger-long-running-operation",
            "--exclude-path",
            "/simulate-research-query",
        ],
        &format!("{TOOL_ERRORS_ARE_500}{EVERYTHING_SURFACE_ERRORS}"),
    );
}

/// server-everything answers a template read whose id it cannot use, and
/// `resource-prompt` with a `resourceType` it does not know, with JSON-RPC
/// -32603 (internal error) rather than -32602: the proxy passes an upstream's
/// internal error on as 502, as for tools (`/fails_with_internal_error`).
const EVERYTHING_SURFACE_ERRORS: &str = r#"
[[operations]]
include-path-regex = "^/resources/templates/[^/]+$"
checks.not_a_server_error.expected-statuses = ["2xx", "3xx", "4xx", "502"]

[[operations]]
include-path = "/prompts/resource-prompt"
checks.not_a_server_error.expected-statuses = ["2xx", "3xx", "4xx", "502"]
"#;

#[test]
fn memory_proxy() {
    let scratch = tempfile::tempdir().unwrap();
    let memory_file = scratch.path().join("memory.jsonl");
    let server = node_server("server-memory");
    let proxy = start(
        "memory-proxy",
        &[],
        &offline_upstream(&["node", path_str(&server)]),
        // The server keeps its graph in MEMORY_FILE_PATH.
        &[("MEMORY_FILE_PATH", path_str(&memory_file))],
    );
    schemathesis("memory-proxy", &proxy, &[], TOOL_ERRORS_ARE_500);
}

#[test]
fn filesystem_proxy() {
    let scratch = tempfile::tempdir().unwrap();
    // Canonical, so the server's own (symlink-resolved) paths match.
    let allowed = scratch.path().canonicalize().unwrap().join("allowed");
    std::fs::create_dir(&allowed).unwrap();
    std::fs::write(allowed.join("notes.txt"), "line one\nline two\n").unwrap();
    let server = node_server("server-filesystem");
    // The server only touches files under `allowed`; it is also its working
    // directory, so relative fuzzed paths land there too.
    let proxy = start(
        "filesystem-proxy",
        &[],
        &offline_upstream(&[
            "sh",
            "-c",
            r#"cd "$1" && exec node "$0" "$1""#,
            path_str(&server),
            path_str(&allowed),
        ]),
        &[],
    );
    schemathesis("filesystem-proxy", &proxy, &[], TOOL_ERRORS_ARE_500);
}

#[test]
fn git_proxy() {
    let scratch = tempfile::tempdir().unwrap();
    let repo = git_repo_with_one_commit(scratch.path());
    // The fuzzer commits, resets and checks out at will: the server is held
    // to this scratch repository (`--repository`) and runs inside it, so a
    // relative `repo_path` such as "." is the scratch repository too, never
    // the working directory of the tests.
    let proxy = start(
        "git-proxy",
        &[],
        &offline_upstream(&[
            "sh",
            "-c",
            r#"cd "$0" && exec uvx "$1" --repository "$0""#,
            path_str(&repo),
            MCP_SERVER_GIT,
        ]),
        &GIT_ENV,
    );
    schemathesis("git-proxy", &proxy, &[], TOOL_ERRORS_ARE_500);
}

/// `-- <fixture> --tools <file>` for our fixture server.
fn fixture_upstream(tools: &str) -> Vec<String> {
    let fixture = build(&["mcp-fixture-server"]).join("mcp-fixture-server");
    let tools = workspace_root().join(tools);
    offline_upstream(&[path_str(&fixture), "--tools", path_str(&tools)])
}

#[test]
fn corpus_proxy() {
    let proxy = start(
        "corpus-proxy",
        &[],
        &fixture_upstream("tests/corpus/tools.json"),
        &[],
    );
    schemathesis("corpus-proxy", &proxy, &[], "");
}

#[test]
fn errors_proxy() {
    // `sleeps` waits 10 s per call: a 1 s call timeout makes each of its
    // cases a quick, deterministic 504 instead of 10 s.
    let proxy = start(
        "errors-proxy",
        &["--call-timeout", "1"],
        &fixture_upstream("tests/fixture-server/tools/errors.json"),
        &[],
    );
    schemathesis(
        "errors-proxy",
        &proxy,
        // `crashes` kills the upstream (502, then a respawn): whichever call
        // comes next races the respawn and gets 503 or not depending on the
        // machine's speed, so it is not fuzzed. The crash-and-respawn path
        // is runtime_contract's `a_crash_is_a_502_then_the_server_is...`.
        &["--exclude-path", "/crashes"],
        ERRORS_BY_DESIGN,
    );
}

/// For the real servers: a tool that answers `isError` is a 500 with the
/// tool's text (mcpo's mapping, README "HTTP contract"), and real servers
/// answer fuzzed arguments (an empty timezone, a path outside the allowed
/// folder, an unknown git revision) that way. The proxy itself gives 500 for
/// nothing else; 502, 503 and 504 stay failures.
const TOOL_ERRORS_ARE_500: &str = r#"
[checks.not_a_server_error]
expected-statuses = ["2xx", "3xx", "4xx", "500"]
"#;

/// The fixture tools of errors.json that fail on purpose, and the status the
/// runtime contract (proxy_contract/runtime_contract.rs) gives each: for these operations
/// only, that status is what schemathesis is told to expect. Every other
/// operation, and every other check, keeps schemathesis's defaults.
const ERRORS_BY_DESIGN: &str = r#"
# isError result: 500.
[[operations]]
include-path = "/fails_with_is_error"
checks.not_a_server_error.expected-statuses = ["2xx", "3xx", "4xx", "500"]

# JSON-RPC -32603 from the upstream: 502.
[[operations]]
include-path = "/fails_with_internal_error"
checks.not_a_server_error.expected-statuses = ["2xx", "3xx", "4xx", "502"]

# Sleeps 10 s, past the 1 s call timeout: 504.
[[operations]]
include-path = "/sleeps"
checks.not_a_server_error.expected-statuses = ["2xx", "3xx", "4xx", "504"]

# JSON-RPC -32602 for any odd or missing `value`: 422, schema-valid or not.
[[operations]]
include-path = "/fails_with_invalid_params"
checks.positive_data_acceptance.expected-statuses = ["2xx", "3xx", "401", "403", "404", "409", "422", "429", "5xx"]
"#;

const MCP_SERVER_GIT: &str = "mcp-server-git==2026.10.19";
