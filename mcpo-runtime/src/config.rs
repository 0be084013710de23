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

use crate::lock::{Upstream, ValueSources, template_variables};
use crate::upstream::{OAuthSettings, Target};

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
    #[error("{}: {reason}", server_label(.name))]
    Upstream { name: String, reason: String },
    #[error(
        "{} needs environment variable {var} (written ${{{var}}} in its {field}), \
         which is not set",
        server_label(.name)
    )]
    MissingVariable {
        name: String,
        field: String,
        var: String,
    },
}

pub use crate::lock::{RESERVED_NAMES, is_valid_server_name};

/// `server "NAME"`, or `the server` for a single-server lock's (`""`).
pub(crate) fn server_label(name: &str) -> String {
    if name.is_empty() {
        "the server".to_string()
    } else {
        format!("server {name:?}")
    }
}

/// A whole config: servers by name, sorted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Every server of `mcpServers`.
    pub servers: BTreeMap<String, ServerEntry>,
    /// What was written but is not used: unknown keys of an entry (a typo
    /// such as `disableTools` would otherwise switch nothing off), for the
    /// reader to show.
    pub warnings: Vec<String>,
}

/// The keys of an `mcpServers` entry this reader uses, in mcpo's spellings.
const ENTRY_KEYS: &[&str] = &[
    "type",
    "command",
    "args",
    "env",
    "url",
    "headers",
    "disabledTools",
    "disabled_tools",
    "enabledTools",
    "enabled_tools",
    "oauth",
    "liveResources",
    "live_resources",
    "forwardIdentity",
];

/// Keys other clients of the format write that mean nothing to a proxy
/// (Claude Desktop, Cline, Cursor): not worth a warning.
const OTHER_CLIENTS_KEYS: &[&str] = &[
    "alwaysAllow",
    "autoApprove",
    "description",
    "timeout",
    "transportType",
];

/// The warning for an entry key this reader does not use.
fn unknown_key_warning(server: &str, key: &str) -> Option<String> {
    if ENTRY_KEYS.contains(&key) || OTHER_CLIENTS_KEYS.contains(&key) {
        return None;
    }
    let normalize = |text: &str| text.to_ascii_lowercase().replace(['_', '-'], "");
    let close = ENTRY_KEYS
        .iter()
        .filter(|known| edit_distance(&normalize(known), &normalize(key)) <= 2)
        .min_by_key(|known| edit_distance(&normalize(known), &normalize(key)));
    let hint = match close {
        Some(known) => format!("; did you mean {known:?}?"),
        None => format!("; the keys used are {}", ENTRY_KEYS.join(", ")),
    };
    Some(format!(
        "server {server:?}: unknown key {key:?} is ignored{hint}"
    ))
}

/// Levenshtein distance, for "did you mean" hints on short keys.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous + usize::from(ca != *cb);
            previous = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(previous + 1);
        }
    }
    row[b.len()]
}

/// How one server is reached: its launch spec in the lock's own shape, and
/// the values written literally in the config. `Debug` shows no value.
#[derive(Clone, PartialEq, Eq)]
pub struct ServerEntry {
    /// The launch spec as a lock records it: command, arguments and URL as
    /// written (`${VAR}` unexpanded); each env or header value as its
    /// `${VAR}` template, a value written without one as a variable of
    /// this server's own ([`ValueSources::per_server_variable`]), and the
    /// `oauth` block without its secret.
    upstream: Upstream,
    /// The values written literally, by the variable `upstream` reads each
    /// from: secrets, looked up before the environment.
    literal_values: BTreeMap<String, String>,
    /// A pre-registered OAuth client's secret, as written (`${VAR}`
    /// expanded only when the server is reached).
    oauth_client_secret: Option<String>,
    /// Tools left out (`disabledTools`).
    pub disabled_tools: BTreeSet<String>,
    /// When set, only these tools are kept (`enabledTools`).
    pub enabled_tools: Option<BTreeSet<String>>,
    /// `liveResources`: the server's resource list is data, so only its
    /// resource templates are locked (mcpo-gen's `--live-resources`, per
    /// server).
    pub live_resources: bool,
    /// `forwardIdentity`: the verified caller goes to this server (in
    /// `_meta`, and in the headers it names); never without it.
    pub(crate) forward_identity: Option<crate::identity::forward::ForwardIdentity>,
}

impl std::fmt::Debug for ServerEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerEntry")
            .field("upstream", &self.upstream)
            .field(
                "literal_values",
                &self.literal_values.keys().collect::<Vec<_>>(),
            )
            .field("disabled_tools", &self.disabled_tools)
            .field("enabled_tools", &self.enabled_tools)
            .field("live_resources", &self.live_resources)
            .field("forward_identity", &self.forward_identity)
            .finish_non_exhaustive()
    }
}

/// An `oauth` block: the settings the lock keeps, and the client secret
/// (`${VAR}` expanded only when the server is reached). `Debug` shows no
/// secret.
#[derive(Clone, PartialEq, Eq)]
struct OAuthConfig {
    /// Everything but the secret.
    pub settings: OAuthSettings,
    /// A pre-registered client's secret, as written.
    pub client_secret: Option<String>,
}

impl std::fmt::Debug for OAuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthConfig")
            .field("settings", &self.settings)
            .field("client_secret", &self.client_secret.as_ref().map(|_| "***"))
            .finish()
    }
}

/// An `oauth` block as written (mcpo's fields, plus `client_id`,
/// `client_secret` and `scope`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOAuth {
    #[serde(default)]
    server_url: Option<String>,
    #[serde(default)]
    storage_type: Option<String>,
    #[serde(default)]
    callback_port: Option<u16>,
    #[serde(default)]
    use_loopback: Option<bool>,
    #[serde(default)]
    client_metadata: serde_json::Map<String, Value>,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    client_secret: Option<String>,
    #[serde(default)]
    scope: Option<String>,
}

impl RawOAuth {
    fn parse(value: Value) -> Result<OAuthConfig, String> {
        let raw: RawOAuth = serde_json::from_value(value).map_err(|error| {
            // "unknown field `x`, expected one of ..." reads better as:
            let text = error
                .to_string()
                .replacen("`, expected", "` is not supported; expected", 1);
            format!("\"oauth\": {text}")
        })?;
        let mut settings = OAuthSettings::new();
        if let Some(storage) = raw.storage_type {
            settings.storage_type = storage
                .parse()
                .map_err(|error| format!("\"oauth\".\"storage_type\" {error}"))?;
        }
        if let Some(url) = &raw.server_url
            && !(url.starts_with("http://") || url.starts_with("https://") || url.starts_with("${"))
        {
            return Err("\"oauth\".\"server_url\" must start with http:// or https://".into());
        }
        settings.server_url = raw.server_url;
        settings.callback_port = raw.callback_port.unwrap_or(settings.callback_port);
        settings.use_loopback = raw.use_loopback.unwrap_or(true);
        // A secret in the metadata is taken as the client secret, never kept.
        let metadata_secret = raw
            .client_metadata
            .get("client_secret")
            .and_then(Value::as_str)
            .map(str::to_string);
        settings.client_metadata = raw.client_metadata;
        settings.client_id = raw.client_id.or_else(|| {
            settings
                .client_metadata
                .get("client_id")
                .and_then(Value::as_str)
                .map(str::to_string)
        });
        settings.scope = raw.scope;
        let client_secret = raw.client_secret.or(metadata_secret);
        if client_secret.is_some() && settings.client_id.is_none() {
            return Err(
                "\"oauth\".\"client_secret\" needs the pre-registered \"client_id\" it belongs to"
                    .into(),
            );
        }
        Ok(OAuthConfig {
            settings: settings.without_secrets(),
            client_secret,
        })
    }
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
    #[serde(default, alias = "live_resources")]
    live_resources: bool,
    #[serde(default)]
    forward_identity: Option<Value>,
}

impl Config {
    /// Reads and checks a config file.
    pub fn read(path: &Path) -> Result<Self, ConfigError> {
        let text = crate::files::read_text_capped(path, crate::files::SMALL_FILE_LIMIT).map_err(
            |error| ConfigError::Read {
                path: path.display().to_string(),
                reason: error.to_string(),
            },
        )?;
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
        let mut warnings = Vec::new();
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
            if let Some(fields) = entry.as_object() {
                warnings.extend(
                    fields
                        .keys()
                        .filter_map(|key| unknown_key_warning(name, key)),
                );
            }
        }
        Ok(Config {
            servers: parsed,
            warnings,
        })
    }
}

impl Config {
    /// Variables that values written literally in two servers would both be
    /// locked as (`"a-b"` and `"a_b"` both spell `MCPO_A_B_...`), each named
    /// with the servers: generating from such a config would share a
    /// secret between them.
    pub fn clashing_variables(&self) -> Vec<String> {
        let mut owners: BTreeMap<String, &str> = BTreeMap::new();
        let mut clashes = Vec::new();
        for (server, entry) in &self.servers {
            for variable in entry.literal_values.keys() {
                match owners.insert(variable.clone(), server) {
                    Some(other) if other != server => clashes.push(format!(
                        "servers {other:?} and {server:?} would both read ${{{variable}}}: rename \
                         one, or write the value as a ${{VAR}} of your choosing"
                    )),
                    _ => {}
                }
            }
        }
        clashes
    }
}

impl ServerEntry {
    fn from_raw(name: &str, raw: RawEntry) -> Result<Self, ConfigError> {
        let entry_error = |reason: &str| ConfigError::Entry {
            name: name.to_string(),
            reason: reason.to_string(),
        };
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
        if kind == "stdio" && !raw.headers.is_empty() {
            return Err(entry_error(
                "\"headers\" apply to HTTP servers; use \"env\"",
            ));
        }
        if kind != "stdio" && (!raw.env.is_empty() || raw.command.is_some()) {
            return Err(entry_error(
                "an HTTP server takes \"url\" and \"headers\", not \"command\" or \"env\"",
            ));
        }
        let oauth = match raw.oauth {
            None | Some(Value::Null) => None,
            Some(_) if kind == "stdio" => {
                return Err(entry_error(
                    "an \"oauth\" block applies to HTTP servers (sse or streamable-http)",
                ));
            }
            Some(block) => Some(RawOAuth::parse(block).map_err(|reason| entry_error(&reason))?),
        };
        let (oauth_settings, oauth_client_secret) = match oauth {
            Some(oauth) => (Some(oauth.settings), oauth.client_secret),
            None => (None, None),
        };
        // Each value as its `${VAR}` template; a literal one as a variable of
        // this server's own, its value kept aside.
        let mut literal_values = BTreeMap::new();
        // Names that read the same variable (`X-Key` and `X_Key`): one value
        // would silently replace the other.
        let mut clashing = Vec::new();
        let mut sources = |kind: &str, values: &BTreeMap<String, String>| {
            ValueSources::from_templates(values.iter().map(|(key, value)| {
                let template = if template_variables(value).is_empty() {
                    let template = ValueSources::per_server_variable(name, kind, key);
                    for variable in template_variables(&template) {
                        if literal_values.insert(variable, value.clone()).is_some() {
                            clashing.push(key.clone());
                        }
                    }
                    template
                } else {
                    value.clone()
                };
                (key.clone(), template)
            }))
        };
        let upstream = match kind.as_str() {
            "stdio" => Upstream::Stdio {
                command: raw
                    .command
                    .clone()
                    .filter(|command| !command.is_empty())
                    .ok_or_else(|| entry_error("a stdio server needs a \"command\""))?,
                args: raw.args.clone(),
                env: sources("ENV", &raw.env),
            },
            "sse" => Upstream::Sse {
                url: url()?,
                headers: sources("HEADER", &raw.headers),
                oauth: oauth_settings,
            },
            "streamable-http" | "streamable_http" | "streamablehttp" | "http" => {
                Upstream::StreamableHttp {
                    url: url()?,
                    headers: sources("HEADER", &raw.headers),
                    oauth: oauth_settings,
                }
            }
            other => {
                return Err(entry_error(&format!(
                    "unknown \"type\" {other:?}: expected stdio, sse or streamable-http"
                )));
            }
        };
        let forward_identity = match &raw.forward_identity {
            Some(value) => crate::identity::forward::ForwardIdentity::parse(value)
                .map_err(|reason| entry_error(&reason))?,
            None => None,
        };
        if !clashing.is_empty() {
            return Err(entry_error(&format!(
                "{clashing:?} would be read from the same variable as another name of this \
                 server (names differing only in case or punctuation): rename one, or write \
                 its value as a ${{VAR}} of your choosing"
            )));
        }
        Ok(ServerEntry {
            upstream,
            literal_values,
            oauth_client_secret,
            disabled_tools: raw.disabled_tools.into_iter().collect(),
            enabled_tools: raw.enabled_tools.map(|tools| tools.into_iter().collect()),
            live_resources: raw.live_resources,
            forward_identity,
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

    /// The launch spec for the lock: see the `upstream` field.
    pub fn upstream(&self) -> Upstream {
        self.upstream.clone()
    }

    /// The target to connect to: the launch spec resolved with the values
    /// written literally, then `lookup` for every `${VAR}`. `name` is the
    /// server's, for error messages.
    pub fn target(
        &self,
        name: &str,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Target, ConfigError> {
        let lookup = |var: &str| {
            self.literal_values
                .get(var)
                .cloned()
                .or_else(|| lookup(var))
        };
        resolve_target(
            name,
            &self.upstream,
            ClientSecret::Written(self.oauth_client_secret.as_deref()),
            &lookup,
        )
    }
}

/// Where an OAuth upstream's pre-registered client secret comes from.
#[derive(Debug, Clone, Copy)]
pub enum ClientSecret<'a> {
    /// A config's `client_secret` (a `${VAR}` template, or none).
    Written(Option<&'a str>),
    /// A lock alone: `MCPO_OAUTH_CLIENT_SECRET` when set.
    FromEnv,
}

/// The one resolver of a launch spec (a lock's, or a config entry's) into
/// the target to connect to: `${VAR}` in the command, arguments, URL and
/// OAuth server URL expanded; each env and header value read as
/// [`Target::from_upstream`] reads it (its template, or its default
/// variable); an OAuth upstream's token file from `MCPO_OAUTH_TOKEN_FILE`
/// and its client secret as `client_secret` says. `name`: the server's, for
/// error messages and the token file's key.
pub fn resolve_target(
    name: &str,
    upstream: &Upstream,
    client_secret: ClientSecret<'_>,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Target, ConfigError> {
    let expand = |field: &str, text: &str| expand_variables(name, field, text, lookup);
    let expand_oauth = |oauth: &Option<OAuthSettings>| {
        oauth
            .clone()
            .map(|mut settings| {
                if let Some(url) = &settings.server_url {
                    settings.server_url = Some(expand("oauth server_url", url)?);
                }
                Ok(settings)
            })
            .transpose()
    };
    let expanded = match upstream {
        Upstream::Stdio { command, args, env } => Upstream::Stdio {
            command: expand("command", command)?,
            args: args
                .iter()
                .map(|arg| expand("args", arg))
                .collect::<Result<_, _>>()?,
            env: env.clone(),
        },
        Upstream::StreamableHttp {
            url,
            headers,
            oauth,
        } => Upstream::StreamableHttp {
            url: expand("url", url)?,
            headers: headers.clone(),
            oauth: expand_oauth(oauth)?,
        },
        Upstream::Sse {
            url,
            headers,
            oauth,
        } => Upstream::Sse {
            url: expand("url", url)?,
            headers: headers.clone(),
            oauth: expand_oauth(oauth)?,
        },
    };
    let mut target = Target::from_upstream(&expanded, lookup).map_err(|error| match error {
        crate::upstream::ConnectError::MissingSecret { name: key, var } => {
            ConfigError::MissingVariable {
                name: name.to_string(),
                field: match upstream {
                    Upstream::Stdio { .. } => format!("env {key}"),
                    _ => format!("header {key}"),
                },
                var,
            }
        }
        other => ConfigError::Upstream {
            name: name.to_string(),
            reason: other.to_string(),
        },
    })?;
    if let Some(oauth) = target.oauth_mut() {
        if !name.is_empty() {
            oauth.name = Some(name.to_string());
        }
        if let ClientSecret::Written(written) = client_secret {
            oauth.client_secret = written
                .map(|secret| expand_variables(name, "oauth client_secret", secret, lookup))
                .transpose()?;
        }
    }
    Ok(target)
}

pub(crate) fn url_has_credentials(url: &str) -> bool {
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
    crate::upstream::expand_template(text, lookup).map_err(|var| ConfigError::MissingVariable {
        name: server.to_string(),
        field: field.to_string(),
        var,
    })
}

#[cfg(test)]
mod tests;
