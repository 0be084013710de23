//! The servers a proxy serves: the one server of a single-server crate, at
//! the root, or each server of a multi-server crate under `/{name}`. Each
//! has its own upstream pool and supervisors, validators, limiter, metrics
//! and document, so a server that fails to start or dies leaves the others
//! serving.
//!
//! A runtime `--config` (the Claude Desktop format) says how each locked
//! server is reached and may switch locked tools off; it can never add a
//! server or a tool the lock lacks. With `--hot-reload` the file is watched:
//! a valid edit reconnects only the servers whose entry changed (calls in
//! flight finish on the old connection) and applies tool switches at once;
//! an invalid edit is refused with a log line and the previous config stays.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::HeaderMap;
use serde_json::Value;

use crate::app::App;
use crate::cli::DriftPolicy;
use crate::config::{Config, ServerEntry};
use crate::identity::Caller;
use crate::lock::Lock;
use crate::pool::Pool;
use crate::supervisor::Settings;
use crate::upstream::Target;
use axum::Router;

/// How often `--hot-reload` looks at the config file. Polling (not file
/// system events) sees every kind of save: editors that write in place,
/// write a new file and rename it, or replace a mounted ConfigMap's link.
const WATCH_INTERVAL: Duration = Duration::from_millis(500);

/// One served server.
pub struct Served {
    /// Its name in the lock and URL prefix; `""` at the root.
    pub name: String,
    /// The state its tool routes run with.
    pub app: App,
    /// Its document as served (tools switched off by `--config` left out).
    pub document: Arc<ServedDocument>,
    /// Its generated tool routes.
    pub tool_routes: Router<App>,
    /// Its locked tool names, for tool switches.
    locked_tools: Vec<String>,
    /// How its lock says it is reached.
    locked_upstream: crate::lock::Upstream,
    /// How its upstream was started; a reload starts the next one from it.
    settings: Mutex<Settings>,
    pool_size: usize,
}

/// A server's OpenAPI document: the embedded one (its `servers` patched),
/// and the bytes served, without the operations of disabled tools.
pub struct ServedDocument {
    base: Value,
    served: RwLock<Bytes>,
}

impl ServedDocument {
    /// The document `base`, with the operations of `disabled` tools left out.
    pub fn new(base: Value, disabled: &HashSet<String>) -> Self {
        let document = ServedDocument {
            served: RwLock::new(Bytes::new()),
            base,
        };
        document.disable(disabled);
        document
    }

    /// The bytes to serve.
    pub fn bytes(&self) -> Bytes {
        self.served
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The document as served now.
    pub fn value(&self) -> Value {
        serde_json::from_slice(&self.bytes()).unwrap_or(Value::Null)
    }

    /// Serves the base document without the operations of `disabled` tools
    /// (found by their `x-mcp-tool` name).
    fn disable(&self, disabled: &HashSet<String>) {
        let mut document = self.base.clone();
        remove_operations(&mut document, "/", disabled);
        let bytes = serde_json::to_vec(&document).unwrap_or_default();
        *self
            .served
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Bytes::from(bytes);
    }
}

/// Removes from `document` the operations of `disabled` tools (found by
/// their `x-mcp-tool` name) on paths starting with `path_prefix`, and paths
/// left without any.
fn remove_operations(document: &mut Value, path_prefix: &str, disabled: &HashSet<String>) {
    if disabled.is_empty() {
        return;
    }
    remove_operations_where(document, path_prefix, |operation| {
        operation
            .pointer("/x-mcp-tool/name")
            .and_then(Value::as_str)
            .is_some_and(|tool| disabled.contains(tool))
    });
}

/// Removes from `document` the operations `hide` picks on paths starting
/// with `path_prefix`, the `{path}/complete` route of a path they leave
/// empty (a prompt's or template's completions), and paths left without
/// any operation.
fn remove_operations_where(document: &mut Value, path_prefix: &str, hide: impl Fn(&Value) -> bool) {
    let Some(paths) = document.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    let mut emptied = Vec::new();
    for (path, item) in paths
        .iter_mut()
        .filter(|(path, _)| path.starts_with(path_prefix))
    {
        if let Some(item) = item.as_object_mut() {
            let before = item.len();
            item.retain(|_, operation| !hide(operation));
            if item.is_empty() && before > 0 {
                emptied.push(format!("{path}/complete"));
            }
        }
    }
    for complete in emptied {
        paths.remove(&complete);
    }
    paths.retain(|_, item| item.as_object().is_none_or(|item| !item.is_empty()));
}

/// A multi-server proxy's whole document as `headers`' caller may see it
/// now: `base` without the operations each server's runtime `--config`
/// switched off, nor those the lock's policy keeps from the caller.
pub(crate) async fn combined_bytes(
    base: &Value,
    servers: &[Arc<Served>],
    headers: &HeaderMap,
) -> Bytes {
    let caller = match servers.first() {
        Some(served) => served.document_reader(headers).await,
        None => Caller::anonymous(),
    };
    let mut document = base.clone();
    for served in servers {
        let disabled = served
            .app
            .state()
            .disabled_tools
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let prefix = format!("{}/", served.prefix());
        remove_operations(&mut document, &prefix, &disabled);
        if served.app.state().access.policy.is_some() {
            remove_operations_where(&mut document, &prefix, |operation| {
                served.hidden_from(&caller, operation)
            });
        }
    }
    Bytes::from(serde_json::to_vec(&document).unwrap_or_default())
}

impl Served {
    /// Its document as `headers`' caller may see it: without the tools,
    /// prompts and resource templates the lock's policy keeps from them (a
    /// client generator or Open WebUI then offers only what the caller may
    /// call).
    pub(crate) async fn document_for(&self, headers: &HeaderMap) -> Bytes {
        if self.app.state().access.policy.is_none() {
            return self.document.bytes();
        }
        let caller = self.document_reader(headers).await;
        let mut document = self.document.value();
        remove_operations_where(&mut document, "/", |operation| {
            self.hidden_from(&caller, operation)
        });
        Bytes::from(serde_json::to_vec(&document).unwrap_or_default())
    }

    /// Who reads a document: the caller its credentials prove, or an
    /// anonymous one (documents stay public unless `--strict-auth`).
    async fn document_reader(&self, headers: &HeaderMap) -> Caller {
        let access = &self.app.state().access;
        if access.policy.is_none() {
            return Caller::anonymous();
        }
        access
            .auth
            .authenticate(headers)
            .await
            .unwrap_or_else(|_| Caller::anonymous())
    }

    /// Whether the lock's policy keeps the tool, prompt or resource
    /// template of a document `operation` (its `x-mcp-*` extension) from
    /// `caller`.
    fn hidden_from(&self, caller: &Caller, operation: &Value) -> bool {
        use crate::access::Use;
        let state = self.app.state();
        let named = |pointer: &str| operation.pointer(pointer).and_then(Value::as_str);
        let used = if let Some(tool) = named("/x-mcp-tool/name") {
            Use::Tool(tool)
        } else if let Some(prompt) = named("/x-mcp-prompt/name") {
            Use::Prompt(prompt)
        } else if let Some(template) = named("/x-mcp-resource-template/uriTemplate") {
            Use::Resource(template)
        } else {
            return false;
        };
        !state.access.shows(caller, &state.server_name, used)
    }
}

/// What [`Served::start`] needs besides the app's own settings.
pub struct ServedParts {
    /// The server's name (`""` at the root).
    pub name: String,
    /// Its lock.
    pub lock: Lock,
    /// Its document, `servers` patched, keys documented.
    pub document: Value,
    /// Its generated tool routes.
    pub tool_routes: Router<App>,
    /// The supervisor settings of its upstream.
    pub settings: Settings,
    /// `--upstream-pool`.
    pub pool_size: usize,
    /// Locked tools switched off by the runtime `--config`.
    pub disabled: HashSet<String>,
}

impl Served {
    /// Starts the server's upstream pool and returns it, with its
    /// supervisor tasks; `app` builds the app state around the pool.
    pub fn start(
        parts: ServedParts,
        app: impl FnOnce(Arc<Pool>, HashSet<String>) -> App,
    ) -> (Arc<Served>, Vec<tokio::task::JoinHandle<()>>) {
        let ServedParts {
            name,
            lock,
            document,
            tool_routes,
            settings,
            pool_size,
            disabled,
        } = parts;
        let (pool, tasks) = Pool::start(settings.clone(), pool_size);
        let document = Arc::new(ServedDocument::new(document, &disabled));
        let served = Served {
            name,
            app: app(pool, disabled),
            document,
            tool_routes,
            locked_tools: lock.tools.iter().map(|tool| tool.name.clone()).collect(),
            locked_upstream: lock.upstream,
            settings: Mutex::new(settings),
            pool_size,
        };
        (Arc::new(served), tasks)
    }

    /// `/{name}`, or `""` at the root.
    pub fn prefix(&self) -> String {
        if self.name.is_empty() {
            String::new()
        } else {
            format!("/{}", self.name)
        }
    }

    /// Whether the lock has a tool of this name.
    pub fn has_tool(&self, name: &str) -> bool {
        self.locked_tools.iter().any(|tool| tool == name)
    }

    /// The label of this server in log lines.
    pub fn label(&self) -> String {
        if self.name.is_empty() {
            "the upstream".to_string()
        } else {
            format!("server {:?}", self.name)
        }
    }

    /// Records how the runtime `--config` launches this server differently
    /// from its lock: logged when it changes, shown in `/readyz` and
    /// `/metrics`.
    pub fn set_launch_spec_drift(&self, findings: Vec<String>) {
        let state = self.app.state();
        let mut current = state
            .launch_spec_drift
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if *current == findings {
            return;
        }
        for finding in &findings {
            tracing::warn!(
                "{}: launch spec drift: {finding} (runtime --config vs mcp.lock.json)",
                self.label()
            );
        }
        state.metrics.launch_spec_drift(findings.len());
        *current = findings;
    }

    /// Applies tool switches at once.
    fn set_disabled(&self, disabled: HashSet<String>) {
        let state = self.app.state();
        let mut current = state
            .disabled_tools
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if *current == disabled {
            return;
        }
        let mut listed: Vec<&String> = disabled.iter().collect();
        listed.sort();
        tracing::info!("{}: tools switched off now: {listed:?}", self.label());
        self.document.disable(&disabled);
        *current = disabled;
    }

    /// Reconnects through `target` when it differs from the current one:
    /// new calls go to a new pool at once, calls in flight finish on the old
    /// one (up to `drain`), which is then shut down.
    fn retarget(
        &self,
        target: Target,
        drain: Duration,
        tasks: &Mutex<Vec<tokio::task::JoinHandle<()>>>,
    ) {
        let settings = {
            let mut settings = self
                .settings
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if settings.target == target {
                return;
            }
            settings.target = target;
            settings.clone()
        };
        tracing::info!(
            "{}: its config entry changed; reconnecting to {}",
            self.label(),
            settings.target.describe()
        );
        let (pool, new_tasks) = Pool::start(settings, self.pool_size);
        let old = self.app.state().upstream.replace(pool);
        tasks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend(new_tasks);
        tokio::spawn(async move {
            let deadline = tokio::time::Instant::now() + drain;
            while !old.is_idle() && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            old.shutdown();
        });
    }
}

/// How a server is reached, from its name, its locked upstream and its
/// runtime `--config` entry.
pub type TargetOf = dyn Fn(&str, &crate::lock::Upstream, Option<&ServerEntry>) -> Result<Target, String>
    + Send
    + Sync;

/// Locked tools of `names` an entry switches off.
fn switched_off<'a>(
    names: impl Iterator<Item = &'a String>,
    entry: Option<&ServerEntry>,
) -> HashSet<String> {
    names
        .filter(|tool| entry.is_some_and(|entry| !entry.keeps_tool(tool)))
        .cloned()
        .collect()
}

/// How `entry` (of server `name`) launches the server differently from
/// `locked`, by `--on-drift`: refused under `fail` (naming every finding),
/// nothing recorded under `ignore`.
pub fn launch_spec_drift(
    name: &str,
    locked: &crate::lock::Upstream,
    entry: Option<&ServerEntry>,
    target: &Target,
    policy: DriftPolicy,
) -> Result<Vec<String>, String> {
    let Some(entry) = entry else {
        return Ok(Vec::new());
    };
    let findings = crate::drift::launch_spec_drift(locked, entry, target);
    match policy {
        DriftPolicy::Fail if !findings.is_empty() => {
            let server = crate::config::server_label(name);
            Err(format!(
                "--config launches {server} differently from mcp.lock.json ({}), refused under \
                 --on-drift fail: review the change and regenerate the proxy from it \
                 (mcpo-gen update --config), or keep the locked launch spec",
                findings.join("; ")
            ))
        }
        DriftPolicy::Ignore => Ok(Vec::new()),
        _ => Ok(findings),
    }
}

/// Tool names in `disabledTools` / `enabledTools` of a runtime config entry
/// that the lock does not have (a typo switches nothing off).
pub fn unknown_tools(name: &str, entry: &ServerEntry, locked: &[String]) -> Vec<String> {
    let server = if name.is_empty() {
        String::new()
    } else {
        format!("server {name:?}: ")
    };
    entry
        .disabled_tools
        .iter()
        .map(|tool| ("disabledTools", tool))
        .chain(
            entry
                .enabled_tools
                .iter()
                .flatten()
                .map(|tool| ("enabledTools", tool)),
        )
        .filter(|(_, tool)| !locked.contains(tool))
        .map(|(key, tool)| format!("{server}{key} names {tool:?}, which the lock does not have"))
        .collect()
}

/// Locked tools of `lock` an entry switches off.
pub fn disabled_tools(lock: &Lock, entry: Option<&ServerEntry>) -> HashSet<String> {
    switched_off(lock.tools.iter().map(|tool| &tool.name), entry)
}

/// Reads a runtime `--config` for the served servers (`names`): every
/// server it names must be locked. A single-server crate (one name, `""`)
/// takes a config of one server, whatever its name.
pub fn entries_for(
    config: &Config,
    names: &[String],
) -> Result<BTreeMap<String, ServerEntry>, String> {
    if let [only] = names
        && only.is_empty()
    {
        return match config.servers.values().collect::<Vec<_>>().as_slice() {
            [entry] => Ok(BTreeMap::from([(String::new(), (*entry).clone())])),
            _ => Err(format!(
                "this proxy serves one server; its --config must name exactly one, not {}",
                config.servers.len()
            )),
        };
    }
    let unknown: Vec<&String> = config
        .servers
        .keys()
        .filter(|name| !names.contains(name))
        .collect();
    if !unknown.is_empty() {
        return Err(format!(
            "--config names servers the lock does not have ({unknown:?}); a proxy serves only \
             its locked servers: generate it again from the config to add servers"
        ));
    }
    Ok(config.servers.clone())
}

/// Applies a config: every target is resolved first, so an edit with an
/// unset variable changes nothing; then tool switches and reconnections.
pub fn apply_config(
    config: &Config,
    servers: &[Arc<Served>],
    target_of: &TargetOf,
    drain: Duration,
    tasks: &Mutex<Vec<tokio::task::JoinHandle<()>>>,
) -> Result<(), String> {
    let names: Vec<String> = servers.iter().map(|served| served.name.clone()).collect();
    let entries = entries_for(config, &names)?;
    let mut plans = Vec::with_capacity(servers.len());
    for served in servers {
        let entry = entries.get(&served.name);
        let target = target_of(&served.name, &served.locked_upstream, entry)?;
        let policy = served
            .settings
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .drift_policy;
        let drift = launch_spec_drift(
            &served.name,
            &served.locked_upstream,
            entry,
            &target,
            policy,
        )?;
        for warning in entry
            .map(|entry| unknown_tools(&served.name, entry, &served.locked_tools))
            .into_iter()
            .flatten()
        {
            tracing::warn!("--config: {warning}");
        }
        plans.push((
            served,
            target,
            switched_off(served.locked_tools.iter(), entry),
            drift,
        ));
    }
    for (served, target, disabled, drift) in plans {
        served.set_disabled(disabled);
        served.set_launch_spec_drift(drift);
        served.retarget(target, drain, tasks);
    }
    Ok(())
}

/// `--hot-reload`: applies each valid edit of `path`; an invalid one is
/// logged and ignored. Runs until the process stops.
pub async fn watch_config(
    path: PathBuf,
    servers: Arc<Vec<Arc<Served>>>,
    target_of: Box<TargetOf>,
    drain: Duration,
    tasks: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
) {
    // Capped: a config replaced by something huge is a read error (the
    // previous config stays), not memory growth twice a second.
    let read = |path: &PathBuf| crate::files::read_capped(path, crate::files::SMALL_FILE_LIMIT);
    let mut last = read(&path).ok();
    loop {
        tokio::time::sleep(WATCH_INTERVAL).await;
        let current = read(&path);
        if let Err(error) = &current {
            tracing::warn!(
                "--hot-reload: {} cannot be read ({error}); keeping the previous config",
                path.display()
            );
        }
        let current = current.ok();
        if current == last {
            continue;
        }
        last = current.clone();
        let Some(bytes) = current else {
            continue;
        };
        let outcome = std::str::from_utf8(&bytes)
            .map_err(|_| "it is not UTF-8".to_string())
            .and_then(|text| {
                Config::from_json(text, &path.display().to_string()).map_err(|e| e.to_string())
            })
            .and_then(|config| {
                for warning in &config.warnings {
                    tracing::warn!("--hot-reload: {warning}");
                }
                apply_config(&config, &servers, &*target_of, drain, &tasks)
            });
        match outcome {
            Ok(()) => tracing::info!("--hot-reload: applied {}", path.display()),
            Err(reason) => tracing::warn!(
                "--hot-reload: refused the edit of {}: {reason}; the previous config stays live",
                path.display()
            ),
        }
    }
}
