//! Lock-vs-lock review: classify every change between two `mcp.lock.json`
//! files as breaking (ERR), warning (WARN) or info (INFO), each with a stable
//! rule id, and render the result for humans, machines and CI.
//!
//! ```no_run
//! use mcpo_gen::diff::{self, Format, Level};
//! # fn main() -> anyhow::Result<()> {
//! let old = diff::load_source(&diff::parse_source("git:HEAD:time-proxy"), || {
//!     Err("live snapshots are not available here".into())
//! })?;
//! let new = mcpo_gen::lock::CrateLock::read("time-proxy/mcp.lock.json".as_ref())?;
//! let report = diff::diff_crate_locks(&old, &new);
//! print!("{}", report.render(Format::Text { color: false }));
//! std::process::exit(if report.fails(Level::Err) { 1 } else { 0 });
//! # }
//! ```
//!
//! The modules: [`rules`] holds the rule registry ([`RULES`]), `classify`
//! the lock/tool level classifier, `surface` the resources, resource
//! templates and prompts, `schema` compares two JSON Schemas structurally,
//! `policy` the crate's access policy, [`report`] renders a [`Report`], and
//! `source` loads a lock from a file, a crate folder, a git revision or a
//! live snapshot.
//!
//! Text that a new lock adds or changes is also run through the
//! tool-poisoning audit ([`crate::audit`]): its findings (hidden Unicode,
//! instructions aimed at the model, secrets, oversized or encoded text) join
//! the report as WARN changes with their own rule ids.

mod classify;
mod policy;
pub mod report;
pub mod rules;
mod schema;
mod source;
mod surface;
mod values;

use std::fmt;
use std::str::FromStr;

use serde::Serialize;
use serde_json::Value;

pub use classify::{diff_crate_locks, diff_locks};
pub use report::Format;
pub use rules::{RULES, Rule};
pub use source::{LiveError, LockSource, SourceError, load_source, load_source_in, parse_source};

/// How serious a change is. Ordered `Info < Warn < Err`, so `--fail-on WARN`
/// is "any change whose level is at least `Warn`".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Nothing a client can notice breaking: additions, relaxations.
    Info,
    /// Needs a human look: descriptions (the tool-poisoning vector),
    /// annotations, versions, changes this tool cannot classify precisely.
    Warn,
    /// Breaking: a request that worked may now fail, or a response a client
    /// relied on may now look different.
    Err,
}

impl Level {
    /// All levels, most severe first.
    pub const ALL: [Level; 3] = [Level::Err, Level::Warn, Level::Info];

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Err => "ERR",
            Level::Warn => "WARN",
            Level::Info => "INFO",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `pad` (not `write_str`) so `{:<4}` aligns columns.
        f.pad(self.as_str())
    }
}

impl Serialize for Level {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown level {0:?}: expected ERR, WARN or INFO")]
pub struct ParseLevelError(String);

impl FromStr for Level {
    type Err = ParseLevelError;

    /// Accepts `ERR|WARN|INFO` in any case, plus the spelled-out
    /// `error|warning` that people type anyway.
    fn from_str(text: &str) -> Result<Self, ParseLevelError> {
        match text.to_ascii_lowercase().as_str() {
            "err" | "error" => Ok(Level::Err),
            "warn" | "warning" => Ok(Level::Warn),
            "info" => Ok(Level::Info),
            _ => Err(ParseLevelError(text.to_string())),
        }
    }
}

/// One classified change.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    /// Stable rule id, e.g. `tool-removed`; see [`RULES`] for the list.
    pub id: &'static str,
    pub level: Level,
    /// The server of a multi-server crate the change belongs to; `None` in
    /// a single-server crate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// The tool the change belongs to; `None` for server-level changes and
    /// for changes of a resource, resource template or prompt.
    pub tool: Option<String>,
    /// The resource, resource template or prompt the change belongs to;
    /// `None` (and left out of JSON) for tool and server-level changes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item: Option<Item>,
    /// JSON pointer into the tool definition (e.g.
    /// `/inputSchema/properties/city/type`) or the item's (e.g.
    /// `/arguments/0/required`), or into the lock for server-level changes
    /// (e.g. `/server/version`).
    pub pointer: Option<String>,
    /// One line for humans; names the property in dotted form.
    pub message: String,
    /// The value before the change (`None` when it did not exist).
    pub old: Option<Value>,
    /// The value after the change (`None` when it no longer exists).
    pub new: Option<Value>,
}

/// What kind of item of a server's surface (besides its tools) a change or
/// finding belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ItemKind {
    /// A prompt (`prompts/list`), keyed by name.
    Prompt,
    /// A resource template (`resources/templates/list`), keyed by name.
    ResourceTemplate,
    /// A resource (`resources/list`), keyed by URI.
    Resource,
}

impl ItemKind {
    /// The word for one item, in messages.
    pub fn noun(self) -> &'static str {
        match self {
            ItemKind::Prompt => "prompt",
            ItemKind::ResourceTemplate => "resource template",
            ItemKind::Resource => "resource",
        }
    }
}

/// A resource, resource template or prompt: `{"kind": "prompt", "key":
/// "greet"}` in JSON.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Item {
    pub kind: ItemKind,
    /// A prompt's or template's name, a resource's URI.
    pub key: String,
}

impl Item {
    pub fn new(kind: ItemKind, key: impl Into<String>) -> Self {
        Item {
            kind,
            key: key.into(),
        }
    }
}

impl fmt::Display for Item {
    /// `prompt `greet``, `resource `text://a``: how messages name it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} `{}`", self.kind.noun(), self.key)
    }
}

impl Change {
    /// True for changes whose old/new values are prose a reviewer must read
    /// in full (descriptions, instructions): renderers show both texts.
    pub fn is_text_change(&self) -> bool {
        rules::TEXT_RULE_IDS.contains(&self.id)
    }
}

/// Counts per level.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub err: usize,
    pub warn: usize,
    pub info: usize,
}

/// Every change between two locks, sorted by server, then tool
/// (server-level changes first, then prompts, resource templates and
/// resources item by item), then most severe first, then pointer, rule id
/// and message, so the same two locks always give the same report.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Report {
    pub changes: Vec<Change>,
}

impl Report {
    pub fn new(mut changes: Vec<Change>) -> Self {
        changes.sort_by(|a, b| {
            a.server
                .cmp(&b.server)
                .then_with(|| a.tool.cmp(&b.tool))
                .then_with(|| a.item.cmp(&b.item))
                .then(b.level.cmp(&a.level))
                .then_with(|| a.pointer.cmp(&b.pointer))
                .then_with(|| a.id.cmp(b.id))
                .then_with(|| a.message.cmp(&b.message))
        });
        changes.dedup();
        Report { changes }
    }

    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// The most severe level present, `None` when nothing changed.
    pub fn max_level(&self) -> Option<Level> {
        self.changes.iter().map(|change| change.level).max()
    }

    /// Whether `--fail-on fail_on` should fail: some change is at least
    /// that severe.
    pub fn fails(&self, fail_on: Level) -> bool {
        self.max_level().is_some_and(|level| level >= fail_on)
    }

    pub fn summary(&self) -> Summary {
        let mut summary = Summary::default();
        for change in &self.changes {
            match change.level {
                Level::Err => summary.err += 1,
                Level::Warn => summary.warn += 1,
                Level::Info => summary.info += 1,
            }
        }
        summary
    }

    pub fn render(&self, format: Format) -> String {
        report::render(self, format, report::Verb::Diff)
    }

    /// Renders the report of `mcpo-gen audit` (its own heading, and "No
    /// findings." when empty).
    pub fn render_audit(&self, format: Format) -> String {
        report::render(self, format, report::Verb::Audit)
    }
}
