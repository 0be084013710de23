//! The Claude Desktop config format mcpo reads (`mcpServers`), for mcpo-gen's
//! `--config` (one crate serving several servers) and for a proxy's runtime
//! `--config` (how each locked server is reached, and which of its locked
//! tools are switched off; `--hot-reload` re-reads it).
//!
//! ```json
//! {"mcpServers": {
//!   "time":   {"command": "uvx", "args": ["mcp-server-time"], "disabledTools": ["convert_time"]},
//!   "remote": {"type": "streamable-http", "url": "https://example.test/mcp",
//!              "headers": {"Authorization": "Bearer ${REMOTE_TOKEN}"}}
//! }}
//! ```
//!
//! `type` is `stdio`, `sse` or `streamable-http` (also mcpo's spellings
//! `streamable_http` / `streamablehttp` / `http`); a `url` without `type` is
//! SSE and a `command` without it stdio, as in mcpo. `disabledTools` (or
//! `disabled_tools`) leaves tools out; `enabledTools` (or `enabled_tools`)
//! keeps only those named. Text written `${VAR}` is read from the environment
//! when the server is reached ([`ServerEntry::target`]) and is never stored
//! expanded: the lock keeps the `${VAR}` form of command, arguments and URL,
//! and names only of env vars and headers.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use crate::lock::Upstream;
use crate::upstream::Target;

/// A config that cannot be used. Messages name servers, fields and
/// variables, never values (env and header values are usually secrets).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[allow(
    missing_docs,
    reason = "the variants' fields are named by their messages"
)]
pub enum ConfigError {
    #[error("cannot read {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("{origin} is not a valid config: {reason}")]
    Parse { origin: String, reason: String },
    #[error("{origin} has no servers: expected {{\"mcpServers\": {{\"NAME\": {{...}}}}}}")]
    NoServers { origin: String },
    #[error(
        "server {name:?}: a name must be letters, digits, '-', '_' or '.', starting with a \
         letter or digit, and not one of the proxy's own routes ({reserved}); it becomes the \
         URL prefix /{name}"
    )]
    InvalidName { name: String, reserved: String },
    #[error("server {name:?}: {reason}")]
    Entry { name: String, reason: String },
    #[error("server {name:?}: {reason}")]
    Upstream { name: String, reason: String },
    #[error(
        "server {name:?} needs environment variable {var} (written ${{{var}}} in its {field}), \
         which is not set"
    )]
    MissingVariable {
        name: String,
        field: String,
        var: String,
    },
}

/// The routes a multi-server proxy serves at its root, which a server name
/// must not shadow.
pub const RESERVED_NAMES: &[&str] = &["docs", "openapi.json", "healthz", "readyz", "metrics"];

/// Whether `name` can name a server: it is its URL prefix (`/{name}`).
pub fn is_valid_server_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !RESERVED_NAMES.contains(&name)
}

/// A whole config: servers by name, sorted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Every server of `mcpServers`.
    pub servers: BTreeMap<String, ServerEntry>,
}

/// How one server is reached, with `${VAR}` references unexpanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerEntry {
    /// Transport, command or URL, env and headers.
    pub transport: Transport,
    /// Tools left out (`disabledTools`).
    pub disabled_tools: BTreeSet<String>,
    /// When set, only these tools are kept (`enabledTools`).
    pub enabled_tools: Option<BTreeSet<String>>,
}

/// The transport of a [`ServerEntry`]; values may hold `${VAR}` references.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs, reason = "the config's own field names")]
pub enum Transport {
    Stdio {
        command: String,
        args: Vec<String>,
        env: BTreeMap<String, String>,
    },
    StreamableHttp {
        url: String,
        headers: BTreeMap<String, String>,
    },
    Sse {
        url: String,
        headers: BTreeMap<String, String>,
    },
}

/// One `mcpServers` entry as written (unknown fields are ignored, as Claude
/// Desktop and mcpo do).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawEntry {
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    command: Option<String>,
    #[serde(default)]
    args: Vec<String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default, alias = "disabled_tools")]
    disabled_tools: Vec<String>,
    #[serde(default, alias = "enabled_tools")]
    enabled_tools: Option<Vec<String>>,
    #[serde(default)]
    oauth: Option<Value>,
}

impl Config {
    /// Reads and checks a config file.
    pub fn read(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read {
            path: path.display().to_string(),
            reason: error.to_string(),
        })?;
        Self::from_json(&text, &path.display().to_string())
    }

    /// Parses and checks a config; `origin` names it in errors.
    pub fn from_json(text: &str, origin: &str) -> Result<Self, ConfigError> {
        let parse_error = |reason: String| ConfigError::Parse {
            origin: origin.to_string(),
            reason,
        };
        let document: Value =
            serde_json::from_str(text).map_err(|error| parse_error(error.to_string()))?;
        let servers = document
            .get("mcpServers")
            .and_then(Value::as_object)
            .filter(|servers| !servers.is_empty())
            .ok_or_else(|| ConfigError::NoServers {
                origin: origin.to_string(),
            })?;
        let mut parsed = BTreeMap::new();
        for (name, entry) in servers {
            if !is_valid_server_name(name) {
                return Err(ConfigError::InvalidName {
                    name: name.clone(),
                    reserved: RESERVED_NAMES.join(", "),
                });
            }
            let raw: RawEntry =
                serde_json::from_value(entry.clone()).map_err(|error| ConfigError::Entry {
                    name: name.clone(),
                    reason: error.to_string(),
                })?;
            parsed.insert(name.clone(), ServerEntry::from_raw(name, raw)?);
        }
        Ok(Config { servers: parsed })
    }
}

impl ServerEntry {
    fn from_raw(name: &str, raw: RawEntry) -> Result<Self, ConfigError> {
        let entry_error = |reason: &str| ConfigError::Entry {
            name: name.to_string(),
            reason: reason.to_string(),
        };
        if raw.oauth.is_some() {
            return Err(entry_error(
                "has an \"oauth\" block: OAuth upstreams are not supported yet; \
                 give a bearer token in \"headers\" instead",
            ));
        }
        let kind = match raw.kind.as_deref() {
            Some(kind) => kind.to_ascii_lowercase(),
            None if raw.command.is_some() => "stdio".to_string(),
            // mcpo: a `url` without `type` is the legacy SSE transport.
            None if raw.url.is_some() => "sse".to_string(),
            None => return Err(entry_error("needs a \"command\" (stdio) or a \"url\"")),
        };
        let url = || {
            let url = raw
                .url
                .clone()
                .ok_or_else(|| entry_error("an HTTP server needs a \"url\""))?;
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(entry_error("\"url\" must start with http:// or https://"));
            }
            if url_has_credentials(&url) {
                return Err(entry_error(
                    "\"url\" carries credentials, which would be written to mcp.lock.json; \
                     put them in \"headers\"",
                ));
            }
            Ok(url)
        };
        let transport = match kind.as_str() {
            "stdio" => Transport::Stdio {
                command: raw
                    .command
                    .clone()
                    .filter(|command| !command.is_empty())
                    .ok_or_else(|| entry_error("a stdio server needs a \"command\""))?,
                args: raw.args.clone(),
                env: raw.env.clone(),
            },
            "sse" => Transport::Sse {
                url: url()?,
                headers: raw.headers.clone(),
            },
            "streamable-http" | "streamable_http" | "streamablehttp" | "http" => {
                Transport::StreamableHttp {
                    url: url()?,
                    headers: raw.headers.clone(),
                }
            }
            other => {
                return Err(entry_error(&format!(
                    "unknown \"type\" {other:?}: expected stdio, sse or streamable-http"
                )));
            }
        };
        match &transport {
            Transport::Stdio { .. } if !raw.headers.is_empty() => {
                return Err(entry_error(
                    "\"headers\" apply to HTTP servers; use \"env\"",
                ));
            }
            Transport::StreamableHttp { .. } | Transport::Sse { .. }
                if !raw.env.is_empty() || raw.command.is_some() =>
            {
                return Err(entry_error(
                    "an HTTP server takes \"url\" and \"headers\", not \"command\" or \"env\"",
                ));
            }
            _ => {}
        }
        Ok(ServerEntry {
            transport,
            disabled_tools: raw.disabled_tools.into_iter().collect(),
            enabled_tools: raw.enabled_tools.map(|tools| tools.into_iter().collect()),
        })
    }

    /// Whether this entry keeps the tool `name`.
    pub fn keeps_tool(&self, name: &str) -> bool {
        !self.disabled_tools.contains(name)
            && self
                .enabled_tools
                .as_ref()
                .is_none_or(|enabled| enabled.contains(name))
    }

    /// The launch spec for the lock: command, arguments and URL as written
    /// (`${VAR}` unexpanded), env and header names only.
    pub fn upstream(&self) -> Upstream {
        match &self.transport {
            Transport::Stdio { command, args, env } => Upstream::Stdio {
                command: command.clone(),
                args: args.clone(),
                env: env.keys().cloned().collect(),
            },
            Transport::StreamableHttp { url, headers } => Upstream::StreamableHttp {
                url: url.clone(),
                headers: headers.keys().cloned().collect(),
            },
            Transport::Sse { url, headers } => Upstream::Sse {
                url: url.clone(),
                headers: headers.keys().cloned().collect(),
            },
        }
    }

    /// The target to connect to, every `${VAR}` read through `lookup`.
    /// `name` is the server's, for error messages.
    pub fn target(
        &self,
        name: &str,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Target, ConfigError> {
        let expand = |field: &str, text: &str| expand_variables(name, field, text, lookup);
        let expand_map = |field: &str, map: &BTreeMap<String, String>| {
            map.iter()
                .map(|(key, value)| Ok((key.clone(), expand(&format!("{field} {key}"), value)?)))
                .collect::<Result<BTreeMap<_, _>, ConfigError>>()
        };
        Ok(match &self.transport {
            Transport::Stdio { command, args, env } => Target::Stdio {
                command: expand("command", command)?,
                args: args
                    .iter()
                    .map(|arg| expand("args", arg))
                    .collect::<Result<_, _>>()?,
                env: expand_map("env", env)?,
            },
            Transport::StreamableHttp { url, headers } => Target::StreamableHttp {
                url: expand("url", url)?,
                headers: expand_map("header", headers)?,
            },
            Transport::Sse { url, headers } => Target::Sse {
                url: expand("url", url)?,
                headers: expand_map("header", headers)?,
            },
        })
    }
}

/// The target of a server as its lock records it, for a proxy or `update`
/// run without a config: `${VAR}` in command, arguments and URL expanded,
/// env values and header values read as [`Target::from_upstream`] reads
/// them.
pub fn locked_target(
    name: &str,
    upstream: &Upstream,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Target, ConfigError> {
    let expand = |field: &str, text: &str| expand_variables(name, field, text, lookup);
    let expanded = match upstream {
        Upstream::Stdio { command, args, env } => Upstream::Stdio {
            command: expand("command", command)?,
            args: args
                .iter()
                .map(|arg| expand("args", arg))
                .collect::<Result<_, _>>()?,
            env: env.clone(),
        },
        Upstream::StreamableHttp { url, headers } => Upstream::StreamableHttp {
            url: expand("url", url)?,
            headers: headers.clone(),
        },
        Upstream::Sse { url, headers } => Upstream::Sse {
            url: expand("url", url)?,
            headers: headers.clone(),
        },
    };
    Target::from_upstream(&expanded, lookup).map_err(|error| ConfigError::Upstream {
        name: name.to_string(),
        reason: error.to_string(),
    })
}

fn url_has_credentials(url: &str) -> bool {
    url.split_once("://")
        .map(|(_, rest)| rest.split(['/', '?', '#']).next().unwrap_or(""))
        .is_some_and(|authority| authority.contains('@'))
}

/// `text` with every `${NAME}` replaced by `lookup(NAME)`; `$` elsewhere
/// stays as written. An unset variable is an error naming `server` and
/// `field`.
pub fn expand_variables(
    server: &str,
    field: &str,
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, ConfigError> {
    let mut expanded = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else { break };
        let var = &after[..end];
        let is_name = var.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        expanded.push_str(&rest[..start]);
        if is_name {
            let value = lookup(var).ok_or_else(|| ConfigError::MissingVariable {
                name: server.to_string(),
                field: field.to_string(),
                var: var.to_string(),
            })?;
            expanded.push_str(&value);
        } else {
            expanded.push_str(&rest[start..start + 3 + end]);
        }
        rest = &after[end + 1..];
    }
    expanded.push_str(rest);
    Ok(expanded)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::from_json(text, "mcp.json")
    }

    #[test]
    fn every_transport_spelling_mcpo_reads() {
        let config = parse(
            r#"{"mcpServers": {
                "time": {"command": "uvx", "args": ["mcp-server-time"], "env": {"TZ": "UTC"}},
                "legacy": {"url": "http://127.0.0.1:1/sse"},
                "a": {"type": "streamable_http", "url": "http://127.0.0.1:1/mcp"},
                "b": {"type": "streamablehttp", "url": "http://127.0.0.1:1/mcp"},
                "c": {"type": "streamable-http", "url": "http://127.0.0.1:1/mcp",
                      "headers": {"Authorization": "Bearer ${TOKEN}"}},
                "d": {"type": "sse", "url": "http://127.0.0.1:1/sse", "disabled_tools": ["x"]},
                "e": {"type": "stdio", "command": "x", "enabledTools": ["y"], "disabledTools": ["z"]}
            }}"#,
        )
        .unwrap();
        assert!(matches!(
            config.servers["time"].transport,
            Transport::Stdio { .. }
        ));
        assert!(matches!(
            config.servers["legacy"].transport,
            Transport::Sse { .. }
        ));
        for name in ["a", "b", "c"] {
            assert!(matches!(
                config.servers[name].transport,
                Transport::StreamableHttp { .. }
            ));
        }
        assert!(!config.servers["d"].keeps_tool("x"));
        assert!(config.servers["d"].keeps_tool("y"));
        let e = &config.servers["e"];
        assert!(e.keeps_tool("y") && !e.keeps_tool("z") && !e.keeps_tool("other"));
        assert_eq!(
            config.servers["c"].upstream(),
            Upstream::StreamableHttp {
                url: "http://127.0.0.1:1/mcp".into(),
                headers: vec!["Authorization".into()],
            }
        );
    }

    #[test]
    fn variables_expand_when_reached_and_unset_ones_are_named() {
        let config = parse(
            r#"{"mcpServers": {"s": {"command": "${BIN}", "args": ["--dir=${HOME}/x", "$plain", "${not a var}"],
                "env": {"TOKEN": "${SECRET}"}}}}"#,
        )
        .unwrap();
        let entry = &config.servers["s"];
        let lookup = |name: &str| match name {
            "BIN" => Some("server".to_string()),
            "HOME" => Some("/home/u".to_string()),
            "SECRET" => Some("s3cret".to_string()),
            _ => None,
        };
        let Target::Stdio { command, args, env } = entry.target("s", &lookup).unwrap() else {
            panic!("stdio expected");
        };
        assert_eq!(command, "server");
        assert_eq!(args, ["--dir=/home/u/x", "$plain", "${not a var}"]);
        assert_eq!(env["TOKEN"], "s3cret");
        // The lock form keeps the references, never the values.
        let recorded = format!("{:?}", entry.upstream());
        assert!(recorded.contains("${BIN}") && !recorded.contains("s3cret"));
        let error = entry.target("s", &|_| None).unwrap_err();
        assert!(
            error.to_string().contains("BIN") && error.to_string().contains("command"),
            "{error}"
        );
    }

    #[test]
    fn bad_configs_say_what_to_fix() {
        let cases = [
            ("not json", "not a valid config"),
            (r#"{"servers": {}}"#, "mcpServers"),
            (r#"{"mcpServers": {}}"#, "mcpServers"),
            (
                r#"{"mcpServers": {"docs": {"command": "x"}}}"#,
                "own routes",
            ),
            (r#"{"mcpServers": {"a/b": {"command": "x"}}}"#, "URL prefix"),
            (r#"{"mcpServers": {"s": {}}}"#, "\"command\""),
            (
                r#"{"mcpServers": {"s": {"type": "ws", "url": "http://x"}}}"#,
                "unknown \"type\"",
            ),
            (
                r#"{"mcpServers": {"s": {"type": "sse"}}}"#,
                "needs a \"url\"",
            ),
            (r#"{"mcpServers": {"s": {"url": "ftp://x"}}}"#, "http://"),
            (
                r#"{"mcpServers": {"s": {"url": "http://u:p@x/sse"}}}"#,
                "credentials",
            ),
            (
                r#"{"mcpServers": {"s": {"command": "x", "headers": {"A": "b"}}}}"#,
                "\"env\"",
            ),
            (
                r#"{"mcpServers": {"s": {"url": "http://x/sse", "env": {"A": "b"}}}}"#,
                "\"headers\"",
            ),
            (
                r#"{"mcpServers": {"s": {"url": "http://x/mcp", "oauth": {}}}}"#,
                "OAuth",
            ),
            (r#"{"mcpServers": {"s": {"command": 7}}}"#, "server \"s\""),
        ];
        for (text, expected) in cases {
            let error = parse(text).unwrap_err().to_string();
            assert!(error.contains(expected), "{text}: {error}");
        }
    }
}
