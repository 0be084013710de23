//! An upstream's OAuth 2.1 settings as the lock records them: nothing
//! secret, so a proxy generated from the lock knows to authorize.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The callback port when none is configured (mcpo's).
pub const DEFAULT_CALLBACK_PORT: u16 = 3030;
/// Fields of `client_metadata` never recorded (they are secrets).
const SECRET_METADATA_FIELDS: &[&str] = &["client_secret", "registration_access_token"];

/// Where tokens are kept.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StorageType {
    /// A file per server under the token folder.
    #[default]
    File,
    /// This process only (lost when it exits).
    Memory,
}

impl std::str::FromStr for StorageType {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "file" => Ok(StorageType::File),
            "memory" => Ok(StorageType::Memory),
            other => Err(format!("{other:?}: expected file or memory")),
        }
    }
}

fn default_callback_port() -> u16 {
    DEFAULT_CALLBACK_PORT
}

fn yes() -> bool {
    true
}

fn is_default_port(port: &u16) -> bool {
    *port == DEFAULT_CALLBACK_PORT
}

fn is_file(storage: &StorageType) -> bool {
    *storage == StorageType::File
}

fn is_true(value: &bool) -> bool {
    *value
}

/// The OAuth settings of an upstream that are not secret: what a config's
/// `oauth` block says, minus `client_secret`, as `mcp.lock.json` records it
/// so that a proxy generated from the lock knows to authorize.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OAuthSettings {
    /// The loopback callback port (`0`: any free one).
    #[serde(
        default = "default_callback_port",
        skip_serializing_if = "is_default_port"
    )]
    pub callback_port: u16,
    /// A pre-registered client id (used before any registration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Client metadata: `client_name`, `scope`, `redirect_uris`,
    /// `client_uri` (a Client ID Metadata Document URL) and the like.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub client_metadata: Map<String, Value>,
    /// Scopes to ask for, space-separated (default: `client_metadata.scope`,
    /// else what the server advertises).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The URL OAuth discovery starts from and tokens are kept for (default:
    /// the upstream URL). May hold `${VAR}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_url: Option<String>,
    /// Where tokens are kept.
    #[serde(default, skip_serializing_if = "is_file")]
    pub storage_type: StorageType,
    /// Listen on the loopback callback (else only a pasted redirect is taken).
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub use_loopback: bool,
}

impl OAuthSettings {
    /// Settings with every default.
    pub fn new() -> Self {
        OAuthSettings {
            callback_port: DEFAULT_CALLBACK_PORT,
            use_loopback: true,
            ..Default::default()
        }
    }

    /// The same settings with secret fields of `client_metadata` left out.
    pub fn without_secrets(mut self) -> Self {
        for field in SECRET_METADATA_FIELDS {
            self.client_metadata.remove(*field);
        }
        self
    }

    /// The scopes to ask for: `scope`, else `client_metadata.scope`.
    pub fn scopes(&self) -> Vec<String> {
        self.scope
            .as_deref()
            .or_else(|| self.client_metadata.get("scope").and_then(Value::as_str))
            .map(|scope| scope.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default()
    }

    pub(crate) fn metadata_text(&self, field: &str) -> Option<String> {
        self.client_metadata
            .get(field)
            .and_then(Value::as_str)
            .map(str::to_string)
    }
}
