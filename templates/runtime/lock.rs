//! The parts of the embedded `mcp.lock.json` the runtime needs. Unknown
//! fields are ignored, so a newer lock with extra facts still loads.

use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Lock {
    pub server: ServerFacts,
    pub upstream: LockedUpstream,
    #[serde(default)]
    pub tools: Vec<LockedTool>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ServerFacts {
    pub name: String,
    pub version: String,
}

/// How the generator reached the server. Env var and header *names* only:
/// their values come from this process's environment and flags.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum LockedUpstream {
    Stdio {
        command: String,
        #[serde(default)]
        args: Vec<String>,
        #[serde(default)]
        env: Vec<String>,
    },
    StreamableHttp {
        url: String,
        #[serde(default)]
        headers: Vec<String>,
    },
    Sse {
        url: String,
        #[serde(default)]
        headers: Vec<String>,
    },
}

#[derive(Debug, Clone, Deserialize)]
pub struct LockedTool {
    pub name: String,
    /// The verbatim tool object from `tools/list`.
    pub definition: Value,
}

impl LockedTool {
    pub fn input_schema(&self) -> Option<&Value> {
        self.definition.get("inputSchema")
    }
}

impl Lock {
    pub fn parse(json: &str) -> Result<Lock, serde_json::Error> {
        serde_json::from_str(json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_stdio_lock_and_ignores_unknown_fields() {
        let lock = Lock::parse(
            r#"{"generator":{"name":"mcpo-gen","version":"0.1.0"},"lockVersion":1,
                "server":{"name":"mcp-time","version":"1.0","protocolVersion":"2025-06-18","capabilities":{}},
                "upstream":{"type":"stdio","command":"uvx","args":["mcp-server-time"],"env":["TZ"]},
                "tools":[{"name":"t","sha256":"00","definition":{"name":"t","inputSchema":{"type":"object"}}}],
                "futureField":true}"#,
        );
        let lock = match lock {
            Ok(lock) => lock,
            Err(error) => panic!("lock should parse: {error}"),
        };
        assert_eq!(
            lock.upstream,
            LockedUpstream::Stdio {
                command: "uvx".into(),
                args: vec!["mcp-server-time".into()],
                env: vec!["TZ".into()],
            }
        );
        assert_eq!(lock.tools.len(), 1);
        assert_eq!(
            lock.tools[0].input_schema(),
            Some(&serde_json::json!({"type": "object"}))
        );
    }

    #[test]
    fn parses_http_upstreams() {
        let upstream: Result<LockedUpstream, _> = serde_json::from_str(
            r#"{"type":"streamable-http","url":"http://x/mcp","headers":["Authorization"]}"#,
        );
        assert_eq!(
            upstream.ok(),
            Some(LockedUpstream::StreamableHttp {
                url: "http://x/mcp".into(),
                headers: vec!["Authorization".into()],
            })
        );
    }
}
