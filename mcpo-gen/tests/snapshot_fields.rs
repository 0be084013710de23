//! The snapshot keeps every tool exactly as the server sent it, fields rmcp's
//! typed `Tool` does not model included, over stdio and streamable HTTP, and
//! follows `nextCursor` through every page. The upstream is our fixture
//! server (tests/fixture-server), built on first use.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

use mcpo_gen::lock::Lock;
use mcpo_gen::snapshot::{self, Options, SnapshotError, Target};
use serde_json::Value;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("mcpo-gen sits in the workspace root")
        .to_path_buf()
}

/// Builds the fixture server once per test binary and returns its path.
fn fixture_server() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let status = Command::new(env!("CARGO"))
            .current_dir(workspace_root())
            // The same selection as the e2e harness and scripts/test.sh: any
            // other one resolves features differently and rebuilds.
            .args(["build", "--quiet", "--workspace", "--bins"])
            .status()
            .expect("cargo runs");
        assert!(status.success(), "cargo build --workspace --bins failed");
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| workspace_root().join("target"));
        target.join("debug").join("mcp-fixture-server")
    })
}

fn future_fields_file() -> PathBuf {
    workspace_root().join("tests/fixture-server/tools/future-fields.json")
}

/// The tools of a fixture tool file, by name, as written.
fn file_tools(path: &Path) -> BTreeMap<String, Value> {
    let text = std::fs::read_to_string(path).expect("tool file is readable");
    let document: Value = serde_json::from_str(&text).expect("tool file is JSON");
    document["tools"]
        .as_array()
        .expect("tool file has a tools array")
        .iter()
        .map(|tool| {
            (
                tool["name"].as_str().expect("named").to_string(),
                tool.clone(),
            )
        })
        .collect()
}

fn lock_tools(lock: &Lock) -> BTreeMap<String, Value> {
    lock.tools
        .iter()
        .map(|tool| (tool.name.clone(), tool.definition.clone()))
        .collect()
}

fn stdio_target(args: &[&str]) -> Target {
    Target::Stdio {
        command: fixture_server().display().to_string(),
        args: args.iter().map(|arg| arg.to_string()).collect(),
        env: BTreeMap::new(),
    }
}

fn run(target: &Target) -> Result<Lock, SnapshotError> {
    snapshot::block_on(snapshot::snapshot(target, &Options::default()))
}

/// A fixture server on HTTP, killed when dropped.
struct HttpServer {
    child: Child,
    url: String,
}

impl HttpServer {
    fn start(args: &[&str]) -> Self {
        let mut child = Command::new(fixture_server())
            .args(["--transport", "http", "--port", "0"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("fixture server starts");
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut first_line = String::new();
        BufReader::new(stdout)
            .read_line(&mut first_line)
            .expect("fixture server prints its address");
        let url = first_line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {first_line:?}"))
            .to_string();
        HttpServer { child, url }
    }

    fn target(&self, headers: &[(&str, &str)]) -> Target {
        Target::StreamableHttp {
            url: self.url.clone(),
            headers: headers
                .iter()
                .map(|(name, value)| (name.to_string(), value.to_string()))
                .collect(),
            oauth: None,
        }
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn assert_verbatim(lock: &Lock) {
    let expected = file_tools(&future_fields_file());
    let long_job = &expected["long_job"];
    assert!(
        long_job.get("execution").is_some(),
        "the file has the field"
    );
    assert_eq!(lock_tools(lock), expected);
}

#[test]
fn unknown_tool_fields_survive_a_stdio_snapshot() {
    let file = future_fields_file().display().to_string();
    let lock = run(&stdio_target(&["--tools", &file])).expect("snapshot succeeds");
    assert_verbatim(&lock);
}

#[test]
fn unknown_tool_fields_survive_an_http_snapshot() {
    let file = future_fields_file().display().to_string();
    let server = HttpServer::start(&["--tools", &file]);
    let lock = run(&server.target(&[])).expect("snapshot succeeds");
    assert_verbatim(&lock);
}

#[test]
fn http_snapshot_sends_custom_headers_on_every_request() {
    let file = future_fields_file().display().to_string();
    let server = HttpServer::start(&["--tools", &file, "--require-header", "X-Fixture-Key: open"]);
    let lock = run(&server.target(&[("X-Fixture-Key", "open")])).expect("snapshot succeeds");
    assert_verbatim(&lock);
    let error = run(&server.target(&[])).expect_err("the server wants the header");
    assert!(
        matches!(
            error,
            SnapshotError::Connect(snapshot::ConnectError::Handshake { .. })
        ),
        "unexpected error: {error}"
    );
}

fn assert_thousand_tools(lock: &Lock) {
    assert_eq!(lock.tools.len(), 1000);
    for (index, tool) in lock.tools.iter().enumerate() {
        assert_eq!(tool.name, format!("tool_{index:04}"));
        assert_eq!(tool.definition["name"], tool.name.as_str());
        assert!(tool.definition["inputSchema"].is_object(), "{}", tool.name);
    }
}

#[test]
fn all_pages_of_a_thousand_tools_over_stdio() {
    let lock = run(&stdio_target(&[
        "--generate-tools",
        "1000",
        "--page-size",
        "100",
    ]))
    .expect("snapshot succeeds");
    assert_thousand_tools(&lock);
}

#[test]
fn all_pages_of_a_thousand_tools_over_http() {
    let server = HttpServer::start(&["--generate-tools", "1000", "--page-size", "100"]);
    let lock = run(&server.target(&[])).expect("snapshot succeeds");
    assert_thousand_tools(&lock);
}

/// The corpus is served verbatim; its tools must come back unchanged too.
#[test]
fn the_schema_corpus_round_trips_over_stdio() {
    let corpus = workspace_root().join("tests/corpus/tools.json");
    let path = corpus.display().to_string();
    let lock = run(&stdio_target(&["--tools", &path])).expect("snapshot succeeds");
    assert_eq!(lock_tools(&lock), file_tools(&corpus));
}
