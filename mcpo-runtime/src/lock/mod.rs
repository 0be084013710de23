//! `mcp.lock.json`: everything needed to regenerate a proxy crate offline.
//!
//! The lock is canonical so that the same upstream gives byte-identical files:
//! tools sorted by name, every object key sorted, two-space indent, trailing
//! newline, and a sha256 per tool over its canonical JSON. It holds no secrets
//! (header and env names, each with the `${VAR}` its value is read from,
//! never a value), no timestamps and no paths of the machine that generated
//! it.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

mod aggregated_names;
mod canonical;
mod oauth_settings;
mod policy;
mod registry_entry;
mod surface;
mod task_support;
mod uri_template;
mod value_sources;

pub use aggregated_names::{aggregated_names, aggregated_tool_names};
pub use canonical::{canonical_compact, canonical_pretty, sha256_hex, sorted_keys};
pub use oauth_settings::{DEFAULT_CALLBACK_PORT, OAuthSettings, StorageType};
pub use policy::{
    AccessPolicy, Audience, CallerFacts, Grant, Item, POLICY_FILE_NAME, is_destructive,
};
pub use registry_entry::RegistryEntry;
pub use surface::{
    LockedItem, LockedSurface, PromptArgument, ResourceList, SurfaceError, SurfaceKind, lock_items,
};
pub use task_support::TaskSupport;
pub use uri_template::{TemplateVariable, UriTemplate, UriTemplateError};
pub use value_sources::{
    TemplatePart, ValueSources, is_variable_name, template_parts, template_variables,
};

/// Lock format version; bump on incompatible changes to this file's shape.
pub const LOCK_VERSION: u32 = 1;

/// The conventional file name inside a generated crate.
pub const LOCK_FILE_NAME: &str = "mcp.lock.json";

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

/// A lock file's text, read with [`crate::files::LOCK_FILE_LIMIT`].
fn read_text(path: &Path) -> Result<String, LockError> {
    crate::files::read_text_capped(path, crate::files::LOCK_FILE_LIMIT).map_err(|cause| {
        LockError::Read {
            path: path.display().to_string(),
            cause,
        }
    })
}

/// Why a lock could not be read or built.
#[derive(Debug, thiserror::Error)]
#[allow(
    missing_docs,
    reason = "the variants' fields are named by their messages"
)]
pub enum LockError {
    // The cause is part of the message and not a `source`, so a report
    // that prints the chain (`{:#}`) says it once.
    #[error("cannot read {path}: {cause}")]
    Read { path: String, cause: std::io::Error },
    #[error("{path} is not a valid mcp.lock.json: {cause}")]
    Parse {
        path: String,
        cause: serde_json::Error,
    },
    #[error(
        "{path} has lock version {found}, this mcpo-gen reads version {LOCK_VERSION}; \
         regenerate it with a matching mcpo-gen"
    )]
    Version { path: String, found: u32 },
    #[error("tool #{index} in the lock has no string \"name\"")]
    UnnamedTool { index: usize },
    #[error("tool {name:?} appears twice in the lock")]
    DuplicateTool { name: String },
    #[error(
        "{path}: crate name {name:?} is not a valid Cargo package name \
         (lower-case ASCII letters, digits, '-' and '_', starting with a letter)"
    )]
    InvalidCrateName { path: String, name: String },
    #[error(
        "{path}: the shared runtime folder {folder:?} must be a relative path \
         with `/` separators (the lock holds no paths of the generating machine)"
    )]
    InvalidRuntimeFolder { path: String, folder: String },
    #[error("{path}: {name:?} cannot name a server (it is the URL prefix /NAME)")]
    InvalidServerName { path: String, name: String },
    #[error("{path}: a multi-server lock needs at least one server")]
    NoServers { path: String },
    #[error(transparent)]
    Surface(#[from] SurfaceError),
}

/// The whole lock file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Lock {
    /// [`LOCK_VERSION`] when written.
    pub lock_version: u32,
    /// The mcpo-gen that wrote it: the one place a crate records it.
    pub generator: Generator,
    /// What the server said about itself.
    pub server: ServerFacts,
    /// How to reach the server.
    pub upstream: Upstream,
    /// The MCP registry entry the launch spec was made from (`--from-registry`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry: Option<RegistryEntry>,
    /// How the proxy crate is named; part of the lock so that regeneration
    /// needs nothing else.
    #[serde(rename = "crate")]
    pub proxy_crate: ProxyCrate,
    /// Every tool, sorted by name.
    pub tools: Vec<LockedTool>,
    /// Tools the server offers that its config entry left out
    /// (`disabledTools`, or missing from `enabledTools`), sorted: recorded so
    /// that `diff` tells switching a tool off from the server dropping it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub disabled_tools: Vec<String>,
    /// Resources, resource templates and prompts, when the server offers them.
    #[serde(flatten)]
    pub surface: LockedSurface,
}

/// Generation settings of the proxy crate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProxyCrate {
    /// Cargo package (and binary) name of the generated crate.
    pub name: String,
    /// Where the crate gets `mcpo-runtime` from.
    #[serde(default)]
    pub runtime: RuntimeSource,
    /// The OpenAPI `info` the user chose (mcpo's `--name`, `--description`,
    /// `--version`); what is not set comes from the server.
    #[serde(default, skip_serializing_if = "ApiInfo::is_empty")]
    pub info: ApiInfo,
    /// `mcp.policy.json` as generation read it: who may use what.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<AccessPolicy>,
}

/// OpenAPI `info` fields set at generation; each overrides what the
/// server's own facts would give.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiInfo {
    /// `info.title`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// `info.description`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `info.version`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

impl ApiInfo {
    /// Whether nothing is set.
    pub fn is_empty(&self) -> bool {
        self == &ApiInfo::default()
    }
}

/// Where a generated crate gets the `mcpo-runtime` library from. Part of the
/// lock, so that `mcpo-gen check` stays a function of the lock alone.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "kebab-case")]
pub enum RuntimeSource {
    /// The runtime's sources copied into the crate's own `mcpo-runtime/`
    /// folder: builds anywhere with crates.io alone.
    #[default]
    Vendored,
    /// One runtime folder shared by several proxies of a repository, written
    /// and checked by mcpo-gen alongside each of them.
    Shared {
        /// The folder, relative to the crate, `/`-separated.
        folder: String,
    },
    /// `mcpo-runtime = "=version"` from a registry.
    Published {
        /// The exact version.
        version: String,
    },
}

impl RuntimeSource {
    /// The runtime folder relative to the crate, when mcpo-gen writes one.
    pub fn folder(&self) -> Option<&str> {
        match self {
            RuntimeSource::Vendored => Some(VENDORED_RUNTIME_FOLDER),
            RuntimeSource::Shared { folder } => Some(folder),
            RuntimeSource::Published { .. } => None,
        }
    }

    /// Whether `folder` is a path a lock may hold: relative, `/`-separated,
    /// not empty.
    pub fn is_valid_folder(folder: &str) -> bool {
        !folder.is_empty()
            && !folder.starts_with('/')
            && !folder.contains('\\')
            && !folder.contains(':')
            && folder
                .split('/')
                .all(|part| !part.is_empty() && part != ".")
    }
}

/// Where a vendored runtime lives inside the crate.
pub const VENDORED_RUNTIME_FOLDER: &str = "mcpo-runtime";

impl ProxyCrate {
    /// Refuses settings a hand-edited lock could use to inject text into
    /// Cargo.toml or the Dockerfile, or to point at this machine's paths.
    fn check(&self, origin: &str) -> Result<(), LockError> {
        if let RuntimeSource::Shared { folder } = &self.runtime
            && !RuntimeSource::is_valid_folder(folder)
        {
            return Err(LockError::InvalidRuntimeFolder {
                path: origin.to_string(),
                folder: folder.clone(),
            });
        }
        if Self::from_name(&self.name).name != self.name {
            return Err(LockError::InvalidCrateName {
                path: origin.to_string(),
                name: self.name.clone(),
            });
        }
        Ok(())
    }

    /// A valid Cargo package name from any text: lower case ASCII letters,
    /// digits, `-` and `_`, starting with a letter.
    pub fn from_name(name: &str) -> Self {
        let mut package: String = name
            .chars()
            .map(|c| match c {
                'a'..='z' | '0'..='9' | '-' | '_' => c,
                'A'..='Z' => c.to_ascii_lowercase(),
                _ => '-',
            })
            .collect();
        package = package.trim_matches(['-', '_']).to_string();
        if package.is_empty() {
            package.push_str("mcp-proxy");
        } else if !package.starts_with(|c: char| c.is_ascii_lowercase()) {
            package.insert_str(0, "mcp-");
        }
        ProxyCrate {
            name: package,
            runtime: RuntimeSource::default(),
            info: ApiInfo::default(),
            policy: None,
        }
    }

    /// The default when the user names nothing: `<server name>-proxy`.
    pub fn for_server(server_name: &str) -> Self {
        let base = server_name.trim_end_matches("-proxy");
        Self::from_name(&format!("{base}-proxy"))
    }
}

/// The program that wrote a lock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Generator {
    /// `mcpo-gen`.
    pub name: String,
    /// Its version.
    pub version: String,
}

impl Generator {
    /// mcpo-gen at this library's version: the two are released together
    /// (mcpo-gen's tests check that their versions agree).
    pub fn current() -> Self {
        Generator {
            name: "mcpo-gen".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }
}

/// What the server said about itself in its `initialize` result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerFacts {
    /// `serverInfo.name`.
    pub name: String,
    /// `serverInfo.version`.
    pub version: String,
    /// `serverInfo.title`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The negotiated protocol revision.
    pub protocol_version: String,
    /// Verbatim `capabilities` object.
    #[serde(default)]
    pub capabilities: Value,
    /// The server's `instructions`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
}

/// How to reach the upstream MCP server. Values of env vars and headers are
/// never recorded, only their names: the runtime reads values from its own
/// environment or flags.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Upstream {
    /// A command speaking MCP on stdin/stdout.
    Stdio {
        /// The program.
        command: String,
        /// Its arguments, verbatim.
        #[serde(default)]
        args: Vec<String>,
        /// Env vars the server needs, each with where its value comes from.
        #[serde(default, skip_serializing_if = "ValueSources::is_empty")]
        env: ValueSources,
    },
    /// A streamable-HTTP endpoint.
    StreamableHttp {
        /// The endpoint URL.
        url: String,
        /// Headers sent upstream, each with where its value comes from.
        #[serde(default, skip_serializing_if = "ValueSources::is_empty")]
        headers: ValueSources,
        /// OAuth 2.1 settings (no secrets), when the server is protected by
        /// it: the proxy then sends the token `mcpo-gen login` stored.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        oauth: Option<OAuthSettings>,
    },
    /// A legacy HTTP+SSE endpoint.
    Sse {
        /// The SSE endpoint URL.
        url: String,
        /// Headers sent upstream, each with where its value comes from.
        #[serde(default, skip_serializing_if = "ValueSources::is_empty")]
        headers: ValueSources,
        /// OAuth 2.1 settings (no secrets), as for streamable HTTP.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        oauth: Option<OAuthSettings>,
    },
}

impl Upstream {
    /// A short human description, e.g. `uvx mcp-server-time` or the URL.
    pub fn describe(&self) -> String {
        match self {
            Upstream::Stdio { command, args, .. } => std::iter::once(command.as_str())
                .chain(args.iter().map(String::as_str))
                .collect::<Vec<_>>()
                .join(" "),
            Upstream::StreamableHttp { url, .. } | Upstream::Sse { url, .. } => url.clone(),
        }
    }
}

/// One tool exactly as `tools/list` returned it, plus its hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LockedTool {
    /// The tool's name.
    pub name: String,
    /// sha256 (hex) of the canonical JSON of `definition`.
    pub sha256: String,
    /// The verbatim tool object: name, title, description, inputSchema,
    /// outputSchema, annotations and any field the SDK does not know yet.
    pub definition: Value,
}

impl LockedTool {
    /// A tool from its `tools/list` object (keys sorted, hash computed).
    pub fn new(definition: Value) -> Self {
        // Sorted now, so every later stage sees the order the lock file has,
        // whether the lock came from a live snapshot or from disk.
        let definition = sorted_keys(&definition);
        let name = definition
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let sha256 = sha256_hex(&canonical_compact(&definition));
        LockedTool {
            name,
            sha256,
            definition,
        }
    }

    fn str_field(&self, key: &str) -> Option<&str> {
        self.definition.get(key).and_then(Value::as_str)
    }

    /// `title`, or the older `annotations.title`.
    pub fn title(&self) -> Option<&str> {
        self.str_field("title").or_else(|| {
            self.definition
                .get("annotations")
                .and_then(|a| a.get("title"))
                .and_then(Value::as_str)
        })
    }

    /// `description`.
    pub fn description(&self) -> Option<&str> {
        self.str_field("description")
    }

    /// The input schema; a tool without one accepts any object.
    pub fn input_schema(&self) -> &Value {
        static ANY_OBJECT: std::sync::LazyLock<Value> =
            std::sync::LazyLock::new(|| serde_json::json!({"type": "object"}));
        self.definition.get("inputSchema").unwrap_or(&ANY_OBJECT)
    }

    /// `outputSchema`, when declared.
    pub fn output_schema(&self) -> Option<&Value> {
        self.definition
            .get("outputSchema")
            .filter(|schema| !schema.is_null())
    }

    /// `annotations`.
    pub fn annotations(&self) -> Option<&Map<String, Value>> {
        self.definition
            .get("annotations")
            .and_then(Value::as_object)
    }
}

impl Lock {
    /// Builds a canonical lock: tools sorted by name, hashes computed.
    pub fn new(
        server: ServerFacts,
        upstream: Upstream,
        tool_definitions: Vec<Value>,
    ) -> Result<Self, LockError> {
        let mut tools = Vec::with_capacity(tool_definitions.len());
        for (index, definition) in tool_definitions.into_iter().enumerate() {
            if !definition.get("name").is_some_and(Value::is_string) {
                return Err(LockError::UnnamedTool { index });
            }
            tools.push(LockedTool::new(definition));
        }
        tools.sort_by(|a, b| a.name.cmp(&b.name));
        if let Some(pair) = tools.windows(2).find(|pair| pair[0].name == pair[1].name) {
            return Err(LockError::DuplicateTool {
                name: pair[0].name.clone(),
            });
        }
        Ok(Lock {
            lock_version: LOCK_VERSION,
            generator: Generator::current(),
            proxy_crate: ProxyCrate::for_server(&server.name),
            server,
            upstream,
            registry: None,
            tools,
            disabled_tools: Vec::new(),
            surface: LockedSurface::default(),
        })
    }

    /// Leaves out every tool `keep` refuses, recording its name in
    /// `disabled_tools`; names there the server no longer offers are dropped.
    pub fn disable_tools(&mut self, keep: impl Fn(&str) -> bool) {
        let (kept, left_out): (Vec<LockedTool>, Vec<LockedTool>) = std::mem::take(&mut self.tools)
            .into_iter()
            .partition(|tool| keep(&tool.name));
        self.tools = kept;
        self.disabled_tools = left_out.into_iter().map(|tool| tool.name).collect();
    }

    /// The tool named `name`.
    pub fn tool(&self, name: &str) -> Option<&LockedTool> {
        self.tools
            .binary_search_by(|tool| tool.name.as_str().cmp(name))
            .ok()
            .map(|index| &self.tools[index])
    }

    /// Parses a lock from text. Tool hashes are recomputed from the
    /// definitions, so a hand-edited definition can't keep a stale hash.
    /// Parses and checks a lock; `origin` names it in errors. Tools are
    /// re-sorted and re-hashed, so a hand-edited lock is still canonical.
    pub fn from_json(text: &str, origin: &str) -> Result<Self, LockError> {
        let mut lock: Lock = serde_json::from_str(text).map_err(|cause| LockError::Parse {
            path: origin.to_string(),
            cause,
        })?;
        if lock.lock_version != LOCK_VERSION {
            return Err(LockError::Version {
                path: origin.to_string(),
                found: lock.lock_version,
            });
        }
        lock.proxy_crate.check(origin)?;
        let definitions = std::mem::take(&mut lock.tools)
            .into_iter()
            .map(|tool| tool.definition)
            .collect();
        let rebuilt = Lock::new(lock.server.clone(), lock.upstream.clone(), definitions)?;
        lock.tools = rebuilt.tools;
        lock.disabled_tools.sort();
        lock.disabled_tools.dedup();
        lock.surface = lock.surface.canonical()?;
        Ok(lock)
    }

    /// Reads and checks a lock file.
    pub fn read(path: &Path) -> Result<Self, LockError> {
        Self::from_json(&read_text(path)?, &path.display().to_string())
    }

    /// The canonical text: sorted keys, two-space indent, trailing newline.
    pub fn to_canonical_json(&self) -> String {
        let value = serde_json::to_value(self).expect("a lock always serializes");
        canonical_pretty(&value)
    }
}

/// The lock of a generated crate: one server at the root, or several, each
/// under `/{name}` (from a config file). The file tells which: a
/// multi-server lock has `servers` where a single one has `server`.
#[derive(Debug, Clone, PartialEq)]
#[allow(
    clippy::large_enum_variant,
    reason = "a handful exist per process; boxing would only add noise"
)]
pub enum CrateLock {
    /// One server, served at the root.
    Single(Lock),
    /// Several servers, each under `/{name}`.
    Multi(MultiLock),
}

/// Several servers in one crate. Each server's [`Lock`] carries this lock's
/// generator and crate settings, so every per-server stage (OpenAPI, code,
/// diff, audit) works on it unchanged.
#[derive(Debug, Clone, PartialEq)]
pub struct MultiLock {
    /// The mcpo-gen that wrote it.
    pub generator: Generator,
    /// Crate settings, shared by every server.
    pub proxy_crate: ProxyCrate,
    /// Each server by name (its URL prefix), sorted.
    pub servers: BTreeMap<String, Lock>,
}

/// The file form of a [`MultiLock`].
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct MultiLockFile {
    lock_version: u32,
    generator: Generator,
    #[serde(rename = "crate")]
    proxy_crate: ProxyCrate,
    servers: BTreeMap<String, ServerSection>,
    /// Each tool's name at the aggregated `/mcp` (`server/tool` by exposed
    /// name): derived from the servers when written (see
    /// [`aggregated_tool_names`]) and recomputed when read, so it is there for
    /// review, never a second source of truth.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    mcp_tool_names: BTreeMap<String, String>,
}

/// One server of a multi-server lock file: a [`Lock`] without the parts the
/// whole file shares.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ServerSection {
    server: ServerFacts,
    upstream: Upstream,
    tools: Vec<LockedTool>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    disabled_tools: Vec<String>,
    #[serde(flatten)]
    surface: LockedSurface,
}

impl MultiLock {
    /// The aggregated `/mcp` name of each (server, tool).
    pub fn mcp_tool_names(&self) -> BTreeMap<(String, String), String> {
        aggregated_tool_names(
            self.servers
                .iter()
                .map(|(name, lock)| (name.as_str(), lock)),
        )
    }

    /// A multi-server lock of `servers`, which take this lock's generator and
    /// crate settings.
    pub fn new(proxy_crate: ProxyCrate, servers: BTreeMap<String, Lock>) -> Self {
        let mut lock = MultiLock {
            generator: Generator::current(),
            proxy_crate,
            servers,
        };
        lock.share_settings();
        lock
    }

    /// Gives every server this lock's generator and crate settings (but
    /// `info`, which names the whole crate's document, not a server's).
    pub fn share_settings(&mut self) {
        let per_server = ProxyCrate {
            info: ApiInfo::default(),
            ..self.proxy_crate.clone()
        };
        for server in self.servers.values_mut() {
            server.generator = self.generator.clone();
            server.proxy_crate = per_server.clone();
        }
    }

    fn from_value(value: Value, origin: &str) -> Result<Self, LockError> {
        let file: MultiLockFile =
            serde_json::from_value(value).map_err(|cause| LockError::Parse {
                path: origin.to_string(),
                cause,
            })?;
        if file.lock_version != LOCK_VERSION {
            return Err(LockError::Version {
                path: origin.to_string(),
                found: file.lock_version,
            });
        }
        file.proxy_crate.check(origin)?;
        if file.servers.is_empty() {
            return Err(LockError::NoServers {
                path: origin.to_string(),
            });
        }
        let mut servers = BTreeMap::new();
        for (name, section) in file.servers {
            if !is_valid_server_name(&name) {
                return Err(LockError::InvalidServerName {
                    path: origin.to_string(),
                    name,
                });
            }
            let definitions = section.tools.into_iter().map(|tool| tool.definition);
            let mut lock = Lock::new(section.server, section.upstream, definitions.collect())?;
            lock.disabled_tools = section.disabled_tools;
            lock.disabled_tools.sort();
            lock.disabled_tools.dedup();
            lock.surface = section.surface.canonical()?;
            servers.insert(name, lock);
        }
        let mut lock = MultiLock {
            generator: file.generator,
            proxy_crate: file.proxy_crate,
            servers,
        };
        lock.share_settings();
        Ok(lock)
    }

    fn to_value(&self) -> Value {
        let file = MultiLockFile {
            lock_version: LOCK_VERSION,
            generator: self.generator.clone(),
            proxy_crate: self.proxy_crate.clone(),
            servers: self
                .servers
                .iter()
                .map(|(name, lock)| {
                    let section = ServerSection {
                        server: lock.server.clone(),
                        upstream: lock.upstream.clone(),
                        tools: lock.tools.clone(),
                        disabled_tools: lock.disabled_tools.clone(),
                        surface: lock.surface.clone(),
                    };
                    (name.clone(), section)
                })
                .collect(),
            mcp_tool_names: self
                .mcp_tool_names()
                .into_iter()
                .map(|((server, tool), exposed)| (exposed, format!("{server}/{tool}")))
                .collect(),
        };
        serde_json::to_value(file).expect("a lock always serializes")
    }
}

impl CrateLock {
    /// Parses and checks a lock of either kind; `origin` names it in errors.
    pub fn from_json(text: &str, origin: &str) -> Result<Self, LockError> {
        let value: Value = serde_json::from_str(text).map_err(|cause| LockError::Parse {
            path: origin.to_string(),
            cause,
        })?;
        if value.get("servers").is_some() {
            MultiLock::from_value(value, origin).map(CrateLock::Multi)
        } else {
            Lock::from_json(text, origin).map(CrateLock::Single)
        }
    }

    /// Reads and checks a lock file of either kind.
    pub fn read(path: &Path) -> Result<Self, LockError> {
        Self::from_json(&read_text(path)?, &path.display().to_string())
    }

    /// The canonical text of the lock file.
    pub fn to_canonical_json(&self) -> String {
        match self {
            CrateLock::Single(lock) => lock.to_canonical_json(),
            CrateLock::Multi(lock) => canonical_pretty(&lock.to_value()),
        }
    }

    /// The crate settings.
    pub fn proxy_crate(&self) -> &ProxyCrate {
        match self {
            CrateLock::Single(lock) => &lock.proxy_crate,
            CrateLock::Multi(lock) => &lock.proxy_crate,
        }
    }

    /// Changes the crate settings (every server's too).
    pub fn set_proxy_crate(&mut self, proxy_crate: ProxyCrate) {
        match self {
            CrateLock::Single(lock) => lock.proxy_crate = proxy_crate,
            CrateLock::Multi(lock) => {
                lock.proxy_crate = proxy_crate;
                lock.share_settings();
            }
        }
    }

    /// Every server with its URL prefix: `None` for a single-server crate's
    /// one server, at the root.
    pub fn servers(&self) -> Vec<(Option<&str>, &Lock)> {
        match self {
            CrateLock::Single(lock) => vec![(None, lock)],
            CrateLock::Multi(lock) => lock
                .servers
                .iter()
                .map(|(name, lock)| (Some(name.as_str()), lock))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests;
