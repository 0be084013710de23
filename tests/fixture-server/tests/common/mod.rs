//! Helpers shared by the integration tests: start the fixture binary and talk to it,
//! either through rmcp's client or as raw JSON-RPC lines (to see exactly what is on
//! the wire and how the process exits).

#![allow(dead_code)] // each test file uses a different subset

use std::{
    io::{BufRead, BufReader, Write},
    path::PathBuf,
    process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Stdio},
    sync::mpsc,
    thread,
    time::Duration,
};

use rmcp::{
    RoleClient, ServiceExt,
    model::{
        CallToolRequestParams, CallToolResult, ClientCapabilities, ClientConfig, Implementation,
    },
    service::{Peer, RunningService},
    transport::TokioChildProcess,
};
use serde_json::{Value, json};

pub const BIN: &str = env!("CARGO_BIN_EXE_mcp-fixture-server");

pub fn tools_file(name: &str) -> String {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tools", name].iter().collect();
    path.to_string_lossy().into_owned()
}

/// A tool file, as written.
pub fn tool_file_json(name: &str) -> Value {
    let text = std::fs::read_to_string(tools_file(name)).expect("tool file is readable");
    serde_json::from_str(&text).expect("tool file is JSON")
}

/// The `tools` array of a tool file, as written.
pub fn file_tools(name: &str) -> Vec<Value> {
    tool_file_json(name)["tools"]
        .as_array()
        .cloned()
        .expect("tool file has a tools array")
}

pub fn client_config() -> ClientConfig {
    ClientConfig::new(
        ClientCapabilities::default(),
        Implementation::new("fixture-tests", "0"),
    )
}

pub type Client = RunningService<RoleClient, ClientConfig>;

/// Start the fixture over stdio and complete the MCP handshake with rmcp's client.
pub async fn stdio_client(args: &[&str]) -> Client {
    let mut command = tokio::process::Command::new(BIN);
    command.args(args);
    let transport = TokioChildProcess::new(command).expect("fixture binary starts");
    client_config()
        .serve(transport)
        .await
        .expect("MCP handshake over stdio")
}

pub fn call(name: &str, arguments: Value) -> CallToolRequestParams {
    let params = CallToolRequestParams::new(name.to_owned());
    match arguments {
        Value::Object(arguments) => params.with_arguments(arguments),
        _ => params,
    }
}

/// Calls `tool` with `arguments` through `client` (any running client
/// derefs to its peer); the call must get a result (an `isError` one
/// included), not a JSON-RPC error.
pub async fn call_ok(client: &Peer<RoleClient>, tool: &str, arguments: Value) -> CallToolResult {
    client
        .call_tool(call(tool, arguments))
        .await
        .unwrap_or_else(|error| panic!("{tool}: {error}"))
}

/// The text of a result's first content block, which must be text.
pub fn first_text(result: &CallToolResult) -> &str {
    &result.content[0].as_text().expect("a text block").text
}

/// A fixture process driven with hand-written JSON-RPC lines over stdio.
pub struct RawSession {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
    next_id: u64,
    /// The `initialize` response (`Null` for a session started with
    /// [`RawSession::spawn`]).
    pub initialized: Value,
    /// The server's stderr lines, when captured ([`RawSession::spawn`]).
    stderr_lines: Option<mpsc::Receiver<String>>,
}

impl RawSession {
    /// Start the binary and perform `initialize` + `notifications/initialized`.
    pub fn start(args: &[&str]) -> Self {
        let mut session = Self::launch(args, false);
        let initialized = session.request(
            "initialize",
            json!({
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "raw-test", "version": "0"}
            }),
        );
        assert!(initialized.get("result").is_some(), "{initialized}");
        session.initialized = initialized;
        session.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
        session
    }

    /// Start the binary without any handshake (the test sends `initialize` or,
    /// on the stateless 2026-07-28 revision, `server/discover` itself), with
    /// its stderr captured for [`RawSession::wait_for_stderr`] and copied to
    /// the test's stderr.
    pub fn spawn(args: &[&str]) -> Self {
        Self::launch(args, true)
    }

    fn launch(args: &[&str], capture_stderr: bool) -> Self {
        let mut child = Command::new(BIN)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(if capture_stderr {
                Stdio::piped()
            } else {
                Stdio::inherit()
            })
            .spawn()
            .expect("fixture binary starts");
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("stdout is piped");
        // A reader thread turns blocking reads into a channel we can wait on with a
        // timeout, so a server that never answers fails the test instead of hanging it.
        let (sender, lines) = mpsc::channel();
        thread::spawn(move || forward_lines(stdout, sender));
        let stderr_lines = child.stderr.take().map(|stderr| {
            let (sender, lines) = mpsc::channel();
            thread::spawn(move || {
                for line in BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    eprintln!("{line}");
                    if sender.send(line).is_err() {
                        break;
                    }
                }
            });
            lines
        });
        Self {
            child,
            stdin,
            lines,
            next_id: 1,
            initialized: Value::Null,
            stderr_lines,
        }
    }

    /// Wait up to `limit` for a stderr line equal to `line` (needs
    /// [`RawSession::spawn`]); returns whether it came.
    pub fn wait_for_stderr(&mut self, line: &str, limit: Duration) -> bool {
        let lines = self
            .stderr_lines
            .as_ref()
            .expect("stderr is captured (RawSession::spawn)");
        let deadline = std::time::Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match lines.recv_timeout(left) {
                Ok(got) if got == line => return true,
                Ok(_) => {}
                Err(_) => return false,
            }
        }
    }

    /// Wait up to `limit` for a notification `method` from the server (other
    /// messages are skipped); returns whether it came.
    pub fn wait_for_notification(&mut self, method: &str, limit: Duration) -> bool {
        let deadline = std::time::Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let Ok(line) = self.lines.recv_timeout(left) else {
                return false;
            };
            let message: Value = serde_json::from_str(&line).expect("server sends JSON lines");
            if message.get("id").is_none() && message["method"] == method {
                return true;
            }
        }
    }

    pub fn send(&mut self, message: &Value) {
        let stdin = self.stdin.as_mut().expect("stdin still open");
        writeln!(stdin, "{message}").expect("write to fixture");
        stdin.flush().expect("flush to fixture");
    }

    /// Send a request and return the whole response message (`result` or `error`).
    pub fn request(&mut self, method: &str, params: Value) -> Value {
        self.request_with_notifications(method, params).0
    }

    /// Send a request; return the response message and the notifications that
    /// arrived before it.
    pub fn request_with_notifications(
        &mut self,
        method: &str,
        params: Value,
    ) -> (Value, Vec<Value>) {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        let mut notifications = Vec::new();
        loop {
            let line = self
                .lines
                .recv_timeout(Duration::from_secs(20))
                .unwrap_or_else(|_| panic!("no answer to {method} #{id}"));
            let message: Value = serde_json::from_str(&line).expect("server sends JSON lines");
            if message.get("id") == Some(&json!(id)) {
                return (message, notifications);
            }
            if message.get("id").is_none() {
                notifications.push(message);
            }
        }
    }

    /// Send a request and expect no answer, only the end of stdout.
    pub fn request_expecting_no_answer(&mut self, method: &str, params: Value) {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(20)) {
            let message: Value = serde_json::from_str(&line).expect("server sends JSON lines");
            assert_ne!(
                message.get("id"),
                Some(&json!(id)),
                "unexpected answer: {message}"
            );
        }
    }

    /// Close stdin (what a client does when it is done).
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Wait for the process to exit, failing the test after `limit`.
    pub fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        wait_with_limit(&mut self.child, limit)
    }
}

impl Drop for RawSession {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn forward_lines(stdout: ChildStdout, sender: mpsc::Sender<String>) {
    for line in BufReader::new(stdout).lines() {
        let Ok(line) = line else { break };
        if sender.send(line).is_err() {
            break;
        }
    }
}

pub fn wait_with_limit(child: &mut Child, limit: Duration) -> ExitStatus {
    let deadline = std::time::Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "fixture did not exit within {limit:?}"
        );
        thread::sleep(Duration::from_millis(20));
    }
}

/// Send SIGTERM to a process (through `kill(1)`, to avoid a libc dependency).
pub fn sigterm(pid: u32) {
    let status = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("kill(1) runs");
    assert!(status.success());
}
