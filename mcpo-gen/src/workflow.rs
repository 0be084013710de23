//! The verbs the CLI runs, composed from the pipeline stages. Each returns
//! what happened; `main.rs` only parses flags and maps outcomes to exit codes.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::{Context, Result, bail};

use mcpo_gen::diff::{self, LockSource, Report};
use mcpo_gen::emit::{self, Drift};
use mcpo_gen::lock::{CrateLock, LOCK_FILE_NAME, Lock, MultiLock, ProxyCrate, RuntimeSource};
use mcpo_gen::snapshot::{self, Target};
use mcpo_runtime::config::{ClientSecret, Config, ServerEntry};

/// What the verbs tell the user on stderr: outcomes and next steps
/// (silenced by `--quiet`), and a spinner while long work runs (only on a
/// terminal, so logs and pipes get no animation).
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub quiet: bool,
}

impl Progress {
    /// An outcome or next step, as a line.
    pub fn say(&self, message: impl std::fmt::Display) {
        if !self.quiet {
            eprintln!("{}", mcpo_runtime::redact::redact(&message.to_string()));
        }
    }

    /// A spinner showing `message` and the time elapsed until the returned
    /// guard is dropped; nothing when quiet or not on a terminal.
    pub fn working(&self, message: impl Into<String>) -> Working {
        use std::io::IsTerminal as _;
        if self.quiet || !std::io::stderr().is_terminal() {
            return Working(None);
        }
        let spinner = indicatif::ProgressBar::new_spinner();
        if let Ok(style) = indicatif::ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
            spinner.set_style(style);
        }
        spinner.set_message(message.into());
        spinner.enable_steady_tick(std::time::Duration::from_millis(120));
        Working(Some(spinner))
    }
}

/// Clears its spinner when dropped.
pub struct Working(Option<indicatif::ProgressBar>);

impl Drop for Working {
    fn drop(&mut self) {
        if let Some(spinner) = self.0.take() {
            spinner.finish_and_clear();
        }
    }
}

/// The transport named by `--server-type`: the proxies' own, so that both
/// take the same spellings.
use launch::pin_entry;
pub use launch::{OAuthFlags, launch_warnings, parse_env, parse_headers, pin, target};
pub use mcpo_runtime::serve::ServerType;

/// Writes the lock `mcpo-gen serve` snapshotted (its canonical `text`) to
/// `path`, default a file in a new temporary folder, and says where. A
/// file there that differs (a reviewed lock?) is kept unless `force`: the
/// snapshot goes beside it as `.new`, and the error says how to compare.
pub fn write_served_lock(
    path: Option<&Path>,
    text: &str,
    force: bool,
    progress: Progress,
) -> Result<()> {
    let path = match path {
        Some(path) => path.to_path_buf(),
        None => {
            // A new folder of its own: a folder named after the process id
            // can be a stale one of an earlier process with the same id.
            let dir = tempfile::Builder::new()
                .prefix("mcpo-gen-serve-")
                .tempdir()
                .context("creating a temporary folder for the snapshot's lock")?
                .keep();
            dir.join(LOCK_FILE_NAME)
        }
    };
    let existing =
        mcpo_runtime::files::read_text_capped(&path, mcpo_runtime::files::LOCK_FILE_LIMIT);
    if existing.is_ok_and(|existing| existing != text) && !force {
        let new = path.with_extension("json.new");
        std::fs::write(&new, text).with_context(|| format!("writing {}", new.display()))?;
        bail!(
            "{} exists and differs from this snapshot, which is in {}: review the change \
             with `mcpo-gen diff {} {}`, then serve the one you want with --lock (or pass \
             --force to replace the file)",
            path.display(),
            new.display(),
            path.display(),
            new.display()
        );
    }
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    progress.say(format_args!(
        "Snapshot written to {}: commit it, review it with `mcpo-gen diff`, and build the \
         crate with `mcpo-gen generate --lock {} --out DIR`",
        path.display(),
        path.display()
    ));
    Ok(())
}

/// Parses `--runtime`: `vendored`, `shared:FOLDER` (relative to the crate)
/// or `published[:VERSION]` (default: this mcpo-gen's runtime version).
pub fn parse_runtime(text: &str) -> std::result::Result<RuntimeSource, String> {
    let (mode, value) = match text.split_once(':') {
        Some((mode, value)) => (mode, Some(value)),
        None => (text, None),
    };
    match (mode, value) {
        ("vendored", None) => Ok(RuntimeSource::Vendored),
        ("shared", Some(folder)) => {
            let folder = folder.trim_end_matches('/').to_string();
            if RuntimeSource::is_valid_folder(&folder) {
                Ok(RuntimeSource::Shared { folder })
            } else {
                Err(format!(
                    "shared:{folder}: give the runtime folder relative to the crate, \
                     with `/` separators (e.g. shared:../mcpo-runtime)"
                ))
            }
        }
        ("published", version) => Ok(RuntimeSource::Published {
            version: version.unwrap_or(mcpo_runtime::VERSION).to_string(),
        }),
        _ => Err(format!(
            "{text:?}: expected vendored, shared:FOLDER or published[:VERSION]"
        )),
    }
}

/// Reads a config, its warnings (unknown keys) on stderr.
fn read_config(path: &Path) -> Result<Config> {
    let config = Config::read(path)?;
    for warning in &config.warnings {
        eprintln!("warning: {}: {warning}", path.display());
    }
    Ok(config)
}

/// The target of server `name` in the config at `path`.
pub fn config_target(path: &Path, name: &str) -> Result<Target> {
    let config = read_config(path)?;
    let Some(entry) = config.servers.get(name) else {
        bail!(
            "{} has no server {name:?} (it has: {})",
            path.display(),
            config
                .servers
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        );
    };
    Ok(entry.target(name, &|var| std::env::var(var).ok())?)
}

/// `mcpo-gen login`: authorizes with an OAuth-protected server and stores
/// its tokens (in `token_file` when given).
pub fn login(target: &mut Target, token_file: Option<std::path::PathBuf>) -> Result<()> {
    let description = target.describe();
    let Some(oauth) = target.oauth_mut() else {
        bail!(
            "{description} has no \"oauth\" settings: add an \"oauth\" block to its config \
             entry (or pass --url with the --oauth-* flags)"
        );
    };
    if token_file.is_some() {
        oauth.token_file = token_file;
    }
    snapshot::block_on(mcpo_gen::login::authorize_target(target))?;
    Ok(())
}

/// `--from-registry`: the entry's chosen package or remote, snapshotted;
/// the lock records the entry.
pub fn snapshot_registry_entry(
    source: &str,
    choice: mcpo_gen::registry::Choice,
    options: &snapshot::Options,
    crate_name: Option<&str>,
    progress: Progress,
) -> Result<Lock> {
    let entry = snapshot::block_on(mcpo_gen::registry::read(source))?;
    let (target, recorded, env_sources) =
        mcpo_gen::registry::target_and_env(&entry, choice, &|name| std::env::var(name).ok())
            .with_context(|| format!("the registry entry {source}"))?;
    progress.say(format_args!(
        "{} {} ({}): {}",
        recorded.name,
        recorded.version,
        recorded.choice,
        target.upstream().describe()
    ));
    for warning in launch_warnings(&target, false) {
        eprintln!("warning: {warning}");
    }
    let mut lock = snapshot(&target, options, crate_name, progress)?;
    lock.registry = Some(recorded);
    // Where each env var or header comes from at run time, fixed values included.
    match &mut lock.upstream {
        mcpo_gen::lock::Upstream::Stdio { env, .. } => *env = env_sources,
        mcpo_gen::lock::Upstream::StreamableHttp { headers, .. }
        | mcpo_gen::lock::Upstream::Sse { headers, .. } => *headers = env_sources,
    }
    Ok(lock)
}

/// Connects, snapshots, and returns the lock (crate name set).
pub fn snapshot(
    target: &Target,
    options: &snapshot::Options,
    crate_name: Option<&str>,
    progress: Progress,
) -> Result<Lock> {
    let proxy_crate = crate_name.map(ProxyCrate::from_name);
    if let Some(proxy_crate) = &proxy_crate {
        mcpo_gen::emit::check_crate_name(&proxy_crate.name)?;
    }
    let working = progress.working(format!(
        "Snapshotting {}: starting, handshake, listing every tool",
        target.upstream().describe()
    ));
    let snapshotted = snapshot::block_on(snapshot::snapshot(target, options));
    drop(working);
    let mut lock = snapshotted?;
    if let Some(proxy_crate) = proxy_crate {
        lock.proxy_crate = proxy_crate;
    }
    progress.say(format_args!(
        "Snapshotted {} {} (protocol {}): {}",
        lock.server.name,
        lock.server.version,
        lock.server.protocol_version,
        surface_counts(&lock)
    ));
    Ok(lock)
}

/// `3 tools, 2 resource templates, 4 prompts`: what a lock holds, kinds the
/// server does not offer left out (tools always named).
fn surface_counts(lock: &Lock) -> String {
    let count =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let mut parts = vec![count(lock.tools.len(), "tool", "tools")];
    for (n, one, many) in [
        (lock.surface.resources.len(), "resource", "resources"),
        (
            lock.surface.resource_templates.len(),
            "resource template",
            "resource templates",
        ),
        (lock.surface.prompts.len(), "prompt", "prompts"),
    ] {
        if n > 0 {
            parts.push(count(n, one, many));
        }
    }
    parts.join(", ")
}

/// Snapshots every server of a config file (in name order, each reached
/// with its `${VAR}` values from the environment) and returns the crate
/// lock: each server's tools minus those its entry switches off.
/// With `pin`, each server run from a package index is snapshotted, and
/// locked, at the version its index serves today (the config file is left
/// as it is: the lock is what the crate runs).
pub fn snapshot_config(
    config_path: &Path,
    options: &snapshot::Options,
    crate_name: Option<&str>,
    pin: bool,
    progress: Progress,
) -> Result<MultiLock> {
    let config = read_config(config_path)?;
    if let Some(clash) = config.clashing_variables().first() {
        bail!("{}: {clash}", config_path.display());
    }
    let proxy_crate = match crate_name {
        Some(name) => ProxyCrate::from_name(name),
        None => ProxyCrate::from_name("mcp-proxy"),
    };
    mcpo_gen::emit::check_crate_name(&proxy_crate.name)?;
    let count = config.servers.len();
    let mut servers = BTreeMap::new();
    for (index, (name, entry)) in config.servers.iter().enumerate() {
        progress.say(format_args!("[{}/{count}] {name}", index + 1));
        let mut target = entry.target(name, &|var| std::env::var(var).ok())?;
        let mut upstream = entry.upstream();
        if pin {
            pin_entry(name, &mut target, &mut upstream, progress)?;
        }
        for warning in launch_warnings(&target, true) {
            eprintln!("warning: server {name:?}: {warning}");
        }
        let options = with_entry_resource_list(options, entry);
        let mut lock = snapshot(&target, &options, None, progress).with_context(|| {
            format!("snapshotting server {name:?} of {}", config_path.display())
        })?;
        // The lock keeps the config's `${VAR}` form, never expanded values.
        lock.upstream = upstream;
        let offered: BTreeSet<String> = lock.tools.iter().map(|tool| tool.name.clone()).collect();
        let named = entry
            .disabled_tools
            .iter()
            .chain(entry.enabled_tools.iter().flatten());
        for unknown in named.filter(|tool| !offered.contains(*tool)) {
            eprintln!(
                "warning: server {name:?}: the config names tool {unknown:?}, which the server \
                 does not offer (a typo?)"
            );
        }
        lock.disable_tools(|tool| entry.keeps_tool(tool));
        if !lock.disabled_tools.is_empty() {
            progress.say(format_args!(
                "  left out by the config: {}",
                lock.disabled_tools.join(", ")
            ));
        }
        servers.insert(name.clone(), lock);
    }
    Ok(MultiLock::new(proxy_crate, servers))
}

/// Renders and writes the crate for `lock` into `out`.
pub fn generate(lock: &CrateLock, out: &Path, force: bool, progress: Progress) -> Result<()> {
    let (lock, warnings) = policy::with_policy_of(lock, out)?;
    for warning in warnings {
        eprintln!("warning: {warning}");
    }
    let working = progress.working(format!("Writing {}", out.display()));
    let rendered = emit::render_crate(&lock)?;
    let written = rendered
        .write(out, force)
        .with_context(|| format!("writing the crate to {}", out.display()))?;
    drop(working);
    progress.say(format_args!(
        "Wrote {} ({} of {} files changed). Next: cd {} && cargo run -- --port 8000",
        out.display(),
        written,
        rendered.files.len(),
        out.display()
    ));
    if let Some(hint) = enclosing_workspace_hint(out) {
        eprintln!("{hint}");
    }
    Ok(())
}

/// A hint when `out` sits inside a Cargo workspace that does not list it:
/// cargo then refuses to build the crate ("believes it's in a workspace when
/// it's not") until the workspace names it in `members` or `exclude`.
pub fn enclosing_workspace_hint(out: &Path) -> Option<String> {
    let out = out.canonicalize().ok()?;
    let (root, manifest) = out.ancestors().skip(1).find_map(|dir| {
        let manifest = mcpo_runtime::files::read_text_capped(
            &dir.join("Cargo.toml"),
            mcpo_runtime::files::SMALL_FILE_LIMIT,
        )
        .ok()?;
        manifest
            .contains("[workspace]")
            .then(|| (dir.to_path_buf(), manifest))
    })?;
    let relative = out
        .strip_prefix(&root)
        .ok()?
        .to_string_lossy()
        .replace('\\', "/");
    let parent_glob = Path::new(&relative)
        .parent()
        .map(|parent| format!("{}/*", parent.to_string_lossy()));
    // Listed itself, by its parent's glob, or under a listed folder (an
    // `exclude` of a folder covers everything in it).
    let listed = Path::new(&relative)
        .ancestors()
        .filter(|ancestor| !ancestor.as_os_str().is_empty())
        .any(|ancestor| manifest.contains(&format!("\"{}\"", ancestor.to_string_lossy())))
        || parent_glob.is_some_and(|glob| manifest.contains(&format!("\"{glob}\"")));
    (!listed).then(|| {
        format!(
            "note: {} is a Cargo workspace that does not list {relative:?}; add it to the \
             workspace's `members` (or `exclude`) before building the proxy",
            root.join("Cargo.toml").display()
        )
    })
}

/// The crate name when the user gave none: the output folder's name, as
/// `mcpo-gen --out ./time-proxy` promises a crate called `time-proxy`.
pub fn default_crate_name(out: &Path) -> Option<String> {
    out.file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .filter(|name| !name.is_empty() && name != "." && name != "..")
}

/// Reads the lock of a crate folder (or a lock file path).
pub fn read_lock(path: &Path) -> Result<CrateLock> {
    let file = if path.is_dir() {
        path.join(LOCK_FILE_NAME)
    } else {
        path.to_path_buf()
    };
    Ok(CrateLock::read(&file)?)
}

/// How `audit` names a lock among several: the path as given, without a
/// trailing `/` or `/mcp.lock.json`.
pub fn audit_label(path: &Path) -> String {
    let text = path.to_string_lossy();
    let text = text.trim_end_matches('/');
    let text = text
        .strip_suffix(LOCK_FILE_NAME)
        .map(|folder| folder.trim_end_matches('/'))
        .filter(|folder| !folder.is_empty())
        .unwrap_or(text);
    text.to_string()
}

/// `check`: regenerates `dir` from its own lock in memory and returns the
/// files that differ from disk (empty: up to date).
pub fn check(dir: &Path) -> Result<Vec<Drift>> {
    let lock = read_lock(dir).with_context(|| format!("checking {}", dir.display()))?;
    let mut drift = emit::render_crate(&lock)?.compare(dir);
    drift.extend(policy::unrecorded_policy(&lock, dir));
    Ok(drift)
}

/// Snapshots the upstreams a lock records again (secrets from env, as
/// [`Target::from_upstream`] documents), keeping the lock's crate settings.
/// With `config`, a multi-server crate's servers are reached as the config
/// says and its tool switches apply; without, as the lock records them
/// (`${VAR}` from env), with the tools it left out left out again.
pub fn resnapshot(
    lock: &CrateLock,
    config: Option<&Config>,
    options: &snapshot::Options,
    progress: Progress,
) -> Result<CrateLock> {
    let env = |name: &str| std::env::var(name).ok();
    let mut fresh = match lock {
        CrateLock::Single(lock) => {
            if config.is_some() {
                bail!("--config applies to multi-server crates (generated with --config)");
            }
            let target = mcpo_runtime::config::resolve_target(
                "",
                &lock.upstream,
                ClientSecret::FromEnv,
                &env,
            )?;
            let options = keeping_resource_list(options, lock);
            let mut live = snapshot(&target, &options, None, progress)?;
            // The launch spec as locked (its env and header templates, a
            // bump's version), and the registry entry it came from.
            live.upstream = lock.upstream.clone();
            live.registry = lock.registry.clone();
            CrateLock::Single(live)
        }
        CrateLock::Multi(multi) => {
            let mut servers = BTreeMap::new();
            for (name, locked) in &multi.servers {
                let entry = config.and_then(|config| config.servers.get(name));
                let target = match entry {
                    Some(entry) => entry.target(name, &env)?,
                    None => mcpo_runtime::config::resolve_target(
                        name,
                        &locked.upstream,
                        ClientSecret::FromEnv,
                        &env,
                    )?,
                };
                progress.say(format_args!("{name}:"));
                let options = match entry {
                    // A config says how each of its servers' lists are read.
                    Some(entry) => with_entry_resource_list(options, entry),
                    None => keeping_resource_list(options, locked),
                };
                let mut live = snapshot(&target, &options, None, progress)
                    .with_context(|| format!("snapshotting server {name:?}"))?;
                match entry {
                    Some(entry) => {
                        live.upstream = entry.upstream();
                        live.disable_tools(|tool| entry.keeps_tool(tool));
                    }
                    None => {
                        live.upstream = locked.upstream.clone();
                        live.disable_tools(|tool| !locked.disabled_tools.iter().any(|t| t == tool));
                    }
                }
                servers.insert(name.clone(), live);
            }
            if let Some(config) = config {
                let added: Vec<&String> = config
                    .servers
                    .keys()
                    .filter(|name| !multi.servers.contains_key(*name))
                    .collect();
                if !added.is_empty() {
                    bail!(
                        "the config has servers the crate does not ({added:?}); generate the \
                         crate again from the config (mcpo-gen --config ... --out ... --force) \
                         to add servers"
                    );
                }
            }
            CrateLock::Multi(MultiLock::new(multi.proxy_crate.clone(), servers))
        }
    };
    // Generation settings are the lock's, not the snapshot's business.
    fresh.set_proxy_crate(lock.proxy_crate().clone());
    Ok(fresh)
}

/// `options` with the resource-list setting `lock` was generated with: a
/// lock's generation settings carry over to its next snapshot.
fn keeping_resource_list(options: &snapshot::Options, lock: &Lock) -> snapshot::Options {
    snapshot::Options {
        resource_list: lock.surface.resource_list,
        ..options.clone()
    }
}

/// `options` with a config entry's `liveResources` (a server's own switch,
/// or `--live-resources` for every server).
fn with_entry_resource_list(options: &snapshot::Options, entry: &ServerEntry) -> snapshot::Options {
    let resource_list = if entry.live_resources {
        mcpo_gen::lock::ResourceList::Live
    } else {
        options.resource_list
    };
    snapshot::Options {
        resource_list,
        ..options.clone()
    }
}

/// `check --live`: the classified difference between a crate's lock and
/// what its upstreams serve now.
pub fn live_drift(dir: &Path, options: &snapshot::Options, progress: Progress) -> Result<Report> {
    let committed = read_lock(dir)?;
    let live = resnapshot(&committed, None, options, progress)
        .with_context(|| format!("snapshotting the upstream of {}", dir.display()))?;
    Ok(diff::diff_crate_locks(&committed, &live))
}

/// `update`: re-snapshot, regenerate in place, and return what changed.
pub fn update(
    dir: &Path,
    config: Option<&Path>,
    to: Option<&str>,
    options: &snapshot::Options,
    progress: Progress,
) -> Result<Report> {
    let committed = read_lock(dir)?;
    let config = config.map(read_config).transpose()?;
    // `--to`: the upstreams run from an index, launched at that version.
    let base = match to {
        Some(to) => {
            if config.is_some() {
                bail!("--to bumps the launch specs the lock records: leave out --config");
            }
            let bumps = outdated::newer_versions(&committed, Some(to))
                .with_context(|| format!("--to {to} for {}", dir.display()))?;
            if bumps.is_empty() {
                bail!(
                    "--to: no upstream of {} is run from a package index",
                    dir.display()
                );
            }
            outdated::bumped(&committed, &bumps)
        }
        None => committed.clone(),
    };
    let fresh = resnapshot(&base, config.as_ref(), options, progress)
        .with_context(|| format!("snapshotting the upstream of {}", dir.display()))?;
    generate(&fresh, dir, false, progress)?;
    Ok(diff::diff_crate_locks(&committed, &fresh))
}

/// `diff OLD NEW`: loads both sides (files, crate folders, `git:REV:PATH`,
/// or `live`, which snapshots the upstream recorded by the other side).
pub fn diff(
    old: &str,
    new: &str,
    options: &snapshot::Options,
    progress: Progress,
) -> Result<Report> {
    let (old_source, new_source) = (diff::parse_source(old), diff::parse_source(new));
    let no_live = || -> std::result::Result<CrateLock, diff::LiveError> {
        Err("`live` needs a lock on the other side to know the upstream".into())
    };
    let (old_lock, new_lock) = match (&old_source, &new_source) {
        (LockSource::Live, LockSource::Live) => bail!("at most one side of a diff can be `live`"),
        (LockSource::Live, _) => {
            let new_lock = diff::load_source(&new_source, no_live)?;
            let old_lock = resnapshot(&new_lock, None, options, progress)?;
            (old_lock, new_lock)
        }
        _ => {
            let old_lock = diff::load_source(&old_source, no_live)?;
            let new_lock = diff::load_source(&new_source, || {
                resnapshot(&old_lock, None, options, progress).map_err(Into::into)
            })?;
            (old_lock, new_lock)
        }
    };
    Ok(diff::diff_crate_locks(&old_lock, &new_lock))
}

/// A short unified diff of one drifted file, for `check`'s report.
pub fn drift_summary(drift: &Drift, max_lines: usize) -> String {
    match drift {
        Drift::Missing(path) => format!("missing: {}", path.display()),
        Drift::Extra(path) => format!("not generated (would be removed): {}", path.display()),
        Drift::Changed {
            path,
            expected,
            actual,
        } => {
            let diff = similar::TextDiff::from_lines(actual.as_str(), expected.as_str());
            let unified = diff
                .unified_diff()
                .context_radius(2)
                .header(
                    &format!("{} (on disk)", path.display()),
                    &format!("{} (generated)", path.display()),
                )
                .to_string();
            let mut lines: Vec<&str> = unified.lines().collect();
            let total = lines.len();
            lines.truncate(max_lines);
            let mut text = format!("changed: {}\n{}", path.display(), lines.join("\n"));
            if total > max_lines {
                text.push_str(&format!("\n... ({} more diff lines)", total - max_lines));
            }
            text
        }
    }
}

mod launch;
pub mod outdated;
pub mod policy;

#[cfg(test)]
mod tests;
