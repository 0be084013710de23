//! The `mcpo-gen` command line: flag parsing and exit codes; `workflow`
//! composes the library's stages (`mcpo_gen::snapshot`, `emit`, `diff`,
//! `audit`, `serve`) into verbs.
//!
//! Exit codes: 0 success / up to date, 1 needs attention (check found
//! drift, diff crossed `--fail-on`), 2 error.
//!
//! Reports go to standard output through [`out!`] / [`outln!`], never
//! `print!` (which panics on a closed pipe): when the reader goes away
//! (`mcpo-gen diff A B | head`), the rest of the output is dropped quietly
//! and the verb still finishes with its own exit code.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use std::io::IsTerminal;

use clap::{Args, Parser, Subcommand};
use mcpo_gen::diff::{Format, Level, Report};
use mcpo_gen::lock::{ApiInfo, CrateLock, ResourceList, RuntimeSource};
use mcpo_gen::registry;
use mcpo_gen::snapshot;
mod workflow;

use workflow::{Progress, ServerType};

/// Standard output that a reader going away does not break.
mod stdout {
    use std::fmt;
    use std::io::{self, Write as _};
    use std::sync::atomic::{AtomicU8, Ordering};

    const OPEN: u8 = 0;
    /// The reader closed the pipe: nothing more is written, and that is fine.
    const CLOSED: u8 = 1;
    /// Any other write error (a full disk): reported once, exit code 2.
    const FAILED: u8 = 2;
    static STATE: AtomicU8 = AtomicU8::new(OPEN);

    /// Writes and flushes `text`, unless standard output is closed or failed.
    pub fn write(text: fmt::Arguments<'_>) {
        if STATE.load(Ordering::Relaxed) != OPEN {
            return;
        }
        let mut out = io::stdout().lock();
        if let Err(error) = out.write_fmt(text).and_then(|()| out.flush()) {
            if error.kind() == io::ErrorKind::BrokenPipe {
                STATE.store(CLOSED, Ordering::Relaxed);
            } else {
                STATE.store(FAILED, Ordering::Relaxed);
                eprintln!("error: writing the standard output: {error}");
            }
        }
    }

    /// Whether a write failed for another reason than a closed pipe.
    pub fn failed() -> bool {
        STATE.load(Ordering::Relaxed) == FAILED
    }
}

/// `print!` to [`stdout::write`].
macro_rules! out {
    ($($arg:tt)*) => {
        stdout::write(format_args!($($arg)*))
    };
}

/// `println!` to [`stdout::write`].
macro_rules! outln {
    ($($arg:tt)*) => {
        stdout::write(format_args!("{}\n", format_args!($($arg)*)))
    };
}

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
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    new: NewArgs,
}

/// Snapshot a server and generate its proxy crate (the default verb).
#[derive(Args)]
struct NewArgs {
    /// Folder of the generated crate (created if missing).
    #[arg(long, required = true)]
    out: Option<PathBuf>,
    /// A Claude Desktop config (`{"mcpServers": {...}}`, as mcpo reads it):
    /// one crate serving every server under `/NAME`, instead of one server
    /// after `--`.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["server", "headers", "env", "server_type", "oauth"])]
    config: Option<PathBuf>,
    /// An MCP registry entry (`server.json`, a file or an http(s) URL): its
    /// first package mcpo-gen can run, pinned at the entry's version, instead
    /// of a server after `--`.
    #[arg(long, value_name = "FILE_OR_URL", conflicts_with_all = ["server", "config", "headers", "env", "server_type", "oauth", "pin"])]
    from_registry: Option<String>,
    /// With --from-registry: the entry's package N (from 0) instead.
    #[arg(
        long,
        value_name = "N",
        requires = "from_registry",
        conflicts_with = "remote"
    )]
    package: Option<usize>,
    /// With --from-registry: the entry's remote N (from 0) instead.
    #[arg(long, value_name = "N", requires = "from_registry")]
    remote: Option<usize>,
    #[command(flatten)]
    connect: ConnectArgs,
    /// Cargo package name of the crate [default: the --out folder's name].
    #[arg(long)]
    crate_name: Option<String>,
    /// Where the crate gets the runtime library: `vendored` (a copy in the
    /// crate; builds anywhere), `shared:FOLDER` (one copy, relative to the
    /// crate, for several proxies) or `published[:VERSION]` (from crates.io).
    #[arg(long, value_parser = workflow::parse_runtime, default_value = "vendored")]
    runtime: RuntimeSource,
    /// Write even if --out holds a crate mcpo-gen did not generate.
    #[arg(long)]
    force: bool,
    /// OpenAPI `info.title` (mcpo's --name) [default: the server's name;
    /// the crate name for --config].
    #[arg(long, value_name = "TITLE")]
    name: Option<String>,
    /// OpenAPI `info.description` (mcpo's --description) [default: what the
    /// proxy does, then the server's instructions].
    #[arg(long, value_name = "TEXT")]
    description: Option<String>,
    /// OpenAPI `info.version` (mcpo's --version; `--version` prints
    /// mcpo-gen's own) [default: the server's version].
    #[arg(long, value_name = "VERSION")]
    api_version: Option<String>,
    /// Pin the package the server is run from (uvx, pipx run, npx, bunx) at
    /// the version its index serves today, in the launch spec the lock and
    /// the crate record. With --config: each server run from a package.
    #[arg(long)]
    pin: bool,
    /// No progress output.
    #[arg(long, short)]
    quiet: bool,
    /// The server: a command and its arguments (stdio), or a URL.
    #[arg(last = true, required_unless_present_any = ["config", "from_registry"], value_name = "SERVER")]
    server: Vec<String>,
}

#[derive(Args, Clone)]
struct ConnectArgs {
    /// How to reach the server [default: stdio].
    #[arg(long, value_enum)]
    server_type: Option<ServerType>,
    /// Header for HTTP servers: 'Name: value' or a JSON object; repeatable.
    /// Values are never recorded in the lock.
    #[arg(long = "header", value_name = "HEADER")]
    headers: Vec<String>,
    /// Environment variable for a stdio server, KEY=VALUE; repeatable.
    /// Values are never recorded in the lock.
    #[arg(long = "env", value_name = "KEY=VALUE")]
    env: Vec<String>,
    /// Seconds allowed to start the server, initialize and list tools.
    #[arg(long, default_value_t = 60)]
    connect_timeout: u64,
    /// Show the server's stderr while snapshotting.
    #[arg(long)]
    server_logs: bool,
    /// The server's resource list is data that changes by itself: lock only
    /// its resource templates, and let the proxy list and read resources live.
    #[arg(long)]
    live_resources: bool,
    #[command(flatten)]
    oauth: OAuthArgs,
}

/// `mcpo-gen serve`: where the lock comes from, and the proxy's own flags.
#[derive(Args)]
struct ServeArgs {
    /// The lock to serve: a generated crate's folder or its mcp.lock.json.
    #[arg(long, value_name = "DIR_OR_FILE")]
    lock: Option<PathBuf>,
    /// The access policy (an mcp.policy.json) recorded in the snapshot
    /// taken at start, and enforced (a --lock serves the policy it records).
    #[arg(long, value_name = "FILE", conflicts_with = "lock")]
    policy: Option<PathBuf>,
    /// Where the snapshot taken at start is written [default: a file in a
    /// new temporary folder, named in the log].
    #[arg(long, value_name = "FILE", conflicts_with = "lock")]
    lock_out: Option<PathBuf>,
    /// Replace a --lock-out file that differs from this snapshot (it may be
    /// a reviewed lock: without this flag the snapshot is written beside it,
    /// as FILE.new, and nothing is served).
    #[arg(long, requires = "lock_out")]
    force: bool,
    /// Seconds allowed for the snapshot taken at start.
    #[arg(long, default_value_t = 60, conflicts_with = "lock")]
    snapshot_timeout: u64,
    /// The server's resource list is data: the snapshot taken at start locks
    /// only its resource templates, and resources are listed and read live.
    #[arg(long, conflicts_with = "lock")]
    live_resources: bool,
    #[command(flatten)]
    proxy: mcpo_runtime::serve::ProxyArgs,
}

/// OAuth 2.1 for a protected HTTP server (a config gives these in its
/// `oauth` block instead).
#[derive(Args, Clone, Default)]
struct OAuthArgs {
    /// The HTTP server is protected by OAuth 2.1: authorize (`Authorize:
    /// URL` to open, Enter opening it in a browser on a terminal, and the
    /// redirect taken or pasted) when no stored token works; the proxy then
    /// uses the stored token.
    #[arg(long)]
    oauth: bool,
    /// A client id registered with the authorization server beforehand
    /// (default: a Client ID Metadata Document or dynamic registration);
    /// its secret, if any, from env MCPO_OAUTH_CLIENT_SECRET.
    #[arg(long, value_name = "ID", requires = "oauth")]
    oauth_client_id: Option<String>,
    /// Scopes to ask for, space-separated [default: what the server asks for].
    #[arg(long, value_name = "SCOPES", requires = "oauth")]
    oauth_scope: Option<String>,
    /// Loopback port of the redirect (0: any free port).
    #[arg(long, value_name = "PORT", default_value_t = 3030, requires = "oauth")]
    oauth_callback_port: u16,
    /// Where tokens are kept: `file` (~/.mcpo/tokens, or $MCPO_TOKEN_DIR) or
    /// `memory` (this run only).
    #[arg(
        long,
        value_name = "STORAGE",
        default_value = "file",
        requires = "oauth"
    )]
    oauth_storage: String,
    /// The URL OAuth discovery starts from [default: the server URL].
    #[arg(long, value_name = "URL", requires = "oauth")]
    oauth_server_url: Option<String>,
}

impl OAuthArgs {
    fn settings(&self) -> anyhow::Result<Option<workflow::OAuthFlags>> {
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
    fn options(&self) -> snapshot::Options {
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
enum Command {
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
struct ReportArgs {
    /// Output format: text, json, markdown (PR comment) or github (workflow annotations).
    #[arg(long, default_value = "text")]
    format: Format,
    /// Seconds allowed to connect and list tools, for live snapshots.
    #[arg(long, default_value_t = 60)]
    connect_timeout: u64,
}

impl ReportArgs {
    fn options(&self) -> snapshot::Options {
        snapshot::Options {
            connect_timeout: Duration::from_secs(self.connect_timeout),
            ..snapshot::Options::default()
        }
    }

    fn print(&self, report: &Report) {
        let format = self.format.with_color(std::io::stdout().is_terminal());
        out!("{}", report.render(format));
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        None => {
            let args = cli.new;
            let progress = Progress { quiet: args.quiet };
            let out = args.out.expect("clap requires --out");
            let crate_name = args
                .crate_name
                .clone()
                .or_else(|| workflow::default_crate_name(&out));
            let mut lock = match (&args.config, &args.from_registry) {
                (Some(config), _) => CrateLock::Multi(workflow::snapshot_config(
                    config,
                    &args.connect.options(),
                    crate_name.as_deref(),
                    args.pin,
                    progress,
                )?),
                (None, Some(entry)) => {
                    let choice = match (args.package, args.remote) {
                        (Some(index), _) => registry::Choice::Package(index),
                        (None, Some(index)) => registry::Choice::Remote(index),
                        (None, None) => registry::Choice::First,
                    };
                    CrateLock::Single(workflow::snapshot_registry_entry(
                        entry,
                        choice,
                        &args.connect.options(),
                        crate_name.as_deref(),
                        progress,
                    )?)
                }
                (None, None) => {
                    let mut target = workflow::target(
                        args.connect.server_type.unwrap_or(ServerType::Stdio),
                        &args.server,
                        workflow::parse_headers(&args.connect.headers)?,
                        workflow::parse_env(&args.connect.env)?,
                        args.connect.oauth.settings()?,
                    )?;
                    if args.pin {
                        workflow::pin(&mut target, progress)?;
                    }
                    // Shown even with --quiet: the lock would keep these for good.
                    for warning in workflow::launch_warnings(&target, true) {
                        eprintln!("warning: {warning}");
                    }
                    CrateLock::Single(workflow::snapshot(
                        &target,
                        &args.connect.options(),
                        crate_name.as_deref(),
                        progress,
                    )?)
                }
            };
            let mut proxy_crate = lock.proxy_crate().clone();
            proxy_crate.runtime = args.runtime;
            proxy_crate.info = ApiInfo {
                title: args.name,
                description: args.description,
                version: args.api_version,
            };
            lock.set_proxy_crate(proxy_crate);
            workflow::generate(&lock, &out, args.force, progress)?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Generate {
            lock,
            out,
            runtime,
            force,
            quiet,
        }) => {
            let mut lock = workflow::read_lock(&lock)?;
            if let Some(runtime) = runtime {
                let mut proxy_crate = lock.proxy_crate().clone();
                proxy_crate.runtime = runtime;
                lock.set_proxy_crate(proxy_crate);
            }
            workflow::generate(&lock, &out, force, Progress { quiet })?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Check {
            dirs,
            diff_lines,
            live,
            report,
            quiet,
        }) => {
            let progress = Progress { quiet };
            Ok(each_folder(&dirs, |dir| {
                check_one(dir, live, diff_lines, &report, progress)
            }))
        }
        Some(Command::Update {
            dirs,
            config,
            to,
            report,
            fail_on,
            quiet,
        }) => {
            let progress = Progress { quiet };
            Ok(each_folder(&dirs, |dir| {
                let changes = workflow::update(
                    dir,
                    config.as_deref(),
                    to.as_deref(),
                    &report.options(),
                    progress,
                )?;
                report.print(&changes);
                Ok(fail_on.is_some_and(|level| changes.fails(level)))
            }))
        }
        Some(Command::Outdated {
            dirs,
            to,
            report,
            fail_on,
            quiet,
        }) => {
            let progress = Progress { quiet };
            Ok(each_folder(&dirs, |dir| {
                let lock = workflow::read_lock(dir)?;
                let found =
                    workflow::outdated::outdated(&lock, to.as_deref(), &report.options(), progress)
                        .map_err(|error| error.context(dir.display().to_string()))?;
                let format = report.format.with_color(std::io::stdout().is_terminal());
                let text = found.render(&workflow::audit_label(dir), format);
                out!("{}", text);
                if !text.ends_with('\n') {
                    outln!("");
                }
                Ok(found.report.fails(fail_on))
            }))
        }
        Some(Command::Diff {
            old,
            new,
            report,
            fail_on,
            quiet,
        }) => {
            let changes = workflow::diff(&old, &new, &report.options(), Progress { quiet })?;
            report.print(&changes);
            Ok(exit_code(changes.fails(fail_on)))
        }
        Some(Command::Audit {
            paths,
            format,
            fail_on,
        }) => {
            let mut locks = Vec::new();
            let mut unreadable = Vec::new();
            for path in &paths {
                match workflow::read_lock(path) {
                    Ok(lock) => {
                        let label = workflow::audit_label(path);
                        for (server, lock) in lock.servers() {
                            let label = match server {
                                Some(server) => format!("{label}/{server}"),
                                None => label.clone(),
                            };
                            locks.push((label, lock.clone()));
                        }
                    }
                    Err(error) => unreadable.push(error),
                }
            }
            // A report of the others would look clean, and cross-server
            // shadowing needs every server: no report at all.
            if !unreadable.is_empty() {
                for error in &unreadable {
                    // The lock error names the file and the cause already.
                    eprintln!("error: {error}");
                }
                eprintln!(
                    "no audit was made: give `mcpo-gen audit` generated crate folders or their \
                     mcp.lock.json files; a missing lock is made by generating the crate \
                     (`mcpo-gen --out DIR -- SERVER...`), a damaged one is restored from version \
                     control or regenerated"
                );
                return Ok(ExitCode::from(2));
            }
            let findings = mcpo_gen::audit::audit_locks(&locks);
            let format = format.with_color(std::io::stdout().is_terminal());
            out!("{}", findings.render_audit(format));
            Ok(exit_code(findings.fails(fail_on)))
        }
        Some(Command::Login {
            name,
            config,
            url,
            server_type,
            oauth_client_id,
            oauth_scope,
            oauth_callback_port,
            oauth_storage,
            oauth_server_url,
            token_file,
        }) => {
            let mut target = match (name, config, url) {
                (Some(name), Some(config), _) => workflow::config_target(&config, &name)?,
                (_, _, Some(url)) => {
                    let flags = OAuthArgs {
                        oauth: true,
                        oauth_client_id,
                        oauth_scope,
                        oauth_callback_port,
                        oauth_storage,
                        oauth_server_url,
                    };
                    workflow::target(
                        server_type.unwrap_or(ServerType::StreamableHttp),
                        &[url],
                        Default::default(),
                        Default::default(),
                        flags.settings()?,
                    )?
                }
                _ => anyhow::bail!("name a server of a --config, or give --url"),
            };
            workflow::login(&mut target, token_file)?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Serve(args)) => serve(*args),
        Some(Command::Rules) => {
            out!("{}", mcpo_gen::diff::report::rules_markdown());
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `check` of one crate folder, printing what is stale; true when stale.
fn check_one(
    dir: &std::path::Path,
    live: bool,
    diff_lines: usize,
    report: &ReportArgs,
    progress: Progress,
) -> anyhow::Result<bool> {
    let mut stale = false;
    if live {
        let changes = workflow::live_drift(dir, &report.options(), progress)?;
        if !changes.is_empty() {
            stale = true;
            outln!(
                "{}: the live upstream differs from mcp.lock.json:",
                dir.display()
            );
            report.print(&changes);
        }
    }
    let drift = workflow::check(dir)?;
    if drift.is_empty() {
        progress.say(format_args!("{}: up to date", dir.display()));
        return Ok(stale);
    }
    outln!(
        "{}: needs regeneration ({} file{}):",
        dir.display(),
        drift.len(),
        if drift.len() == 1 { "" } else { "s" }
    );
    for file in &drift {
        outln!("{}", workflow::drift_summary(file, diff_lines));
    }
    outln!(
        "fix: mcpo-gen generate --lock {} --out {}",
        dir.join(mcpo_gen::lock::LOCK_FILE_NAME).display(),
        dir.display()
    );
    Ok(true)
}

/// Runs `verb` on every folder, even after one fails, so CI sees them all:
/// exit 2 if any failed, else 1 if any needs attention, else 0.
fn each_folder(
    dirs: &[PathBuf],
    mut verb: impl FnMut(&std::path::Path) -> anyhow::Result<bool>,
) -> ExitCode {
    let (mut attention, mut failed) = (false, false);
    for dir in dirs {
        match verb(dir) {
            Ok(needs_attention) => attention |= needs_attention,
            Err(error) => {
                eprintln!("error: {error:#}");
                failed = true;
            }
        }
    }
    if failed {
        ExitCode::from(2)
    } else {
        exit_code(attention)
    }
}

/// 1 when the verb found something that needs attention, else 0.
fn exit_code(needs_attention: bool) -> ExitCode {
    if needs_attention {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// `mcpo-gen serve`: the lock (read, or snapshotted now), then the proxy.
fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let progress = Progress {
        quiet: args.proxy.quiet,
    };
    // A policy file that cannot be read fails before the snapshot.
    let policy = args
        .policy
        .as_deref()
        .map(workflow::policy::read_policy_file)
        .transpose()?;
    let (lock, snapshotted) = match &args.lock {
        Some(path) => (mcpo_gen::serve::read_lock(path)?, false),
        None => {
            let options = snapshot::Options {
                connect_timeout: Duration::from_secs(args.snapshot_timeout),
                resource_list: if args.live_resources {
                    ResourceList::Live
                } else {
                    ResourceList::Pinned
                },
                ..snapshot::Options::default()
            };
            let lock = match (&args.proxy.config, args.proxy.upstream.as_slice()) {
                (Some(config), []) => CrateLock::Multi(workflow::snapshot_config(
                    config, &options, None, false, progress,
                )?),
                (None, server @ [first, ..]) => {
                    // A URL is a streamable-HTTP server, as a proxy reads it.
                    let is_url = first.starts_with("http://") || first.starts_with("https://");
                    let server_type = args.proxy.server_type.unwrap_or(if is_url {
                        ServerType::StreamableHttp
                    } else {
                        ServerType::Stdio
                    });
                    let target = workflow::target(
                        server_type,
                        server,
                        workflow::parse_headers(&args.proxy.headers)?,
                        Default::default(),
                        None,
                    )?;
                    for warning in workflow::launch_warnings(&target, false) {
                        eprintln!("warning: {warning}");
                    }
                    CrateLock::Single(workflow::snapshot(&target, &options, None, progress)?)
                }
                _ => anyhow::bail!(
                    "say what to serve: --lock DIR_OR_FILE (a generated crate's lock), \
                     --config mcp.json, or the server after `--` (a command, or a URL)"
                ),
            };
            let (lock, warnings) = workflow::policy::recorded(&lock, policy)?;
            for warning in warnings {
                eprintln!("warning: {warning}");
            }
            (lock, true)
        }
    };
    // Rendered once: the lock written is the one served, byte for byte.
    let source = mcpo_gen::serve::source(&lock)?;
    if snapshotted {
        workflow::write_served_lock(
            args.lock_out.as_deref(),
            &source.lock_json,
            args.force,
            progress,
        )?;
    }
    Ok(mcpo_runtime::serve::run(args.proxy, source))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(_) if stdout::failed() => ExitCode::from(2),
        Ok(code) => code,
        Err(error) => {
            // A transport error may quote a URL holding a `${VAR}` value.
            let text = format!("{error:#}");
            eprintln!("error: {}", mcpo_runtime::redact::redact(&text));
            ExitCode::from(2)
        }
    }
}
