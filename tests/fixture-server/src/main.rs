//! `mcp-fixture-server`: an MCP server whose tools come from a JSON file (or are
//! generated), used as the upstream for mcpo-gen's end-to-end tests. See the
//! package README for the tool file format and the behaviours.

mod behavior;
mod catalog;
mod handler;
mod http;
#[path = "../../test-servers-shared/lifecycle.rs"]
mod lifecycle;
mod long_calls;
mod paging;
mod reload;
mod resources;
mod uri_template;
mod verbatim;

use std::{path::PathBuf, sync::Arc, time::Duration};

use anyhow::Context;
use clap::{Parser, ValueEnum};
use rmcp::{
    RoleServer, ServiceExt,
    transport::{IntoTransport, io::stdio_pipes},
};

use crate::{
    catalog::Catalog,
    handler::{FixtureServer, ServerSettings},
    http::RequiredHeader,
    reload::{LiveTools, Reload},
    resources::{ResourceOptions, Resources},
    verbatim::VerbatimTools,
};

#[derive(Debug, Parser)]
#[command(
    version,
    about = "An MCP server for tests: tools from a JSON file, scripted behaviours"
)]
struct Cli {
    /// Tool file: {"tools": [MCP tool objects], "behaviors": {"<name>": {"kind": ...}}}.
    #[arg(long, value_name = "FILE", conflicts_with = "generate_tools")]
    tools: Option<PathBuf>,
    /// Serve N generated echo tools `tool_0000`, `tool_0001`, ... instead of a file.
    #[arg(long, value_name = "N")]
    generate_tools: Option<usize>,
    /// At most N items per page of `tools/list` (and, with --resources, of
    /// `resources/list`, `resources/templates/list` and `prompts/list`); clients
    /// must follow `nextCursor`. Default: everything in one page.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    page_size: Option<u64>,
    #[arg(long, value_enum, default_value_t = Transport::Stdio)]
    transport: Transport,
    /// HTTP port on 127.0.0.1; 0 picks a free one (printed on the first stdout line).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// HTTP only: answer 401 unless the request carries this header ('Name: value').
    /// Repeatable.
    #[arg(long, value_name = "'NAME: VALUE'")]
    require_header: Vec<RequiredHeader>,
    /// serverInfo.name sent in the initialize result.
    #[arg(long, default_value = "mcp-fixture-server")]
    name: String,
    /// serverInfo.version sent in the initialize result.
    #[arg(long, default_value = env!("CARGO_PKG_VERSION"))]
    server_version: String,
    /// The protocol revisions served, comma-separated (e.g. `2025-03-26` or the
    /// stateless `2026-07-28` alone). Default: every revision rmcp knows.
    #[arg(long, value_name = "V,...", value_delimiter = ',')]
    protocol_versions: Vec<String>,
    /// HTTP only: a session serves N requests, then is forgotten (closed), so
    /// later requests carrying its `Mcp-Session-Id` get 404 Not Found.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    expire_sessions_after: Option<u64>,
    /// Read the `--tools` file again every N milliseconds; when it changed, serve
    /// its tools from then on and send `notifications/tools/list_changed` to every
    /// connected client (the "rug pull": tools that change under a running client).
    #[arg(long, value_name = "N", requires = "tools", value_parser = clap::value_parser!(u64).range(1..))]
    reload_tools_every_ms: Option<u64>,
    /// With --reload-tools-every-ms: change the tools without announcing it (no
    /// `list_changed` capability, no notification); clients see the change only by
    /// listing the tools again.
    #[arg(long, requires = "reload_tools_every_ms")]
    reload_silently: bool,
    /// Answer each `tools/list` N milliseconds late, with the tools as they were
    /// when it arrived (a slow server; a tool change can land while a client lists).
    #[arg(long, value_name = "N")]
    tools_list_delay_ms: Option<u64>,
    /// Also serve resources (with subscriptions), resource templates, prompts and
    /// completions, and a `touch_resource` tool that announces a resource update
    /// to its subscribers (see the README for the surface).
    #[arg(long)]
    resources: bool,
    /// With --resources: list `text://notes/1` ..= `text://notes/N`.
    #[arg(long, value_name = "N", default_value_t = 3, requires = "resources")]
    resource_count: usize,
    /// With --resources: the second version of the surface (prompts, a template
    /// and a resource changed), for diff tests.
    #[arg(long, requires = "resources")]
    prompts_v2: bool,
    /// Speak MCP 2026-07-28's ways of running long calls: advertise the tasks
    /// extension (`io.modelcontextprotocol/tasks`) and add the tools `ext_slow`,
    /// `ext_ask`, `ext_fail` (tasks) and `mrtr_ask` (multi round-trip requests).
    #[arg(long)]
    tasks_extension: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Transport {
    Stdio,
    Http,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if cli.transport == Transport::Stdio && !cli.require_header.is_empty() {
        anyhow::bail!("--require-header only applies to --transport http");
    }
    if cli.transport == Transport::Stdio && cli.expire_sessions_after.is_some() {
        anyhow::bail!("--expire-sessions-after only applies to --transport http");
    }
    let protocol_versions = cli
        .protocol_versions
        .iter()
        .map(|version| {
            let known = rmcp::model::ProtocolVersion::KNOWN_VERSIONS
                .iter()
                .find(|known| known.as_str() == version);
            known.cloned().with_context(|| {
                format!("--protocol-versions: {version:?} is not a revision rmcp knows")
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;

    // The text the served tools were read from, for the reload's comparisons.
    let mut loaded_text = String::new();
    let mut catalog = match (&cli.tools, cli.generate_tools) {
        (Some(path), _) => {
            let (catalog, lossy, text) = Catalog::from_file(path)?;
            loaded_text = text;
            for field in lossy {
                // stdout is the MCP channel on stdio, so notes go to stderr.
                eprintln!(
                    "note: tool {:?}: field `{}` is outside rmcp's Tool model; restored on the wire",
                    field.tool, field.field
                );
            }
            catalog
        }
        (None, Some(count)) => Catalog::generated(count)?,
        (None, None) => Catalog::default(),
    };
    if cli.resources {
        catalog
            .add_touch_resource()
            .context("--resources adds a tool named touch_resource")?;
    }
    if cli.tasks_extension {
        catalog.add_long_call_tools().context(
            "--tasks-extension adds tools named ext_slow, ext_ask, ext_fail and mrtr_ask",
        )?;
    }
    let page_size = cli
        .page_size
        .map(usize::try_from)
        .transpose()
        .context("--page-size is too large")?;
    let verbatim = Arc::new(catalog.verbatim_tools());
    let live = Arc::new(LiveTools::new(catalog));
    let reload = match (&cli.tools, cli.reload_tools_every_ms) {
        (Some(path), Some(every)) => Some(Reload {
            path: path.clone(),
            every: Duration::from_millis(every),
            announce: !cli.reload_silently,
            touch_resource: cli.resources,
            long_calls: cli.tasks_extension,
        }),
        _ => None,
    };
    let resources = cli.resources.then(|| {
        let options = ResourceOptions {
            note_count: cli.resource_count,
            v2: cli.prompts_v2,
        };
        Resources::new(options, page_size)
    });
    let server = FixtureServer::with_live_tools(
        Arc::clone(&live),
        ServerSettings {
            name: cli.name,
            version: cli.server_version,
            page_size,
            protocol_versions,
            tools_list_changed: reload.as_ref().is_some_and(|reload| reload.announce),
            list_delay: cli.tools_list_delay_ms.map(Duration::from_millis),
            tasks_extension: cli.tasks_extension,
        },
        resources,
    );
    // A reloaded file may bring fields rmcp drops even when the first did not:
    // then the restoring path is needed from the start.
    let restore = !verbatim.is_empty() || reload.is_some();
    if let Some(reload) = reload {
        tokio::spawn(reload::watch(
            reload,
            live,
            Arc::clone(&verbatim),
            loaded_text,
        ));
    }

    match cli.transport {
        Transport::Stdio => serve_stdio(server, verbatim, restore).await,
        Transport::Http => {
            let options = http::HttpOptions {
                port: cli.port,
                required_headers: cli.require_header,
                expire_sessions_after: cli.expire_sessions_after,
                restore_verbatim: restore,
            };
            http::serve(server, verbatim, options).await
        }
    }
}

/// Serve on stdin/stdout until the client closes stdin (clean exit) or SIGTERM.
/// `restore`: put tool fields rmcp drops back on the wire (see `verbatim`).
async fn serve_stdio(
    server: FixtureServer,
    verbatim: Arc<VerbatimTools>,
    restore: bool,
) -> anyhow::Result<()> {
    let (stdin, stdout) = stdio_pipes();
    let shutdown = lifecycle::shutdown_signal();
    if !restore {
        serve_until(server, (stdin, stdout), shutdown).await?;
    } else {
        // rmcp writes into one end of an in-memory pipe; a task copies its lines to
        // stdout, putting back the tool fields rmcp's model dropped.
        let (rmcp_output, restorer_input) = tokio::io::duplex(1 << 16);
        let restorer = tokio::spawn(verbatim.pipe_lines(restorer_input, stdout));
        serve_until(server, (stdin, rmcp_output), shutdown).await?;
        // The service (and with it the pipe's write end) is gone: let the last lines out.
        let _ = tokio::time::timeout(Duration::from_secs(2), restorer).await;
    }
    // A blocking stdin reader thread (when stdin is not a pipe) would keep the runtime
    // alive after main returns; exiting directly makes shutdown immediate either way.
    std::process::exit(0);
}

/// Serves MCP over stdio on `transport` until the client closes it or
/// `shutdown` resolves.
async fn serve_until<T, E, A>(
    server: FixtureServer,
    transport: T,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()>
where
    T: IntoTransport<RoleServer, E, A>,
    E: std::error::Error + Send + Sync + 'static,
{
    let running = server
        .serve(transport)
        .await
        .context("MCP initialize over stdio failed")?;
    tokio::select! {
        ended = running.waiting() => { ended.context("MCP stdio service failed")?; }
        () = shutdown => {}
    }
    Ok(())
}
