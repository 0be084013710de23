//! Where an upstream's tokens live: a token file (`~/.mcpo/tokens/<key>.json`,
//! or the file a service is pointed at) kept private, or this process's
//! memory; and rmcp's view of it ([`Store`]).

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{LazyLock, Mutex as StdMutex, PoisonError};

use rmcp::transport::auth::{AuthError, CredentialStore, StoredCredentials};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::{MAX_DOCUMENT_BYTES, MAX_DOCUMENT_TEXT, TOKEN_DIR_ENV};

/// The token folder: `$MCPO_TOKEN_DIR`, else `~/.mcpo/tokens`.
pub fn token_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os(TOKEN_DIR_ENV).filter(|dir| !dir.is_empty()) {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
    home.join(".mcpo").join("tokens")
}

/// The file name (without `.json`) of a server's tokens: its host and port
/// (characters other than letters, digits, `.` and `-` as `_`), a `-`, and
/// the first 16 hex digits of the sha256 of the server URL exactly as
/// configured, e.g. `mcp.example.com-3f2a...` or `127.0.0.1_8080-...`.
pub fn token_key(server_url: &str) -> String {
    let authority = server_url
        .split_once("://")
        .map(|(_, rest)| rest.split(['/', '?', '#']).next().unwrap_or(""))
        .unwrap_or("");
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    let mut slug: String = authority
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    if slug.is_empty() {
        slug.push_str("server");
    }
    let digest = hex::encode(Sha256::digest(server_url.as_bytes()));
    format!("{slug}-{}", &digest[..16])
}

/// `<token folder>/<key>.json` for a server URL.
pub fn token_path(server_url: &str) -> PathBuf {
    token_dir().join(format!("{}.json", token_key(server_url)))
}

/// What a token file holds. `Debug` shows no secret.
#[derive(Clone, Serialize, Deserialize)]
pub(super) struct TokenFile {
    /// The server the tokens are for.
    pub(super) server_url: String,
    /// The pre-registered client's secret, for refreshes by a service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) client_secret: Option<String>,
    /// rmcp's credentials: client id, token response, granted scopes.
    pub(super) credentials: StoredCredentials,
    /// Scopes the server asked for in a 403 `insufficient_scope` (step-up)
    /// and not granted yet: the next authorization asks for them too.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(super) pending_scopes: Vec<String>,
}

impl std::fmt::Debug for TokenFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenFile")
            .field("server_url", &self.server_url)
            .field("client_secret", &self.client_secret.as_ref().map(|_| "***"))
            .field("credentials", &self.credentials)
            .field("pending_scopes", &self.pending_scopes)
            .finish()
    }
}

/// Tokens of this process's memory stores, by token key.
static MEMORY: LazyLock<StdMutex<HashMap<String, TokenFile>>> =
    LazyLock::new(|| StdMutex::new(HashMap::new()));

/// A credential store for rmcp: a token file or this process's memory.
#[derive(Debug, Clone)]
pub(super) enum TokenStore {
    File(PathBuf),
    Memory(String),
}

impl TokenStore {
    pub(super) fn read(&self) -> Result<Option<TokenFile>, AuthError> {
        match self {
            TokenStore::Memory(key) => Ok(MEMORY
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get(key)
                .cloned()),
            TokenStore::File(path) => match self.secure().and_then(|()| read_capped(path)) {
                Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|error| {
                    AuthError::CredentialStoreError(format!(
                        "{} is not a token file: {error}",
                        path.display()
                    ))
                }),
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(error) if error.kind() == std::io::ErrorKind::PermissionDenied => {
                    Err(AuthError::CredentialStoreError(error.to_string()))
                }
                Err(error) => Err(AuthError::CredentialStoreError(format!(
                    "cannot read {}: {error}",
                    path.display()
                ))),
            },
        }
    }

    /// For a token file: its folder (when it is the token folder) and the
    /// file, when they exist, private: open to others and ours, they are
    /// made 0700 / 0600 (and a warning says so); open to others and someone
    /// else's, they are refused (like ssh's StrictModes).
    pub(super) fn secure(&self) -> std::io::Result<()> {
        let TokenStore::File(path) = self else {
            return Ok(());
        };
        if let Some(dir) = path.parent()
            && dir == token_dir()
        {
            make_private(dir, 0o700)?;
        }
        make_private(path, 0o600)
    }

    pub(super) fn write(&self, file: &TokenFile) -> Result<(), AuthError> {
        match self {
            TokenStore::Memory(key) => {
                MEMORY
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(key.clone(), file.clone());
                Ok(())
            }
            TokenStore::File(path) => self
                .secure()
                .and_then(|()| write_private(path, file))
                .map_err(|error| {
                    if error.kind() == std::io::ErrorKind::PermissionDenied {
                        AuthError::CredentialStoreError(error.to_string())
                    } else {
                        AuthError::CredentialStoreError(format!(
                            "cannot write {}: {error}",
                            path.display()
                        ))
                    }
                }),
        }
    }

    pub(super) fn remove(&self) -> Result<(), AuthError> {
        match self {
            TokenStore::Memory(key) => {
                MEMORY
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .remove(key);
                Ok(())
            }
            TokenStore::File(path) => match std::fs::remove_file(path) {
                Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                    Err(AuthError::CredentialStoreError(format!(
                        "cannot remove {}: {error}",
                        path.display()
                    )))
                }
                _ => Ok(()),
            },
        }
    }
}

/// The bytes of a token file, at most [`MAX_DOCUMENT_BYTES`].
fn read_capped(path: &Path) -> std::io::Result<Vec<u8>> {
    crate::files::read_capped(path, MAX_DOCUMENT_BYTES).map_err(|error| {
        if error.kind() == std::io::ErrorKind::InvalidData {
            std::io::Error::other(format!("the token file is larger than {MAX_DOCUMENT_TEXT}"))
        } else {
            error
        }
    })
}

/// Says `text` on stderr, and in the log when there is one (a proxy's).
fn warn(text: &str) {
    if tracing::dispatcher::has_been_set() {
        tracing::warn!("{text}");
    } else {
        eprintln!("warning: {text}");
    }
}

/// `path` (when it exists) not open to group or others: made `mode` when
/// it is the user's own, refused (a `PermissionDenied` error saying why)
/// when it is someone else's.
#[cfg(unix)]
pub(super) fn make_private(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
    let metadata = match std::fs::metadata(path) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(error),
    };
    let current = metadata.mode() & 0o7777;
    if current & 0o077 == 0 {
        return Ok(());
    }
    let (what, remedy) = if metadata.is_dir() {
        (
            "token folder",
            format!("make it yours and 0700, or set {TOKEN_DIR_ENV} to another folder"),
        )
    } else {
        ("token file", "make it yours and 0600".to_string())
    };
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    if metadata.uid() != me {
        return Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            format!(
                "refusing the {what} {}: it is open to other users (mode {current:04o}) and \
                 owned by uid {}, not by you (uid {me}); {remedy}",
                path.display(),
                metadata.uid()
            ),
        ));
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    warn(&format!(
        "the {what} {} was open to other users (mode {current:04o}); made it {mode:04o}",
        path.display()
    ));
    Ok(())
}

#[cfg(not(unix))]
pub(super) fn make_private(_path: &Path, _mode: u32) -> std::io::Result<()> {
    Ok(())
}

/// Writes `file` as JSON to `path`, atomically (a temporary file renamed
/// over it), the folder created 0700 and the file 0600.
fn write_private(path: &Path, file: &TokenFile) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !dir.exists() {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(dir)?;
        #[cfg(unix)]
        std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o700))?;
    }
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| "token".into());
    let temporary = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = (|| {
        let mut out = options.open(&temporary)?;
        #[cfg(unix)]
        out.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
        let body = serde_json::to_vec_pretty(file).map_err(std::io::Error::other)?;
        out.write_all(&body)?;
        out.write_all(b"\n")?;
        out.sync_all()?;
        std::fs::rename(&temporary, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written
}

/// rmcp's view of a [`TokenStore`] for one server.
pub(super) struct Store {
    pub(super) store: TokenStore,
    pub(super) server_url: String,
    pub(super) client_secret: Option<String>,
}

type StoreFuture<'a, T> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, AuthError>> + Send + 'a>>;

// rmcp declares the trait with `async_trait`; these are its desugared forms.
impl CredentialStore for Store {
    fn load<'a, 'b>(&'a self) -> StoreFuture<'b, Option<StoredCredentials>>
    where
        'a: 'b,
    {
        Box::pin(async move { Ok(self.store.read()?.map(|file| file.credentials)) })
    }

    fn save<'a, 'b>(&'a self, credentials: StoredCredentials) -> StoreFuture<'b, ()>
    where
        'a: 'b,
    {
        Box::pin(async move {
            let previous = self.store.read().ok().flatten();
            // A refresh keeps the secret the file was written with.
            let client_secret = self.client_secret.clone().or_else(|| {
                previous
                    .as_ref()
                    .and_then(|file| file.client_secret.clone())
            });
            // Pending scopes last until a grant includes them.
            let pending_scopes = previous
                .map(|file| still_pending(file.pending_scopes, &credentials.granted_scopes))
                .unwrap_or_default();
            self.store.write(&TokenFile {
                server_url: self.server_url.clone(),
                client_secret,
                credentials,
                pending_scopes,
            })
        })
    }

    fn clear<'a, 'b>(&'a self) -> StoreFuture<'b, ()>
    where
        'a: 'b,
    {
        Box::pin(async move { self.store.remove() })
    }
}

/// `pending` without the scopes `granted` now holds.
fn still_pending(pending: Vec<String>, granted: &[String]) -> Vec<String> {
    pending
        .into_iter()
        .filter(|scope| !granted.contains(scope))
        .collect()
}
