//! The `mcpo-gen` command line: verbs dispatched (their flags are in `args`)
//! and exit codes; `workflow` composes the library's stages (`mcpo_gen::snapshot`,
//! `emit`, `diff`, `audit`, `serve`) into verbs.
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

use clap::Parser;
use mcpo_gen::diff::Report;
use mcpo_gen::lock::{ApiInfo, CrateLock, ResourceList};
use mcpo_gen::registry;
use mcpo_gen::snapshot;
mod workflow;

mod args;

use args::{Cli, Command, OAuthArgs, ReportArgs, ServeArgs};
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

/// Prints `report` in the format `args` asks for.
fn print_report(args: &ReportArgs, report: &Report) {
    let format = args.format.with_color(std::io::stdout().is_terminal());
    out!("{}", report.render(format));
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
                print_report(&report, &changes);
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
            print_report(&report, &changes);
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
            print_report(report, &changes);
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
