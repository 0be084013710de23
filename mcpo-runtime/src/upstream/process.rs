//! Spawning a stdio MCP server in its own process group.
//!
//! `npx` and `uvx` start the real server as a grandchild; killing only the
//! direct child leaves it running. The child leads a new process group and
//! [`ProcessGroupGuard`] kills the whole group when dropped.
//!
//! The child's stdout reaches the line transport ([`StdioTransport`])
//! through a [`ReplyGuard`], which records the raw `tools/list` results
//! rmcp's typed model would otherwise lose (see `raw_wire`).

use std::collections::BTreeMap;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use process_wrap::tokio::{ChildWrapper, CommandWrap, ProcessGroup};
use tokio::io::AsyncReadExt;
use tokio::process::{ChildStdin, ChildStdout};

use super::raw_wire::RawWire;
use super::reply_guard::ReplyGuard;
use super::stdio;

pub use super::process_group::ProcessGroupGuard;

/// The last bytes the server wrote to stderr, for error messages.
#[derive(Debug, Clone, Default)]
pub struct StderrTail {
    bytes: Arc<Mutex<Vec<u8>>>,
    /// Closed (its sender dropped) when the reader reaches EOF; `None` when
    /// nothing reads.
    reading: Option<tokio::sync::watch::Receiver<()>>,
}

const STDERR_TAIL_BYTES: usize = 4096;

impl StderrTail {
    fn push(&self, chunk: &[u8]) {
        let mut buffer = self
            .bytes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        buffer.extend_from_slice(chunk);
        let excess = buffer.len().saturating_sub(STDERR_TAIL_BYTES);
        buffer.drain(..excess);
    }

    /// The captured text, trimmed; empty when the server printed nothing.
    pub fn text(&self) -> String {
        let buffer = self
            .bytes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        String::from_utf8_lossy(&buffer).trim().to_string()
    }

    /// The captured text once the server closed stderr (it exited), or after
    /// `limit`: a server that fails the handshake usually says why just
    /// before exiting, and the reader task may not have caught up yet.
    pub async fn text_at_exit(&self, limit: Duration) -> String {
        if let Some(mut reading) = self.reading.clone() {
            let _ = tokio::time::timeout(limit, async { while reading.changed().await.is_ok() {} })
                .await;
        }
        self.text()
    }
}

pub type StdioTransport = stdio::StdioTransport<ChildStdout, ChildStdin>;

pub struct SpawnedServer {
    pub transport: StdioTransport,
    pub process: ServerProcess,
}

/// A started stdio server, apart from its transport.
pub struct ServerProcess {
    /// To let the server exit on its own before the guard kills it.
    pub child: ServerChild,
    /// Kills the server's process group (and its grandchildren) on drop.
    pub group: ProcessGroupGuard,
    /// The last bytes it wrote to stderr.
    pub stderr: StderrTail,
}

/// The running server process, for a graceful shutdown. Dropping it kills
/// the process (`kill_on_drop`); the [`ProcessGroupGuard`] kills the rest.
pub struct ServerChild(Box<dyn ChildWrapper>);

impl ServerChild {
    /// Waits for the server to exit after its stdin was closed (what the MCP
    /// stdio shutdown asks for), then sends SIGTERM to the group and waits
    /// again. Whatever is still running is left to the group guard.
    pub async fn shut_down(mut self, grace: Duration) {
        if tokio::time::timeout(grace, self.0.wait()).await.is_ok() {
            return;
        }
        if self.0.signal(libc::SIGTERM).is_ok() {
            let _ = tokio::time::timeout(grace, self.0.wait()).await;
        }
    }
}

/// Starts `command args...` as the leader of a new process group, with
/// piped stdio. `env` is added to the inherited environment.
pub fn spawn(
    command: &str,
    args: &[String],
    env: &BTreeMap<String, String>,
    echo_stderr: bool,
    raw_wire: RawWire,
) -> std::io::Result<SpawnedServer> {
    let mut wrapped = CommandWrap::with_new(command, |cmd| {
        cmd.args(args);
        // The proxy's own secrets are never the server's business.
        for (name, _) in std::env::vars_os() {
            if is_proxy_secret_var(&name) {
                cmd.env_remove(name);
            }
        }
        cmd.envs(env)
            .kill_on_drop(true)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
    });
    wrapped.wrap(ProcessGroup::leader());
    let mut child = wrapped.spawn()?;
    let pid = child
        .id()
        .ok_or_else(|| std::io::Error::other("the server exited before it could be tracked"))?;
    let guard = ProcessGroupGuard::for_leader(pid)
        .ok_or_else(|| std::io::Error::other("the server's pid does not fit a process group id"))?;
    let stdio_missing = || std::io::Error::other("the server's stdio pipes were not created");
    let stdin = child.stdin().take().ok_or_else(stdio_missing)?;
    let stdout = child.stdout().take().ok_or_else(stdio_missing)?;
    let child_stderr = child.stderr().take();
    let transport = StdioTransport::new(ReplyGuard::new(stdout, raw_wire), stdin);
    let mut stderr = StderrTail::default();
    if let Some(mut child_stderr) = child_stderr {
        let (still_reading, reading) = tokio::sync::watch::channel(());
        stderr.reading = Some(reading);
        let tail = stderr.clone();
        tokio::spawn(async move {
            let _still_reading = still_reading;
            let mut chunk = [0u8; 1024];
            // Echoed a line at a time, so a secret split across two reads
            // is still found by `redact`; a line is cut at 64 KiB.
            let mut line = Vec::new();
            let echo = |line: &[u8]| {
                let text = String::from_utf8_lossy(line);
                eprint!("{}", crate::redact::redact(&text));
            };
            while let Ok(read @ 1..) = child_stderr.read(&mut chunk).await {
                tail.push(&chunk[..read]);
                if echo_stderr {
                    line.extend_from_slice(&chunk[..read]);
                    if let Some(end) = line.iter().rposition(|&byte| byte == b'\n') {
                        echo(&line[..=end]);
                        line.drain(..=end);
                    } else if line.len() > 64 * 1024 {
                        echo(&line);
                        line.clear();
                    }
                }
            }
            if !line.is_empty() {
                echo(&line);
            }
        });
    }
    Ok(SpawnedServer {
        transport,
        process: ServerProcess {
            child: ServerChild(child),
            group: guard,
            stderr,
        },
    })
}

/// Env vars that hold a proxy's own secrets (its API keys, the values of
/// headers for an HTTP upstream): a stdio server never needs them.
fn is_proxy_secret_var(name: &std::ffi::OsStr) -> bool {
    name.to_str().is_some_and(|name| {
        name == "MCPO_API_KEY"
            || name == "MCPO_OPENWEBUI_JWT_SECRET"
            || name == "MCPO_HEADER"
            || name.starts_with("MCPO_HEADER_")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_secrets_are_not_passed_to_the_upstream() {
        for name in [
            "MCPO_API_KEY",
            "MCPO_OPENWEBUI_JWT_SECRET",
            "MCPO_HEADER",
            "MCPO_HEADER_AUTHORIZATION",
        ] {
            assert!(is_proxy_secret_var(std::ffi::OsStr::new(name)), "{name}");
        }
        for name in ["PATH", "MCPO_PORT", "GITHUB_TOKEN"] {
            assert!(!is_proxy_secret_var(std::ffi::OsStr::new(name)), "{name}");
        }
    }

    #[test]
    fn stderr_tail_keeps_the_end() {
        let tail = StderrTail::default();
        tail.push(&vec![b'a'; STDERR_TAIL_BYTES]);
        tail.push(b"\nlast words\n");
        let text = tail.text();
        assert!(text.ends_with("last words"));
        assert!(text.len() <= STDERR_TAIL_BYTES);
    }
}
