//! The proxy process: flags and lock in, upstream supervisor and HTTP server
//! up, until SIGINT/SIGTERM.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser as _;

use crate::app::{self, App};
use crate::codegen::Embedded;
use crate::host_check::{self, AllowedHosts};
use crate::limits::Limiter;
use crate::listener::{self, ConnectionLimits};
use crate::lock::{Lock, Upstream};
use crate::metrics::Metrics;
use crate::pool::Pool;
use crate::upstream::ConnectOptions;
use crate::{auth, cli, server, supervisor, validate};

/// File descriptors kept out of `--max-connections`'s default: the upstream's
/// pipes or sockets, the listener, logs.
const FILE_DESCRIPTOR_RESERVE: usize = 64;

/// How long shutdown waits for the upstream to close (after the drain)
/// before the process exits anyway.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Runs the proxy until SIGINT/SIGTERM. Exit code 0 after a clean shutdown,
/// 2 for bad flags, 1 for any other startup failure.
pub fn main(embedded: &Embedded) -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            // --help and --version land here too, with exit code 0.
            let _ = error.print();
            return ExitCode::from(u8::try_from(error.exit_code()).unwrap_or(2));
        }
    };
    if let Err(error) = cli::check_flags(&cli, &|name| std::env::var(name).ok()) {
        eprintln!("error: {error}");
        return ExitCode::from(2);
    }
    init_tracing(cli.quiet, cli.log_level);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(run(cli, embedded));
    // Do not wait for blocked tasks (a stuck upstream read) on the way out.
    runtime.shutdown_timeout(Duration::from_secs(1));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing(quiet: bool, log_level: Option<&str>) {
    use tracing_subscriber::EnvFilter;
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
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colors)
        .try_init();
}

async fn run(cli: cli::Cli, embedded: &Embedded) -> anyhow::Result<()> {
    let lock = Lock::from_json(embedded.lock_json, "the embedded mcp.lock.json")
        .context("regenerate the proxy")?;
    let root_path = cli::normalize_root_path(&cli.root_path)?;
    let env_file = match &cli.env_path {
        Some(path) => cli::read_env_file(path)?,
        None => Default::default(),
    };
    // The dotenv file first, then this process's environment.
    let lookup = |name: &str| {
        env_file
            .get(name)
            .cloned()
            .or_else(|| std::env::var(name).ok())
    };
    let mut target = cli::resolve_target(&cli, &lock.upstream, &lookup)?;
    if let crate::upstream::Target::Stdio { env, .. } = &mut target {
        env.extend(env_file.clone());
    }
    let api_keys = cli::api_keys(&cli, &|name| std::env::var(name).ok())?;
    // The lock's env names describe the locked command, not an override.
    if let (true, Upstream::Stdio { env, .. }) = (cli.upstream.is_empty(), &lock.upstream) {
        for name in env.iter().filter(|name| lookup(name).is_none()) {
            tracing::warn!(
                "the upstream needs env var {name} (per mcp.lock.json) but it is not set; \
                 the server may fail"
            );
        }
    }
    let mut openapi = server::patch_openapi(embedded.openapi_json, &root_path)?;
    // The served document requires the key exactly when one is configured.
    server::document_api_keys(&mut openapi, !api_keys.is_empty());
    if cli.strict_auth {
        server::document_strict_auth(&mut openapi);
    }
    // Read before binding: a bad file fails fast, naming itself.
    let tls = match (&cli.ssl_certfile, &cli.ssl_keyfile) {
        (Some(certfile), Some(keyfile)) => Some(listener::tls_acceptor(certfile, keyfile)?),
        _ => None,
    };
    let validators = validate::InputValidators::compile(&lock.tools);
    let tool_names: Vec<&str> = lock.tools.iter().map(|tool| tool.name.as_str()).collect();
    let tool_timeouts = cli::tool_timeouts(&cli, &tool_names)?;
    // Labels live as long as the process; the lock's names, leaked once.
    let metric_tools: Vec<&'static str> = tool_names
        .iter()
        .map(|name| &*Box::leak(name.to_string().into_boxed_str()))
        .collect();
    let metrics = Metrics::new(&metric_tools, cli.upstream_pool);
    let call_timeout = cli::seconds(cli.call_timeout);
    let drain_timeout = cli::seconds(cli.drain_timeout);
    let connect_timeout = cli::seconds(cli.connect_timeout);

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

    tracing::info!(
        "proxy for {} {} ({} tools), upstream: {}",
        lock.server.name,
        lock.server.version,
        lock.tools.len(),
        target.describe()
    );
    if cli.upstream_pool > 1 {
        tracing::info!(
            "--upstream-pool {}: one upstream per member, each call to the least busy \
             (for servers that keep no state between calls)",
            cli.upstream_pool
        );
    }
    let (upstream, supervisors) = Pool::start(
        supervisor::Settings {
            target,
            connect_options: ConnectOptions {
                client_name: embedded.crate_name.to_string(),
                client_version: embedded.crate_version.to_string(),
                echo_stderr: true,
                record_raw: false,
                // The proxy keeps to the revision its lock recorded.
                offer_protocol: Some(lock.server.protocol_version.clone()),
            },
            connect_timeout,
            drift_policy: cli.on_drift,
            locked_tools: lock.tools,
            metrics: std::sync::Arc::clone(&metrics),
            member: 0,
            pool_size: cli.upstream_pool,
        },
        cli.upstream_pool,
    );
    let supervisor = futures::future::join_all(supervisors);
    let api_keys = auth::ApiKeys::new(api_keys);
    let strict_auth = cli.strict_auth.then(|| api_keys.clone());
    if !api_keys.is_enabled() {
        tracing::info!(
            "no --api-key given: tool routes are open to anyone who can reach this port"
        );
    }
    let app = App::new(app::AppState {
        api_keys,
        max_body_bytes: cli.max_body_bytes,
        call_timeout,
        connect_wait: connect_timeout,
        validators,
        lax_types: !cli.strict_types,
        upstream: std::sync::Arc::clone(&upstream),
        limiter: Limiter::new(cli.max_concurrency, cli.max_queue),
        metrics,
        tool_timeouts,
    });
    let router = server::build_router(server::RouterParts {
        app,
        tool_routes: (embedded.servers[0].router)(),
        root_path: root_path.clone(),
        openapi,
        cors_allow_origins: cli.cors_allow_origins,
        strict_auth,
    });
    let router = match router {
        Ok(router) => router,
        Err(error) => {
            upstream.shutdown();
            let _ = tokio::time::timeout(SHUTDOWN_GRACE, supervisor).await;
            return Err(error.into());
        }
    };

    let allowed_hosts = std::sync::Arc::new(AllowedHosts::new(&cli.allowed_hosts, &cli.host));
    let router = router.layer(axum::middleware::from_fn_with_state(
        std::sync::Arc::clone(&allowed_hosts),
        host_check::check_host,
    ));
    let limits = ConnectionLimits {
        header_read_timeout: cli::seconds(cli.header_timeout),
        max_connections: cli
            .max_connections
            .unwrap_or_else(|| listener::default_max_connections(FILE_DESCRIPTOR_RESERVE)),
    };
    tracing::info!(
        "hosts answered: {}; at most {} connections, headers within {}s",
        allowed_hosts.describe(),
        limits.max_connections,
        cli.header_timeout
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
    let served = tokio::select! {
        () = shutdown => None,
        finished = &mut server => Some(finished),
    };
    let served = match served {
        Some(finished) => finished,
        None => {
            // Drain: no new connections, idle ones closed, calls in flight
            // answered (up to --drain-timeout); the upstream stops after.
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
    upstream.shutdown();
    if tokio::time::timeout(SHUTDOWN_GRACE, supervisor)
        .await
        .is_err()
    {
        tracing::warn!("the upstream did not close in time");
    }
    served
        .context("the HTTP server task failed")?
        .context("the HTTP server failed")?;
    Ok(())
}
