//! Emit: turn a [`Lock`] into the files of a standalone proxy crate.
//!
//! Rendering is pure (lock in, file map out) so that `generate` writes the
//! map and `check` compares it with what is on disk. Rust is produced with
//! quote + prettyplease ([`tools_rs`]); everything else with minijinja
//! templates; `Cargo.lock` from `templates/Cargo.lock` ([`cargo_lock`]). A
//! vendored or shared runtime folder is the `mcpo-runtime` crate's manifest
//! and sources, copied verbatim (the lock's `crate.runtime` says which).

mod cargo_lock;
mod templates;
mod tools_rs;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::lock::{
    CrateLock, LOCK_FILE_NAME, Lock, MultiLock, POLICY_FILE_NAME, RuntimeSource, canonical_pretty,
};
use mcpo_runtime::files;

/// Marks every generated file; `write` refuses to overwrite a crate without it.
pub const GENERATED_MARKER: &str = "@generated";

#[derive(Debug, thiserror::Error)]
pub enum EmitError {
    #[error("template {name} failed: {source}")]
    Template {
        name: String,
        source: minijinja::Error,
    },
    #[error(
        "the crate name `{name}` is also the name of one of the proxy's dependencies, \
         which its Cargo.lock cannot tell apart; choose another name \
         (--crate-name, or \"crate\": {{\"name\": ...}} in mcp.lock.json)"
    )]
    CrateNameTaken { name: String },
    #[error("template {name} is broken ({reason}); this is a bug in mcpo-gen")]
    InvalidTemplate { name: String, reason: String },
    #[error(
        "the generated tools.rs is not valid Rust ({reason}); this is a bug in mcpo-gen, please report it with the lock file"
    )]
    InvalidRust { reason: String },
    #[error(
        "{dir} is not empty and is not a crate mcpo-gen generated; \
         choose an empty or previously generated folder, or pass --force"
    )]
    NotGenerated { dir: String },
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
}

/// The files of a crate, keyed by path relative to the crate root (a shared
/// runtime folder's start with `..`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedCrate {
    pub files: BTreeMap<PathBuf, String>,
    /// Folders whose every file is generated: stale files there are removed.
    owned_dirs: Vec<PathBuf>,
}

/// Where crates generated before the runtime library carried their copy of
/// the runtime: regenerating them removes it.
const LEGACY_RUNTIME_DIR: &str = "src/runtime";

/// The generator's version is recorded once, in the lock: headers name only
/// the source, so an upgrade changes only files whose content changed.
fn header(comment: &str, source: &str) -> String {
    format!("{comment} {GENERATED_MARKER} by mcpo-gen from {source} -- do not edit.\n")
}

/// The runtime crate's file `path` with a generated header in its comment
/// syntax (Cargo.toml or Rust).
fn runtime_file(path: &str, text: &str) -> String {
    let comment = if path.ends_with(".toml") { "#" } else { "//" };
    format!("{}{text}", header(comment, &format!("mcpo-runtime/{path}")))
}

/// Whether a crate may be called `name` (checked before a snapshot, so that
/// an unusable name is refused before the server is started).
pub fn check_crate_name(name: &str) -> Result<(), EmitError> {
    cargo_lock::check_crate_name(templates::cargo_lock(), name)
}

/// Renders every file of the crate a lock of either kind describes.
pub fn render_crate(lock: &CrateLock) -> Result<RenderedCrate, EmitError> {
    match lock {
        CrateLock::Single(single) => render(single),
        CrateLock::Multi(multi) => render_multi(multi),
    }
}

/// Renders every file of the proxy crate for `lock`. Deterministic: the
/// same lock always gives the same map.
pub fn render(lock: &Lock) -> Result<RenderedCrate, EmitError> {
    let mut files = BTreeMap::new();
    files.insert(PathBuf::from(LOCK_FILE_NAME), lock.to_canonical_json());
    files.insert(
        PathBuf::from("openapi.json"),
        canonical_pretty(&crate::openapi::document(lock)),
    );
    files.insert(
        PathBuf::from("src/tools.rs"),
        format!(
            "{}{}",
            header("//", LOCK_FILE_NAME),
            tools_rs::render(lock)?
        ),
    );
    files.insert(
        PathBuf::from("src/main.rs"),
        format!(
            "{}{}",
            header("//", "templates/main.rs"),
            templates::main_rs()
        ),
    );
    let owned_dirs = crate_files(&CrateLock::Single(lock.clone()), &mut files)?;
    Ok(RenderedCrate { files, owned_dirs })
}

/// Where a multi-server crate keeps each server's own OpenAPI document
/// (`servers/{name}/openapi.json`) and tool module (`src/servers/`).
const SERVERS_DIR: &str = "servers";

/// A multi-server crate: the lock, the combined `openapi.json`, and per
/// server its own document and tool module.
fn render_multi(lock: &MultiLock) -> Result<RenderedCrate, EmitError> {
    let crate_lock = CrateLock::Multi(lock.clone());
    let mut files = BTreeMap::new();
    files.insert(
        PathBuf::from(LOCK_FILE_NAME),
        crate_lock.to_canonical_json(),
    );
    let modules = server_modules(lock);
    let mut documents = BTreeMap::new();
    for (name, server) in &lock.servers {
        let document = crate::openapi::document(server);
        files.insert(
            Path::new(SERVERS_DIR).join(name).join("openapi.json"),
            canonical_pretty(&document),
        );
        files.insert(
            Path::new("src")
                .join(SERVERS_DIR)
                .join(format!("{}.rs", modules[name])),
            format!(
                "{}{}",
                header("//", &format!("mcp.lock.json (server {name})")),
                tools_rs::render(server)?
            ),
        );
        documents.insert(name.clone(), document);
    }
    files.insert(
        PathBuf::from("openapi.json"),
        canonical_pretty(&crate::openapi::combined_document(lock, &documents)),
    );
    files.insert(
        PathBuf::from("src/main.rs"),
        format!(
            "{}{}",
            header("//", LOCK_FILE_NAME),
            multi_main_rs(&modules)
        ),
    );
    let mut owned_dirs = crate_files(&crate_lock, &mut files)?;
    owned_dirs.push(PathBuf::from(SERVERS_DIR));
    owned_dirs.push(Path::new("src").join(SERVERS_DIR));
    Ok(RenderedCrate { files, owned_dirs })
}

/// Each server's Rust module name: its name in snake case, unique, never a
/// keyword (a module file can't be named by a raw identifier).
fn server_modules(lock: &MultiLock) -> BTreeMap<String, String> {
    let mut taken = crate::naming::UniqueNames::new();
    lock.servers
        .keys()
        .map(|name| {
            let ident = crate::naming::snake_ident(name);
            let ident = match ident.strip_prefix("r#") {
                Some(keyword) => format!("{keyword}_server"),
                None => ident,
            };
            (name.clone(), taken.claim(&ident))
        })
        .collect()
}

/// `src/main.rs` of a multi-server crate: the server modules and one
/// `proxy_main!` naming each server's prefix and tool router.
fn multi_main_rs(modules: &BTreeMap<String, String>) -> String {
    let mut text = String::from(
        "// The server modules are printed by prettyplease at generation time;\n\
         // rustfmt would reformat them and make `mcpo-gen check` report drift.\n\
         #[rustfmt::skip]\n\
         mod servers {\n",
    );
    for module in modules.values() {
        text.push_str(&format!("    pub mod {module};\n"));
    }
    text.push_str("}\nmcpo_runtime::codegen::proxy_main!(servers {\n");
    for (name, module) in modules {
        text.push_str(&format!("    {name:?} => servers::{module}::router,\n"));
    }
    text.push_str("});\n");
    text
}

/// The files every crate has beside its code and documents: the Cargo.lock
/// (unless the runtime is published), the templates, and the runtime folder.
/// Returns the folders generation owns.
fn crate_files(
    lock: &CrateLock,
    files: &mut BTreeMap<PathBuf, String>,
) -> Result<Vec<PathBuf>, EmitError> {
    let proxy_crate = lock.proxy_crate();
    // The team's policy as the lock records it: `check` then sees an edit
    // that was not regenerated into the lock.
    if let Some(policy) = &proxy_crate.policy {
        // Plain strings and lists: serializing cannot fail.
        let value = serde_json::to_value(policy).unwrap_or_default();
        files.insert(PathBuf::from(POLICY_FILE_NAME), canonical_pretty(&value));
    }
    if !matches!(proxy_crate.runtime, RuntimeSource::Published { .. }) {
        files.insert(
            PathBuf::from("Cargo.lock"),
            cargo_lock::render(templates::cargo_lock(), &proxy_crate.name)?,
        );
    }
    for (name, text) in templates::render_all(lock)? {
        files.insert(PathBuf::from(name), text);
    }
    let mut owned_dirs = vec![PathBuf::from(LEGACY_RUNTIME_DIR)];
    if let Some(folder) = proxy_crate.runtime.folder() {
        let folder = PathBuf::from(folder);
        for (path, text) in templates::runtime_files() {
            files.insert(folder.join(path), runtime_file(path, text));
        }
        owned_dirs.push(folder.join("src"));
    }
    Ok(owned_dirs)
}

/// A file whose content on disk differs from what the lock renders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Drift {
    Missing(PathBuf),
    Changed {
        path: PathBuf,
        expected: String,
        actual: String,
    },
    /// A file in a generated-only folder that generation would remove.
    Extra(PathBuf),
}

impl Drift {
    pub fn path(&self) -> &Path {
        match self {
            Drift::Missing(path) | Drift::Extra(path) => path,
            Drift::Changed { path, .. } => path,
        }
    }
}

/// A folder generation may write into: missing, empty, or a crate mcpo-gen
/// generated (a marked Cargo.toml beside a lock). Anything else could be a
/// user's project whose README, src/main.rs or .gitignore would be replaced.
fn is_empty_or_generated(dir: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return !dir.exists();
    };
    // A policy written before the crate is generation's input, not a
    // user's project.
    let mut entries = entries.filter(|entry| {
        entry
            .as_ref()
            .map_or(true, |entry| entry.file_name() != POLICY_FILE_NAME)
    });
    if entries.next().is_none() {
        return true;
    }
    let marked = files::read_text_capped(&dir.join("Cargo.toml"), files::SMALL_FILE_LIMIT)
        .is_ok_and(|manifest| manifest.contains(GENERATED_MARKER));
    marked && dir.join(LOCK_FILE_NAME).is_file()
}

/// Every file under `dir/owned` (recursively), relative to `dir`.
fn files_under(dir: &Path, owned: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir.join(owned)) else {
        return;
    };
    for entry in entries.flatten() {
        let relative = owned.join(entry.file_name());
        match entry.file_type() {
            Ok(kind) if kind.is_dir() => files_under(dir, &relative, found),
            Ok(kind) if kind.is_file() => found.push(relative),
            _ => {}
        }
    }
}

impl RenderedCrate {
    /// Compares with a crate folder; empty means up to date.
    pub fn compare(&self, dir: &Path) -> Vec<Drift> {
        let mut drift = Vec::new();
        for (path, expected) in &self.files {
            // Enough of the file on disk to show how it differs; a huge one
            // (or a device) is cut, not read whole.
            let limit = (expected.len() as u64).saturating_mul(2) + (64 << 10);
            match files::read_prefix(&dir.join(path), limit) {
                Err(_) => drift.push(Drift::Missing(path.clone())),
                Ok((bytes, cut)) if cut || bytes != expected.as_bytes() => {
                    let mut actual = String::from_utf8_lossy(&bytes).into_owned();
                    if cut {
                        actual.push_str(&format!(
                            "\n[mcpo-gen: the file is larger than {limit} bytes; the rest was not read]\n"
                        ));
                    }
                    drift.push(Drift::Changed {
                        path: path.clone(),
                        expected: expected.clone(),
                        actual,
                    });
                }
                Ok(_) => {}
            }
        }
        let mut on_disk = Vec::new();
        for owned in &self.owned_dirs {
            files_under(dir, owned, &mut on_disk);
        }
        on_disk.sort();
        on_disk.dedup();
        for path in on_disk {
            if !self.files.contains_key(&path) {
                drift.push(Drift::Extra(path));
            }
        }
        drift
    }

    /// Writes the crate into `dir`, creating it if needed. Only files that
    /// changed are rewritten (so cargo doesn't rebuild needlessly), and stale
    /// files in generated-only folders are removed. Refuses to write over a
    /// crate mcpo-gen did not generate unless `force`.
    pub fn write(&self, dir: &Path, force: bool) -> Result<usize, EmitError> {
        let write_error = |path: &Path, source| EmitError::Write {
            path: path.display().to_string(),
            source,
        };
        if !force && !is_empty_or_generated(dir) {
            return Err(EmitError::NotGenerated {
                dir: dir.display().to_string(),
            });
        }
        let mut written = 0;
        for drift in self.compare(dir) {
            let path = dir.join(drift.path());
            match drift {
                Drift::Extra(_) => {
                    std::fs::remove_file(&path).map_err(|error| write_error(&path, error))?
                }
                Drift::Missing(relative) | Drift::Changed { path: relative, .. } => {
                    if let Some(parent) = path.parent() {
                        std::fs::create_dir_all(parent)
                            .map_err(|error| write_error(parent, error))?;
                    }
                    std::fs::write(&path, &self.files[&relative])
                        .map_err(|error| write_error(&path, error))?;
                    written += 1;
                }
            }
        }
        Ok(written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lock::{ServerFacts, Upstream};
    use serde_json::json;

    pub(crate) fn sample_lock() -> Lock {
        Lock::new(
            ServerFacts {
                name: "mcp-time".into(),
                version: "1.0.0".into(),
                title: None,
                protocol_version: "2025-06-18".into(),
                capabilities: json!({"tools": {"listChanged": false}}),
                instructions: None,
            },
            Upstream::Stdio {
                command: "uvx".into(),
                args: vec!["mcp-server-time".into()],
                env: mcpo_runtime::lock::ValueSources::default(),
            },
            vec![
                json!({
                    "name": "get_current_time",
                    "description": "Get current time in a specific timezone",
                    "inputSchema": {
                        "type": "object",
                        "properties": {"timezone": {"type": "string", "description": "IANA name"}},
                        "required": ["timezone"]
                    }
                }),
                json!({"name": "get-time", "inputSchema": {"type": "object"}}),
                json!({"name": "get_time", "inputSchema": {"type": "object"}}),
            ],
        )
        .unwrap()
    }

    #[test]
    fn renders_a_complete_crate_with_headers() {
        let rendered = render(&sample_lock()).unwrap();
        for required in [
            "Cargo.toml",
            "Cargo.lock",
            "README.md",
            "mcp.lock.json",
            "openapi.json",
            "src/main.rs",
            "src/tools.rs",
            "mcpo-runtime/Cargo.toml",
            "mcpo-runtime/src/lib.rs",
            "mcpo-runtime/src/codegen.rs",
        ] {
            assert!(
                rendered.files.contains_key(Path::new(required)),
                "missing {required}"
            );
        }
        for (path, text) in &rendered.files {
            let is_json = path.extension().is_some_and(|ext| ext == "json");
            if !is_json {
                assert!(
                    text.lines()
                        .take(3)
                        .any(|line| line.contains(GENERATED_MARKER)),
                    "{} has no @generated header",
                    path.display()
                );
            }
        }
    }

    #[test]
    fn rendering_is_deterministic() {
        assert_eq!(
            render(&sample_lock()).unwrap(),
            render(&sample_lock()).unwrap()
        );
    }

    #[test]
    fn write_then_compare_is_clean_and_detects_edits() {
        let dir = tempfile::tempdir().unwrap();
        let rendered = render(&sample_lock()).unwrap();
        assert!(rendered.write(dir.path(), false).unwrap() > 5);
        assert!(rendered.compare(dir.path()).is_empty());
        assert_eq!(rendered.write(dir.path(), false).unwrap(), 0);

        std::fs::write(dir.path().join("src/tools.rs"), "// edited by hand\n").unwrap();
        std::fs::write(dir.path().join("mcpo-runtime/src/upstream/stale.rs"), "").unwrap();
        // A runtime copy of a crate generated before the runtime library.
        std::fs::create_dir_all(dir.path().join("src/runtime")).unwrap();
        std::fs::write(dir.path().join("src/runtime/mod.rs"), "").unwrap();
        let drift = rendered.compare(dir.path());
        assert_eq!(drift.len(), 3, "{drift:?}");
        rendered.write(dir.path(), false).unwrap();
        assert!(rendered.compare(dir.path()).is_empty());
        assert!(
            !dir.path()
                .join("mcpo-runtime/src/upstream/stale.rs")
                .exists()
        );
        assert!(!dir.path().join("src/runtime/mod.rs").exists());
    }

    #[test]
    fn refuses_to_overwrite_a_crate_it_did_not_generate() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("Cargo.toml"),
            "[package]\nname = \"mine\"\n",
        )
        .unwrap();
        let rendered = render(&sample_lock()).unwrap();
        assert!(matches!(
            rendered.write(dir.path(), false),
            Err(EmitError::NotGenerated { .. })
        ));
        rendered.write(dir.path(), true).unwrap();
    }
}
