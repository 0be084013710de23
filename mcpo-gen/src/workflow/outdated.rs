//! `mcpo-gen outdated`: for each locked upstream run from a package index
//! (PyPI through uvx or pipx, npm through npx or bunx), the newest release
//! the index serves (or `--to VERSION`), snapshotted in place of the locked
//! one and classified against the lock with the rules `diff` uses. Nothing
//! is written: `update --to` applies a bump.

use anyhow::{Context, Result};
use mcpo_gen::diff::{self, Level, Report};
use mcpo_gen::lock::{CrateLock, Lock, Upstream};
use mcpo_gen::pinning::{self, PackageSpec};
use mcpo_gen::snapshot;
use serde::Serialize;
use serde_json::json;

use super::Progress;

/// One upstream's row.
#[derive(Debug, Serialize)]
pub struct Outdated {
    /// The server of a multi-server crate; `None` for a single server.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    pub package: String,
    /// The pinned version; `None` when the spec does not pin one.
    pub current: Option<String>,
    pub newest: String,
    /// The diff's counts, and how many of its findings are text audits.
    pub breaking: usize,
    pub warnings: usize,
    pub info: usize,
    pub audit: usize,
}

/// What `outdated` found for one crate: a row per upstream run from an
/// index, and the classified changes of those not up to date.
pub struct Findings {
    pub rows: Vec<Outdated>,
    pub report: Report,
}

/// The version `spec` would be bumped to: `to` (`latest` is the index's
/// newest), else the index's newest.
async fn target_version(spec: &PackageSpec, to: Option<&str>) -> Result<String> {
    match to {
        Some(version) if version != "latest" => Ok(version.to_string()),
        _ => pinning::resolve(spec).await,
    }
}

/// The package each server of `lock` runs from an index, if any.
fn packages(lock: &CrateLock) -> Vec<(Option<String>, PackageSpec)> {
    lock.servers()
        .into_iter()
        .filter_map(|(server, lock)| {
            let Upstream::Stdio { command, args, .. } = &lock.upstream else {
                return None;
            };
            let spec = pinning::package_of(command, args)?;
            (spec.registry != pinning::Registry::Oci).then(|| (server.map(str::to_string), spec))
        })
        .collect()
}

/// `lock` with every server whose package is in `bumps` launched at its
/// new version.
pub fn bumped(lock: &CrateLock, bumps: &[(Option<String>, PackageSpec, String)]) -> CrateLock {
    let mut lock = lock.clone();
    let bump = |server: Option<&str>, locked: &mut Lock| {
        if let Upstream::Stdio { args, .. } = &mut locked.upstream
            && let Some((_, spec, version)) = bumps
                .iter()
                .find(|(bumped, _, _)| bumped.as_deref() == server)
        {
            *args = spec.pinned_args(args, version);
        }
    };
    match &mut lock {
        CrateLock::Single(single) => bump(None, single),
        CrateLock::Multi(multi) => {
            for (name, server) in &mut multi.servers {
                bump(Some(name), server);
            }
        }
    }
    lock
}

/// The servers of `lock` whose index serves a version other than the
/// locked one (or `to`), with that version.
pub fn newer_versions(
    lock: &CrateLock,
    to: Option<&str>,
) -> Result<Vec<(Option<String>, PackageSpec, String)>> {
    let packages = packages(lock);
    if let Some(version) = to.filter(|to| *to != "latest") {
        if !pinning::is_exact_version(version) {
            anyhow::bail!("--to {version}: not an exact version (or `latest`)");
        }
        let names: std::collections::BTreeSet<&str> = packages
            .iter()
            .map(|(_, spec)| spec.name.as_str())
            .collect();
        if names.len() > 1 {
            anyhow::bail!(
                "--to {version}: the crate runs several packages ({}); one version cannot be all of theirs",
                names.into_iter().collect::<Vec<_>>().join(", ")
            );
        }
    }
    let mut bumps = Vec::new();
    for (server, spec) in packages {
        let newest =
            snapshot::block_on(target_version(&spec, to)).with_context(|| match &server {
                Some(server) => {
                    format!("server {server:?}: asking the index about {:?}", spec.name)
                }
                None => format!("asking the index about {:?}", spec.name),
            })?;
        bumps.push((server, spec, newest));
    }
    Ok(bumps)
}

/// `lock` with the servers of `stale` snapshotted again at their newer
/// versions; a multi-server crate's other servers are kept as locked, not
/// started.
fn snapshot_bumped(
    lock: &CrateLock,
    stale: &[(Option<String>, PackageSpec, String)],
    options: &snapshot::Options,
    progress: Progress,
) -> Result<CrateLock> {
    let bumped = bumped(lock, stale);
    let CrateLock::Multi(all) = &bumped else {
        return super::resnapshot(&bumped, None, options, progress);
    };
    let is_stale = |name: &str| {
        stale
            .iter()
            .any(|(server, _, _)| server.as_deref() == Some(name))
    };
    let mut only_stale = all.clone();
    only_stale.servers.retain(|name, _| is_stale(name));
    let CrateLock::Multi(snapshotted) =
        super::resnapshot(&CrateLock::Multi(only_stale), None, options, progress)?
    else {
        unreachable!("a multi-server lock snapshots as one");
    };
    let mut fresh = all.clone();
    fresh.servers.extend(snapshotted.servers);
    Ok(CrateLock::Multi(fresh))
}

/// `outdated` for one crate's lock.
pub fn outdated(
    lock: &CrateLock,
    to: Option<&str>,
    options: &snapshot::Options,
    progress: Progress,
) -> Result<Findings> {
    let versions = newer_versions(lock, to)?;
    let (current, stale): (Vec<_>, Vec<_>) = versions
        .into_iter()
        .partition(|(_, spec, newest)| spec.pinned.as_deref() == Some(newest.as_str()));
    let report = if stale.is_empty() {
        Report::new(Vec::new())
    } else {
        for (server, spec, newest) in &stale {
            progress.say(format_args!(
                "{}{} {} -> {newest}: snapshotting it",
                server
                    .as_deref()
                    .map(|s| format!("{s}: "))
                    .unwrap_or_default(),
                spec.name,
                spec.pinned.as_deref().unwrap_or("(unpinned)")
            ));
        }
        let fresh = snapshot_bumped(lock, &stale, options, progress)
            .context("snapshotting the newer versions")?;
        diff::diff_crate_locks(lock, &fresh)
    };
    let mut rows: Vec<Outdated> = current
        .into_iter()
        .chain(stale)
        .map(|(server, spec, newest)| {
            let mine = |change: &&diff::Change| change.server == server;
            let count = |level: Level| {
                report
                    .changes
                    .iter()
                    .filter(mine)
                    .filter(|change| change.level == level)
                    .count()
            };
            Outdated {
                breaking: count(Level::Err),
                warnings: count(Level::Warn),
                info: count(Level::Info),
                audit: report
                    .changes
                    .iter()
                    .filter(mine)
                    .filter(|change| diff::rules::is_text_audit(change.id))
                    .count(),
                server,
                package: spec.name,
                current: spec.pinned,
                newest,
            }
        })
        .collect();
    rows.sort_by(|a, b| a.server.cmp(&b.server));
    Ok(Findings { rows, report })
}

impl Findings {
    /// The rows as a table (text, markdown) or JSON, then the classified
    /// changes in the same format.
    pub fn render(&self, label: &str, format: diff::Format) -> String {
        let version = |version: &Option<String>| version.clone().unwrap_or("(unpinned)".into());
        let cells = |row: &Outdated| {
            [
                row.server.clone().unwrap_or("-".into()),
                row.package.clone(),
                version(&row.current),
                row.newest.clone(),
                row.breaking.to_string(),
                row.warnings.to_string(),
                row.info.to_string(),
                row.audit.to_string(),
            ]
        };
        const HEADINGS: [&str; 8] = [
            "server", "package", "current", "newest", "breaking", "warnings", "info", "audit",
        ];
        match format {
            // One document per crate, each on lines of its own.
            diff::Format::Json => serde_json::to_string_pretty(&json!({
                "crate": label,
                "upstreams": self.rows,
                "changes": self.report.changes,
            }))
            .unwrap_or_default(),
            diff::Format::Markdown => {
                let mut text = format!("### Upstream versions of `{label}`\n\n");
                text.push_str(&format!("| {} |\n", HEADINGS.join(" | ")));
                text.push_str(&format!("|{}\n", "---|".repeat(HEADINGS.len())));
                for row in &self.rows {
                    text.push_str(&format!("| {} |\n", cells(row).join(" | ")));
                }
                if !self.report.changes.is_empty() {
                    text.push('\n');
                    text.push_str(&self.report.render(format));
                }
                text
            }
            diff::Format::Github => {
                let mut text = String::new();
                for row in self
                    .rows
                    .iter()
                    .filter(|row| row.current.as_ref() != Some(&row.newest))
                {
                    text.push_str(&format!(
                        "::notice title=outdated upstream::{label}: {} {} -> {} ({} breaking, {} warnings, {} info)\n",
                        row.package,
                        version(&row.current),
                        row.newest,
                        row.breaking,
                        row.warnings,
                        row.info
                    ));
                }
                text.push_str(&self.report.render(format));
                text
            }
            diff::Format::Text { .. } => {
                let mut widths = HEADINGS.map(str::len);
                let rows: Vec<[String; 8]> = self.rows.iter().map(cells).collect();
                for row in &rows {
                    for (width, cell) in widths.iter_mut().zip(row) {
                        *width = (*width).max(cell.chars().count());
                    }
                }
                let line = |cells: [&str; 8]| {
                    let padded: Vec<String> = cells
                        .iter()
                        .zip(widths)
                        .map(|(cell, width)| format!("{cell:width$}"))
                        .collect();
                    padded.join("  ").trim_end().to_string() + "\n"
                };
                let mut text = format!("{label}\n");
                text.push_str(&line(HEADINGS));
                for row in &rows {
                    text.push_str(&line(row.each_ref().map(String::as_str)));
                }
                if self.rows.is_empty() {
                    text.push_str("no upstream is run from a package index\n");
                } else if !self.report.changes.is_empty() {
                    text.push_str(&self.report.render(format));
                }
                text
            }
        }
    }
}
