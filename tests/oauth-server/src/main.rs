//! `mcp-oauth-server`: an OAuth 2.1 authorization server and an MCP server
//! it protects, in one process on 127.0.0.1, for mcpo-gen's OAuth tests.
//! See README.md for the endpoints.

mod auth;
#[path = "../../test-servers-shared/lifecycle.rs"]
mod lifecycle;
mod mcp;

use std::{net::Ipv4Addr, sync::Arc, time::Duration};

use anyhow::Context;
use clap::Parser;

#[derive(Debug, Parser)]
#[command(about = "OAuth 2.1 authorization server + protected MCP server, for tests")]
struct Cli {
    /// Port on 127.0.0.1; 0 picks a free one (printed on the first stdout line).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Lifetime of an access token, in seconds (short, to exercise refresh).
    #[arg(long, default_value_t = 3600)]
    token_lifetime_secs: u64,
    /// The subject (user) every authorization is granted to.
    #[arg(long, default_value = "test-user")]
    subject: String,
    /// Scopes the server supports (space-separated); also the scope granted
    /// when a request asks for none.
    #[arg(long, default_value = "mcp:tools")]
    scopes: String,
    /// A pre-registered client, `ID` (public) or `ID:SECRET` (confidential);
    /// repeatable. Dynamically registered clients work besides.
    #[arg(long = "client", value_name = "ID[:SECRET]")]
    clients: Vec<String>,
    /// Switch dynamic client registration off (`/register` answers 404 and
    /// the metadata has no `registration_endpoint`).
    #[arg(long)]
    no_registration: bool,
    /// A scope the `write` tool needs, granted only when asked for: a call
    /// of `write` without it answers 403 `insufficient_scope` naming it
    /// (step-up). Without this flag there is no `write` tool.
    #[arg(long, value_name = "SCOPE")]
    step_up_scope: Option<String>,
    /// Advertise FIELD of the authorization server metadata as VALUE
    /// (e.g. `authorization_endpoint=javascript:alert(1)`); repeatable.
    #[arg(long, value_name = "FIELD=VALUE")]
    advertise: Vec<String>,
    /// Pad the authorization server metadata with a `padding` field of
    /// BYTES bytes (an oversized document).
    #[arg(long, value_name = "BYTES", default_value_t = 0)]
    metadata_padding: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, cli.port))
        .await
        .with_context(|| format!("cannot bind 127.0.0.1:{}", cli.port))?;
    let address = listener.local_addr()?;
    let base = format!("http://{address}");
    let settings = auth::Settings {
        issuer: base.clone(),
        resource: format!("{base}/mcp"),
        token_lifetime: Duration::from_secs(cli.token_lifetime_secs),
        subject: cli.subject,
        scopes: cli.scopes.split_whitespace().map(str::to_string).collect(),
        registration: !cli.no_registration,
        step_up_scope: cli.step_up_scope,
        advertise: cli
            .advertise
            .iter()
            .map(|pair| {
                pair.split_once('=')
                    .map(|(field, value)| (field.to_string(), value.to_string()))
                    .with_context(|| format!("--advertise {pair}: not FIELD=VALUE"))
            })
            .collect::<anyhow::Result<_>>()?,
        metadata_padding: cli.metadata_padding,
    };
    let authority = Arc::new(auth::Authority::new(settings));
    for client in &cli.clients {
        let (id, secret) = match client.split_once(':') {
            Some((id, secret)) => (id, Some(secret)),
            None => (client.as_str(), None),
        };
        authority.preregister(id, secret);
    }
    let (router, sessions_stop) = mcp::router(authority);

    lifecycle::serve_until_signal(listener, router, &format!("{base}/mcp"), sessions_stop).await
}

/// One line on stdout (events tests count, e.g. `token issued
/// (refresh_token)`); never a token.
pub(crate) fn event(line: &str) {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{line}");
    let _ = stdout.flush();
}
