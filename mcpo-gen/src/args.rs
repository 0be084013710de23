//! The command line's flags and verbs (clap), and the small conversions
//! from flags to the library's options; `main.rs` dispatches them.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use mcpo_gen::diff::{Format, Level};
use mcpo_gen::lock::{ResourceList, RuntimeSource};
use mcpo_gen::snapshot;

use crate::workflow::{self, ServerType};

#[derive(Parser)]
#[command(
    name = "mcpo-gen",
    version,
    about = "Snapshot an MCP server and emit a typed REST/OpenAPI proxy crate",
    after_help = "Examples:\n  \
        mcpo-gen --out ./time-proxy -- uvx mcp-server-time\n  \
        mcpo-gen --config mcp.json --out ./tools-proxy\n  \
        mcpo-gen --out ./remote-proxy --server-type streamable-http \\\n    \
        --header '{\"Authorization\":\"Bearer t\"}' -- http://127.0.0.1:3001/mcp\n  \
        mcpo-gen generate --lock time-proxy/mcp.lock.json --out ./time-proxy\n  \
        mcpo-gen check generated-examples/*\n  \
        mcpo-gen diff git:HEAD:time-proxy time-proxy --format markdown\n  \
        mcpo-gen update time-proxy\n  \
        mcpo-gen audit generated-examples/*",
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Option<Command>,
    #[command(flatten)]
    pub(crate) new: NewArgs,
}

/// Snapshot a server and generate its proxy crate (the default verb).
#[derive(Args)]
pub(crate) struct NewArgs {
    /// Folder of the generated crate (created if missing).
    #[arg(long, required = true)]
    pub(crate) out: Option<PathBuf>,
    /// A Claude Desktop config (`{"mcpServers": {...}}`, as mcpo reads it):
    /// one crate serving every server under `/NAME`, instead of one server
    /// after `--`.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["server", "headers", "env", "server_type", "oauth"])]
    pub(crate) config: Option<PathBuf>,
    /// An MCP registry entry (`server.json`, a file or an http(s) URL): its
    /// first package mcpo-gen can run, pinned at the entry's version, instead
    /// of a server after `--`.
    #[arg(long, value_name = "FILE_OR_URL", conflicts_with_all = ["server", "config", "headers", "env", "server_type", "oauth", "pin"])]
    pub(crate) from_registry: Option<String>,
    /// With --from-registry: the entry's package N (from 0) instead.
    #[arg(
        long,
        value_name = "N",
        requires = "from_registry",
        conflicts_with = "remote"
    )]
    pub(crate) package: Option<usize>,
    /// With --from-registry: the entry's remote N (from 0) instead.
    #[arg(long, value_name = "N", requires = "from_registry")]
    pub(crate) remote: Option<usize>,
    #[command(flatten)]
    pub(crate) connect: ConnectArgs,
    /// Cargo package name of the crate [default: the --out folder's name].
    #[arg(long)]
    pub(crate) crate_name: Option<String>,
    /// Where the crate gets the runtime library: `vendored` (a copy in the
    /// crate; builds anywhere), `shared:FOLDER` (one copy, relative to the
    /// crate, for several proxies) or `published[:VERSION]` (from crates.io).
    #[arg(long, value_parser = workflow::parse_runtime, default_value = "vendored")]
    pub(crate) runtime: RuntimeSource,
    /// Write even if --out holds a crate mcpo-gen did not generate.
    #[arg(long)]
    pub(crate) force: bool,
    /// OpenAPI `info.title` (mcpo's --name) [default: the server's name;
    /// the crate name for --config].
    #[arg(long, value_name = "TITLE")]
    pub(crate) name: Option<String>,
    /// OpenAPI `info.description` (mcpo's --description) [default: what the
    /// proxy does, then the server's instructions].
    #[arg(long, value_name = "TEXT")]
    pub(crate) description: Option<String>,
    /// OpenAPI `info.version` (mcpo's --version; `--version` prints
    /// mcpo-gen's own) [default: the server's version].
    #[arg(long, value_name = "VERSION")]
    pub(crate) api_version: Option<String>,
    /// Pin the package the server is run from (uvx, pipx run, npx, bunx) at
    /// the version its index serves today, in the launch spec the lock and
    /// the crate record. With --config: each server run from a package.
    #[arg(long)]
    pub(crate) pin: bool,
    /// No progress output.
    #[arg(long, short)]
    pub(crate) quiet: bool,
    /// The server: a command and its arguments (stdio), or a URL.
    #[arg(last = true, required_unless_present_any = ["config", "from_registry"], value_name = "SERVER")]
    pub(crate) server: Vec<String>,
}

#[derive(Args, Clone)]
pub(crate) struct ConnectArgs {
    /// How to reach the server [default: stdio].
    #[arg(long, value_enum)]
    pub(crate) server_type: Option<ServerType>,
    /// Header for HTTP servers: 'Name: value' or a JSON object; repeatable.
    /// Values are never recorded in the lock.
    #[arg(long = "header", value_name = "HEADER")]
    pub(crate) headers: Vec<String>,
    /// Environment variable for a stdio server, KEY=VALUE; repeatable.
    /// Values are never recorded in the lock.
    #[arg(long = "env", value_name = "KEY=VALUE")]
    pub(crate) env: Vec<String>,
    /// Seconds allowed to start the server, initialize and list tools.
    #[arg(long, default_value_t = 60)]
    pub(crate) connect_timeout: u64,
    /// Show the server's stderr while snapshotting.
    #[arg(long)]
    pub(crate) server_logs: bool,
    /// The server's resource list is data that changes by itself: lock only
    /// its resource templates, and let the proxy list and read resources live.
    #[arg(long)]
    pub(crate) live_resources: bool,
    #[command(flatten)]
    pub(crate) oauth: OAuthArgs,
}

/// `mcpo-gen serve`: where the lock comes from, and the proxy's own flags.
#[derive(Args)]
pub(crate) struct ServeArgs {
    /// The lock to serve: a generated crate's folder or its mcp.lock.json.
    #[arg(long, value_name = "DIR_OR_FILE")]
    pub(crate) lock: Option<PathBuf>,
    /// The access policy (an mcp.policy.json) recorded in the snapshot
    /// taken at start, and enforced (a --lock serves the policy it records).
    #[arg(long, value_name = "FILE", conflicts_with = "lock")]
    pub(crate) policy: Option<PathBuf>,
    /// Where the snapshot taken at start is written [default: a file in a
    /// new temporary folder, named in the log].
    #[arg(long, value_name = "FILE", conflicts_with = "lock")]
    pub(crate) lock_out: Option<PathBuf>,
    /// Replace a --lock-out file that differs from this snapshot (it may be
    /// a reviewed lock: without this flag the snapshot is written beside it,
    /// as FILE.new, and nothing is served).
    #[arg(long, requires = "lock_out")]
    pub(crate) force: bool,
    /// Seconds allowed for the snapshot taken at start.
    #[arg(long, default_value_t = 60, conflicts_with = "lock")]
    pub(crate) snapshot_timeout: u64,
    /// The server's resource list is data: the snapshot taken at start locks
    /// only its resource templates, and resources are listed and read live.
    #[arg(long, conflicts_with = "lock")]
    pub(crate) live_resources: bool,
    #[command(flatten)]
    pub(crate) proxy: mcpo_runtime::serve::ProxyArgs,
}

/// OAuth 2.1 for a protected HTTP server (a config gives these in its
/// `oauth` block instead).
#[derive(Args, Clone, Default)]
pub(crate) struct OAuthArgs {
    /// The HTTP server is protected by OAuth 2.1: authorize (`Authorize:
    /// URL` to open, Enter opening it in a browser on a terminal, and the
    /// redirect taken or pasted) when no stored token works; the proxy then
    /// uses the stored token.
    #[arg(long)]
    pub(crate) oauth: bool,
    /// A client id registered with the authorization server beforehand
    /// (default: a Client ID Metadata Document or dynamic registration);
    /// its secret, if any, from env MCPO_OAUTH_CLIENT_SECRET.
    #[arg(long, value_name = "ID", requires = "oauth")]
    pub(crate) oauth_client_id: Option<String>,
    /// Scopes to ask for, space-separated [default: what the server asks for].
    #[arg(long, value_name = "SCOPES", requires = "oauth")]
    pub(crate) oauth_scope: Option<String>,
    /// Loopback port of the redirect (0: any free port).
    #[arg(long, value_name = "PORT", default_value_t = 3030, requires = "oauth")]
    pub(crate) oauth_callback_port: u16,
    /// Where tokens are kept: `file` (~/.mcpo/tokens, or $MCPO_TOKEN_DIR) or
    /// `memory` (this run only).
    #[arg(
        long,
        value_name = "STORAGE",
        default_value = "file",
        requires = "oauth"
    )]
    pub(crate) oauth_storage: String,
    /// The URL OAuth discovery starts from [default: the server URL].
    #[arg(long, value_name = "URL", requires = "oauth")]
    pub(crate) oauth_server_url: Option<String>,
}

impl OAuthArgs {
    pub(crate) fn settings(&self) -> anyhow::Result<Option<workflow::OAuthFlags>> {
        if !self.oauth {
            return Ok(None);
        }
        Ok(Some(workflow::OAuthFlags {
            client_id: self.oauth_client_id.clone(),
            scope: self.oauth_scope.clone(),
            callback_port: self.oauth_callback_port,
            storage: self
                .oauth_storage
                .parse()
                .map_err(|error| anyhow::anyhow!("--oauth-storage {error}"))?,
            server_url: self.oauth_server_url.clone(),
        }))
    }
}

impl ConnectArgs {
    pub(crate) fn options(&self) -> snapshot::Options {
        snapshot::Options {
            connect_timeout: Duration::from_secs(self.connect_timeout),
            echo_server_stderr: self.server_logs,
            resource_list: if self.live_resources {
                ResourceList::Live
            } else {
                ResourceList::Pinned
            },
        }
    }
}

#[derive(Subcommand)]
pub(crate) enum Command {
    /// Generate a crate from a lock file alone (no network).
    Generate {
        /// The mcp.lock.json to generate from.
        #[arg(long)]
        lock: PathBuf,
        /// Folder of the generated crate.
        #[arg(long)]
        out: PathBuf,
        /// Change where the crate gets the runtime library (recorded in the
        /// lock): `vendored`, `shared:FOLDER` or `published[:VERSION]`.
        #[arg(long, value_parser = workflow::parse_runtime)]
        runtime: Option<RuntimeSource>,
        /// Write even if --out holds a crate mcpo-gen did not generate.
        #[arg(long)]
        force: bool,
        #[arg(long, short)]
        quiet: bool,
    },
    /// Check that generated crates match their locks (exit 1 if one does not).
    Check {
        /// Generated crate folders.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// Lines of diff shown per changed file.
        #[arg(long, default_value_t = 40)]
        diff_lines: usize,
        /// Also connect to each upstream and compare its tools with the lock.
        #[arg(long)]
        live: bool,
        #[command(flatten)]
        report: ReportArgs,
        #[arg(long, short)]
        quiet: bool,
    },
    /// Re-snapshot each crate's upstream (secrets from env), regenerate it,
    /// and print the classified changes.
    Update {
        /// Generated crate folders.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// For a multi-server crate: reach its servers as this config says
        /// and apply its disabledTools/enabledTools (default: as the lock
        /// records them, leaving out what it left out).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Bump the upstreams run from a package index (uvx, pipx run,
        /// npx, bunx) to VERSION, or `latest` (the index's newest), in the
        /// launch spec, the lock and the crate.
        #[arg(long, value_name = "VERSION")]
        to: Option<String>,
        #[command(flatten)]
        report: ReportArgs,
        /// Exit 1 when a change reaches this level (default: never).
        #[arg(long, value_name = "LEVEL")]
        fail_on: Option<Level>,
        #[arg(long, short)]
        quiet: bool,
    },
    /// For each upstream run from a package index (PyPI through uvx or
    /// pipx, npm through npx or bunx): its newest release, snapshotted and
    /// classified against the lock like `diff`. Writes nothing (`update
    /// --to` applies a bump).
    Outdated {
        /// Generated crate folders.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// Compare with this version instead of the newest.
        #[arg(long, value_name = "VERSION")]
        to: Option<String>,
        #[command(flatten)]
        report: ReportArgs,
        /// Exit 1 when a change reaches this level: ERR, WARN or INFO.
        #[arg(long, value_name = "LEVEL", default_value = "ERR")]
        fail_on: Level,
        #[arg(long, short)]
        quiet: bool,
    },
    /// Classify the changes between two locks: each a lock file, a crate
    /// folder, `git:REV:PATH`, or `live` (the upstream the other side records).
    Diff {
        old: String,
        new: String,
        #[command(flatten)]
        report: ReportArgs,
        /// Exit 1 when a change reaches this level: ERR, WARN or INFO.
        #[arg(long, value_name = "LEVEL", default_value = "ERR")]
        fail_on: Level,
        #[arg(long, short)]
        quiet: bool,
    },
    /// Flag texts models read that hide something from a reviewer (tool
    /// poisoning): invisible Unicode, instructions aimed at the model,
    /// secrets or private files, oversized or encoded text; with several
    /// locks, a text naming another server's tool (cross-server shadowing).
    /// Also a launch spec that runs a package or image unpinned.
    Audit {
        /// Crate folders or lock files, audited together.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Output format: text, json, markdown (PR comment) or github (workflow annotations).
        #[arg(long, default_value = "text")]
        format: Format,
        /// Exit 1 when a finding reaches this level (every audit rule is WARN).
        #[arg(long, value_name = "LEVEL", default_value = "WARN")]
        fail_on: Level,
    },
    /// Print the table of rules (diff and audit): id, level, meaning.
    Rules,
    /// Run the proxy of a lock at once, without building its crate: the
    /// same routes, documents, validation and status codes. With --lock, a
    /// generated crate's lock; else the --config or the server after `--`
    /// is snapshotted first, into --lock-out. Every flag of a generated
    /// proxy applies.
    Serve(Box<ServeArgs>),
    /// Authorize with an OAuth-protected server ahead of time and store its
    /// tokens (~/.mcpo/tokens, or $MCPO_TOKEN_DIR), so that a proxy started
    /// as a service finds them: server NAME of a --config, or --url.
    Login {
        /// The server's name in the config.
        #[arg(
            required_unless_present = "url",
            conflicts_with = "url",
            requires = "config"
        )]
        name: Option<String>,
        /// The config naming the server (its `oauth` block).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// A single server's URL instead (with the --oauth-* flags).
        #[arg(long, value_name = "URL")]
        url: Option<String>,
        /// The --url server's transport [default: streamable-http].
        #[arg(long, value_enum, requires = "url")]
        server_type: Option<ServerType>,
        /// A client id registered beforehand (secret from env
        /// MCPO_OAUTH_CLIENT_SECRET).
        #[arg(long, value_name = "ID", requires = "url")]
        oauth_client_id: Option<String>,
        /// Scopes to ask for, space-separated.
        #[arg(long, value_name = "SCOPES", requires = "url")]
        oauth_scope: Option<String>,
        /// Loopback port of the redirect (0: any free port).
        #[arg(long, value_name = "PORT", default_value_t = 3030)]
        oauth_callback_port: u16,
        /// `file` or `memory` (memory is for testing the flow only).
        #[arg(long, value_name = "STORAGE", default_value = "file")]
        oauth_storage: String,
        /// The URL OAuth discovery starts from [default: --url].
        #[arg(long, value_name = "URL", requires = "url")]
        oauth_server_url: Option<String>,
        /// Write the tokens to this file (for a service's
        /// --oauth-token-file) instead of the token folder.
        #[arg(long, value_name = "FILE")]
        token_file: Option<PathBuf>,
    },
}

#[derive(Args, Clone)]
pub(crate) struct ReportArgs {
    /// Output format: text, json, markdown (PR comment) or github (workflow annotations).
    #[arg(long, default_value = "text")]
    pub(crate) format: Format,
    /// Seconds allowed to connect and list tools, for live snapshots.
    #[arg(long, default_value_t = 60)]
    pub(crate) connect_timeout: u64,
}

impl ReportArgs {
    pub(crate) fn options(&self) -> snapshot::Options {
        snapshot::Options {
            connect_timeout: Duration::from_secs(self.connect_timeout),
            ..snapshot::Options::default()
        }
    }
}
