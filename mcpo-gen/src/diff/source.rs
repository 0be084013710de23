//! Where a lock comes from: a file, a generated crate folder, a git revision
//! of either, or a live snapshot of the upstream.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::lock::{CrateLock, LOCK_FILE_NAME, LockError};

/// What the `live` side of a diff failed with (any error: the caller
/// snapshots however it likes).
pub type LiveError = Box<dyn std::error::Error + Send + Sync>;

/// Why a lock source could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error("snapshotting the live upstream: {0}")]
    Live(LiveError),
    #[error("git source needs a revision: write git:REV:PATH, e.g. git:HEAD~1:mcp.lock.json")]
    MissingRevision,
    #[error("{spec}: not found in git ({reason})")]
    NotInGit { spec: String, reason: String },
    #[error("{spec}: is a git {kind}, not a file or folder")]
    NotAFile { spec: String, kind: String },
    #[error("running git (is it installed?): {0}")]
    GitMissing(std::io::Error),
    #[error("git {args} failed: {stderr}")]
    Git { args: String, stderr: String },
    #[error("{spec}: the lock in git is not UTF-8")]
    NotUtf8 { spec: String },
    #[error(
        "{spec}: the file in git has {size} bytes, more than any mcp.lock.json \
         ({limit} at most): is it the right path?"
    )]
    TooLarge { spec: String, size: u64, limit: u64 },
}

/// One side of `mcpo-gen diff OLD NEW`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockSource {
    /// A lock file, or a generated crate folder holding `mcp.lock.json`.
    File(PathBuf),
    /// `git:REV:PATH`: PATH (a lock file or crate folder, relative to the
    /// current directory) as of revision REV of the current directory's repo.
    Git { rev: String, path: String },
    /// `live`: snapshot the upstream recorded in the other side's lock.
    Live,
}

/// Parses a source spec: `live`, `git:REV:PATH` (`git:REV` alone means the
/// lock in the current directory at REV), anything else is a path (write
/// `./live` for a file named `live`). The split is at the first `:` after
/// `git:`, so REV can't contain `:` but PATH can.
pub fn parse_source(spec: &str) -> LockSource {
    if spec == "live" {
        return LockSource::Live;
    }
    match spec.strip_prefix("git:") {
        Some(rest) => {
            let (rev, path) = rest.split_once(':').unwrap_or((rest, ""));
            LockSource::Git {
                rev: rev.to_string(),
                path: path.to_string(),
            }
        }
        None => LockSource::File(PathBuf::from(spec)),
    }
}

/// Loads the lock a source names, resolving relative paths (and running git)
/// in the current directory. `live` is called only for [`LockSource::Live`];
/// the CLI passes a closure that snapshots the upstream recorded in the
/// other side's lock.
pub fn load_source(
    source: &LockSource,
    live: impl FnOnce() -> Result<CrateLock, LiveError>,
) -> Result<CrateLock, SourceError> {
    load_source_in(source, Path::new("."), live)
}

/// [`load_source`] relative to `cwd` instead of the current directory.
pub fn load_source_in(
    source: &LockSource,
    cwd: &Path,
    live: impl FnOnce() -> Result<CrateLock, LiveError>,
) -> Result<CrateLock, SourceError> {
    match source {
        LockSource::File(path) => {
            let path = cwd.join(path);
            let path = if path.is_dir() {
                path.join(LOCK_FILE_NAME)
            } else {
                path
            };
            Ok(CrateLock::read(&path)?)
        }
        LockSource::Git { rev, path } => load_from_git(cwd, rev, path),
        LockSource::Live => live().map_err(SourceError::Live),
    }
}

/// Reads `rev:path` from the git repository containing `cwd`. A path naming a
/// tree means the lock file inside it.
fn load_from_git(cwd: &Path, rev: &str, path: &str) -> Result<CrateLock, SourceError> {
    // A revision starting with `-` would be read as an option by git.
    if rev.is_empty() || rev.starts_with('-') {
        return Err(SourceError::MissingRevision);
    }
    let spec = format!("git:{rev}:{path}");
    // `REV:./PATH` is relative to the current directory, as a user typing
    // a path expects; `REV:PATH` would be relative to the repo root.
    let relative = path.trim_start_matches("./").trim_end_matches('/');
    let mut object = if relative.is_empty() || relative == "." {
        format!("{rev}:./")
    } else {
        format!("{rev}:./{relative}")
    };
    let kind = git(cwd, &["cat-file", "-t", &object]).map_err(|error| match error {
        SourceError::Git { stderr, .. } => SourceError::NotInGit {
            spec: spec.clone(),
            reason: stderr,
        },
        other => other,
    })?;
    match kind.trim() {
        "blob" => {}
        "tree" => {
            object = format!("{}/{LOCK_FILE_NAME}", object.trim_end_matches('/'));
        }
        other => {
            return Err(SourceError::NotAFile {
                spec,
                kind: other.to_string(),
            });
        }
    }
    // The size first: a huge blob is refused before it is read.
    let size = git(cwd, &["cat-file", "-s", &object])?;
    let size: u64 = size.trim().parse().unwrap_or(u64::MAX);
    if size > mcpo_runtime::files::LOCK_FILE_LIMIT {
        return Err(SourceError::TooLarge {
            spec,
            size,
            limit: mcpo_runtime::files::LOCK_FILE_LIMIT,
        });
    }
    let text = git(cwd, &["cat-file", "blob", &object]).map_err(|error| match error {
        SourceError::Git { stderr, .. } => SourceError::NotInGit {
            spec: spec.clone(),
            reason: stderr,
        },
        other => other,
    })?;
    Ok(CrateLock::from_json(&text, &spec)?)
}

/// Runs `git ARGS` in `cwd` and returns stdout, or stderr as the error.
fn git(cwd: &Path, args: &[&str]) -> Result<String, SourceError> {
    let output = Command::new("git")
        .args(args)
        .current_dir(cwd)
        .output()
        .map_err(SourceError::GitMissing)?;
    if !output.status.success() {
        return Err(SourceError::Git {
            args: args.join(" "),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        });
    }
    String::from_utf8(output.stdout).map_err(|_| SourceError::NotUtf8 {
        spec: args.join(" "),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_specs() {
        assert_eq!(parse_source("live"), LockSource::Live);
        assert_eq!(
            parse_source("git:HEAD~1:gen/time-proxy"),
            LockSource::Git {
                rev: "HEAD~1".into(),
                path: "gen/time-proxy".into()
            }
        );
        assert_eq!(
            parse_source("git:main"),
            LockSource::Git {
                rev: "main".into(),
                path: String::new()
            }
        );
        assert_eq!(
            parse_source("./live"),
            LockSource::File(PathBuf::from("./live"))
        );
        assert_eq!(
            parse_source("a/mcp.lock.json"),
            LockSource::File(PathBuf::from("a/mcp.lock.json"))
        );
    }

    #[test]
    fn rejects_option_like_revisions() {
        let error = load_from_git(Path::new("."), "--output=/tmp/x", "a").unwrap_err();
        assert!(error.to_string().contains("needs a revision"), "{error}");
        assert!(load_from_git(Path::new("."), "", "a").is_err());
    }

    #[test]
    fn live_is_called_only_for_live() {
        let called = std::cell::Cell::new(false);
        let result = load_source(&LockSource::File("/nonexistent/x.json".into()), || {
            called.set(true);
            Err("no".into())
        });
        assert!(result.is_err());
        assert!(!called.get());
        let error = load_source(&LockSource::Live, || Err("upstream down".into())).unwrap_err();
        assert!(error.to_string().contains("upstream down"), "{error}");
    }
}
