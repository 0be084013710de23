//! The proxy process: flags and lock in, upstream supervisor and HTTP server
//! up, until SIGINT/SIGTERM.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser as _;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use crate::app::{self, App};
use crate::config::{Config, ServerEntry};
use crate::gateway::{Gateway, McpEndpoints};
use crate::host_check::{self, AllowedHosts};
use crate::limits::Limiter;
use crate::listener::{self, ConnectionLimits};
use crate::lock::{CrateLock, Lock, Upstream};
use crate::metrics::MetricsRegistry;
use crate::pool::PoolSlot;
use crate::served::{self, Served, ServedParts};
use crate::upstream::ConnectOptions;
use crate::upstream::Target;
use crate::{auth, cli, server, supervisor, telemetry, validate};

/// File descriptors kept out of `--max-connections`'s default: the upstream's
/// pipes or sockets, the listener, logs.
const FILE_DESCRIPTOR_RESERVE: usize = 64;

/// How long shutdown waits for the upstream to close (after the drain)
/// before the process exits anyway.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Runs the proxy until SIGINT/SIGTERM. Exit code 0 after a clean shutdown,
/// 2 for bad flags, 1 for any other startup failure.
pub fn main(source: ProxySource) -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            // --help and --version land here too, with exit code 0.
            let _ = error.print();
            return ExitCode::from(u8::try_from(error.exit_code()).unwrap_or(2));
        }
    };
    run_proxy(cli, source)
}

/// What a proxy serves: a compiled crate's embedded lock, documents and
/// generated routes, or (`mcpo-gen serve`) the same built at run time from
/// a lock.
pub struct ProxySource {
    /// `clientInfo.name` towards the upstream.
    pub crate_name: String,
    /// `clientInfo.version` towards the upstream.
    pub crate_version: String,
    /// `mcp.lock.json`.
    pub lock_json: String,
    /// The whole document (`openapi.json`).
    pub openapi_json: String,
    /// Each server: one, named `""`, for a single-server lock.
    pub servers: Vec<ServerSource>,
}

/// One server of a [`ProxySource`].
pub struct ServerSource {
    /// Its name in the lock and URL prefix; `""` at the root.
    pub name: String,
    /// Its own document.
    pub openapi_json: String,
    /// Its tool routes.
    pub routes: axum::Router<App>,
}

/// Runs the proxy of `source` with parsed flags until SIGINT/SIGTERM.
pub fn run_proxy(cli: cli::Cli, source: ProxySource) -> ExitCode {
    if let Err(error) = cli::check_flags(&cli, &|name| std::env::var(name).ok()) {
        eprintln!("error: {error}");
        return ExitCode::from(2);
    }
    // Before the async runtime: the exporter's blocking client runs its own.
    let telemetry =
        match telemetry::Telemetry::start(cli.otel_endpoint.as_deref(), &source.crate_name) {
            Ok(telemetry) => telemetry,
            Err(error) => {
                eprintln!("error: {error}");
                return ExitCode::from(2);
            }
        };
    init_tracing(cli.quiet, cli.log_level, telemetry.layer());
    telemetry.log_state();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cli.worker_threads.unwrap_or_else(default_worker_threads))
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(run(cli, source));
    // Do not wait for blocked tasks (a stuck upstream read) on the way out.
    runtime.shutdown_timeout(Duration::from_secs(1));
    // After the drain: every call's span has ended; send what is buffered.
    telemetry.shutdown();
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Half the CPUs this process may use, at least one.
fn default_worker_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |cpus| (cpus.get() / 2).max(1))
}

fn init_tracing(quiet: bool, log_level: Option<&str>, telemetry: Option<telemetry::Layer>) {
    use tracing_subscriber::{
        EnvFilter, Layer as _, layer::SubscriberExt as _, util::SubscriberInitExt as _,
    };
    // rmcp logs every session start at info; keep the proxy's own lines readable.
    let default_filter = match log_level {
        Some("trace" | "debug") => log_level.unwrap_or("debug").to_string(),
        Some(level) => format!("{level},rmcp=warn"),
        None if quiet => "warn".to_string(),
        None => "info,rmcp=warn".to_string(),
    };
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&default_filter));
    use std::io::IsTerminal as _;
    let colors = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let log = tracing_subscriber::fmt::layer()
        // Every line through `redact`: rmcp and HTTP errors quote URLs.
        .with_writer(crate::redact::Stderr::default)
        .with_ansi(colors)
        .with_filter(telemetry::without_spans(filter));
    let _ = tracing_subscriber::registry()
        .with(telemetry)
        .with(log)
        .try_init();
}

/// Pairs each server with its lock; they were generated together, so a
/// mismatch means hand-edited files.
fn locked_servers(
    servers: Vec<ServerSource>,
    lock: &CrateLock,
) -> anyhow::Result<Vec<(ServerSource, Lock)>> {
    let locked = lock.servers();
    let names_match = servers.len() == locked.len()
        && servers
            .iter()
            .zip(&locked)
            .all(|(server, (name, _))| server.name == name.unwrap_or_default());
    if !names_match {
        anyhow::bail!(
            "the embedded mcp.lock.json and the generated code name different servers; \
             regenerate the proxy (mcpo-gen generate)"
        );
    }
    Ok(servers
        .into_iter()
        .zip(locked)
        .map(|(server, (_, lock))| (server, lock.clone()))
        .collect())
}

async fn run(cli: cli::Cli, source: ProxySource) -> anyhow::Result<()> {
    let ProxySource {
        crate_name,
        crate_version,
        lock_json,
        openapi_json,
        servers,
    } = source;
    let crate_lock = CrateLock::from_json(&lock_json, "the embedded mcp.lock.json")
        .context("regenerate the proxy")?;
    let multi = matches!(crate_lock, CrateLock::Multi(_));
    let locked = locked_servers(servers, &crate_lock)?;
    drop(crate_lock);
    if multi && (!cli.upstream.is_empty() || cli.server_type.is_some() || !cli.headers.is_empty()) {
        return Err(cli::ConfigError(
            "this proxy serves several servers: say how each is reached with --config \
             (the upstream arguments, --server-type and --header are for single-server proxies)"
                .into(),
        )
        .into());
    }
    let root_path = cli::normalize_root_path(&cli.root_path)?;
    let env_file = match &cli.env_path {
        Some(path) => cli::read_env_file(path)?,
        None => Default::default(),
    };
    let runtime_config = cli.config.as_deref().map(Config::read).transpose()?;
    for warning in runtime_config.iter().flat_map(|config| &config.warnings) {
        tracing::warn!("--config: {warning}");
    }
    let names: Vec<String> = locked
        .iter()
        .map(|(server, _)| server.name.to_string())
        .collect();
    let entries = match &runtime_config {
        Some(config) => served::entries_for(config, &names).map_err(cli::ConfigError)?,
        None => Default::default(),
    };
    let api_keys = cli::api_keys(&cli, &|name| std::env::var(name).ok())?;
    // Read before binding: a bad file fails fast, naming itself.
    let tls = match (&cli.ssl_certfile, &cli.ssl_keyfile) {
        (Some(certfile), Some(keyfile)) => Some(listener::tls_acceptor(certfile, keyfile)?),
        _ => None,
    };
    let call_timeout = cli::seconds(cli.call_timeout);
    let drain_timeout = cli::seconds(cli.drain_timeout);
    let connect_timeout = cli::seconds(cli.connect_timeout);
    let target_of = target_resolver(&cli, env_file);

    // Everything a server needs is checked before anything starts.
    let mut plans = Vec::with_capacity(locked.len());
    for (server, lock) in locked {
        let entry = entries.get(server.name.as_str());
        let target =
            target_of(server.name.as_str(), &lock.upstream, entry).map_err(cli::ConfigError)?;
        let launch_drift = served::launch_spec_drift(
            server.name.as_str(),
            &lock.upstream,
            entry,
            &target,
            cli.on_drift,
        )
        .map_err(cli::ConfigError)?;
        if let Some(entry) = entry {
            let locked: Vec<String> = lock.tools.iter().map(|tool| tool.name.clone()).collect();
            for warning in served::unknown_tools(server.name.as_str(), entry, &locked) {
                tracing::warn!("--config: {warning}");
            }
        }
        let prefix = if server.name.is_empty() {
            String::new()
        } else {
            format!("/{}", server.name.as_str())
        };
        let mut document =
            server::patch_openapi(&server.openapi_json, &format!("{root_path}{prefix}"))?;
        // The served document requires the key exactly when one is configured.
        let takes_jwts = cli.jwt_issuer.is_some() || cli.jwks_url.is_some();
        server::document_api_keys(&mut document, !api_keys.is_empty() || takes_jwts);
        if cli.strict_auth {
            server::document_strict_auth(&mut document, !server.name.is_empty());
        }
        plans.push((server, lock, entry.cloned(), target, document, launch_drift));
    }
    let tool_names: Vec<(&str, Vec<&str>)> = plans
        .iter()
        .map(|(server, lock, ..)| {
            let tools = lock.tools.iter().map(|tool| tool.name.as_str()).collect();
            (server.name.as_str(), tools)
        })
        .collect();
    let tool_timeouts = cli::tool_timeouts(&cli, &tool_names)?;
    drop(tool_names);

    // Signals are caught from here on, before anything a test or supervisor can
    // observe (the port, the upstream) exists.
    let shutdown = server::shutdown_signal();

    // Bind before starting the upstream: a port in use fails fast and clean.
    let listener = tokio::net::TcpListener::bind((cli.host.as_str(), cli.port))
        .await
        .with_context(|| format!("cannot listen on {}:{}", cli.host, cli.port))?;
    let local_addr = listener
        .local_addr()
        .context("cannot read the listening address")?;

    if cli.upstream_pool > 1 {
        tracing::info!(
            "--upstream-pool {}: one upstream per member, each call to the least busy \
             (for servers that keep no state between calls)",
            cli.upstream_pool
        );
    }
    let api_keys = auth::ApiKeys::new(api_keys);
    let access = crate::access::shared_access(&cli, api_keys, &root_path, tls.is_some()).await?;
    if !access.auth.is_required() && !cli.stdio {
        tracing::info!(
            "no --api-key given: tool routes are open to anyone who can reach this port"
        );
    }
    let mut registry = MetricsRegistry::default();
    let mut servers = Vec::with_capacity(plans.len());
    let tasks = Arc::new(Mutex::new(Vec::new()));
    for ((server, lock, entry, target, document, launch_drift), tool_timeouts) in
        plans.into_iter().zip(tool_timeouts)
    {
        let label = if server.name.is_empty() {
            String::new()
        } else {
            format!("/{}: ", server.name.as_str())
        };
        tracing::info!(
            "{label}proxy for {} {} ({} tools), upstream: {}",
            lock.server.name.as_str(),
            lock.server.version,
            lock.tools.len(),
            target.describe()
        );
        // Labels live as long as the process; the lock's names, leaked once.
        let metric_tools: Vec<&'static str> = lock
            .tools
            .iter()
            .map(|tool| &*Box::leak(tool.name.clone().into_boxed_str()))
            .collect();
        let metrics = registry.server(server.name.as_str(), &metric_tools, cli.upstream_pool);
        let validators = validate::InputValidators::compile(&lock.tools);
        let drifted = Arc::new(crate::drift::DriftedTools::default());
        let locked_surface = Arc::new(lock.surface.clone());
        let settings = supervisor::Settings {
            target,
            connect_options: ConnectOptions {
                client_name: crate_name.clone(),
                client_version: crate_version.clone(),
                echo_stderr: true,
                record_raw: false,
                // The proxy keeps to the revision its lock recorded.
                offer_protocol: Some(lock.server.protocol_version.clone()),
                events: Default::default(),
            },
            connect_timeout,
            drift_policy: cli.on_drift,
            drift_interval: (cli.drift_interval > 0.0).then(|| cli::seconds(cli.drift_interval)),
            drifted: Arc::clone(&drifted),
            locked_tools: lock.tools.clone(),
            locked_surface: Arc::clone(&locked_surface),
            left_out_tools: lock.disabled_tools.clone(),
            metrics: Arc::clone(&metrics),
            member: 0,
            pool_size: cli.upstream_pool,
        };
        let parts = ServedParts {
            name: server.name.to_string(),
            disabled: served::disabled_tools(&lock, entry.as_ref()),
            lock: lock.clone(),
            document,
            tool_routes: server.routes.clone(),
            settings,
            pool_size: cli.upstream_pool,
        };
        let (served, started) = Served::start(parts, |pool, disabled| {
            App::new(app::AppState {
                server_name: server.name.to_string(),
                access: access.for_server(&lock, entry.as_ref()),
                max_body_bytes: cli.max_body_bytes,
                call_timeout,
                connect_wait: connect_timeout,
                validators,
                lax_types: !cli.strict_types,
                upstream: PoolSlot::new(pool),
                disabled_tools: std::sync::RwLock::new(disabled),
                launch_spec_drift: std::sync::RwLock::new(Vec::new()),
                limiter: Limiter::new(cli.max_concurrency, cli.max_queue),
                metrics,
                tool_timeouts,
                on_drift: cli.on_drift,
                drifted,
                surface: locked_surface,
                live_list: Default::default(),
                completions: lock.server.declares("completions"),
                task_support: crate::tasks::support_of(&lock.tools, &lock.server),
                jobs: Default::default(),
            })
        });
        served.set_launch_spec_drift(launch_drift);
        tasks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(started);
        servers.push((served, lock));
    }
    let per_server: Vec<Gateway> = servers
        .iter()
        .map(|(served, lock)| Gateway::single(served, lock))
        .collect();
    let aggregated = multi.then(|| Gateway::aggregated(&servers, &crate_name, &crate_version));
    let servers: Arc<Vec<Arc<Served>>> =
        Arc::new(servers.into_iter().map(|(served, _)| served).collect());
    if cli.stdio {
        let gateway = match aggregated {
            Some(aggregated) => aggregated,
            None => per_server
                .into_iter()
                .next()
                .context("the proxy serves no server")?,
        };
        let outcome = crate::gateway::serve_stdio(gateway, shutdown).await;
        stop_upstreams(&servers, &tasks).await;
        return outcome;
    }
    let allowed_hosts = Arc::new(AllowedHosts::new(&cli.allowed_hosts, &cli.host));
    let mcp_shutdown = tokio_util::sync::CancellationToken::new();
    let combined = if multi {
        let mut document = server::patch_openapi(&openapi_json, &root_path)?;
        server::document_api_keys(&mut document, access.auth.is_required());
        Some(document)
    } else {
        None
    };
    let router = server::build_router(server::RouterParts {
        servers: Arc::clone(&servers),
        combined_document: combined,
        metrics: server::MetricsPage {
            registry: Arc::new(registry),
            auth: access.auth.clone(),
        },
        root_path: root_path.clone(),
        cors_allow_origins: cli.cors_allow_origins.clone(),
        auth: access.auth.clone(),
        strict_auth: cli.strict_auth,
        mcp: server::McpParts {
            per_server,
            aggregated,
            endpoints: McpEndpoints {
                auth: access.auth.clone(),
                cors_allow_origins: cli.cors_allow_origins.clone(),
                allowed_hosts: Arc::clone(&allowed_hosts),
                max_sessions: cli.mcp_max_sessions,
                session_idle: cli::seconds(cli.mcp_session_idle),
                max_body_bytes: cli.max_body_bytes,
                shutdown: mcp_shutdown.clone(),
            },
        },
    });
    let router = match router {
        Ok(router) => router,
        Err(error) => {
            stop_upstreams(&servers, &tasks).await;
            return Err(error.into());
        }
    };
    if cli.hot_reload
        && let Some(path) = cli.config.clone()
    {
        tracing::info!("--hot-reload: watching {}", path.display());
        tokio::spawn(served::watch_config(
            path,
            Arc::clone(&servers),
            target_of,
            call_timeout,
            Arc::clone(&tasks),
        ));
    }

    let router = router.layer(axum::middleware::from_fn_with_state(
        std::sync::Arc::clone(&allowed_hosts),
        host_check::check_host,
    ));
    let limits = ConnectionLimits {
        header_read_timeout: cli::seconds(cli.header_timeout),
        body_timeout: cli::seconds(cli.body_timeout),
        max_connections: cli
            .max_connections
            .unwrap_or_else(|| listener::default_max_connections(FILE_DESCRIPTOR_RESERVE)),
    };
    tracing::info!(
        "hosts answered: {}; at most {} connections, headers within {}s, bodies within {}s",
        allowed_hosts.describe(),
        limits.max_connections,
        cli.header_timeout,
        cli.body_timeout
    );
    let scheme = if tls.is_some() { "https" } else { "http" };
    tracing::info!("listening on {scheme}://{local_addr}{root_path} (docs: {root_path}/docs)");
    let (stop_sender, stop_receiver) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        listener::serve(listener, router, limits, tls, async {
            let _ = stop_receiver.await;
        })
        .await;
        Ok::<(), std::io::Error>(())
    });
    let mut server = server;
    let outcome = tokio::select! {
        () = shutdown => None,
        finished = &mut server => Some(finished),
    };
    let outcome = match outcome {
        Some(finished) => finished,
        None => {
            // Drain: no new connections, idle ones closed, calls in flight
            // answered (up to --drain-timeout); the upstream stops after.
            // MCP clients' open streams end now, or they would hold the drain.
            mcp_shutdown.cancel();
            let _ = stop_sender.send(());
            match tokio::time::timeout(drain_timeout, &mut server).await {
                Ok(finished) => finished,
                Err(_) => {
                    tracing::warn!(
                        "requests still in flight after --drain-timeout {}s; exiting anyway",
                        cli.drain_timeout
                    );
                    server.abort();
                    Ok(Ok(()))
                }
            }
        }
    };
    stop_upstreams(&servers, &tasks).await;
    outcome
        .context("the HTTP server task failed")?
        .context("the HTTP server failed")?;
    Ok(())
}

/// How a server is reached: its runtime `--config` entry when there is one;
/// else, for a single-server proxy, the lock with the command-line
/// overrides; else the lock (`${VAR}` from the environment). The dotenv
/// file of `--env-path` comes first in every lookup and is added to a stdio
/// server's environment.
fn target_resolver(cli: &cli::Cli, env_file: BTreeMap<String, String>) -> Box<served::TargetOf> {
    let cli = cli.clone();
    Box::new(
        move |name: &str, upstream: &Upstream, entry: Option<&ServerEntry>| {
            let lookup = |var: &str| {
                env_file
                    .get(var)
                    .cloned()
                    .or_else(|| std::env::var(var).ok())
            };
            let mut target = match entry {
                Some(entry) => entry
                    .target(name, &lookup)
                    .map_err(|error| error.to_string())?,
                None if name.is_empty() => {
                    // The lock's env names describe the locked command, not an override.
                    if let (true, Upstream::Stdio { env, .. }) = (cli.upstream.is_empty(), upstream)
                    {
                        let needed = env
                            .names()
                            .flat_map(|name| env.variables(name, str::to_string));
                        for var in needed.filter(|var| lookup(var).is_none()) {
                            tracing::warn!(
                                "the upstream needs env var {var} (per mcp.lock.json) but it is not \
                             set; the server may fail"
                            );
                        }
                    }
                    cli::resolve_target(&cli, upstream, &lookup)
                        .map_err(|error| error.to_string())?
                }
                None => crate::config::resolve_target(
                    name,
                    upstream,
                    crate::config::ClientSecret::FromEnv,
                    &lookup,
                )
                .map_err(|error| error.to_string())?,
            };
            if let Target::Stdio { env, .. } = &mut target {
                for (key, value) in &env_file {
                    env.entry(key.clone()).or_insert_with(|| value.clone());
                }
            }
            // `--oauth-token-file` (or its env var) points an OAuth upstream
            // at the file `mcpo-gen login` wrote for this service.
            if let (Some(file), Some(oauth)) = (&cli.oauth_token_file, target.oauth_mut()) {
                oauth.token_file = Some(file.clone());
            }
            Ok(target)
        },
    )
}

/// Stops every server's upstream (the current pools; replaced ones stop
/// after their drain) and waits for the supervisors, up to a grace period.
async fn stop_upstreams(servers: &[Arc<Served>], tasks: &Mutex<Vec<tokio::task::JoinHandle<()>>>) {
    for served in servers {
        served.app.state().upstream.current().shutdown();
    }
    let tasks = std::mem::take(&mut *tasks.lock().unwrap_or_else(PoisonError::into_inner));
    if tokio::time::timeout(SHUTDOWN_GRACE, futures::future::join_all(tasks))
        .await
        .is_err()
    {
        tracing::warn!("an upstream did not close in time");
    }
}
